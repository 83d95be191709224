// Fuzzing every reader of user files in-process: safetensors (model checkpoints with their graph
// metadata, and tensor datasets), IDX (plain and gzipped), CIFAR-10/100 binaries, ONNX models and
// the graph JSON of a checkpoint. Each campaign starts from valid files and mutates them —
// truncations, flipped bytes, extreme values written over header fields (sizes, offsets,
// lengths, dims), inserted and deleted bytes, and for the JSON and protobuf formats structural
// edits (absurd dims and offsets, negative and fractional numbers, reserved names such as
// `__proto__`, wrong types, missing and duplicated fields) — then reads each mutant. Every read
// must return normally or throw a NetslimError (a typed error whose message names the file, and
// where one is to blame the field), within 2 s: anything else (a TypeError or RangeError from deep
// inside, a hang, an out-of-memory) fails the test, which saves the input under
// test/artifacts/fuzz/ and prints the seed and case to replay it.
//
// The campaigns are seeded (FUZZ_SEED, default 20261205) and sized by FUZZ_CASES (default 20,000
// in total, a few seconds); the classes of bad input they cover are counted per campaign and printed.
import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import onnxProto, { type onnx } from 'onnx-proto';
import { NetslimError } from '../../src/errors.js';
import { parseSafetensors, serializeSafetensors, type SafeTensor } from '../../src/io/safetensors.js';
import { checkpointGraph, expectFinite, metadataOf } from '../../src/io/checkpoint.js';
import { toFloat32 } from '../../src/io/safetensors.js';
import { parseCifar10, parseCifar100, parseIdxAsync } from '../../src/data/datasets.js';
import { readOnnx } from '../../src/io/onnx-import.js';
import { graphFromSpec, graphToSpec } from '../../src/nn/graph-spec.js';
import { parseTensorDataset } from '../../src/cli/common.js';
import { decodeImage, imagePixels } from '../../src/cli/images.js';
import { PNG } from 'pngjs';
import { encode as encodeJpeg } from 'jpeg-js';
import { rng } from '../util/random.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SEED = Number(process.env.FUZZ_SEED ?? 20261205);
const TOTAL = Number(process.env.FUZZ_CASES ?? 20_000);
const TIME_LIMIT_MS = 2000;
const fixture = (p: string) => new Uint8Array(readFileSync(path.join(root, 'test/fixtures', p)));

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;

/** Values that break sizes, offsets and counts. */
const EXTREMES = [0, 1, 2, 3, 4, 7, 8, 255, 256, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 53, 2 ** 62, -1, -(2 ** 31)];

/** Byte-level mutations of any file: the class name and the mutant. */
function mutateBytes(r: Rand, b: Uint8Array): [string, Uint8Array] {
  const out = b.slice();
  switch (int(r, 7)) {
    case 0:
      return ['truncated', b.slice(0, int(r, b.length))];
    case 1: {
      const k = 1 + int(r, 8);
      for (let i = 0; i < k; i++) out[int(r, out.length)] = int(r, 256);
      return [`${k} random bytes`, out];
    }
    case 2: {
      const at = int(r, Math.max(1, Math.min(out.length, 64)));
      const v = pick(r, EXTREMES);
      const view = new DataView(out.buffer);
      const le = r() < 0.7;
      if (at + 8 <= out.length && r() < 0.5) view.setBigInt64(at, BigInt(Math.trunc(v)), le);
      else if (at + 4 <= out.length) view.setUint32(at, v >>> 0, le);
      return ['extreme header field', out];
    }
    case 3: {
      const at = int(r, out.length + 1);
      const ins = Uint8Array.from({ length: 1 + int(r, 16) }, () => int(r, 256));
      return ['inserted bytes', new Uint8Array([...out.subarray(0, at), ...ins, ...out.subarray(at)])];
    }
    case 4: {
      const at = int(r, out.length);
      return ['deleted bytes', new Uint8Array([...out.subarray(0, at), ...out.subarray(Math.min(out.length, at + 1 + int(r, 16)))])];
    }
    case 5:
      return ['empty', new Uint8Array(0)];
    default: {
      const i = int(r, out.length);
      out[i] = out[i]! ^ (1 << int(r, 8));
      return ['one flipped bit', out];
    }
  }
}

