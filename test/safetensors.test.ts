// safetensors bytes: round trips, byte-exact agreement with the reference writer's layout (fixtures
// from test/fixtures/make_safetensors_fixtures.py), a real PyTorch state_dict, and every
// validation failure on a hand-corrupted file. No GPU needed; runs on both lanes.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/errors.js';
import { CheckpointError } from '../src/io/errors.js';
import {
  f32Tensor,
  i64Tensor,
  parseSafetensors,
  serializeSafetensors,
  toFloat32,
  toInt64,
  type SafeDType,
  type SafeTensor,
} from '../src/io/safetensors.js';
import { readFixture } from '#lane';

/** A committed fixture's bytes (the lane's reader: node:fs, or the test server in Chromium). */
async function fixture(name: string): Promise<Uint8Array> {
  return readFixture(`fixtures/safetensors/${name}`);
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
const raw = (dtype: SafeDType, shape: number[], a: ArrayBufferView): SafeTensor => ({ dtype, shape, data: bytesOf(a) });

/** The tensors of all_dtypes.safetensors, built independently of the Python script. */
function allDtypes(): Map<string, SafeTensor> {
  const bf16 = new Uint16Array(new Uint32Array(Float32Array.of(1, -3, 0.15625).buffer).map((b) => b >>> 16));
  return new Map<string, SafeTensor>([
    ['weight', f32Tensor([2, 3], Float32Array.from([0, 1, 2, 3, 4, 5], (i) => i * 0.25 - 0.5))],
    ['10', f32Tensor([1], Float32Array.of(10.5))],
    ['9', f32Tensor([1], Float32Array.of(-9.25))],
    ['a.10', f32Tensor([2], Float32Array.of(1e-38, 3.4e38))],
    ['a.9', f32Tensor([2], Float32Array.of(-0, 2 ** -149))],
    ['z', f32Tensor([0, 3], new Float32Array(0))],
    ['é', f32Tensor([1, 1, 1, 1], Float32Array.of(0.1))],
    ['w64', raw('F64', [3], Float64Array.of(Math.PI, -1e300, 5e-324))],
    ['half', raw('F16', [2, 3], Uint16Array.of(0x3c00, 0xc100, 0x7bff, 0x0001, 0x7c00, 0x8000))],
    ['bf', raw('BF16', [3], bf16)],
    ['num_batches_tracked', i64Tensor([], [7])],
    ['ids', i64Tensor([4], BigInt64Array.of(-1n, 0n, 2n ** 40n, -(2n ** 62n)))],
    ['i32', raw('I32', [3], Int32Array.of(-(2 ** 31), 0, 2 ** 31 - 1))],
    ['u32', raw('U32', [2], Uint32Array.of(0, 2 ** 32 - 1))],
    ['i16', raw('I16', [2], Int16Array.of(-(2 ** 15), 2 ** 15 - 1))],
    ['u16', raw('U16', [2], Uint16Array.of(0, 2 ** 16 - 1))],
    ['i8', raw('I8', [3], Int8Array.of(-128, 0, 127))],
    ['u8', raw('U8', [3], Uint8Array.of(0, 128, 255))],
    ['u8_empty', raw('U8', [2, 0], new Uint8Array(0))],
    ['mask', raw('BOOL', [3], Uint8Array.of(1, 0, 1))],
  ]);
}

const ALL_META: Record<string, string> = {
  arch: 'vgg',
  depth: '16',
  cfg: '[64,"M",128]',
  note: 'line1\nline2\ttab \\ "q" \x01 \x7f ünïcødé ✓ 😀',
  '10': 'ten',
  '9': 'nine',
};

/** Layout order of the reference writer: dtype alignment descending, then UTF-8 name order. */
const REFERENCE_ORDER = [
  'ids', 'num_batches_tracked', 'w64', '10', '9', 'a.10', 'a.9', 'weight', 'z', 'é', 'u32', 'i32', 'bf', 'half',
  'u16', 'i16', 'i8', 'u8', 'u8_empty', 'mask',
];

function headerText(bytes: Uint8Array): string {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return new TextDecoder().decode(bytes.subarray(8, 8 + n));
}

describe('safetensors round trip', () => {
  it('keeps every dtype, shape, byte and the metadata', () => {
    const tensors = allDtypes();
    const file = parseSafetensors(serializeSafetensors(tensors, ALL_META), 'rt.safetensors');
    expect([...file.tensors.keys()]).toEqual(REFERENCE_ORDER);
    for (const [name, t] of tensors) {
      const back = file.tensors.get(name)!;
      expect(back.dtype, name).toBe(t.dtype);
      expect(back.shape, name).toEqual(t.shape);
      expect(bytesOf(back.data), name).toEqual(bytesOf(t.data));
    }
    expect(file.metadata).toEqual(ALL_META);
  });

  it('matches the Python-written fixture byte for byte', async () => {
    const expected = await fixture('all_dtypes.safetensors');
    const ours = serializeSafetensors(allDtypes(), ALL_META);
    expect(ours.byteLength).toBe(expected.byteLength);
    expect(headerText(ours)).toBe(headerText(expected));
    expect(bytesOf(ours)).toEqual(bytesOf(expected));
    // Insertion order and Map/Record input do not change the bytes.
    const shuffled = Object.fromEntries([...allDtypes()].reverse());
    expect(bytesOf(serializeSafetensors(shuffled, ALL_META))).toEqual(bytesOf(expected));
  });

  it('reads the fixture: values of every dtype', async () => {
    const file = parseSafetensors(await fixture('all_dtypes.safetensors'), 'all_dtypes.safetensors');
    const t = (n: string) => file.tensors.get(n)!;
    const f = (n: string) => Array.from(toFloat32(t(n), n));
    const i = (n: string) => Array.from(toInt64(t(n), n));
    expect(f('weight')).toEqual([-0.5, -0.25, 0, 0.25, 0.5, 0.75]);
    expect(f('a.9')).toEqual([-0, 2 ** -149]);
    expect(Object.is(f('a.9')[0], -0)).toBe(true);
    expect(f('w64')).toEqual([Math.fround(Math.PI), -Infinity, 0]);
    expect(f('half')).toEqual([1, -2.5, 65504, 2 ** -24, Infinity, -0]);
    expect(Object.is(f('half')[5], -0)).toBe(true);
    expect(f('bf')).toEqual([1, -3, 0.15625]);
    expect(t('num_batches_tracked').shape).toEqual([]);
    expect(i('num_batches_tracked')).toEqual([7n]);
    expect(i('ids')).toEqual([-1n, 0n, 2n ** 40n, -(2n ** 62n)]);
    expect(i('i32')).toEqual([-(2n ** 31n), 0n, 2n ** 31n - 1n]);
    expect(i('u32')).toEqual([0n, 2n ** 32n - 1n]);
    expect(i('i16')).toEqual([-32768n, 32767n]);
    expect(i('u16')).toEqual([0n, 65535n]);
    expect(i('i8')).toEqual([-128n, 0n, 127n]);
    expect(i('u8')).toEqual([0n, 128n, 255n]);
    expect(i('mask')).toEqual([1n, 0n, 1n]);
    expect(file.metadata).toEqual(ALL_META);
  });

  it('handles zero-size tensors (a dim of 0), alone and between others', async () => {
    const file = parseSafetensors(await fixture('all_dtypes.safetensors'));
    expect(file.tensors.get('z')!.shape).toEqual([0, 3]);
    expect(file.tensors.get('z')!.data.byteLength).toBe(0);
    expect(toFloat32(file.tensors.get('z')!, 'z')).toHaveLength(0);
    expect(toInt64(file.tensors.get('u8_empty')!, 'u8_empty')).toHaveLength(0);
    const alone = serializeSafetensors({ e: f32Tensor([3, 0, 2], new Float32Array(0)) });
    expect(headerText(alone).trimEnd()).toBe('{"e":{"dtype":"F32","shape":[3,0,2],"data_offsets":[0,0]}}');
    expect(parseSafetensors(alone).tensors.get('e')!.shape).toEqual([3, 0, 2]);
  });

  it('writes and reads files with no tensors, with and without metadata', async () => {
    const empty = serializeSafetensors(new Map());
    expect(bytesOf(empty)).toEqual(bytesOf(await fixture('empty.safetensors')));
    expect(headerText(empty)).toBe('{}      ');
    const e = parseSafetensors(empty, 'empty.safetensors');
    expect(e.tensors.size).toBe(0);
    expect(e.metadata).toEqual({});
    const meta = serializeSafetensors({}, { format: 'pt' });
    expect(bytesOf(meta)).toEqual(bytesOf(await fixture('metadata_only.safetensors')));
    expect(parseSafetensors(meta).metadata).toEqual({ format: 'pt' });
  });

  it('pads the header with spaces to 8 bytes, and reads unpadded or extra-padded headers', () => {
    for (let len = 0; len < 9; len++) {
      const bytes = serializeSafetensors({ ['x'.repeat(len + 1)]: f32Tensor([1], Float32Array.of(len)) });
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect(n % 8).toBe(0);
      const text = headerText(bytes);
      expect(text.endsWith('}') || /} {1,7}$/.test(text)).toBe(true);
      expect(bytes.byteLength).toBe(8 + n + 4);
      expect(toFloat32(parseSafetensors(bytes).tensors.get('x'.repeat(len + 1))!, 'x')).toEqual(Float32Array.of(len));
    }
    // Older writers did not pad; JSON whitespace is allowed anywhere.
    for (const header of ['{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', ' \n\t{ "a" : {"dtype":"U8","shape":[1],"data_offsets":[0,1]} }                 ']) {
      const file = parseSafetensors(build(header, Uint8Array.of(42)));
      expect(Array.from(file.tensors.get('a')!.data)).toEqual([42]);
    }
  });

  it('accepts what the reference accepts: any header order, unknown fields, null metadata', () => {
    const header = JSON.stringify({
      b: { dtype: 'U8', shape: [2], data_offsets: [3, 5], extra: { ignored: [1] } },
      e2: { dtype: 'F32', shape: [0], data_offsets: [3, 3] },
      __metadata__: null,
      a: { shape: [3], data_offsets: [0, 3], dtype: 'I8' },
      e1: { dtype: 'F32', shape: [0], data_offsets: [0, 0] },
    });
    const file = parseSafetensors(build(header, Uint8Array.of(1, 2, 3, 4, 5)));
    expect([...file.tensors.keys()]).toEqual(['e1', 'a', 'e2', 'b']);
    expect(Array.from(file.tensors.get('b')!.data)).toEqual([4, 5]);
    expect(file.metadata).toEqual({});
  });

  it('orders names by UTF-8 bytes, not UTF-16 code units', () => {
    // U+E000 is one UTF-16 unit above the surrogates of U+1F600, but below it in UTF-8.
    const t = f32Tensor([1], Float32Array.of(1));
    const file = parseSafetensors(serializeSafetensors({ '😀': t, '\ue000': t, Z: t, a: t }));
    expect([...file.tensors.keys()]).toEqual(['Z', 'a', '\ue000', '😀']);
  });

  it('stores metadata keys such as __proto__ and integer-like names as plain keys', () => {
    const meta: Record<string, string> = {};
    Object.defineProperty(meta, '__proto__', { value: 'p', enumerable: true });
    meta['0'] = 'zero';
    const back = parseSafetensors(serializeSafetensors({ '0': i64Tensor([1], [5]) }, meta)).metadata;
    expect(Object.keys(back).sort()).toEqual(['0', '__proto__']);
    expect(back['__proto__']).toBe('p');
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
  });
});

