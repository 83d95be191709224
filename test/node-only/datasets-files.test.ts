// loadDatasetDir on files written here in the exact CIFAR-10/100 and IDX layouts, and on the real
// Fashion-MNIST that Debian's `dataset-fashion-mnist` package installs (required: CI installs it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadDatasetDir } from '../../src/data/files.node.js';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD } from '../../src/data/datasets.js';
import { rng } from '../util/random.js';

const FASHION = '/usr/share/datasets/fashion-mnist';

let root = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'netslim-data-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

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

/** CIFAR records with label bytes from `label(i)` and pixel byte k of record i = (i·7 + k) & 255. */
function cifarFile(n: number, labelBytes: (i: number) => number[]): Uint8Array {
  const lb = labelBytes(0).length;
  const rec = lb + 3072;
  const out = new Uint8Array(n * rec);
  for (let i = 0; i < n; i++) {
    out.set(labelBytes(i), i * rec);
    for (let k = 0; k < 3072; k++) out[i * rec + lb + k] = (i * 7 + k) & 255;
  }
  return out;
}

function idx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

async function dir(name: string, files: Record<string, Uint8Array>): Promise<string> {
  const d = join(root, name);
  await mkdir(d, { recursive: true });
  for (const [f, b] of Object.entries(files)) await writeFile(join(d, f), b);
  return d;
}