/** A JSON value mutated somewhere: numbers made extreme/negative/fractional, strings reserved, fields dropped or retyped. */
function mutateJson(r: Rand, v: unknown, depth = 0): [string, unknown] {
  if (Array.isArray(v) && v.length && r() < 0.7) {
    const i = int(r, v.length);
    const [cls, m] = mutateJson(r, v[i], depth + 1);
    const copy = [...v];
    copy[i] = m;
    return [cls, copy];
  }
  if (v && typeof v === 'object' && !Array.isArray(v) && r() < 0.8) {
    const keys = Object.keys(v);
    if (keys.length) {
      const k = pick(r, keys);
      const copy: Record<string, unknown> = { ...(v as Record<string, unknown>) };
      const roll = r();
      if (roll < 0.1) {
        delete copy[k];
        return ['missing field', copy];
      }
      if (roll < 0.18) {
        Object.defineProperty(copy, '__proto__', { value: copy[k], enumerable: true, configurable: true, writable: true });
        return ['field named __proto__', copy];
      }
      const [cls, m] = mutateJson(r, copy[k], depth + 1);
      copy[k] = m;
      return [cls, copy];
    }
  }
  const roll = int(r, 9);
  if (roll === 0) return ['negative number', -1 - int(r, 1000)];
  if (roll === 1) return ['huge number', pick(r, [2 ** 31, 2 ** 53, 2 ** 62, 1e300])];
  if (roll === 2) return ['fractional number', 1.5];
  if (roll === 3) return ['NaN-like string', 'NaN'];
  if (roll === 4) return ['reserved name', pick(r, ['__proto__', 'constructor', 'prototype', ''])];
  if (roll === 5) return ['null', null];
  if (roll === 6) return ['wrong type (object)', { a: 1 }];
  if (roll === 7) return ['wrong type (array)', [1, 2, 3]];
  return ['zero', 0];
}

interface Campaign {
  name: string;
  /** What every refusal must name: the file (or files) read. */
  file: RegExp;
  /** Share of the cases. */
  weight: number;
  /** One mutant: its class and a reader to run on it. */
  make(r: Rand): { cls: string; bytes: Uint8Array; read: () => unknown };
}

/** The safetensors header of `bytes` as an object, and a writer putting a (mutated) header back. */
function header(bytes: Uint8Array): { json: Record<string, unknown>; write: (h: unknown) => Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  return {
    json,
    write: (h: unknown) => {
      const text = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(8 + text.length + (bytes.length - 8 - n));
      new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
      out.set(text, 8);
      out.set(bytes.subarray(8 + n), 8 + text.length);
      return out;
    },
  };
}