describe('tensor helpers', () => {
  it('toFloat32 copies F32 from an unaligned view and rounds F64', () => {
    const src = Float32Array.of(1.5, -2.25, 3e-39);
    const buf = new Uint8Array(13);
    buf.set(bytesOf(src), 1);
    const t: SafeTensor = { dtype: 'F32', shape: [3], data: buf.subarray(1) };
    const out = toFloat32(t, 'w');
    expect(out).toEqual(src);
    out[0] = 9;
    expect(buf[1]).toBe(bytesOf(src)[0]); // a copy
    expect(Array.from(toFloat32(raw('F64', [2], Float64Array.of(0.1, 1e39)), 'd'))).toEqual([Math.fround(0.1), Infinity]);
    expect(Number.isNaN(toFloat32(raw('F16', [1], Uint16Array.of(0x7e00)), 'h')[0])).toBe(true);
  });

  it('refuses conversions that do not fit, naming the tensor and file', () => {
    const check = (fn: () => unknown, re: RegExp) => {
      expect(fn).toThrow(CheckpointError);
      expect(fn).toThrow(/^m\.safetensors: tensor "feature\.0\.weight": /);
      expect(fn).toThrow(re);
    };
    check(() => toFloat32(i64Tensor([1], [1]), 'feature.0.weight', 'm.safetensors'), /I64 cannot be read as floats/);
    check(() => toInt64(f32Tensor([1], Float32Array.of(1)), 'feature.0.weight', 'm.safetensors'), /F32 cannot be read as integers/);
    check(() => toFloat32({ dtype: 'F32', shape: [2], data: new Uint8Array(4) }, 'feature.0.weight', 'm.safetensors'), /4 bytes but F32 \[2\] needs 8/);
  });

  it('f32Tensor and i64Tensor check the value count', () => {
    expect(() => f32Tensor([2, 2], new Float32Array(3))).toThrow(ShapeError);
    expect(() => f32Tensor([2, -2], new Float32Array(4))).toThrow(/non-negative integers/);
    expect(() => i64Tensor([2], [1])).toThrow(/holds 2 values, got 1/);
    expect(() => i64Tensor([1], [2 ** 60])).toThrow(/not a safe integer/);
    expect(f32Tensor([], Float32Array.of(3)).shape).toEqual([]);
  });

  it('serializeSafetensors rejects bad tensors and metadata, naming them', () => {
    expect(() => serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Uint8Array(8) } }, undefined, 'out.safetensors')).toThrow(
      /^out\.safetensors: tensor "w": data has 8 bytes but F32 \[3\] needs 12$/,
    );
    expect(() => serializeSafetensors({ __metadata__: f32Tensor([1], Float32Array.of(1)) })).toThrow(/reserved/);
    expect(() => serializeSafetensors({ w: { dtype: 'F8' as SafeDType, shape: [1], data: new Uint8Array(1) } })).toThrow(/unknown dtype "F8"/);
    expect(() => serializeSafetensors({}, { depth: 16 as unknown as string })).toThrow(/__metadata__ value of "depth" must be a string/);
  });
});