describe('loadDatasetDir on written files', () => {
  it('CIFAR-10: data_batch_1..5 + test_batch, also inside cifar-10-batches-bin/', async () => {
    const files: Record<string, Uint8Array> = {};
    for (let b = 1; b <= 5; b++) files[`data_batch_${b}.bin`] = cifarFile(2, (i) => [(b * 2 + i) % 10]);
    files['test_batch.bin'] = cifarFile(3, (i) => [9 - i]);
    files['batches.meta.txt'] = new TextEncoder().encode('airplane\n');
    const d = await dir('c10/cifar-10-batches-bin', files);
    for (const where of [d, join(root, 'c10')]) {
      const { train, test } = await loadDatasetDir(where);
      expect([train.n, train.name, train.classes]).toEqual([10, 'cifar10', 10]);
      expect(Array.from(train.labels)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
      expect(train.images[3 * 3072 + 5]).toBe((1 * 7 + 5) & 255); // batch 2, record 1
      expect(test!.n).toBe(3);
      expect(Array.from(test!.labels)).toEqual([9, 8, 7]);
    }
  });

  it('CIFAR-10: a missing batch and a truncated file are named with the directory', async () => {
    const files: Record<string, Uint8Array> = {};
    for (const b of [1, 2, 3, 5]) files[`data_batch_${b}.bin`] = cifarFile(1, () => [0]);
    const d = await dir('c10-missing', files);
    await expect(loadDatasetDir(d)).rejects.toThrow(`${d}: CIFAR-10 training file missing: data_batch_4.bin`);
    files['data_batch_4.bin'] = cifarFile(1, () => [0]).subarray(0, 100);
    const d2 = await dir('c10-short', files);
    // no test_batch.bin: test is null, but the short file is an error naming it
    await expect(loadDatasetDir(d2)).rejects.toThrow(`${join(d2, 'data_batch_4.bin')}: 100 bytes is not a whole number of CIFAR-10 records`);
    files['data_batch_4.bin'] = cifarFile(1, () => [0]);
    expect((await loadDatasetDir(await dir('c10-notest', files))).test).toBeNull();
  });

  it('CIFAR-100: train.bin + test.bin, fine and coarse', async () => {
    const d = await dir('c100', { 'train.bin': cifarFile(4, (i) => [i, 50 + i]), 'test.bin': cifarFile(2, (i) => [19, 99 - i]) });
    const fine = await loadDatasetDir(d);
    expect([fine.train.name, fine.train.classes, fine.train.n]).toEqual(['cifar100', 100, 4]);
    expect(Array.from(fine.train.labels)).toEqual([50, 51, 52, 53]);
    expect(Array.from(fine.test!.labels)).toEqual([99, 98]);
    const coarse = await loadDatasetDir(d, { label: 'coarse' });
    expect(Array.from(coarse.train.labels)).toEqual([0, 1, 2, 3]);
    expect(coarse.train.classes).toBe(20);
    await expect(loadDatasetDir(d, { dataset: 'cifar10' })).rejects.toThrow('CIFAR-10 training files missing: data_batch_1.bin, data_batch_2.bin');
  });

  it('IDX: plain and gzipped files, padded to 32 by default, name from the option or the path', async () => {
    const n = 4, m = 2;
    const tr = bytes(n * 784, 1), te = bytes(m * 784, 2);
    const plain = {
      'train-images-idx3-ubyte': idx(0x803, [n, 28, 28], tr),
      'train-labels-idx1-ubyte': idx(0x801, [n], Uint8Array.from([1, 2, 3, 4])),
      't10k-images-idx3-ubyte': idx(0x803, [m, 28, 28], te),
      't10k-labels-idx1-ubyte': idx(0x801, [m], Uint8Array.from([9, 8])),
    };
    const gz = Object.fromEntries(Object.entries(plain).map(([k, v]) => [`${k}.gz`, new Uint8Array(gzipSync(v))]));
    const a = await loadDatasetDir(await dir('mnist-plain', plain));
    const b = await loadDatasetDir(await dir('my-fashion-gz', gz));
    expect([a.train.name, b.train.name]).toEqual(['mnist', 'fashion-mnist']);
    expect((await loadDatasetDir(join(root, 'mnist-plain'), { dataset: 'fashion-mnist' })).train.name).toBe('fashion-mnist');
    for (const d of [a, b]) {
      expect([d.train.n, d.train.channels, d.train.height, d.train.width, d.train.classes]).toEqual([n, 1, 32, 32, 10]);
      expect(Array.from(d.train.labels)).toEqual([1, 2, 3, 4]);
      expect(Array.from(d.test!.labels)).toEqual([9, 8]);
      expect(d.train.images[3 * 1024 + 5 * 32 + 7]).toBe(tr[3 * 784 + 3 * 28 + 5]);
      expect(d.test!.images[1 * 1024 + 31]).toBe(0);
    }
    const raw = await loadDatasetDir(join(root, 'mnist-plain'), { padTo: 0 });
    expect([raw.train.height, raw.train.width]).toEqual([28, 28]);
    expect(same(raw.train.images, tr)).toBe(true);
  });

  it('IDX and empty directories: clear errors naming the directory and the file', async () => {
    const d = await dir('idx-partial', {
      'train-images-idx3-ubyte.gz': new Uint8Array(gzipSync(idx(0x803, [1, 28, 28], bytes(784, 3)))),
      't10k-images-idx3-ubyte': idx(0x803, [1, 28, 28], bytes(784, 4)),
    });
    await expect(loadDatasetDir(d)).rejects.toThrow(`${d}: mnist training file missing: train-labels-idx1-ubyte (it contains t10k-images-idx3-ubyte, train-images-idx3-ubyte.gz)`);
    await writeFile(join(d, 'train-labels-idx1-ubyte'), idx(0x803, [1], new Uint8Array(1)));
    await expect(loadDatasetDir(d)).rejects.toThrow(`${d}: mnist test file missing: t10k-labels-idx1-ubyte`);
    await writeFile(join(d, 't10k-labels-idx1-ubyte'), idx(0x801, [1], new Uint8Array(1)));
    await expect(loadDatasetDir(d)).rejects.toThrow(`${join(d, 'train-labels-idx1-ubyte')}: bad IDX magic 0x00000803 (that is an IDX images file), expected 0x00000801`);
    const empty = await dir('empty', {});
    await expect(loadDatasetDir(empty)).rejects.toThrow(`${empty}: no dataset files found`);
    await expect(loadDatasetDir(empty)).rejects.toThrow('it is empty');
    await expect(loadDatasetDir(join(root, 'nope'))).rejects.toThrow(`${join(root, 'nope')}: no such dataset directory`);
  });
});

describe('real Fashion-MNIST', () => {
  // Required, not skipped: CI installs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist).
  it(`reads ${FASHION}: 60000 train / 10000 test, 10 balanced classes, padded to 32×32`, async () => {
    expect(existsSync(FASHION), `${FASHION} is missing: apt-get install dataset-fashion-mnist`).toBe(true);
    const { train, test } = await loadDatasetDir(FASHION);
    expect([train.name, train.n, train.channels, train.height, train.width, train.classes]).toEqual(['fashion-mnist', 60000, 1, 32, 32, 10]);
    expect([test!.n, test!.height, test!.width]).toEqual([10000, 32, 32]);
    for (const d of [train, test!]) {
      const counts = new Array<number>(10).fill(0);
      for (const l of d.labels) counts[l]!++;
      // Fashion-MNIST is exactly balanced: 6000 / 1000 per class
      expect(counts).toEqual(new Array(10).fill(d.n / 10));
    }
    // the 2-pixel border is zero everywhere; statistics of the 28×28 interior give the documented mean/std
    let border = 0, sum = 0, sum2 = 0;
    const img = train.images as Uint8Array;
    for (let s = 0; s < train.n; s++) {
      const o = s * 1024;
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const v = img[o + y * 32 + x]!;
          if (y < 2 || y >= 30 || x < 2 || x >= 30) border |= v;
          else {
            sum += v / 255;
            sum2 += (v / 255) ** 2;
          }
        }
      }
    }
    expect(border).toBe(0);
    const count = train.n * 784;
    const mean = sum / count;
    const std = Math.sqrt(sum2 / count - mean * mean);
    expect(mean).toBeCloseTo(FASHION_MNIST_MEAN[0]!, 4);
    expect(std).toBeCloseTo(FASHION_MNIST_STD[0]!, 4);
  });
});