async function campaigns(): Promise<Campaign[]> {
  const model = fixture('graphs/mobilenetv2_w025.safetensors');
  const modelState = new Map<string, SafeTensor>([...parseSafetensors(model).tensors].filter(([k]) => !/^(input|labels|eval\.|step0\.|grad\.|loss\.|after\.)/.test(k)));
  const torchCkpt = serializeSafetensors(modelState, {}); // PyTorch-made: no metadata, inferred from names
  // A checkpoint as netslim writes any graph (the graph JSON in its metadata): the fire net, small enough to mutate fast.
  const onnxFiles = ['onnx/fire_net_op13.onnx', 'onnx/fire_net_op17.onnx'].map(fixture);
  const fire = await readOnnx(onnxFiles[0]!);
  const tensors: Record<string, SafeTensor> = {};
  for (const [k, v] of fire.state) {
    tensors[k] = { dtype: v.data instanceof BigInt64Array ? 'I64' : 'F32', shape: v.shape, data: new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength) };
  }
  const checkpoint = serializeSafetensors(tensors, metadataOf(fire.meta, fire.graph));
  const spec = graphToSpec(fire.graph);
  const dataset = serializeSafetensors({
    x: { dtype: 'F32', shape: [4, 1, 4, 4], data: new Uint8Array(4 * 16 * 4) },
    y: { dtype: 'I64', shape: [4], data: new Uint8Array(new BigInt64Array([0n, 1n, 2n, 1n]).buffer) },
  });
  const idxImages = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 4, ...Array.from({ length: 48 }, (_, i) => i)]);
  const idxLabels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 9]);
  const cifar10 = Uint8Array.from({ length: 2 * 3073 }, (_, i) => (i % 3073 === 0 ? 3 : i & 255));
  const cifar100 = Uint8Array.from({ length: 2 * 3074 }, (_, i) => (i % 3074 < 2 ? 7 : i & 255));
  const ONNX = onnxProto.onnx;
  // A 6×5 RGBA picture as PNG and as JPEG, for `netslim predict --image`.
  const picture = { width: 6, height: 5, data: Buffer.from(Uint8Array.from({ length: 6 * 5 * 4 }, (_, i) => (i * 37) & 255)) };
  const png = new Uint8Array(PNG.sync.write(Object.assign(new PNG({ width: 6, height: 5 }), { data: picture.data })));
  const jpeg = new Uint8Array(encodeJpeg(picture, 90).data);

  const readCheckpoint = (bytes: Uint8Array, name: string) => () => {
    const file = parseSafetensors(bytes, name);
    checkpointGraph(file, name);
    expectFinite(new Map([...file.tensors].filter(([, t]) => t.dtype === 'F32').map(([k, t]) => [k, { shape: t.shape, data: toFloat32(t, k, name) }])), name);
  };

  return [
    {
      name: 'model checkpoint (safetensors, graph metadata): bytes',
      file: /model\.safetensors/,
      weight: 2,
      make: (r) => {
        const [cls, bytes] = mutateBytes(r, checkpoint);
        return { cls, bytes, read: readCheckpoint(bytes, 'model.safetensors') };
      },
    },
    {
      name: 'model checkpoint (safetensors): header JSON',
      file: /model\.safetensors/,
      weight: 2,
      make: (r) => {
        const base = r() < 0.5 ? checkpoint : torchCkpt;
        const h = header(base);
        const [cls, m] = mutateJson(r, h.json);
        const bytes = h.write(m);
        return { cls: `header: ${cls}`, bytes, read: readCheckpoint(bytes, 'model.safetensors') };
      },
    },
    {
      name: 'graph JSON in checkpoint metadata',
      file: /model\.safetensors/,
      weight: 1.5,
      make: (r) => {
        const [cls, m] = mutateJson(r, spec);
        const text = r() < 0.1 ? JSON.stringify(m).slice(0, int(r, 200)) : JSON.stringify(m);
        const h = header(checkpoint);
        const meta = { ...(h.json.__metadata__ as Record<string, string>), graph: text };
        const bytes = h.write({ ...h.json, __metadata__: meta });
        return {
          cls: `graph: ${cls}`,
          bytes,
          read: () => {
            readCheckpoint(bytes, 'model.safetensors')();
            try {
              graphFromSpec(JSON.parse(text) as never);
            } catch (e) {
              if (e instanceof SyntaxError) return; // not JSON: checkpointGraph above said so
              throw e;
            }
          },
        };
      },
    },
    {
      name: 'tensor dataset (safetensors x, y)',
      file: /data\.safetensors/,
      weight: 1,
      make: (r) => {
        const h = header(dataset);
        const [cls, bytes] = r() < 0.5 ? mutateBytes(r, dataset) : ((): [string, Uint8Array] => {
          const [c, m] = mutateJson(r, h.json);
          return [`header: ${c}`, h.write(m)];
        })();
        return { cls, bytes, read: () => parseTensorDataset(bytes, 'data.safetensors') };
      },
    },
    {
      name: 'IDX images and labels (plain and gzipped)',
      file: /train-(images-idx3|labels-idx1)-ubyte/,
      weight: 1,
      make: (r) => {
        const which = r() < 0.5;
        const [cls, m] = mutateBytes(r, which ? idxImages : idxLabels);
        const gz = r() < 0.3;
        const bytes = gz ? new Uint8Array(gzipSync(m)) : m;
        const images = which ? bytes : idxImages;
        const labels = which ? idxLabels : bytes;
        return { cls: `${which ? 'images' : 'labels'}${gz ? ' (gz)' : ''}: ${cls}`, bytes, read: () => parseIdxAsync(images, labels, { imagesName: 'train-images-idx3-ubyte', labelsName: 'train-labels-idx1-ubyte' }) };
      },
    },
    {
      name: 'CIFAR-10 / CIFAR-100 binaries',
      file: /data_batch_1\.bin|train\.bin/,
      weight: 1,
      make: (r) => {
        const ten = r() < 0.5;
        const [cls, bytes] = mutateBytes(r, ten ? cifar10 : cifar100);
        return { cls: `${ten ? 'CIFAR-10' : 'CIFAR-100'}: ${cls}`, bytes, read: () => (ten ? parseCifar10([bytes], ['data_batch_1.bin']) : parseCifar100(bytes, 'fine', 'train.bin')) };
      },
    },
    {
      name: 'images for predict --image (PNG, JPEG)',
      file: /photo\.(png|jpg)/,
      weight: 1,
      make: (r) => {
        const isPng = r() < 0.5;
        const [cls, bytes] = mutateBytes(r, isPng ? png : jpeg);
        const name = isPng ? 'photo.png' : 'photo.jpg';
        return { cls: `${isPng ? 'PNG' : 'JPEG'}: ${cls}`, bytes, read: async () => imagePixels(await decodeImage(bytes, name), 3, 8, name) };
      },
    },
    {
      name: 'ONNX: bytes',
      file: /model\.onnx/,
      weight: 1,
      make: (r) => {
        const [cls, bytes] = mutateBytes(r, pick(r, onnxFiles));
        return { cls, bytes, read: () => readOnnx(bytes, { fileName: 'model.onnx' }) };
      },
    },
    {
      name: 'ONNX: structure',
      file: /model\.onnx/,
      weight: 1.5,
      make: (r) => {
        const m = ONNX.ModelProto.decode(pick(r, onnxFiles));
        const g = m.graph as onnx.GraphProto;
        let cls: string;
        const roll = int(r, 8);
        if (roll === 0) {
          const t = pick(r, g.initializer) as onnx.TensorProto;
          t.dims = t.dims.map(() => pick(r, EXTREMES));
          cls = 'initializer dims';
        } else if (roll === 1) {
          pick(r, g.initializer).dataType = pick(r, [0, 2, 3, 6, 7, 9, 10, 11, 16, 99]);
          cls = 'initializer data type';
        } else if (roll === 2) {
          const n = pick(r, g.node) as onnx.NodeProto;
          const a = n.attribute.length ? (pick(r, n.attribute) as onnx.AttributeProto) : null;
          if (a) {
            a.ints = a.ints.length ? a.ints.map(() => pick(r, EXTREMES)) : [pick(r, EXTREMES)];
            a.i = pick(r, EXTREMES);
            a.type = pick(r, [1, 2, 3, 7, 99]) as onnx.AttributeProto.AttributeType;
          }
          cls = 'attribute values and types';
        } else if (roll === 3) {
          const n = pick(r, g.node) as onnx.NodeProto;
          n.input[int(r, Math.max(1, n.input.length))] = pick(r, ['', '__proto__', 'missing', (g.node[int(r, g.node.length)] as onnx.NodeProto).output[0]!]);
          cls = 'node input rewired';
        } else if (roll === 4) {
          pick(r, g.node).opType = pick(r, ['Conv', 'Gemm', 'Concat', 'Reshape', 'Selu', '', 'Loop']);
          cls = 'op type changed';
        } else if (roll === 5) {
          g.node.splice(int(r, g.node.length), 1);
          cls = 'node removed';
        } else if (roll === 6) {
          m.opsetImport = r() < 0.5 ? [] : [{ domain: '', version: pick(r, EXTREMES) }];
          cls = 'opset';
        } else {
          const t = pick(r, g.initializer);
          t.rawData = t.rawData?.subarray(0, int(r, t.rawData.length)) ?? null;
          cls = 'initializer data length';
        }
        const bytes = ONNX.ModelProto.encode(m).finish();
        return { cls, bytes, read: () => readOnnx(bytes, { fileName: 'model.onnx' }) };
      },
    },
  ];
}