describe('the PyTorch fixture (nn.Sequential(Conv2d(3, 4, 3), BatchNorm2d(4)).state_dict())', () => {
  it('loads names, dtypes, shapes and values as torch wrote them', async () => {
    const bytes = await fixture('torch_conv_bn.safetensors');
    const expected = JSON.parse(new TextDecoder().decode(await fixture('torch_conv_bn.json'))) as {
      tensors: Record<string, { dtype: SafeDType; shape: number[]; values: number[] }>;
    };
    const file = parseSafetensors(bytes, 'torch_conv_bn.safetensors');
    expect(new Set(file.tensors.keys())).toEqual(
      new Set(['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']),
    );
    expect(file.metadata).toEqual({});
    for (const [name, e] of Object.entries(expected.tensors)) {
      const t = file.tensors.get(name)!;
      expect(t.dtype, name).toBe(e.dtype);
      expect(t.shape, name).toEqual(e.shape);
      if (e.dtype === 'I64') expect(toInt64(t, name)).toEqual(BigInt64Array.from(e.values, BigInt));
      else expect(toFloat32(t, name), name).toEqual(Float32Array.from(e.values));
    }
    expect(file.tensors.get('1.num_batches_tracked')!.shape).toEqual([]);
    expect(file.tensors.get('0.weight')!.shape).toEqual([4, 3, 3, 3]);
    // Re-written by us, the file is identical (no metadata, as safetensors.torch.save_file).
    expect(bytesOf(serializeSafetensors(file.tensors))).toEqual(bytesOf(bytes));
  });
});

