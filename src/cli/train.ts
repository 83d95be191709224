/**
 * `netslim train`: the reference main.py — baseline, sparse (`--sr --s`) or fine-tuning
 * (`--refine PRUNED`) — writing DIR/checkpoint.safetensors (+ .state.safetensors for --resume),
 * DIR/model_best.safetensors and DIR/train.log (one JSON line per epoch).
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { DatasetKind } from '../data/files.node.js';
import type { Dataset } from '../data/datasets.js';
import type { Context } from '../gpu/context.js';
import { init } from '../node.js';
import { VGG_CFG, densenet, mobilenetV2, resnet, resnet18, vgg } from '../nn/models.js';
import type { Model } from '../nn/model.js';
import { Trainer, type EpochResult } from '../train/trainer.js';
import { loadTrainingState, saveModel, saveTrainingState } from '../io/checkpoint.js';
import { readFileBytes, writeFilesAtomic } from '../io/files.node.js';
import { checkOutputDir, CliError, DATASETS, floatOption, inputSizeOption, intOption, loadData, loadModelFile, makeOutputDir, progressBar, readModelFile } from './common.js';
import { ShapeError, TrainingDivergedError } from '../errors.js';

const ARCHS = ['vgg', 'resnet', 'densenet', 'resnet18', 'mobilenetv2'];

interface TrainFlags {
  arch: string;
  depth?: number;
  width?: number;
  cfg?: string;
  dataset?: DatasetKind;
  data: string;
  sr?: boolean;
  s: number;
  refine?: string;
  resume?: string;
  epochs: number;
  batchSize: number;
  testBatchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  seed: number;
  save: string;
  inputSize?: [number, number, number];
}

/** The state file that goes with a checkpoint file. */
export function stateFileOf(checkpoint: string): string {
  return checkpoint.replace(/(\.safetensors)?$/, '.state.safetensors');
}

function parseCfg(text: string): (number | 'M')[] {
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch {
    throw new CliError(`--cfg ${text}: not JSON (e.g. '[16,16,"M",32]')`, 2);
  }
  if (!Array.isArray(cfg) || !cfg.every((v) => v === 'M' || (Number.isInteger(v) && v > 0))) {
    throw new CliError(`--cfg ${text}: expected an array of positive channel counts and "M"`, 2);
  }
  return cfg as (number | 'M')[];
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a model: baseline, with BatchNorm sparsity (--sr), or fine-tune a pruned one (--refine)')
    .requiredOption('--data <path>', 'dataset directory (CIFAR binaries, IDX files) or tensor file (safetensors x, y)')
    .requiredOption('--save <dir>', 'output directory')
    .option('--arch <name>', 'vgg | resnet | densenet | resnet18 | mobilenetv2', 'vgg')
    .option('--depth <n>', 'network depth (vgg 11/13/16/19, resnet 9n+2, densenet 3n+4)', intOption('--depth', 1))
    .option('--width <f>', 'scale the channel counts: every VGG count of the default cfg, ResNet-18\'s base 64, MobileNetV2\'s width multiplier (e.g. 0.25)', floatOption('--width', 0.01, 8))
    .option('--cfg <json>', 'explicit cfg (channel counts, "M" for VGG pools)')
    .option('--dataset <name>', `${DATASETS.join(' | ')} (default: detected from --data)`)
    .option('--sr', 'train with channel sparsity regularisation (L1 on BatchNorm γ)')
    .option('--s <f>', 'sparsity rate s (default 1e-4)', floatOption('--s', 0, 1), 1e-4)
    .option('--refine <ckpt>', 'start from this model file as it is (pruned, custom-graph or imported; with --sr for sparse training)')
    .option('--input-size <C,H,W>', 'the size the model takes: 28×28 IDX images are zero-padded to it (default 32); other data must have it', inputSizeOption)
    .option('--resume <ckpt>', 'continue from this checkpoint and its .state.safetensors')
    .option('--epochs <n>', 'number of epochs', intOption('--epochs', 1), 160)
    .option('--batch-size <n>', 'training batch size', intOption('--batch-size', 1), 64)
    .option('--test-batch-size <n>', 'evaluation batch size', intOption('--test-batch-size', 1), 256)
    .option('--lr <f>', 'learning rate', floatOption('--lr', 0), 0.1)
    .option('--momentum <f>', 'SGD momentum', floatOption('--momentum', 0, 1), 0.9)
    .option('--weight-decay <f>', 'weight decay', floatOption('--weight-decay', 0), 1e-4)
    .option('--seed <n>', 'random seed', intOption('--seed', 0), 1)
    .action(async (flags: TrainFlags) => {
      await train(flags);
    });
}

