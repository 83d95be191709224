/**
 * Dataset parsers from bytes (browser-safe: no Node built-ins). Images stay uint8 NCHW so a whole
 * dataset fits in GPU memory as bytes; `ops.augmentBatch` turns a batch of them into normalised
 * floats on the GPU.
 *
 * Formats:
 * - CIFAR-10 binary (`data_batch_1..5.bin`, `test_batch.bin`): records of 1 label byte + 3072
 *   pixel bytes (1024 R, 1024 G, 1024 B, each a row-major 32×32 plane), i.e. already CHW.
 * - CIFAR-100 binary (`train.bin`, `test.bin`): records of 1 coarse label byte (0..19) + 1 fine
 *   label byte (0..99) + 3072 pixel bytes.
 * - IDX (MNIST, Fashion-MNIST): big-endian header, magic 0x00000803 (ubyte, 3 dims: n, rows,
 *   cols) for images and 0x00000801 (ubyte, 1 dim: n) for labels, then the bytes; often gzipped.
 */
import { NetslimError } from '../errors.js';
import { gunzip, isGzip } from './gunzip.js';

/** A dataset split in memory. */
export interface Dataset {
  /**
   * N·C·H·W values in NCHW order: uint8 pixels 0..255 for image datasets (normalise with
   * `ops.augmentBatch`), or float32 for tensor datasets, which are used as given.
   */
  images: Uint8Array | Float32Array;
  /** Class index of each sample, in [0, classes). */
  labels: Int32Array;
  n: number;
  channels: number;
  height: number;
  width: number;
  classes: number;
  /** `cifar10`, `cifar100`, `cifar100-coarse`, `fashion-mnist`, `mnist`, `idx`, `tensors`, … */
  name: string;
}

/**
 * A dataset file or array that cannot be read; the message names the file/part and what is wrong.
 *
 * @example
 * ```ts
 * import { parseCifar10, DatasetError } from 'netslim';
 *
 * try {
 *   parseCifar10([new Uint8Array(100)], ['data_batch_1.bin']);
 * } catch (e) {
 *   if (e instanceof DatasetError) console.log(e.message); // data_batch_1.bin: 100 bytes is not a whole number of CIFAR-10 records …
 * }
 * ```
 */
export class DatasetError extends NetslimError {
  override name = 'DatasetError';
}

/** CIFAR-10 per-channel mean and std of the [0, 1] pixels (the reference's `Normalize`). */
export const CIFAR10_MEAN: readonly number[] = [0.4914, 0.4822, 0.4465];
/** CIFAR-10 per-channel std (see {@link CIFAR10_MEAN}). */
export const CIFAR10_STD: readonly number[] = [0.2023, 0.1994, 0.201];
/**
 * CIFAR-100: the reference (network-slimming main.py) normalises CIFAR-100 with the CIFAR-10
 * values, so these are the same numbers (not CIFAR-100's own statistics 0.5071/0.2673…).
 */
export const CIFAR100_MEAN: readonly number[] = CIFAR10_MEAN;
/** CIFAR-100 std: CIFAR-10's, as the reference uses (see {@link CIFAR100_MEAN}). */
export const CIFAR100_STD: readonly number[] = CIFAR10_STD;
/**
 * Fashion-MNIST, single channel. Computed here over the 60 000 training images at 28×28 (before
 * any padding), pixels /255, population std: mean 0.286041, std 0.353024 — the commonly quoted
 * 0.2860 / 0.3530, which are the values used. (test/node-only/datasets-files.test.ts recomputes
 * them from the real files.)
 */
export const FASHION_MNIST_MEAN: readonly number[] = [0.286];
/** Fashion-MNIST std (see {@link FASHION_MNIST_MEAN}). */
export const FASHION_MNIST_STD: readonly number[] = [0.353];
/** MNIST: the commonly quoted 0.1307 / 0.3081 (not recomputed here: MNIST is not installed). */
export const MNIST_MEAN: readonly number[] = [0.1307];
/** MNIST std (see {@link MNIST_MEAN}). */
export const MNIST_STD: readonly number[] = [0.3081];

