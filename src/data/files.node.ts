/**
 * Node only: finds and reads the files of a dataset directory.
 *
 * Recognised layouts (a directory may also contain the folder the official archive extracts to,
 * `cifar-10-batches-bin/` or `cifar-100-binary/`, which is then used):
 * - `cifar10`: `data_batch_1.bin` … `data_batch_5.bin` (train) and `test_batch.bin` (test);
 * - `cifar100`: `train.bin` and `test.bin` (fine labels; `label: 'coarse'` for the 20 superclasses);
 * - `fashion-mnist` / `mnist`: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
 *   `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally gzipped (`.gz`). The two
 *   share file names: without `opts.dataset` the name is `fashion-mnist` when the directory path
 *   contains "fashion", else `mnist`. Images are zero-padded 28×28 → 32×32 by default.
 *
 * The training split is required; the test split is `null` when none of its files exist, and an
 * error when only some do.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError, parseCifar10, parseCifar100, parseIdxAsync, type Dataset } from './datasets.js';

/** The datasets {@link loadDatasetDir} reads. */
export type DatasetKind = 'cifar10' | 'cifar100' | 'fashion-mnist' | 'mnist';

/** Options of {@link loadDatasetDir}. */
export interface LoadDatasetOptions {
  /** The dataset to read; by default detected from the file names. */
  dataset?: DatasetKind;
  /** IDX datasets: pad to this size, centred (default 32; 0 or 28 keeps 28×28). */
  padTo?: number;
  /** CIFAR-100: fine (default) or coarse labels. */
  label?: 'fine' | 'coarse';
}

const CIFAR10_TRAIN = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
const CIFAR10_TEST = ['test_batch.bin'];
const CIFAR100_TRAIN = ['train.bin'];
const CIFAR100_TEST = ['test.bin'];
const IDX_TRAIN = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'];
const IDX_TEST = ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Resolves each IDX base name to the file present (plain or `.gz`), or undefined. */
function idxFile(files: Set<string>, base: string): string | undefined {
  if (files.has(base)) return base;
  if (files.has(`${base}.gz`)) return `${base}.gz`;
  // Some mirrors name them with a dot instead of a dash (train-images.idx3-ubyte).
  const dotted = base.replace(/-(idx\d)/, '.$1');
  if (files.has(dotted)) return dotted;
  if (files.has(`${dotted}.gz`)) return `${dotted}.gz`;
  return undefined;
}

function detect(files: Set<string>): 'cifar10' | 'cifar100' | 'idx' | null {
  if (files.has(CIFAR10_TRAIN[0]!) || files.has(CIFAR10_TEST[0]!)) return 'cifar10';
  if (files.has(CIFAR100_TRAIN[0]!) || files.has(CIFAR100_TEST[0]!)) return 'cifar100';
  if (IDX_TRAIN.some((b) => idxFile(files, b)) || IDX_TEST.some((b) => idxFile(files, b))) return 'idx';
  return null;
}

function listing(files: Set<string>): string {
  const all = [...files].sort();
  if (all.length === 0) return 'it is empty';
  return `it contains ${all.slice(0, 12).join(', ')}${all.length > 12 ? `, … (${all.length} entries)` : ''}`;
}

/**
 * Which of a split's files exist: all → their names, none → null (for the test split), some →
 * an error naming the directory and the missing ones.
 */
function split(dir: string, files: Set<string>, names: string[], resolve: (b: string) => string | undefined, what: string, required: boolean): string[] | null {
  const found = names.map(resolve);
  const missing = names.filter((_, i) => found[i] === undefined);
  if (missing.length === 0) return found as string[];
  if (missing.length === names.length && !required) return null;
  throw new DatasetError(`${dir}: ${what} file${missing.length > 1 ? 's' : ''} missing: ${missing.join(', ')} (${listing(files)})`);
}

async function readAll(dir: string, names: string[]): Promise<Uint8Array[]> {
  return Promise.all(
    names.map(async (n) => {
      const b = await readFile(join(dir, n));
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }),
  );
}

/**
 * Reads a dataset directory: CIFAR-10/100 binary or MNIST-style IDX files (see the module
 * comment). Errors name the directory and the missing or malformed file.
 *
 * @example
 * ```ts
 * import { loadDatasetDir } from 'netslim/node';
 *
 * // Debian: apt-get install dataset-fashion-mnist (or a directory of CIFAR-10/100 .bin files)
 * const { train, test } = await loadDatasetDir('/usr/share/datasets/fashion-mnist'); // padded to 32×32
 * console.log(train.name, train.n, test?.n, train.height); // fashion-mnist 60000 10000 32
 * ```
 */
export async function loadDatasetDir(dir: string, opts: LoadDatasetOptions = {}): Promise<{ train: Dataset; test: Dataset | null }> {
  if (!(await isDir(dir))) throw new DatasetError(`${dir}: no such dataset directory`);
  for (const sub of ['cifar-10-batches-bin', 'cifar-100-binary']) {
    if (await isDir(join(dir, sub))) {
      const inner = new Set(await readdir(join(dir, sub)));
      if (detect(inner)) return loadDatasetDir(join(dir, sub), opts);
    }
  }
  const files = new Set(await readdir(dir));
  const found = detect(files);
  const kind = opts.dataset ?? (found === 'idx' ? (/fashion/i.test(dir) ? 'fashion-mnist' : 'mnist') : found);
  if (kind === null) {
    throw new DatasetError(
      `${dir}: no dataset files found (looked for CIFAR-10 ${CIFAR10_TRAIN[0]}…, CIFAR-100 ${CIFAR100_TRAIN[0]}, ` +
        `or IDX ${IDX_TRAIN[0]}[.gz]); ${listing(files)}`,
    );
  }
  const plain = (b: string): string | undefined => (files.has(b) ? b : undefined);
  const where = (f: string): string => join(dir, f);

  if (kind === 'cifar10') {
    const train = split(dir, files, CIFAR10_TRAIN, plain, 'CIFAR-10 training', true)!;
    const test = split(dir, files, CIFAR10_TEST, plain, 'CIFAR-10 test', false);
    return {
      train: parseCifar10(await readAll(dir, train), train.map(where)),
      test: test ? parseCifar10(await readAll(dir, test), test.map(where)) : null,
    };
  }
  if (kind === 'cifar100') {
    const train = split(dir, files, CIFAR100_TRAIN, plain, 'CIFAR-100 training', true)!;
    const test = split(dir, files, CIFAR100_TEST, plain, 'CIFAR-100 test', false);
    const label = opts.label ?? 'fine';
    return {
      train: parseCifar100((await readAll(dir, train))[0]!, label, where(train[0]!)),
      test: test ? parseCifar100((await readAll(dir, test))[0]!, label, where(test[0]!)) : null,
    };
  }
  const resolve = (b: string): string | undefined => idxFile(files, b);
  const train = split(dir, files, IDX_TRAIN, resolve, `${kind} training`, true)!;
  const test = split(dir, files, IDX_TEST, resolve, `${kind} test`, false);
  const padTo = opts.padTo ?? 32;
  const load = async (names: string[]): Promise<Dataset> => {
    const [images, labels] = await readAll(dir, names);
    return parseIdxAsync(images!, labels!, { padTo, classes: 10, name: kind, imagesName: where(names[0]!), labelsName: where(names[1]!) });
  };
  return { train: await load(train), test: test ? await load(test) : null };
}