async function train(f: TrainFlags): Promise<void> {
  if (f.dataset !== undefined && !DATASETS.includes(f.dataset)) throw new CliError(`--dataset ${f.dataset}: expected one of ${DATASETS.join(', ')}`, 2);
  checkArchFlags(f);
  if (f.refine && f.resume) throw new CliError('--refine and --resume cannot be combined', 2);
  checkOutputDir(f.save, '--save');
  const from = f.refine ?? f.resume;
  const modelFile = from ? await readModelFile(from) : null;
  const size = f.inputSize;
  if (size && size[1] !== size[2]) throw new CliError(`--input-size ${size.join(',')}: height and width must be equal (IDX images are padded to a square)`, 2);
  const { train: trainSet, test } = await loadData(f.data, f.dataset, size?.[1]);
  if (size) {
    const got = [trainSet.channels, trainSet.height, trainSet.width];
    if (got.join() !== size.join()) throw new CliError(`--input-size ${size.join(',')}: ${trainSet.name} images are ${got.join(',')} (only 28×28 IDX images are padded)`, 2);
  }
  const ctx = await init();
  let model: Model | undefined;
  let trainer: Trainer | undefined;
  const bar = progressBar('epoch');
  // Ctrl-C stops training after the step in flight (a second one kills at once): the checkpoint of
  // the last finished epoch stays as written, and the exit status is 130.
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  let saved: number | null = null; // the last epoch whose checkpoint this run wrote
  try {
    model = modelFile ? loadModelFile(ctx, modelFile) : modelFromArch(ctx, f, trainSet);
    try {
      model.graph.shapes([1, trainSet.channels, trainSet.height, trainSet.width]);
    } catch (e) {
      if (e instanceof ShapeError) throw new CliError(`${trainSet.name} images of ${trainSet.channels}×${trainSet.height}×${trainSet.width} do not fit the model: ${e.message}`, 2);
      throw e;
    }
    makeOutputDir(f.save, '--save');
    const ckpt = path.join(f.save, 'checkpoint.safetensors');
    const best = path.join(f.save, 'model_best.safetensors');
    const log = path.join(f.save, 'train.log');
    const m = model;
    trainer = new Trainer(m, trainSet, test, {
      epochs: f.epochs,
      batchSize: f.batchSize,
      testBatchSize: f.testBatchSize,
      lr: f.lr,
      momentum: f.momentum,
      weightDecay: f.weightDecay,
      sparsity: f.sr ? f.s : 0,
      seed: f.seed,
      signal: abort.signal,
      onStep: (p) => bar.update(p),
      onEpoch: async (r: EpochResult) => {
        bar.stop();
        const modelBytes = await saveModel(m);
        const files = [
          { path: ckpt, bytes: modelBytes },
          { path: stateFileOf(ckpt), bytes: await saveTrainingState(trainer!) },
        ];
        // Without a test split there is no "best": model_best follows the latest weights.
        if (r.isBest || r.testAccuracy === null) files.push({ path: best, bytes: modelBytes });
        await writeFilesAtomic(files);
        saved = r.epoch;
        appendFileSync(log, JSON.stringify({ ...r, time: new Date().toISOString() }) + '\n');
        const test = r.testAccuracy === null ? 'no test split' : `test loss ${r.testLoss!.toFixed(4)} acc ${(100 * r.testAccuracy).toFixed(2)}% (best ${(100 * r.best).toFixed(2)}%)`;
        console.log(
          `epoch ${r.epoch + 1}/${f.epochs} · lr ${r.lr.toPrecision(3)} · train loss ${r.trainLoss.toFixed(4)} acc ${(100 * r.trainAccuracy).toFixed(2)}% · ${test} · ${r.imagesPerSec.toFixed(1)} img/s · ${r.seconds.toFixed(1)} s`,
        );
      },
    });
    if (f.resume) loadTrainingState(trainer, await readFileBytes(stateFileOf(f.resume)), stateFileOf(f.resume));
    console.log(
      `netslim train: ${m.meta.arch}${m.meta.depth ? `-${m.meta.depth}` : ''}${m.meta.cfg ? ` cfg ${JSON.stringify(m.meta.cfg)}` : ` (${m.graph.layers().length} layers)`} · ${m.parameterCount().toLocaleString('en')} params · ` +
        `${trainSet.name} ${trainSet.n} train / ${test?.n ?? 0} test · adapter ${ctx.adapter.description || ctx.adapter.architecture}${ctx.adapter.isSwiftShader ? ' (CPU)' : ''}` +
        `${f.sr ? ` · sparsity s=${f.s}` : ''}${trainer.epoch > 0 ? ` · resuming at epoch ${trainer.epoch + 1}` : ''}`,
    );
    try {
      await trainer.fit();
    } catch (e) {
      if (abort.signal.aborted) throw new CliError(interrupted(trainer.epoch, ckpt, saved, f.resume), 130);
      if (e instanceof TrainingDivergedError) {
        const kept = saved !== null ? `${ckpt} holds epoch ${saved + 1}, the last good one` : `this run wrote no checkpoint${f.resume ? ` (${f.resume} is unchanged)` : ''}`;
        throw new CliError(`train: ${e.message}; ${kept}`, 1);
      }
      throw e;
    }
    console.log(`best test accuracy ${(100 * trainer.best).toFixed(2)}% · wrote ${ckpt}, ${best}, ${log}`);
  } finally {
    process.off('SIGINT', onSigint);
    bar.stop();
    trainer?.destroy();
    model?.destroy();
    ctx.destroy();
  }
}

