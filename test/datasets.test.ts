// Dataset parsers from bytes built here (no files, no GPU): runs in both lanes, so the gzip path
// is checked with Node's and Chromium's own DecompressionStream.
import { describe, expect, it } from 'vitest';
import {
  CIFAR10_MEAN, CIFAR10_STD, DatasetError, datasetFromTensors, normalization, parseCifar10, parseCifar100, parseIdx, parseIdxAsync,
} from '../src/data/datasets.js';
import { gunzip, isGzip } from '../src/data/gunzip.js';
import { rng } from './util/random.js';

/** Byte-wise equality (vitest's deep toEqual is slow on large typed arrays). */
function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function bytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

/** CIFAR records: `prefix` label bytes then 3072 pixel bytes each. */
function cifarRecords(labels: number[][], pixels: Uint8Array[]): Uint8Array {
  const rec = labels[0]!.length + 3072;
  const out = new Uint8Array(labels.length * rec);
  labels.forEach((l, i) => {
    out.set(l, i * rec);
    out.set(pixels[i]!, i * rec + l.length);
  });
  return out;
}

function idxImages(n: number, h: number, w: number, data: Uint8Array, magic = 0x00000803): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic);
  v.setUint32(4, n);
  v.setUint32(8, h);
  v.setUint32(12, w);
  out.set(data, 16);
  return out;
}

function idxLabels(labels: number[], magic = 0x00000801): Uint8Array {
  const out = new Uint8Array(8 + labels.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic);
  v.setUint32(4, labels.length);
  out.set(labels, 8);
  return out;
}

async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

describe('CIFAR binary', () => {
  it('CIFAR-10: batches concatenated, labels and CHW pixels exact', () => {
    const px = [0, 1, 2, 3, 4].map((i) => bytes(3072, 100 + i));
    const b1 = cifarRecords([[3], [9]], px.slice(0, 2));
    const b2 = cifarRecords([[0], [7], [5]], px.slice(2));
    const d = parseCifar10([b1, b2]);
    expect({ n: d.n, c: d.channels, h: d.height, w: d.width, classes: d.classes, name: d.name }).toEqual({ n: 5, c: 3, h: 32, w: 32, classes: 10, name: 'cifar10' });
    expect(Array.from(d.labels)).toEqual([3, 9, 0, 7, 5]);
    expect(d.images).toBeInstanceOf(Uint8Array);
    expect(d.images.length).toBe(5 * 3072);
    for (let i = 0; i < 5; i++) expect(same(d.images.subarray(i * 3072, (i + 1) * 3072), px[i]!)).toBe(true);
    // R plane then G then B: pixel (c=1, y=2, x=3) of sample 4
    expect(d.images[4 * 3072 + 1024 + 2 * 32 + 3]).toBe(px[4]![1024 + 2 * 32 + 3]);
  });

  it('CIFAR-10: wrong lengths and labels are named', () => {
    const ok = cifarRecords([[1]], [bytes(3072, 1)]);
    expect(() => parseCifar10([ok, ok.subarray(0, 3072)], ['a.bin', 'b.bin'])).toThrow(
      'b.bin: 3072 bytes is not a whole number of CIFAR-10 records of 3073 bytes (0 records + 3072 bytes left over)',
    );
    expect(() => parseCifar10([new Uint8Array(3073 * 2 + 5)])).toThrow('CIFAR-10 batch 0: 6151 bytes is not a whole number');
    expect(() => parseCifar10([new Uint8Array(0)])).toThrow('empty');
    expect(() => parseCifar10([])).toThrow('no batches');
    const bad = cifarRecords([[1], [10]], [bytes(3072, 1), bytes(3072, 2)]);
    expect(() => parseCifar10([bad])).toThrow('record 1 has label 10, CIFAR-10 labels are 0..9');
    expect(() => parseCifar10([bad])).toThrow(DatasetError);
  });

  it('CIFAR-100: fine (default) and coarse labels', () => {
    const px = [bytes(3072, 5), bytes(3072, 6), bytes(3072, 7)];
    const data = cifarRecords([[4, 99], [19, 0], [0, 42]], px);
    const fine = parseCifar100(data);
    expect(Array.from(fine.labels)).toEqual([99, 0, 42]);
    expect([fine.classes, fine.name, fine.n]).toEqual([100, 'cifar100', 3]);
    const coarse = parseCifar100(data, 'coarse');
    expect(Array.from(coarse.labels)).toEqual([4, 19, 0]);
    expect([coarse.classes, coarse.name]).toEqual([20, 'cifar100-coarse']);
    expect(same(coarse.images.subarray(3072 * 2), px[2]!)).toBe(true);
    expect(same(fine.images, coarse.images)).toBe(true);
    expect(() => parseCifar100(data.subarray(1), 'fine', 'train.bin')).toThrow('train.bin: 9221 bytes is not a whole number of CIFAR-100 records of 3074 bytes');
    const bad = cifarRecords([[20, 5]], [px[0]!]);
    expect(() => parseCifar100(bad)).toThrow('record 0 has coarse label 20 (0..19) and fine label 5');
    // a CIFAR-10 file is not a whole number of CIFAR-100 records (3073·k vs 3074)
    expect(() => parseCifar100(cifarRecords([[1], [2]], [px[0]!, px[1]!]))).toThrow('not a whole number of CIFAR-100 records');
  });
});

