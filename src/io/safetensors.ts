/**
 * safetensors reading and writing, bytes in and bytes out (browser-safe: no Node imports).
 *
 * Format (https://github.com/huggingface/safetensors): an 8-byte little-endian u64 N, N bytes of
 * UTF-8 JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {k: v}}`,
 * then the byte buffer; `data_offsets` are relative to the buffer start.
 *
 * Reading matches the reference implementation (Rust `safetensors`, `SafeTensors::read_metadata`):
 * the tensors, sorted by offsets, must cover the buffer exactly (no holes, no overlaps, nothing
 * after the last tensor), and each byte range must be numel·itemsize. It is stricter in a few
 * places, each a CheckpointError: duplicate JSON keys (serde keeps the last), dims or offsets
 * above 2^53 (not representable here), and dtypes netslim does not handle (F8_*, U64, C64, F4…).
 * Like serde (no `deny_unknown_fields`), unknown fields inside a tensor entry are ignored, and a
 * `null` `__metadata__` means none. Integral floats such as `2.0` in shapes are accepted (JSON.parse
 * cannot tell them from `2`; serde would reject them).
 *
 * Writing matches the reference byte for byte: tensors sorted by descending dtype alignment
 * (the Rust `Dtype` enum order) then by name (UTF-8 byte order), laid out in that order;
 * compact JSON with `__metadata__` first, then each tensor's `{"dtype","shape","data_offsets"}`;
 * header padded with spaces to a multiple of 8. One difference: the reference writes metadata in
 * its HashMap order, which is random; we sort metadata keys (UTF-8 byte order) so output is
 * deterministic.
 */
import { ShapeError } from '../errors.js';
import { CheckpointError } from './errors.js';

/** A safetensors dtype name, as the format spells it. */
export type SafeDType = 'F32' | 'F64' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'I8' | 'BOOL' | 'U32' | 'I16' | 'U16';

/** One tensor of a safetensors file: dtype, shape and raw bytes. */
export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  /**
   * Raw little-endian bytes, C order, exactly numel·itemsize long. parseSafetensors returns views
   * into the bytes it was given (copy them before reusing that buffer); toFloat32/toInt64 copy.
   */
  data: Uint8Array;
}

/** A parsed safetensors file: its tensors by name and its `__metadata__`. */
export interface SafetensorsFile {
  /** In file order (by data offset). */
  tensors: Map<string, SafeTensor>;
  /** `__metadata__`; `{}` when the file has none. */
  metadata: Record<string, string>;
}

/** Bytes per element. */
export const DTYPE_SIZE: Readonly<Record<SafeDType, number>> = Object.freeze({
  BOOL: 1,
  U8: 1,
  I8: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
});

/** Position in the reference's `Dtype` enum (declared in increasing alignment); writers sort by it, descending. */
const DTYPE_RANK: Readonly<Record<SafeDType, number>> = {
  BOOL: 0,
  U8: 1,
  I8: 2,
  I16: 3,
  U16: 4,
  F16: 5,
  BF16: 6,
  I32: 7,
  U32: 8,
  F32: 9,
  F64: 10,
  I64: 11,
};

/** The reference rejects headers above this size (100 MB). */
export const MAX_HEADER_SIZE = 100_000_000;

const METADATA_KEY = '__metadata__';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isSafeDType(s: unknown): s is SafeDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** numel of a validated shape, or undefined when it exceeds 2^53. */
function numelOf(shape: readonly number[]): number | undefined {
  let n = 1;
  for (const d of shape) if (d === 0) return 0;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return n;
}

/** Compares strings by code point, which is UTF-8 byte order (Rust's `String` order). */
function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Code units differ: surrogates (0xD800–0xDFFF) stand for code points above 0xFFFF, which
    // sort after every BMP code point in UTF-8.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * The first key that occurs twice in one JSON object, or undefined. `text` must already be valid
 * JSON (JSON.parse keeps the last duplicate silently, so this scans the text itself; O(length)).
 * `root` is the top-level key the object sits under (undefined for the header object itself).
 */