describe(`fuzzing every file reader (${TOTAL} mutants, seed ${SEED})`, () => {
  it('every mutant is read or refused with a NetslimError naming the file, within 2 s each', async () => {
    const r = rng(SEED);
    const list = await campaigns();
    const weights = list.reduce((a, c) => a + c.weight, 0);
    const stats = list.map(() => ({ cases: 0, accepted: 0, refused: 0, classes: new Set<string>(), slowest: 0 }));
    const failures: string[] = [];
    const t0 = performance.now();
    for (const [ci, c] of list.entries()) {
      const n = Math.round((TOTAL * c.weight) / weights);
      for (let k = 0; k < n; k++) {
        const { cls, bytes, read } = c.make(r);
        const s = stats[ci]!;
        s.cases++;
        s.classes.add(cls.replace(/^\d+ random bytes$/, 'random bytes'));
        const start = performance.now();
        try {
          await read();
          s.accepted++;
        } catch (e) {
          s.refused++;
          const ok = e instanceof NetslimError && c.file.test(e.message) && !/undefined|\[object Object\]/.test(e.message);
          if (!ok) {
            const dir = path.join(root, 'test/artifacts/fuzz');
            mkdirSync(dir, { recursive: true });
            const file = path.join(dir, `${c.name.replace(/\W+/g, '_')}-${k}.bin`);
            writeFileSync(file, bytes);
            failures.push(`${c.name} #${k} (${cls}): ${(e as Error)?.name}: ${(e as Error)?.message?.slice(0, 200)} — input saved as ${path.relative(root, file)}`);
          }
        }
        const ms = performance.now() - start;
        s.slowest = Math.max(s.slowest, ms);
        if (ms > TIME_LIMIT_MS) failures.push(`${c.name} #${k} (${cls}): took ${ms.toFixed(0)} ms`);
      }
    }
    const total = stats.reduce((a, s) => a + s.cases, 0);
    const classes = stats.reduce((a, s) => a + s.classes.size, 0);
    console.log(`fuzz: ${total} mutants in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${classes} classes of bad input, seed ${SEED}`);
    list.forEach((c, i) => {
      const s = stats[i]!;
      console.log(`  ${c.name}: ${s.cases} cases (${s.refused} refused, ${s.accepted} read), ${s.classes.size} classes, slowest ${s.slowest.toFixed(0)} ms`);
    });
    expect(failures.slice(0, 20)).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(TOTAL - list.length);
  }, 600_000);
});