describe('IDX', () => {
  const n = 3, h = 28, w = 28;
  const pix = bytes(n * h * w, 21);
  const images = idxImages(n, h, w, pix);
  const labels = idxLabels([9, 0, 4]);

  it('plain: shapes and values exact', () => {
    const d = parseIdx(images, labels);
    expect({ n: d.n, c: d.channels, h: d.height, w: d.width, classes: d.classes, name: d.name }).toEqual({ n: 3, c: 1, h: 28, w: 28, classes: 10, name: 'idx' });
    expect(Array.from(d.labels)).toEqual([9, 0, 4]);
    expect(same(d.images, pix)).toBe(true);
  });

  it('padTo 32: 2 zero pixels on each side, centred', () => {
    const d = parseIdx(images, labels, { padTo: 32, name: 'fashion-mnist' });
    expect([d.height, d.width, d.images.length, d.name]).toEqual([32, 32, 3 * 1024, 'fashion-mnist']);
    for (let s = 0; s < n; s++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const inside = y >= 2 && y < 30 && x >= 2 && x < 30;
          const want = inside ? pix[s * 784 + (y - 2) * 28 + (x - 2)]! : 0;
          if (d.images[s * 1024 + y * 32 + x] !== want) throw new Error(`sample ${s} (${y}, ${x}): ${d.images[s * 1024 + y * 32 + x]} != ${want}`);
        }
      }
    }
    // an odd difference puts the extra row/column at the bottom/right
    const small = parseIdx(idxImages(1, 2, 3, Uint8Array.from([1, 2, 3, 4, 5, 6])), idxLabels([1]), { padTo: 5 });
    expect(Array.from(small.images)).toEqual([
      0, 0, 0, 0, 0,
      0, 1, 2, 3, 0,
      0, 4, 5, 6, 0,
      0, 0, 0, 0, 0,
      0, 0, 0, 0, 0,
    ]);
    expect(() => parseIdx(images, labels, { padTo: 20 })).toThrow('padTo 20 is smaller than the 28×28 images');
  });

  it('gzip: parseIdxAsync gunzips either file; parseIdx refuses gzip and says what to use', async () => {
    const gi = await gzip(images), gl = await gzip(labels);
    expect(isGzip(gi) && !isGzip(images)).toBe(true);
    for (const [a, b] of [[gi, gl], [gi, labels], [images, gl], [images, labels]] as const) {
      const d = await parseIdxAsync(a, b, { padTo: 32 });
      expect(Array.from(d.labels)).toEqual([9, 0, 4]);
      expect(same(d.images, parseIdx(images, labels, { padTo: 32 }).images)).toBe(true);
    }
    expect(() => parseIdx(gi, labels, { imagesName: 'x.gz' })).toThrow('x.gz: gzip-compressed; use parseIdxAsync');
  });

  it('bad magic, counts and lengths are named', () => {
    expect(() => parseIdx(labels, labels, { imagesName: 'imgs' })).toThrow(
      'imgs: bad IDX magic 0x00000801 (that is an IDX labels file), expected 0x00000803 for images',
    );
    expect(() => parseIdx(images, images)).toThrow('IDX labels: bad IDX magic 0x00000803 (that is an IDX images file), expected 0x00000801');
    expect(() => parseIdx(idxImages(n, h, w, pix, 0x00000c03), labels)).toThrow('bad IDX magic 0x00000c03');
    expect(() => parseIdx(images, idxLabels([1, 2]), { imagesName: 'i', labelsName: 'l' })).toThrow('i has 3 images but l has 2 labels');
    expect(() => parseIdx(images.subarray(0, images.length - 1), labels)).toThrow('IDX images: header says 3×28×28 = 2352 bytes of images but 2351 follow it');
    expect(() => parseIdx(images.subarray(0, 10), labels)).toThrow('10 bytes is shorter than the 16-byte IDX images header');
    expect(() => parseIdx(images, idxLabels([1, 2, 10]))).toThrow('label 2 is 10, not below 10 classes');
    expect(parseIdx(images, idxLabels([1, 2, 10]), { classes: 11 }).classes).toBe(11);
  });
});