/**
 * The normalisation for a dataset name, or null when none is known (tensor datasets).
 *
 * @example
 * ```ts
 * import { normalization } from 'netslim';
 *
 * console.log(normalization('cifar10')); // { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] }
 * console.log(normalization('tensors')); // null
 * ```
 */
export function normalization(name: string): { mean: readonly number[]; std: readonly number[] } | null {
  switch (name) {
    case 'cifar10':
      return { mean: CIFAR10_MEAN, std: CIFAR10_STD };
    case 'cifar100':
    case 'cifar100-coarse':
      return { mean: CIFAR100_MEAN, std: CIFAR100_STD };
    case 'fashion-mnist':
      return { mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD };
    case 'mnist':
      return { mean: MNIST_MEAN, std: MNIST_STD };
    default:
      return null;
  }
}

/** CIFAR-10's class names in label order (the dataset's `batches.meta.txt`). */
export const CIFAR10_CLASSES: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
/** CIFAR-100's 100 fine class names in label order (the dataset's `fine_label_names.txt`). */
export const CIFAR100_CLASSES: readonly string[] = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
];
/** CIFAR-100's 20 coarse class (superclass) names in label order (the dataset's `coarse_label_names.txt`). */
export const CIFAR100_COARSE_CLASSES: readonly string[] = [
  'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables', 'household_electrical_devices',
  'household_furniture', 'insects', 'large_carnivores', 'large_man-made_outdoor_things', 'large_natural_outdoor_scenes',
  'large_omnivores_and_herbivores', 'medium_mammals', 'non-insect_invertebrates', 'people', 'reptiles', 'small_mammals',
  'trees', 'vehicles_1', 'vehicles_2',
];
/** Fashion-MNIST's class names in label order (as its README lists them). */
export const FASHION_MNIST_CLASSES: readonly string[] = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
/** MNIST's classes: the digits `'0'` to `'9'`. */
export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/**
 * The class names of a dataset name in label order, or null when none are known (tensor
 * datasets, plain `idx`).
 *
 * @example
 * ```ts
 * import { classNames } from 'netslim';
 *
 * console.log(classNames('cifar10')?.[3]); // 'cat'
 * console.log(classNames('fashion-mnist')?.[9]); // 'Ankle boot'
 * console.log(classNames('tensors')); // null
 * ```
 */
export function classNames(name: string): readonly string[] | null {
  switch (name) {
    case 'cifar10':
      return CIFAR10_CLASSES;
    case 'cifar100':
      return CIFAR100_CLASSES;
    case 'cifar100-coarse':
      return CIFAR100_COARSE_CLASSES;
    case 'fashion-mnist':
      return FASHION_MNIST_CLASSES;
    case 'mnist':
      return MNIST_CLASSES;
    default:
      return null;
  }
}

const CIFAR_PIXELS = 3 * 32 * 32;

/** Checks a byte array is a non-empty whole number of records. */
function records(bytes: Uint8Array, record: number, what: string, format: string): number {
  if (bytes.length === 0) throw new DatasetError(`${what}: empty (${format} needs records of ${record} bytes)`);
  if (bytes.length % record !== 0) {
    throw new DatasetError(
      `${what}: ${bytes.length} bytes is not a whole number of ${format} records of ${record} bytes ` +
        `(${Math.floor(bytes.length / record)} records + ${bytes.length % record} bytes left over)`,
    );
  }
  return bytes.length / record;
}

/**
 * CIFAR-10 from its binary batches (concatenated in the order given, e.g. data_batch_1..5 for
 * training or test_batch alone). Each record is 1 label byte + 3072 pixel bytes.
 *
 * @example
 * ```ts
 * import { parseCifar10 } from 'netslim';
 *
 * const record = new Uint8Array(1 + 3072); // label byte, then 1024 R, 1024 G, 1024 B bytes
 * record[0] = 7;
 * const data = parseCifar10([record, record]); // e.g. the bytes of data_batch_1.bin … data_batch_5.bin
 * console.log(data.n, data.channels, data.height, data.width, data.labels[0]); // 2 3 32 32 7
 * ```
 */