function findDuplicateKey(text: string): { key: string; root: string | undefined } | undefined {
  // One frame per open object/array: the keys seen so far (objects only), and the top-level key.
  const stack: { keys: Set<string> | undefined; root: string | undefined }[] = [];
  let lastString: string | undefined;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) j += 2;
        else if (d === 0x22) break;
        else j++;
      }
      lastString = text.slice(i, j + 1);
      i = j;
    } else if (c === 0x3a /* : */) {
      const top = stack[stack.length - 1];
      if (top?.keys && lastString !== undefined) {
        const key = JSON.parse(lastString) as string;
        if (top.keys.has(key)) return { key, root: top.root };
        top.keys.add(key);
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      // Directly under the header object, the string before this value is its key.
      const root =
        stack.length === 0 ? undefined : stack.length === 1 ? (lastString === undefined ? undefined : (JSON.parse(lastString) as string)) : stack[stack.length - 1]!.root;
      stack.push({ keys: c === 0x7b ? new Set() : undefined, root });
      lastString = undefined;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      lastString = undefined;
    } else if (c === 0x2c /* , */) {
      lastString = undefined;
    }
  }
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function setOwn(rec: Record<string, string>, key: string, value: string): void {
  // defineProperty, so a key such as `__proto__` is stored like any other.
  Object.defineProperty(rec, key, { value, enumerable: true, writable: true, configurable: true });
}

interface Entry {
  name: string;
  dtype: SafeDType;
  shape: number[];
  begin: number;
  end: number;
  order: number;
}

