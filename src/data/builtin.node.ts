/**
 * Node only: the small Fashion-MNIST subset that ships in the package (`data/fashion-mnist-subset/`,
 * made by `scripts/make_fashion_subset.mjs` from Debian's dataset-fashion-mnist: 3000 training
 * and 1000 test images, 300 and 100 of each class, gzipped IDX, MIT-licensed by Zalando SE). It
 * is what `netslim demo` trains on without `--data`.
 *
 * The folder is found relative to this module: from `src/data/` under vitest, from `dist/` or
 * `dist/chunks/` once bundled, it is `data/fashion-mnist-subset/` in the nearest directory above
 * that has one (the package root).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatasetError, type Dataset } from './datasets.js';
import { loadDatasetDir } from './files.node.js';

/** The built-in dataset's folder name under the package's `data/`. */
export const BUILTIN_DATASET = 'fashion-mnist-subset';

/** Directories searched above the module (src/data → root is 2, dist/chunks → root is 2). */
const LEVELS = 4;

/**
 * The directory holding the built-in subset's IDX files. Throws a DatasetError naming the
 * directories looked in when the package was installed without `data/`.
 */
export function builtinDatasetDir(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  const looked: string[] = [];
  for (let i = 0; i <= LEVELS; i++) {
    const candidate = join(dir, 'data', BUILTIN_DATASET);
    looked.push(candidate);
    if (existsSync(join(candidate, 'train-images-idx3-ubyte.gz'))) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new DatasetError(`built-in dataset not found (looked in ${looked.join(', ')}): reinstall netslim, or pass --data`);
}

/**
 * The built-in Fashion-MNIST subset: 3000 training and 1000 test images, zero-padded to 32×32
 * (`padTo`, as loadDatasetDir), named `fashion-mnist` (so its mean/std normalisation applies).
 */
export async function loadBuiltinDataset(opts: { padTo?: number } = {}): Promise<{ train: Dataset; test: Dataset; dir: string }> {
  const dir = builtinDatasetDir();
  const { train, test } = await loadDatasetDir(dir, { dataset: 'fashion-mnist', ...(opts.padTo !== undefined ? { padTo: opts.padTo } : {}) });
  if (!test) throw new DatasetError(`${dir}: the test split (t10k-*-ubyte.gz) is missing`);
  return { train, test, dir };
}