export function parseCifar10(batches: Uint8Array[], names?: string[]): Dataset {
  const rec = 1 + CIFAR_PIXELS;
  if (batches.length === 0) throw new DatasetError('parseCifar10: no batches given');
  const counts = batches.map((b, i) => records(b, rec, names?.[i] ?? `CIFAR-10 batch ${i}`, 'CIFAR-10'));
  const n = counts.reduce((a, b) => a + b, 0);
  const images = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Int32Array(n);
  let s = 0;
  batches.forEach((b, bi) => {
    for (let r = 0; r < counts[bi]!; r++, s++) {
      const o = r * rec;
      const label = b[o]!;
      if (label > 9) {
        throw new DatasetError(`${names?.[bi] ?? `CIFAR-10 batch ${bi}`}: record ${r} has label ${label}, CIFAR-10 labels are 0..9 (is this CIFAR-100?)`);
      }
      labels[s] = label;
      images.set(b.subarray(o + 1, o + rec), s * CIFAR_PIXELS);
    }
  });
  return { images, labels, n, channels: 3, height: 32, width: 32, classes: 10, name: 'cifar10' };
}

/**
 * CIFAR-100 from one binary file (`train.bin` or `test.bin`): records of coarse label, fine
 * label, 3072 pixel bytes. `label` picks the fine (100 classes, default) or coarse (20) labels.
 *
 * @example
 * ```ts
 * import { parseCifar100 } from 'netslim';
 *
 * const record = new Uint8Array(2 + 3072); // coarse label, fine label, pixels
 * record[0] = 3;
 * record[1] = 42;
 * console.log(parseCifar100(record).labels[0], parseCifar100(record, 'coarse').labels[0]); // 42 3
 * ```
 */
export function parseCifar100(bytes: Uint8Array, label: 'fine' | 'coarse' = 'fine', what = 'CIFAR-100 data'): Dataset {
  if (label !== 'fine' && label !== 'coarse') throw new DatasetError(`parseCifar100: label must be 'fine' or 'coarse', got ${String(label)}`);
  const rec = 2 + CIFAR_PIXELS;
  const n = records(bytes, rec, what, 'CIFAR-100');
  const images = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Int32Array(n);
  const classes = label === 'fine' ? 100 : 20;
  for (let r = 0; r < n; r++) {
    const o = r * rec;
    const coarse = bytes[o]!;
    const fine = bytes[o + 1]!;
    if (coarse > 19 || fine > 99) {
      throw new DatasetError(`${what}: record ${r} has coarse label ${coarse} (0..19) and fine label ${fine} (0..99): not CIFAR-100 binary`);
    }
    labels[r] = label === 'fine' ? fine : coarse;
    images.set(bytes.subarray(o + 2, o + rec), r * CIFAR_PIXELS);
  }
  return { images, labels, n, channels: 3, height: 32, width: 32, classes, name: label === 'fine' ? 'cifar100' : 'cifar100-coarse' };
}