/**
 * Parses and validates a whole safetensors file. Returns only when everything is valid; any
 * problem throws a CheckpointError naming `fileName` and, where it applies, the tensor.
 * Tensor data are views into `bytes`.
 *
 * @example
 * ```ts
 * import { parseSafetensors, serializeSafetensors, f32Tensor, toFloat32 } from 'netslim';
 *
 * const bytes = serializeSafetensors({ w: f32Tensor([2], new Float32Array([1, 2])) }, { note: 'hi' });
 * const file = parseSafetensors(bytes, 'w.safetensors');
 * console.log(file.metadata, [...file.tensors.keys()]); // { note: 'hi' } ['w']
 * console.log(toFloat32(file.tensors.get('w')!, 'w')); // Float32Array [1, 2]
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, fileName?: string): SafetensorsFile {
  const fail = (detail: string, tensor?: string): never => {
    throw new CheckpointError(fileName, tensor, detail);
  };
  if (bytes.byteLength < 8) {
    fail(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length that starts a safetensors file`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_SIZE)) {
    fail(
      n64 + 8n > BigInt(bytes.byteLength)
        ? `header length ${n64} goes beyond the end of the file (${bytes.byteLength} bytes); not a safetensors file?`
        : `header length ${n64} exceeds the ${MAX_HEADER_SIZE}-byte limit of the format`,
    );
  }
  const n = Number(n64);
  if (8 + n > bytes.byteLength) {
    fail(`header length ${n} goes beyond the end of the file (${bytes.byteLength} bytes); truncated or not a safetensors file?`);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) return fail(`header must be a JSON object, found ${describe(header)}`);
  const dup = findDuplicateKey(text);
  if (dup) {
    if (dup.root === undefined) {
      if (dup.key === METADATA_KEY) return fail(`header has ${METADATA_KEY} twice`);
      return fail('header has this tensor twice (duplicate JSON key)', dup.key);
    }
    if (dup.root === METADATA_KEY) return fail(`${METADATA_KEY} has the key ${JSON.stringify(dup.key)} twice`);
    return fail(`entry has the field ${JSON.stringify(dup.key)} twice`, dup.root);
  }

  const bufferStart = 8 + n;
  const bufferLen = bytes.byteLength - bufferStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  let order = 0;
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (info === null) continue;
      if (!isPlainObject(info)) return fail(`__metadata__ must be an object of strings, found ${describe(info)}`);
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') return fail(`__metadata__ value of ${JSON.stringify(k)} must be a string, found ${describe(v)}`);
        setOwn(metadata, k, v);
      }
      continue;
    }
    if (!isPlainObject(info)) return fail(`entry must be an object {dtype, shape, data_offsets}, found ${describe(info)}`, name);
    for (const field of ['dtype', 'shape', 'data_offsets']) {
      if (!Object.prototype.hasOwnProperty.call(info, field)) return fail(`entry has no ${field}`, name);
    }
    const { dtype, shape, data_offsets: offsets } = info as { dtype: unknown; shape: unknown; data_offsets: unknown };
    if (typeof dtype !== 'string') return fail(`dtype must be a string, found ${describe(dtype)}`, name);
    if (!isSafeDType(dtype)) {
      return fail(`unknown or unsupported dtype ${JSON.stringify(dtype)} (netslim reads ${Object.keys(DTYPE_SIZE).join(', ')})`, name);
    }
    if (!Array.isArray(shape)) return fail(`shape must be an array of integers, found ${describe(shape)}`, name);
    for (const d of shape as unknown[]) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        return fail(`shape ${JSON.stringify(shape)} has ${describe(d)}; dims must be non-negative integers`, name);
      }
    }
    if (!Array.isArray(offsets) || offsets.length !== 2) {
      return fail(`data_offsets must be [begin, end], found ${JSON.stringify(offsets)}`, name);
    }
    const [begin, end] = offsets as unknown[];
    for (const o of [begin, end]) {
      if (typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0) {
        return fail(`data_offsets ${JSON.stringify(offsets)} has ${describe(o)}; offsets must be non-negative integers`, name);
      }
    }
    const b = begin as number;
    const e = end as number;
    if (e < b) return fail(`data_offsets [${b}, ${e}] end before they begin`, name);
    if (e > bufferLen) return fail(`data_offsets [${b}, ${e}] go beyond the data buffer (${bufferLen} bytes after the header)`, name);
    const dims = shape as number[];
    const numel = numelOf(dims);
    const size = DTYPE_SIZE[dtype];
    if (numel === undefined || numel * size > Number.MAX_SAFE_INTEGER) {
      return fail(`shape ${fmtShape(dims)} is too large`, name);
    }
    if (e - b !== numel * size) {
      return fail(
        `data_offsets [${b}, ${e}] hold ${e - b} bytes but ${dtype} ${fmtShape(dims)} needs ${numel}·${size} = ${numel * size}`,
        name,
      );
    }
    entries.push({ name, dtype, shape: dims.slice(), begin: b, end: e, order: order++ });
  }

  // The reference sorts by (begin, end) and requires each tensor to start where the previous ended.
  entries.sort((x, y) => x.begin - y.begin || x.end - y.end || x.order - y.order);
  let at = 0;
  let prev: Entry | undefined;
  for (const t of entries) {
    if (t.begin < at) {
      return fail(`data_offsets [${t.begin}, ${t.end}] overlap tensor ${JSON.stringify(prev!.name)} [${prev!.begin}, ${prev!.end}]`, t.name);
    }
    if (t.begin > at) {
      return fail(
        `data_offsets [${t.begin}, ${t.end}] leave a hole of ${t.begin - at} bytes at [${at}, ${t.begin}]` +
          (prev ? ` after tensor ${JSON.stringify(prev.name)}` : ' at the start of the data buffer'),
        t.name,
      );
    }
    at = t.end;
    prev = t;
  }
  if (at !== bufferLen) {
    return fail(
      `${bufferLen - at} bytes after the ${prev ? `last tensor (${JSON.stringify(prev.name)} ends at ${at})` : 'header (no tensors)'} ` +
        `are not covered by any tensor; the data buffer is ${bufferLen} bytes`,
    );
  }

  const tensors = new Map<string, SafeTensor>();
  for (const t of entries) {
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data: bytes.subarray(bufferStart + t.begin, bufferStart + t.end) });
  }
  return { tensors, metadata };
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Serializes tensors (and optional `__metadata__`) exactly as the reference writer does: see the
 * module comment. Throws a CheckpointError (naming `fileName` when given) on a tensor whose data
 * length is not numel·itemsize, an unknown dtype, a bad shape, the reserved name `__metadata__`
 * or a non-string metadata value.
 *
 * @example
 * ```ts
 * import { serializeSafetensors, f32Tensor, i64Tensor } from 'netslim';
 *
 * const bytes = serializeSafetensors(
 *   { 'bn.weight': f32Tensor([3], new Float32Array([0.5, 0.5, 0.5])), 'bn.num_batches_tracked': i64Tensor([], [0]) },
 *   { arch: 'custom' },
 * );
 * console.log(bytes.length); // readable by safetensors.torch.load_file
 * ```
 */