/** Architecture flags of `train` and `slim` (a model from scratch). */
export interface ArchFlags {
  arch: string;
  depth?: number;
  width?: number;
  cfg?: string;
  seed: number;
}

/** Usage errors of the architecture flags (exit 2). */
export function checkArchFlags(f: ArchFlags): void {
  if (!ARCHS.includes(f.arch)) throw new CliError(`--arch ${f.arch}: expected ${ARCHS.slice(0, -1).join(', ')} or ${ARCHS.at(-1)}`, 2);
  if (f.width !== undefined && (f.arch === 'resnet' || f.arch === 'densenet')) throw new CliError('--width applies to --arch vgg, resnet18 and mobilenetv2', 2);
  if (f.depth !== undefined && (f.arch === 'resnet18' || f.arch === 'mobilenetv2')) throw new CliError(`--depth does not apply to --arch ${f.arch} (its depth is fixed)`, 2);
  if (f.cfg !== undefined && (f.arch === 'resnet18' || f.arch === 'mobilenetv2')) throw new CliError(`--cfg does not apply to --arch ${f.arch} (use --width)`, 2);
}

/** A freshly initialised model of `--arch/--depth/--width/--cfg` for the training set's images and classes. */
export function modelFromArch(ctx: Context, f: ArchFlags, trainSet: Dataset): Model {
  const common = { numClasses: trainSet.classes <= 10 ? 10 : 100, inChannels: trainSet.channels, seed: f.seed, dataset: trainSet.name, ...(trainSet.height !== 32 ? { inputSize: trainSet.height } : {}) };
  if (f.arch === 'vgg') {
    const depth = f.depth ?? 19;
    let cfg = f.cfg ? parseCfg(f.cfg) : undefined;
    if (!cfg && f.width !== undefined) {
      const base = VGG_CFG[depth];
      if (!base) throw new CliError(`--depth ${depth}: vgg depth must be 11, 13, 16 or 19`, 2);
      cfg = base.map((v) => (v === 'M' ? v : Math.max(1, Math.round(v * f.width!))));
    }
    return vgg(ctx, { ...common, depth, ...(cfg ? { cfg } : {}) });
  } else if (f.arch === 'resnet') {
    return resnet(ctx, { ...common, depth: f.depth ?? 164, ...(f.cfg ? { cfg: parseCfg(f.cfg) as number[] } : {}) });
  } else if (f.arch === 'resnet18') {
    return resnet18(ctx, { ...common, ...(f.width !== undefined ? { width: Math.max(1, Math.round(64 * f.width)) } : {}) });
  } else if (f.arch === 'mobilenetv2') {
    return mobilenetV2(ctx, { ...common, ...(f.width !== undefined ? { width: f.width } : {}) });
  } else {
    return densenet(ctx, { ...common, depth: f.depth ?? 40, ...(f.cfg ? { cfg: parseCfg(f.cfg) as number[] } : {}) });
  }
}

/** The message of a run stopped by Ctrl-C in epoch `epoch` (0-based) after writing `saved` (0-based) to `ckpt`, or nothing. */
function interrupted(epoch: number, ckpt: string, saved: number | null, resume: string | undefined): string {
  return saved !== null
    ? `train: interrupted in epoch ${epoch + 1}; ${ckpt} holds epoch ${saved + 1} (continue with --resume ${ckpt})`
    : `train: interrupted in epoch ${epoch + 1}; this run wrote no checkpoint${resume ? ` (${resume} is unchanged)` : ''}`;
}