/** Options of {@link parseIdx} and {@link parseIdxAsync}. */
export interface IdxOptions {
  /**
   * Zero-pad each image to padTo×padTo, centred (28×28 → 32×32 adds 2 pixels on each side, so
   * the CIFAR architectures apply). An odd difference puts the extra row/column at the
   * bottom/right. Default: no padding.
   */
  padTo?: number;
  /** Number of classes (default 10, as MNIST and Fashion-MNIST); every label must be below it. */
  classes?: number;
  /** The dataset's name (default `idx`). */
  name?: string;
  /** Names of the images and labels data in error messages (e.g. file names). */
  imagesName?: string;
  labelsName?: string;
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

/** Reads an IDX header; returns the dims and the data offset. */
function idxHeader(bytes: Uint8Array, magic: number, ndims: number, what: string, kind: string): { dims: number[]; offset: number } {
  if (isGzip(bytes)) throw new DatasetError(`${what}: gzip-compressed; use parseIdxAsync (which gunzips) or gunzip it first`);
  const header = 4 + 4 * ndims;
  const short = (): DatasetError => new DatasetError(`${what}: ${bytes.length} bytes is shorter than the ${header}-byte IDX ${kind} header`);
  if (bytes.length < 4) throw short();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const m = view.getUint32(0, false);
  if (m !== magic) {
    const other = m === 0x00000801 ? ' (that is an IDX labels file)' : m === 0x00000803 ? ' (that is an IDX images file)' : '';
    throw new DatasetError(`${what}: bad IDX magic ${hex(m)}${other}, expected ${hex(magic)} for ${kind}`);
  }
  if (bytes.length < header) throw short();
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - header !== expected) {
    throw new DatasetError(`${what}: header says ${dims.join('×')} = ${expected} bytes of ${kind} but ${bytes.length - header} follow it`);
  }
  return { dims, offset: header };
}

/**
 * MNIST-style IDX images (magic 0x00000803) and labels (0x00000801), both uncompressed (see
 * {@link parseIdxAsync} for gzip). Optionally zero-pads the images to `padTo`×`padTo`, centred.
 *
 * @example
 * ```ts
 * import { parseIdx } from 'netslim';
 *
 * const images = new Uint8Array(16 + 28 * 28); // one 28×28 image
 * const header = new DataView(images.buffer);
 * [0x803, 1, 28, 28].forEach((v, i) => header.setUint32(4 * i, v)); // magic, n, rows, cols (big-endian)
 * const labels = new Uint8Array(8 + 1);
 * [0x801, 1].forEach((v, i) => new DataView(labels.buffer).setUint32(4 * i, v));
 * labels[8] = 3;
 * const data = parseIdx(images, labels, { padTo: 32, name: 'fashion-mnist' });
 * console.log(data.height, data.width, data.labels[0]); // 32 32 3
 * ```
 */
export function parseIdx(images: Uint8Array, labels: Uint8Array, opts: IdxOptions = {}): Dataset {
  const iw = opts.imagesName ?? 'IDX images';
  const lw = opts.labelsName ?? 'IDX labels';
  const { dims: [n, h, w], offset: io } = idxHeader(images, 0x00000803, 3, iw, 'images');
  const { dims: [nl], offset: lo } = idxHeader(labels, 0x00000801, 1, lw, 'labels');
  if (n !== nl) throw new DatasetError(`${iw} has ${n} images but ${lw} has ${nl} labels`);
  const classes = opts.classes ?? 10;
  if (!(Number.isInteger(classes) && classes >= 1)) throw new DatasetError(`parseIdx: classes must be a positive integer, got ${classes}`);
  const lab = new Int32Array(n!);
  for (let i = 0; i < n!; i++) {
    const v = labels[lo + i]!;
    if (v >= classes) throw new DatasetError(`${lw}: label ${i} is ${v}, not below ${classes} classes (set opts.classes)`);
    lab[i] = v;
  }
  const pixels = images.subarray(io);
  const size = opts.padTo ?? 0;
  if (size === 0 || (size === h && size === w)) {
    return { images: pixels.slice(), labels: lab, n: n!, channels: 1, height: h!, width: w!, classes, name: opts.name ?? 'idx' };
  }
  if (!Number.isInteger(size) || size < h! || size < w!) {
    throw new DatasetError(`parseIdx: padTo ${size} is smaller than the ${h}×${w} images (or not an integer)`);
  }
  const top = Math.floor((size - h!) / 2);
  const left = Math.floor((size - w!) / 2);
  const out = new Uint8Array(n! * size * size);
  for (let s = 0; s < n!; s++) {
    for (let y = 0; y < h!; y++) {
      const src = (s * h! + y) * w!;
      out.set(pixels.subarray(src, src + w!), s * size * size + (y + top) * size + left);
    }
  }
  return { images: out, labels: lab, n: n!, channels: 1, height: size, width: size, classes, name: opts.name ?? 'idx' };
}