export function serializeSafetensors(
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata?: Record<string, string>,
  fileName?: string,
): Uint8Array {
  const fail = (detail: string, tensor?: string): never => {
    throw new CheckpointError(fileName, tensor, detail);
  };
  const list: [string, SafeTensor][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  for (const [name, t] of list) {
    if (name === METADATA_KEY) fail(`"${METADATA_KEY}" is reserved for metadata and cannot name a tensor`, name);
    if (!isSafeDType(t.dtype)) fail(`unknown dtype ${JSON.stringify(t.dtype)}`, name);
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      fail(`shape ${JSON.stringify(t.shape)} must be non-negative integers`, name);
    }
    if (!(t.data instanceof Uint8Array)) fail('data must be a Uint8Array of little-endian bytes', name);
    const numel = numelOf(t.shape);
    const need = numel === undefined ? NaN : numel * DTYPE_SIZE[t.dtype];
    if (t.data.byteLength !== need) {
      fail(`data has ${t.data.byteLength} bytes but ${t.dtype} ${fmtShape(t.shape)} needs ${need}`, name);
    }
  }
  list.sort(([a, x], [b, y]) => DTYPE_RANK[y.dtype] - DTYPE_RANK[x.dtype] || compareUtf8(a, b));

  // Built by hand, not through an object: JS objects put integer-like keys ("0", "10") first.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort(compareUtf8);
    const kv: string[] = [];
    for (const k of keys) {
      const v = metadata[k];
      if (typeof v !== 'string') fail(`__metadata__ value of ${JSON.stringify(k)} must be a string, found ${describe(v)}`);
      kv.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"${METADATA_KEY}":{${kv.join(',')}}`);
  }
  let offset = 0;
  for (const [name, t] of list) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const n = Math.ceil(json.byteLength / 8) * 8;
  if (n > MAX_HEADER_SIZE) fail(`header of ${n} bytes exceeds the ${MAX_HEADER_SIZE}-byte limit of the format`);

  const out = new Uint8Array(8 + n + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + n);
  let at = 8 + n;
  for (const [, t] of list) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Building and converting tensors

function checkValues(shape: number[], length: number, what: string): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new ShapeError(`${what}: shape ${JSON.stringify(shape)} must be non-negative integers`);
  }
  const numel = numelOf(shape);
  if (numel !== length) throw new ShapeError(`${what}: shape ${fmtShape(shape)} holds ${numel} values, got ${length}`);
}

/**
 * An F32 tensor. `data` is a view of `values` (no copy) on little-endian hosts.
 *
 * @example
 * ```ts
 * import { f32Tensor } from 'netslim';
 *
 * const t = f32Tensor([2, 2], new Float32Array([1, 2, 3, 4]));
 * console.log(t.dtype, t.shape, t.data.length); // F32 [2, 2] 16
 * ```
 */
export function f32Tensor(shape: number[], values: Float32Array): SafeTensor {
  checkValues(shape, values.length, 'f32Tensor');
  let data: Uint8Array;
  if (LITTLE_ENDIAN) {
    data = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  } else {
    data = new Uint8Array(values.length * 4);
    const dv = new DataView(data.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i]!, true);
  }
  return { dtype: 'F32', shape: shape.slice(), data };
}

/**
 * An I64 tensor (e.g. `num_batches_tracked`, shape `[]`). A BigInt64Array is viewed without a
 * copy on little-endian hosts; numbers must be safe integers.
 *
 * @example
 * ```ts
 * import { i64Tensor, toInt64 } from 'netslim';
 *
 * const steps = i64Tensor([], [1200]); // a scalar, as BatchNorm's num_batches_tracked
 * console.log(steps.dtype, toInt64(steps, 'num_batches_tracked')); // I64 BigInt64Array [1200n]
 * ```
 */
export function i64Tensor(shape: number[], values: BigInt64Array | number[]): SafeTensor {
  checkValues(shape, values.length, 'i64Tensor');
  let big: BigInt64Array;
  if (values instanceof BigInt64Array) {
    big = values;
  } else {
    big = new BigInt64Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isSafeInteger(v)) throw new ShapeError(`i64Tensor: value ${v} at index ${i} is not a safe integer`);
      big[i] = BigInt(v);
    }
  }
  let data: Uint8Array;
  if (LITTLE_ENDIAN) {
    data = new Uint8Array(big.buffer, big.byteOffset, big.byteLength);
  } else {
    data = new Uint8Array(big.length * 8);
    const dv = new DataView(data.buffer);
    for (let i = 0; i < big.length; i++) dv.setBigInt64(i * 8, big[i]!, true);
  }
  return { dtype: 'I64', shape: shape.slice(), data };
}

function checkTensor(t: SafeTensor, name: string, fileName: string | undefined): number {
  if (!isSafeDType(t.dtype)) throw new CheckpointError(fileName, name, `unknown dtype ${JSON.stringify(t.dtype)}`);
  const numel = numelOf(t.shape);
  const need = numel === undefined ? NaN : numel * DTYPE_SIZE[t.dtype];
  if (t.data.byteLength !== need) {
    throw new CheckpointError(fileName, name, `data has ${t.data.byteLength} bytes but ${t.dtype} ${fmtShape(t.shape)} needs ${need}`);
  }
  return numel!;
}

/** IEEE half (binary16) bits → number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * The tensor's values as a new Float32Array (always a copy, so alignment of the source does not
 * matter). F32 is copied bit for bit; F64 is rounded to float32 (values beyond ±3.4e38 become
 * ±Infinity); F16 and BF16 are widened exactly. Other dtypes throw a CheckpointError naming the
 * tensor.
 *
 * @example
 * ```ts
 * import { toFloat32, type SafeTensor } from 'netslim';
 *
 * const half: SafeTensor = { dtype: 'F16', shape: [2], data: new Uint8Array([0x00, 0x3c, 0x00, 0xc0]) };
 * console.log(toFloat32(half, 'x')); // Float32Array [1, -2]
 * ```
 */
export function toFloat32(t: SafeTensor, name: string, fileName?: string): Float32Array {
  const numel = checkTensor(t, name, fileName);
  const out = new Float32Array(numel);
  const src = t.data;
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  switch (t.dtype) {
    case 'F32':
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(src);
      else for (let i = 0; i < numel; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case 'F64':
      for (let i = 0; i < numel; i++) out[i] = dv.getFloat64(i * 8, true);
      break;
    case 'F16':
      for (let i = 0; i < numel; i++) out[i] = halfToNumber(dv.getUint16(i * 2, true));
      break;
    case 'BF16': {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < numel; i++) bits[i] = dv.getUint16(i * 2, true) << 16;
      break;
    }
    default:
      throw new CheckpointError(fileName, name, `dtype ${t.dtype} cannot be read as floats (expected F32, F64, F16 or BF16)`);
  }
  return out;
}

/**
 * The tensor's values as a new BigInt64Array: I64 copied, I32/I16/I8/U32/U16/U8/BOOL widened.
 * Float dtypes throw a CheckpointError naming the tensor.
 *
 * @example
 * ```ts
 * import { toInt64, type SafeTensor } from 'netslim';
 *
 * const labels: SafeTensor = { dtype: 'U8', shape: [3], data: new Uint8Array([3, 1, 4]) };
 * console.log(toInt64(labels, 'y')); // BigInt64Array [3n, 1n, 4n]
 * ```
 */
export function toInt64(t: SafeTensor, name: string, fileName?: string): BigInt64Array {
  const numel = checkTensor(t, name, fileName);
  const out = new BigInt64Array(numel);
  const src = t.data;
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  let get: (i: number) => number;
  switch (t.dtype) {
    case 'I64':
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(src);
      else for (let i = 0; i < numel; i++) out[i] = dv.getBigInt64(i * 8, true);
      return out;
    case 'I32':
      get = (i) => dv.getInt32(i * 4, true);
      break;
    case 'U32':
      get = (i) => dv.getUint32(i * 4, true);
      break;
    case 'I16':
      get = (i) => dv.getInt16(i * 2, true);
      break;
    case 'U16':
      get = (i) => dv.getUint16(i * 2, true);
      break;
    case 'I8':
      get = (i) => dv.getInt8(i);
      break;
    case 'U8':
    case 'BOOL':
      get = (i) => dv.getUint8(i);
      break;
    default:
      throw new CheckpointError(fileName, name, `dtype ${t.dtype} cannot be read as integers (expected I64, I32, I16, I8, U32, U16, U8 or BOOL)`);
  }
  for (let i = 0; i < numel; i++) out[i] = BigInt(get(i));
  return out;
}