// ---------------------------------------------------------------------------------------------

/** A file with a hand-written header (unpadded) and buffer; `n` overrides the length field. */
function build(header: string, buffer: Uint8Array | number = 0, n?: number | bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const data = typeof buffer === 'number' ? new Uint8Array(buffer) : buffer;
  const out = new Uint8Array(8 + h.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(n ?? h.byteLength), true);
  out.set(h, 8);
  out.set(data, 8 + h.byteLength);
  return out;
}

const entry = (dtype: unknown, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });
const file = (o: Record<string, unknown>, buffer: number) => build(JSON.stringify(o), buffer);

/** parse must throw a CheckpointError naming the file and (when given) the tensor. */
function rejects(bytes: Uint8Array, tensor: string | undefined, detail: RegExp): void {
  let err: unknown;
  try {
    parseSafetensors(bytes, 'bad.safetensors');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CheckpointError);
  const ce = err as CheckpointError;
  expect(ce.file).toBe('bad.safetensors');
  expect(ce.tensor).toBe(tensor);
  expect(ce.message.startsWith(tensor === undefined ? 'bad.safetensors: ' : `bad.safetensors: tensor ${JSON.stringify(tensor)}: `)).toBe(true);
  expect(ce.detail).toMatch(detail);
}

describe('safetensors validation (hand-corrupted files)', () => {
  const ok = entry('F32', [2], [0, 8]);

  it('file shorter than 8 bytes', () => {
    rejects(new Uint8Array(0), undefined, /0 bytes, shorter than the 8-byte header length/);
    rejects(new Uint8Array(7), undefined, /7 bytes/);
  });

  it('header length beyond the file', () => {
    rejects(build('{}', 0, 100), undefined, /header length 100 goes beyond the end of the file \(10 bytes\)/);
    rejects(build('{}', 0, 2n ** 63n), undefined, /header length 9223372036854775808 goes beyond/);
  });

  it('header not UTF-8, not JSON, or not an object', () => {
    const bad = build('{}');
    bad[9] = 0xff;
    rejects(bad, undefined, /not valid UTF-8/);
    rejects(build('\ufeff{}'), undefined, /not valid JSON/); // a BOM is not JSON whitespace
    rejects(build('{"a": {"dtype": "F32",'), undefined, /not valid JSON/);
    rejects(build('{}\0\0\0\0\0\0'), undefined, /not valid JSON/); // NUL padding
    rejects(build('[1, 2]'), undefined, /must be a JSON object, found an array/);
    rejects(build('null'), undefined, /found null/);
    rejects(build('"w"'), undefined, /found the string "w"/);
  });

  it('entry missing dtype, shape or data_offsets, or not an object', () => {
    rejects(file({ w: { shape: [2], data_offsets: [0, 8] } }, 8), 'w', /entry has no dtype/);
    rejects(file({ w: { dtype: 'F32', data_offsets: [0, 8] } }, 8), 'w', /entry has no shape/);
    rejects(file({ w: { dtype: 'F32', shape: [2] } }, 8), 'w', /entry has no data_offsets/);
    rejects(file({ 'feature.0.weight': 5 }, 0), 'feature.0.weight', /must be an object \{dtype, shape, data_offsets\}, found number 5/);
  });

  it('fields of the wrong type, negative or non-integer dims', () => {
    rejects(file({ w: entry(32, [2], [0, 8]) }, 8), 'w', /dtype must be a string, found number 32/);
    rejects(file({ w: entry('F32', '2', [0, 8]) }, 8), 'w', /shape must be an array of integers, found the string "2"/);
    rejects(file({ w: entry('F32', [-2], [0, 8]) }, 8), 'w', /shape \[-2\] has number -2; dims must be non-negative integers/);
    rejects(file({ w: entry('F32', [1.5], [0, 8]) }, 8), 'w', /has number 1\.5/);
    rejects(file({ w: entry('F32', [null], [0, 8]) }, 8), 'w', /has null/);
    rejects(file({ w: entry('F32', [2], [0]) }, 8), 'w', /data_offsets must be \[begin, end\], found \[0\]/);
    rejects(file({ w: entry('F32', [2], { begin: 0 }) }, 8), 'w', /data_offsets must be \[begin, end\]/);
    rejects(file({ w: entry('F32', [2], ['0', 8]) }, 8), 'w', /has the string "0"; offsets must be non-negative integers/);
    rejects(file({ w: entry('F32', [2], [-8, 0]) }, 8), 'w', /has number -8/);
  });

  it('unknown dtype', () => {
    rejects(file({ w: entry('F8_E4M3', [2], [0, 2]) }, 2), 'w', /unknown or unsupported dtype "F8_E4M3" \(netslim reads .*F32/);
    rejects(file({ w: entry('f32', [2], [0, 8]) }, 8), 'w', /unsupported dtype "f32"/);
    rejects(file({ w: entry('toString', [2], [0, 8]) }, 8), 'w', /unsupported dtype "toString"/);
  });

  it('offsets out of range, end before begin, byte length ≠ numel·itemsize', () => {
    rejects(file({ w: entry('F32', [2], [0, 8]) }, 4), 'w', /data_offsets \[0, 8\] go beyond the data buffer \(4 bytes after the header\)/);
    rejects(file({ w: entry('F32', [0], [8, 0]) }, 8), 'w', /data_offsets \[8, 0\] end before they begin/);
    rejects(file({ w: entry('F32', [3], [0, 8]) }, 8), 'w', /hold 8 bytes but F32 \[3\] needs 3·4 = 12/);
    rejects(file({ w: entry('I64', [], [0, 4]) }, 4), 'w', /I64 \[\] needs 1·8 = 8/);
    rejects(file({ w: entry('U8', [2 ** 30, 2 ** 30, 2 ** 30], [0, 8]) }, 8), 'w', /too large/);
  });

  it('overlapping tensors, holes, and bytes no tensor covers', () => {
    rejects(file({ a: ok, b: entry('F32', [2], [4, 12]) }, 12), 'b', /data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]/);
    rejects(file({ a: ok, b: entry('F32', [2], [0, 8]) }, 8), 'b', /overlap tensor "a"/); // the same range twice
    rejects(file({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [8, 12]) }, 12), 'b', /leave a hole of 4 bytes at \[4, 8\] after tensor "a"/);
    rejects(file({ a: entry('F32', [1], [4, 8]) }, 8), 'a', /hole of 4 bytes at \[0, 4\] at the start of the data buffer/);
    rejects(file({ a: entry('F32', [1], [0, 4]) }, 8), undefined, /4 bytes after the last tensor \("a" ends at 4\) are not covered by any tensor/);
    rejects(file({}, 3), undefined, /3 bytes after the header \(no tensors\) are not covered/);
  });

  it('__metadata__ that is not an object of strings', () => {
    rejects(file({ __metadata__: { depth: 16 }, w: ok }, 8), undefined, /__metadata__ value of "depth" must be a string, found number 16/);
    rejects(file({ __metadata__: { cfg: [64] } }, 0), undefined, /value of "cfg" must be a string, found an array/);
    rejects(file({ __metadata__: 'vgg' }, 0), undefined, /__metadata__ must be an object of strings, found the string "vgg"/);
  });

  it('duplicate JSON keys (JSON.parse would keep the last silently)', () => {
    const e = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
    rejects(build(`{"w":${e},"w":${e}}`, 8), 'w', /header has this tensor twice/);
    rejects(build('{"w":{"dtype":"F32","shape":[2],"shape":[2],"data_offsets":[0,8]}}', 8), 'w', /entry has the field "shape" twice/);
    rejects(build(`{"__metadata__":{"arch":"vgg","arch":"resnet"},"w":${e}}`, 8), undefined, /__metadata__ has the key "arch" twice/);
    rejects(build('{"__metadata__":{},"__metadata__":{}}'), undefined, /header has __metadata__ twice/);
    // Escapes are decoded before comparing: "\u0077" is "w".
    rejects(build(`{"w":${e},"\\u0077":${e}}`, 8), 'w', /twice/);
    // Equal keys in different objects, and brackets inside strings, are fine.
    const okText = `{"__metadata__":{"dtype":"{[\\"]}","w":"x"},"w":${e}}`;
    expect(parseSafetensors(build(okText, 8)).metadata).toEqual({ dtype: '{["]}', w: 'x' });
  });

  it('names unnamed bytes as "safetensors data" and returns nothing half-loaded', () => {
    const bytes = file({ a: entry('U8', [1], [0, 1]), b: entry('U8', [1], [1, 2]), c: entry('U8', [2], [2, 3]) }, 3);
    expect(() => parseSafetensors(bytes)).toThrow(/^safetensors data: tensor "c": data_offsets \[2, 3\] hold 1 bytes but U8 \[2\] needs 2·1 = 2$/);
  });
});