/**
 * {@link parseIdx} that first gunzips either input when it starts with the gzip magic 1f 8b.
 *
 * @example
 * ```ts
 * import { readFileBytes, parseIdxAsync } from 'netslim/node';
 *
 * // Debian: apt-get install dataset-fashion-mnist
 * const dir = '/usr/share/datasets/fashion-mnist';
 * const test = await parseIdxAsync(
 *   await readFileBytes(`${dir}/t10k-images-idx3-ubyte.gz`),
 *   await readFileBytes(`${dir}/t10k-labels-idx1-ubyte.gz`),
 *   { padTo: 32, name: 'fashion-mnist' },
 * );
 * console.log(test.n, test.height); // 10000 32
 * ```
 */
export async function parseIdxAsync(images: Uint8Array, labels: Uint8Array, opts: IdxOptions = {}): Promise<Dataset> {
  const [i, l] = await Promise.all([
    isGzip(images) ? gunzip(images, opts.imagesName ?? 'IDX images') : images,
    isGzip(labels) ? gunzip(labels, opts.labelsName ?? 'IDX labels') : labels,
  ]);
  return parseIdx(i, l, opts);
}

/** The most classes a dataset may have (labels 0 to MAX_CLASSES − 1): more is a damaged label, not a classifier. */
const MAX_CLASSES = 100_000;

/**
 * A dataset from tensors (the safetensors `x` [N, C, H, W] float32 and `y` [N] integer labels),
 * used as given: no normalisation is applied or known. `classes` defaults to max(y) + 1.
 *
 * @example
 * ```ts
 * import { datasetFromTensors } from 'netslim';
 *
 * const x = Float32Array.from({ length: 4 * 1 * 8 * 8 }, (_, i) => Math.sin(i));
 * const data = datasetFromTensors(x, [4, 1, 8, 8], new Int32Array([0, 1, 2, 1]));
 * console.log(data.n, data.classes, data.name); // 4 3 tensors
 * ```
 */
export function datasetFromTensors(
  x: Float32Array,
  shape: readonly [number, number, number, number],
  y: Int32Array | BigInt64Array,
  opts: { classes?: number; name?: string } = {},
): Dataset {
  const where = opts.name ?? 'datasetFromTensors';
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new DatasetError(`${where}: x shape [${shape.join(', ')}] should be [N, C, H, W] of non-negative integers`);
  }
  const [n, c, h, w] = shape;
  if (x.length !== n * c * h * w) throw new DatasetError(`${where}: x has ${x.length} values, shape [${shape.join(', ')}] needs ${n * c * h * w}`);
  if (y.length !== n) throw new DatasetError(`${where}: y has ${y.length} labels but x has ${n} samples`);
  const labels = new Int32Array(n);
  let max = -1;
  for (let i = 0; i < n; i++) {
    const v = typeof y[i] === 'bigint' ? Number(y[i] as bigint) : (y[i] as number);
    if (!(v >= 0 && v < MAX_CLASSES)) throw new DatasetError(`${where}: y[${i}] = ${String(y[i])} is not a class index (0 to ${MAX_CLASSES - 1})`);
    labels[i] = v;
    max = Math.max(max, v);
  }
  const classes = opts.classes ?? max + 1;
  if (!(Number.isInteger(classes) && classes >= 1)) throw new DatasetError(`${where}: classes ${classes} is not a positive integer (no labels?)`);
  if (max >= classes) throw new DatasetError(`${where}: label ${max} is not below ${classes} classes`);
  return { images: x, labels, n, channels: c, height: h, width: w, classes, name: opts.name ?? 'tensors' };
}