describe('gunzip', () => {
  it('round-trips 1 MiB through the stream (backpressure) and names corrupt input', async () => {
    const big = bytes(1 << 20, 3);
    const gz = await gzip(big);
    expect(same(await gunzip(gz), big)).toBe(true);
    await expect(gunzip(Uint8Array.from([1, 2, 3]), 'f.bin')).rejects.toThrow('f.bin: not gzip (starts with 01 02, gzip starts with 1f 8b)');
    await expect(gunzip(gz.subarray(0, gz.length >> 1), 'half.gz')).rejects.toThrow('half.gz: corrupt or truncated gzip data');
  });
});

describe('tensor datasets and normalisation', () => {
  it('datasetFromTensors takes x as given, y as Int32 or BigInt64', () => {
    const x = Float32Array.from({ length: 2 * 1 * 2 * 2 }, (_, i) => i - 3.5);
    const d = datasetFromTensors(x, [2, 1, 2, 2], BigInt64Array.from([3n, 1n]));
    expect(d.images).toBe(x);
    expect(Array.from(d.labels)).toEqual([3, 1]);
    expect({ n: d.n, c: d.channels, h: d.height, w: d.width, classes: d.classes, name: d.name }).toEqual({ n: 2, c: 1, h: 2, w: 2, classes: 4, name: 'tensors' });
    expect(datasetFromTensors(x, [2, 1, 2, 2], Int32Array.from([0, 1]), { classes: 10 }).classes).toBe(10);
    expect(() => datasetFromTensors(x, [2, 1, 2, 3], Int32Array.from([0, 1]))).toThrow('x has 8 values, shape [2, 1, 2, 3] needs 12');
    expect(() => datasetFromTensors(x, [2, 1, 2, 2], Int32Array.from([0]))).toThrow('y has 1 labels but x has 2 samples');
    expect(() => datasetFromTensors(x, [2, 1, 2, 2], BigInt64Array.from([0n, -1n]))).toThrow('y[1] = -1 is not a class index');
    expect(() => datasetFromTensors(x, [2, 1, 2, 2], Int32Array.from([0, 5]), { classes: 5 })).toThrow('label 5 is not below 5 classes');
  });

  it('normalisation constants per dataset', () => {
    expect(CIFAR10_MEAN).toEqual([0.4914, 0.4822, 0.4465]);
    expect(CIFAR10_STD).toEqual([0.2023, 0.1994, 0.201]);
    expect(normalization('cifar100')).toEqual({ mean: CIFAR10_MEAN, std: CIFAR10_STD });
    expect(normalization('fashion-mnist')).toEqual({ mean: [0.286], std: [0.353] });
    expect(normalization('tensors')).toBeNull();
  });
});
