/**
 * Shared pieces of the `netslim` commands: typed option parsers (bad values become one clear
 * line and exit code 2), dataset and model loading, atomic output, and the progress display.
 */
import { InvalidArgumentError } from 'commander';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { Context } from '../gpu/context.js';
import type { Dataset } from '../data/datasets.js';
import { datasetFromTensors } from '../data/datasets.js';
import { loadDatasetDir, type DatasetKind } from '../data/files.node.js';
import { fsReason, readFileBytes } from '../io/files.node.js';
import { parseSafetensors, toFloat32, toInt64 } from '../io/safetensors.js';
import { CheckpointError } from '../io/errors.js';
import { checkpointGraph, expectFinite, loadModel } from '../io/checkpoint.js';
import type { Model, ModelMeta } from '../nn/model.js';
import type { Graph } from '../nn/graph.js';
import type { StepProgress } from '../train/trainer.js';

/**
 * Checks, before any work, that `dir` (the value of `flag`) can be an output directory: absent,
 * or a directory. A file there fails with one line and nothing written.
 */
export function checkOutputDir(dir: string, flag: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // absent: made when the results are written
    throw new CliError(`${flag} ${dir}: cannot create the directory: ${fsReason(e)}`, 1);
  }
  if (!st.isDirectory()) throw new CliError(`${flag} ${dir} exists and is not a directory`, 1);
}

/** Creates the output directory `dir` (the value of `flag`); a failure is one line naming it. */
export function makeOutputDir(dir: string, flag: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new CliError(`${flag} ${dir}: cannot create the directory: ${fsReason(e)}`, 1);
  }
}

/** A failure the user can act on: printed as one line, exit code `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

export function intOption(name: string, min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^[+-]?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}.`);
    return n;
  };
}

export function floatOption(name: string, min = -Infinity, max = Infinity): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}].`);
    return n;
  };
}

/** Parses `--input-size C,H,W`. */
export function inputSizeOption(v: string): [number, number, number] {
  const parts = v.split(',').map((s) => s.trim());
  const n = parts.map(Number);
  if (parts.length !== 3 || !parts.every((s) => /^\d+$/.test(s)) || !n.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw new InvalidArgumentError('--input-size must be three positive integers C,H,W (e.g. 3,32,32).');
  }
  return n as [number, number, number];
}

export const DATASETS: readonly DatasetKind[] = ['cifar10', 'cifar100', 'fashion-mnist', 'mnist'];

/**
 * Loads `--data`: a dataset directory (CIFAR binaries, IDX files) or a tensor dataset file
 * (safetensors with `x` [N,C,H,W] F32 and `y` [N] integer labels, used as given, no test split).
 */
export async function loadData(data: string, dataset: DatasetKind | undefined, padTo?: number): Promise<{ train: Dataset; test: Dataset | null }> {
  if (!existsSync(data)) throw new CliError(`--data ${data}: no such file or directory`);
  if (statSync(data).isDirectory()) return loadDatasetDir(data, { ...(dataset ? { dataset } : {}), ...(padTo !== undefined ? { padTo } : {}) });
  return { train: parseTensorDataset(await readFileBytes(data), data), test: null };
}

/** A tensor dataset file's bytes (safetensors: `x` [N, C, H, W] F32, `y` [N] integer labels) as a Dataset; errors name `data` and the tensor. */
export function parseTensorDataset(bytes: Uint8Array, data: string): Dataset {
  const file = parseSafetensors(bytes, data);
  const x = file.tensors.get('x');
  const y = file.tensors.get('y');
  if (!x) throw new CheckpointError(data, 'x', 'missing: a tensor dataset holds x [N, C, H, W] (F32) and y [N] (integer labels)');
  if (!y) throw new CheckpointError(data, 'y', 'missing: a tensor dataset holds x [N, C, H, W] (F32) and y [N] (integer labels)');
  if (x.shape.length !== 4) throw new CheckpointError(data, 'x', `shape [${x.shape.join(', ')}] should be [N, C, H, W]`);
  const shape = x.shape as [number, number, number, number];
  return datasetFromTensors(toFloat32(x, 'x', data), shape, toInt64(y, 'y', data), { name: path.basename(data) });
}

/** A model file read and checked (format, metadata against tensors) before any GPU work. */
export interface ModelFile {
  file: string;
  bytes: Uint8Array;
  /** The graph the file describes (host objects only; checked against its metadata). */
  graph: Graph;
  /** The model description the file's metadata gives (classes, input channels and size, class names, …). */
  meta: ModelMeta;
}

/** Reads and validates a model checkpoint (graph, metadata, finite values) without touching the GPU, so bad files fail fast. */
export async function readModelFile(file: string): Promise<ModelFile> {
  const bytes = await readFileBytes(file);
  const parsed = parseSafetensors(bytes, file);
  const { graph, meta } = checkpointGraph(parsed, file);
  // Non-finite weights fail here, on the host, before a GPU is set up.
  expectFinite(new Map([...parsed.tensors].filter(([, t]) => t.dtype === 'F32').map(([k, t]) => [k, { shape: t.shape, data: toFloat32(t, k, file) }])), file);
  return { file, bytes, graph, meta };
}

/** Builds the model of a file read by `readModelFile`, which has already refused non-finite values (so they are not scanned twice). */
export function loadModelFile(ctx: Context, m: ModelFile): Model {
  return loadModel(ctx, m.bytes, m.file, { allowNonFinite: true });
}

/** A progress bar on stderr when it is a terminal; nothing otherwise (the per-epoch lines remain). */
export function progressBar(label: string): { update: (p: StepProgress) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} {epoch} |{bar}| {value}/{total} · loss {loss} · acc {acc}% · {ips} img/s · ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let epoch = -1;
  return {
    update(p) {
      const payload = { epoch: `${p.epoch + 1}/${p.epochs}`, loss: p.loss.toFixed(4), acc: (100 * p.accuracy).toFixed(2), ips: p.imagesPerSec.toFixed(1) };
      // A new epoch starts a new bar (progress is reported only now and then, so its first report may be any step).
      if (!started || p.epoch !== epoch) {
        if (started) bar.stop();
        bar.start(p.steps, p.step, payload);
        started = true;
        epoch = p.epoch;
      } else bar.update(p.step, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** Aligned text table: numbers right, the first column and `left` ones left; a rule under the header. */
export function textTable(rows: string[][], left: number[] = []): string {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  const line = (r: string[]) => r.map((v, j) => (j === 0 || left.includes(j) ? v.padEnd(widths[j]!) : v.padStart(widths[j]!))).join('  ').trimEnd();
  return [line(rows[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
