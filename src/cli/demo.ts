/**
 * `netslim demo`: the whole Network Slimming loop with defaults sized for a machine without a
 * GPU — baseline training, then `slim.slimToTarget` (sparse training with L1 on BatchNorm γ and
 * the target masked gradually → prune to a FLOPs target → fine-tune) — on the built-in
 * Fashion-MNIST subset (3000 + 1000 images) or on `--data`. It ends with a table (accuracy,
 * parameters, FLOPs and measured inference latency of each stage; images/s and time of each
 * phase) and writes, atomically, one checkpoint per stage, `prune.json`, `report.html` (γ
 * histograms before and after sparse training, channels kept per layer, loss and accuracy curves,
 * drawn with Observable Plot) and `demo.json` (every number of the run).
 *
 * Defaults, and why they differ from the paper's (160 epochs per phase, s = 1e-4, a percent of
 * the channels, fine-tuning at lr 0.1): the slimming run is the library's short-budget recipe
 * (SLIM_RECIPE: 8 sparse + 4 fine-tuning epochs, s = 2e-3, cosine lr, gradual pruning, channels
 * ranked by |γ| over their FLOPs cost, fine-tuning at lr 0.01 without augmentation), chosen by
 * measurement (bench/results/recipe-torch.md); the prune goes to 28 % of the FLOPs rather than a
 * percent of the channels, and the gradual masking means the network has already trained without
 * the pruned channels when they are cut, so accuracy right after pruning is the sparse model's.
 * Sparse training continues from the baseline's weights (`--scratch`: from the same fresh
 * initialisation, as the reference does). The network is VGG-11 at 1/8 width (145 410
 * parameters); 1/4 width trains ~2.4× slower per image and does not fit 10 minutes on 2 CPU cores.
 */
import path from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { Context } from '../gpu/context.js';
import type { Dataset } from '../data/datasets.js';
import type { DatasetKind } from '../data/files.node.js';
import { loadBuiltinDataset } from '../data/builtin.node.js';
import { init } from '../node.js';
import { VGG_CFG, vgg, type VggCfg } from '../nn/models.js';
import type { Model } from '../nn/model.js';
import { Trainer, type EpochResult } from '../train/trainer.js';
import { saveModel } from '../io/checkpoint.js';
import { writeFileAtomic, writeFilesAtomic } from '../io/files.node.js';
import { cloneModel, countFlops } from '../slim/prune.js';
import { batchNormGammas, formatPruneTable, type LayerGammas } from '../slim/report.js';
import { SLIM_RECIPE, slimRecipe } from '../slim/recipe.js';
import { slimToTarget } from '../slim/pipeline.js';
import { Mulberry32 } from '../util/random.js';
import { measureLatency } from '../gpu/wait.js';
import { count, pc, phaseRows, plural, reportHtml, secs, stageRows, type Phase, type Stage } from './report-html.js';
import { checkOutputDir, CliError, DATASETS, floatOption, intOption, loadData, makeOutputDir, progressBar, textTable } from './common.js';

interface DemoFlags {
  data?: string;
  dataset?: DatasetKind;
  save: string;
  targetFlops: number;
  targetParams?: number;
  epochs: number;
  finetuneEpochs: number;
  sparsity: number;
  lr: number;
  finetuneLr: number;
  depth: number;
  width: number;
  batchSize: number;
  latencyBatch: number;
  latencyRuns: number;
  seed: number;
  scratch?: boolean;
  quick?: boolean;
}

/** `--quick`: a few steps per phase (for tests): this many training and test samples, one epoch each. */
const QUICK_TRAIN = 128;
const QUICK_TEST = 128;
/** Share of a dataset without a test split held out for evaluation. */
const HOLD_OUT = 0.2;

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the whole Network Slimming loop on a small dataset (baseline, then slim.slimToTarget: sparse → prune → fine-tune), with a table and an HTML report')
    .option('--data <path>', 'dataset directory (CIFAR binaries, IDX files) or tensor file (safetensors x, y); default: the built-in Fashion-MNIST subset')
    .option('--dataset <name>', `${DATASETS.join(' | ')} (default: detected from --data)`)
    .option('--save <dir>', 'output directory', 'netslim-demo')
    .option('--target-flops <f>', 'prune to at most this fraction of the FLOPs, in (0, 1)', floatOption('--target-flops', 1e-9, 0.999999), 0.28)
    .option('--target-params <f>', 'and to at most this fraction of the parameters, in (0, 1)', floatOption('--target-params', 1e-9, 0.999999))
    .option('--epochs <n>', 'epochs of the baseline and of sparse training', intOption('--epochs', 1), SLIM_RECIPE.epochs - SLIM_RECIPE.finetuneEpochs)
    .option('--finetune-epochs <n>', 'epochs of fine-tuning the pruned model', intOption('--finetune-epochs', 1), SLIM_RECIPE.finetuneEpochs)
    .option('--sparsity <f>', 'sparsity rate s of the L1 penalty on BatchNorm γ (the paper: 1e-4 over 160 epochs)', floatOption('--sparsity', 0, 1), SLIM_RECIPE.sparsity)
    .option('--lr <f>', 'learning rate of the baseline and of sparse training', floatOption('--lr', 0), SLIM_RECIPE.lr)
    .option('--finetune-lr <f>', 'learning rate of fine-tuning', floatOption('--finetune-lr', 0), SLIM_RECIPE.finetuneLr)
    .option('--depth <n>', 'VGG depth (11, 13, 16, 19)', intOption('--depth', 1), 11)
    .option('--width <f>', 'scale of the VGG channel counts', floatOption('--width', 0.01, 8), 0.125)
    .option('--batch-size <n>', 'training batch size', intOption('--batch-size', 1), 64)
    .option('--latency-batch <n>', 'batch of the latency measurement', intOption('--latency-batch', 1), 64)
    .option('--latency-runs <n>', 'timed forwards per model (the median is reported)', intOption('--latency-runs', 1), 5)
    .option('--seed <n>', 'random seed', intOption('--seed', 0), 1)
    .option('--scratch', 'sparse training starts from a fresh initialisation (as the reference) instead of the baseline')
    .option('--quick', `a few steps per phase (${QUICK_TRAIN} training and ${QUICK_TEST} test samples, one epoch each), to check the setup`)
    .action(async (flags: DemoFlags) => {
      await demo(flags);
    });
}

// ---------------------------------------------------------------------------------------------
// Data and network

/** The samples `idx` of a dataset, as a new dataset (same name, so the same normalisation). */
function take(d: Dataset, idx: ArrayLike<number>): Dataset {
  const per = d.channels * d.height * d.width;
  const images = d.images instanceof Uint8Array ? new Uint8Array(idx.length * per) : new Float32Array(idx.length * per);
  const labels = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i]!;
    (images as Uint8Array).set((d.images as Uint8Array).subarray(j * per, (j + 1) * per), i * per);
    labels[i] = d.labels[j]!;
  }
  return { ...d, images, labels, n: idx.length };
}

const first = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

interface DemoData {
  train: Dataset;
  test: Dataset;
  /** What the table and report call it. */
  label: string;
  /** How the test split came about, when not from the files. */
  note?: string;
}

async function demoData(f: DemoFlags): Promise<DemoData> {
  let data: DemoData;
  if (f.data === undefined) {
    if (f.dataset !== undefined && f.dataset !== 'fashion-mnist') throw new CliError(`--dataset ${f.dataset} needs --data: the built-in dataset is Fashion-MNIST`, 2);
    const { train, test } = await loadBuiltinDataset();
    data = { train, test, label: 'Fashion-MNIST subset (built in)' };
  } else {
    const { train, test } = await loadData(f.data, f.dataset);
    if (test) data = { train, test, label: `${train.name} (${f.data})` };
    else {
      if (train.n < 2) throw new CliError(`--data ${f.data}: ${train.n} sample; the demo needs at least 2 (it holds some out for testing)`);
      const perm = new Mulberry32(f.seed + 0x5eed).permutation(train.n);
      const held = Math.max(1, Math.floor(train.n * HOLD_OUT));
      data = {
        train: take(train, perm.subarray(held)),
        test: take(train, perm.subarray(0, held)),
        label: `${train.name} (${f.data})`,
        note: `no test split: ${held} of the ${train.n} samples held out for testing`,
      };
    }
  }
  if (f.quick) {
    data.train = take(data.train, first(Math.min(QUICK_TRAIN, data.train.n)));
    data.test = take(data.test, first(Math.min(QUICK_TEST, data.test.n)));
  }
  return data;
}

/**
 * The demo's VGG cfg: the reference cfg of `depth` scaled by `width`, with as many of its 2×2
 * max-pools as the input allows (the classifier's 2×2 average pool needs a 2×2 or 3×3 map).
 */
export function demoCfg(depth: number, width: number, height: number, imageWidth: number): VggCfg {
  const base = VGG_CFG[depth];
  if (!base) throw new CliError(`--depth ${depth}: vgg depth must be 11, 13, 16 or 19`, 2);
  const cfg: VggCfg = base.map((v) => (v === 'M' ? v : Math.max(1, Math.round(v * width))));
  const pools = cfg.filter((v) => v === 'M').length;
  let [h, w, kept] = [height, imageWidth, 0];
  while (kept < pools && Math.floor(h / 2) >= 2 && Math.floor(w / 2) >= 2) {
    [h, w, kept] = [Math.floor(h / 2), Math.floor(w / 2), kept + 1];
  }
  if (h < 2 || w < 2 || h > 3 || w > 3) {
    throw new CliError(`${height}×${imageWidth} inputs do not fit vgg-${depth}: its ${pools} max-pools leave ${h}×${w}, the classifier needs 2×2 or 3×3 (use netslim train --cfg)`);
  }
  for (let i = cfg.length - 1, drop = pools - kept; i >= 0 && drop > 0; i--) {
    if (cfg[i] === 'M') {
      cfg.splice(i, 1);
      drop--;
    }
  }
  return cfg;
}

// ---------------------------------------------------------------------------------------------
// Phases

interface PhaseResult {
  history: EpochResult[];
  /** Wall time of the phase (training, evaluations, checkpoint). */
  seconds: number;
  /** Training images per second (evaluation excluded). */
  imagesPerSec: number;
}

async function trainPhase(
  label: string,
  model: Model,
  data: DemoData,
  o: { epochs: number; lr: number; lrSchedule: 'step' | 'cosine'; sparsity: number; batchSize: number; seed: number },
): Promise<PhaseResult> {
  const t0 = performance.now();
  // A bar per epoch: the shared bar restarts on step 1, which is not always reported.
  let bar = progressBar(label);
  const trainer = new Trainer(model, data.train, data.test, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    testBatchSize: 256,
    lr: o.lr,
    lrSchedule: o.lrSchedule,
    sparsity: o.sparsity,
    seed: o.seed,
    onStep: (p) => bar.update(p),
    onEpoch: (r) => {
      bar.stop();
      bar = progressBar(label);
      console.log(
        `${label} epoch ${r.epoch + 1}/${o.epochs} · lr ${r.lr.toPrecision(3)} · train loss ${r.trainLoss.toFixed(4)} acc ${pc(r.trainAccuracy)} · ` +
          `test loss ${r.testLoss!.toFixed(4)} acc ${pc(r.testAccuracy)} · ${r.imagesPerSec.toFixed(1)} img/s · ${r.seconds.toFixed(1)} s`,
      );
    },
  });
  try {
    const history = await trainer.fit();
    const trainSeconds = history.reduce((a, r) => a + r.seconds, 0);
    return { history, seconds: (performance.now() - t0) / 1000, imagesPerSec: (data.train.n * history.length) / trainSeconds };
  } finally {
    bar.stop();
    trainer.destroy();
  }
}

/**
 * Median eval-mode forward time (ms) of each model at one batch (the library's measureLatency:
 * a warm-up forward each, then `runs` timed forwards interleaved across the models).
 */
async function measureLatencyBar(ctx: Context, models: Model[], input: [number, number, number], batch: number, runs: number): Promise<number[]> {
  const bar = countBar('latency', models.length * (runs + 1));
  try {
    return await measureLatency(ctx, models, [batch, ...input], { runs, onRun: () => bar.tick() });
  } finally {
    bar.stop();
  }
}

/** A counting progress bar on stderr when it is a terminal (for the steps that are not epochs). */
function countBar(label: string, total: number): { tick: () => void; stop: () => void } {
  if (!process.stderr.isTTY) return { tick: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar({ format: `${label} |{bar}| {value}/{total}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  bar.start(total, 0);
  let n = 0;
  return { tick: () => bar.update(++n), stop: () => bar.stop() };
}

// ---------------------------------------------------------------------------------------------
// The table and the report

async function demo(f: DemoFlags): Promise<void> {
  checkOutputDir(f.save, '--save');
  const t0 = performance.now();
  if (f.dataset !== undefined && !DATASETS.includes(f.dataset)) throw new CliError(`--dataset ${f.dataset}: expected one of ${DATASETS.join(', ')}`, 2);
  if (!VGG_CFG[f.depth]) throw new CliError(`--depth ${f.depth}: vgg depth must be 11, 13, 16 or 19`, 2);
  const data = await demoData(f);
  const { train, test } = data;
  const input: [number, number, number] = [train.channels, train.height, train.width];
  if (test.channels !== train.channels || test.height !== train.height || test.width !== train.width) {
    throw new CliError(`--data ${f.data}: test images ${test.channels}×${test.height}×${test.width} differ from training images ${input.join('×')}`);
  }
  const cfg = demoCfg(f.depth, f.width, train.height, train.width);
  const epochs = f.quick ? 1 : f.epochs;
  const finetuneEpochs = f.quick ? 1 : f.finetuneEpochs;
  const latencyRuns = f.quick ? Math.min(2, f.latencyRuns) : f.latencyRuns;
  const file = (n: string) => path.join(f.save, n);
  const files = {
    baseline: file('baseline.safetensors'),
    sparse: file('sparse.safetensors'),
    pruned: file('pruned.safetensors'),
    finetuned: file('finetuned.safetensors'),
    pruneJson: file('prune.json'),
    report: file('report.html'),
    json: file('demo.json'),
  };

  const ctx = await init();
  const models: Model[] = [];
  const own = <M extends Model>(m: M): M => (models.push(m), m);
  try {
    const common = { numClasses: train.classes <= 10 ? 10 : 100, inChannels: train.channels, seed: f.seed, dataset: train.name, depth: f.depth, cfg };
    const baseline = own(vgg(ctx, common));
    const adapter = `${ctx.adapter.description || ctx.adapter.architecture || 'WebGPU adapter'}${ctx.adapter.isSwiftShader ? ' (CPU)' : ''}`;
    const net = `vgg-${f.depth} at ${f.width}× width, cfg ${JSON.stringify(cfg)}`;
    console.log(
      `netslim demo: ${net} · ${count(baseline.parameterCount())} params · ${data.label}: ${train.n} train / ${test.n} test, ${input.join('×')}` +
        `${data.note ? ` (${data.note})` : ''} · adapter ${adapter}`,
    );
    const recipe = slimRecipe({ epochs: epochs + finetuneEpochs, finetuneEpochs, sparsity: f.sparsity, lr: f.lr, finetuneLr: f.finetuneLr });
    const targets = `≤ ${(100 * f.targetFlops).toFixed(0)} % of the FLOPs${f.targetParams !== undefined ? `, ≤ ${(100 * f.targetParams).toFixed(0)} % of the parameters` : ''}`;
    console.log(
      `plan: baseline ${plural(epochs, 'epoch')} → sparse ${plural(epochs, 'epoch')} (s = ${f.sparsity}, from ${f.scratch ? 'scratch' : 'the baseline'}` +
        `${recipe.gradualEpochs ? `, pruned gradually over the last ${recipe.gradualEpochs}` : ''}) → prune to ${targets} → ` +
        `fine-tune ${plural(finetuneEpochs, 'epoch')} (lr ${f.finetuneLr}) → latency at batch ${f.latencyBatch}${f.quick ? ' (--quick)' : ''}`,
    );
    makeOutputDir(f.save, '--save');
    const write = async (path: string, m: Model) => writeFileAtomic(path, await saveModel(m));

    // 1. Baseline.
    const pb = await trainPhase('baseline', baseline, data, { epochs, lr: f.lr, lrSchedule: recipe.lrSchedule, sparsity: 0, batchSize: f.batchSize, seed: f.seed });
    await write(files.baseline, baseline);
    const gammasBefore = await batchNormGammas(baseline);

    // 2–4. slim.slimToTarget: sparse training (L1 on every BatchNorm γ, the target masked
    // gradually), the prune to the target, fine-tuning; each stage written as it is reached.
    const sparse = own(f.scratch ? vgg(ctx, common) : cloneModel(baseline));
    const history: Record<'sparse' | 'finetune', EpochResult[]> = { sparse: [], finetune: [] };
    const phaseEnd: Partial<Record<'sparse' | 'pruned' | 'finetuned', number>> = {};
    let gammasAfter: LayerGammas[] = [];
    let prunedAcc = 0;
    let bar = progressBar('sparse');
    const label = { sparse: 'sparse', finetune: 'fine-tune' } as const;
    const tp0 = performance.now();
    const result = await slimToTarget(sparse, train, test, {
      ...recipe,
      targetFlops: f.targetFlops,
      ...(f.targetParams !== undefined ? { targetParams: f.targetParams } : {}),
      batchSize: f.batchSize,
      seed: f.seed,
      onStep: (ph, p) => {
        if (ph !== 'prune') bar.update(p);
      },
      onEpoch: (ph, r) => {
        bar.stop();
        history[ph].push(r);
        const done = ph === 'sparse' && r.epoch + 1 === epochs;
        bar = progressBar(done ? 'fine-tune' : label[ph]);
        console.log(
          `${label[ph]} epoch ${r.epoch + 1}/${ph === 'sparse' ? epochs : finetuneEpochs} · lr ${r.lr.toPrecision(3)} · train loss ${r.trainLoss.toFixed(4)} acc ${pc(r.trainAccuracy)} · ` +
            `test loss ${r.testLoss!.toFixed(4)} acc ${pc(r.testAccuracy)} · ${r.imagesPerSec.toFixed(1)} img/s · ${r.seconds.toFixed(1)} s`,
        );
      },
      onStage: async (stage, m, report) => {
        if (stage.stage === 'sparse') {
          await write(files.sparse, m);
          gammasAfter = await batchNormGammas(m);
          console.log(`pruning to ${targets}…`);
        } else if (stage.stage === 'pruned') {
          prunedAcc = stage.accuracy!;
          await writeFilesAtomic([
            { path: files.pruned, bytes: await saveModel(m) },
            { path: files.pruneJson, bytes: new TextEncoder().encode(JSON.stringify({ model: files.sparse, ...report, accuracy: { before: history.sparse[history.sparse.length - 1]!.testAccuracy, after: prunedAcc } }, null, 2) + '\n') },
          ]);
          console.log(`${formatPruneTable(report!)}\ntest accuracy ${pc(history.sparse[history.sparse.length - 1]!.testAccuracy!)} → ${pc(prunedAcc)} before fine-tuning`);
        } else if (stage.stage === 'finetuned') await write(files.finetuned, m);
        if (stage.stage !== 'original') phaseEnd[stage.stage] = performance.now();
      },
      onWarning: (m) => console.log(`warning: ${m}`),
    });
    bar.stop();
    const finetuned = own(result.model);
    const report = result.report;
    const seconds = (from: number, to: number | undefined) => ((to ?? from) - from) / 1000;
    const rate = (h: EpochResult[], n: number) => (n * h.length) / Math.max(1e-9, h.reduce((a, r) => a + r.seconds, 0));
    const ps = { history: history.sparse, seconds: seconds(tp0, phaseEnd.sparse), imagesPerSec: rate(history.sparse, train.n) };
    const pruneSeconds = seconds(phaseEnd.sparse ?? tp0, phaseEnd.pruned);
    const pf = { history: history.finetune, seconds: seconds(phaseEnd.pruned ?? tp0, phaseEnd.finetuned), imagesPerSec: rate(history.finetune, train.n) };

    // 5. Latency: eval-mode forward at one batch, the original architecture against the pruned one.
    const tl = performance.now();
    console.log(`measuring latency: ${latencyRuns} forwards of ${f.latencyBatch} images per model…`);
    const [originalMs, prunedMs] = await measureLatencyBar(ctx, [sparse, finetuned], input, f.latencyBatch, latencyRuns);
    const latencySeconds = (performance.now() - tl) / 1000;

    const last = (p: PhaseResult) => p.history[p.history.length - 1]!.testAccuracy!;
    const flopsBefore = countFlops(baseline.graph, input);
    const flopsAfter = countFlops(finetuned.graph, input); // the pruned model's architecture (pruned.safetensors holds its weights before fine-tuning)
    const stages: Stage[] = [
      { name: 'baseline', accuracy: last(pb), params: baseline.parameterCount(), flops: flopsBefore, latencyMs: originalMs!, file: files.baseline },
      { name: 'sparse', accuracy: last(ps), params: sparse.parameterCount(), flops: flopsBefore, latencyMs: originalMs!, file: files.sparse },
      { name: 'pruned', accuracy: prunedAcc, params: finetuned.parameterCount(), flops: flopsAfter, latencyMs: prunedMs!, file: files.pruned },
      { name: 'fine-tuned', accuracy: last(pf), params: finetuned.parameterCount(), flops: flopsAfter, latencyMs: prunedMs!, file: files.finetuned },
    ];
    const phases: Phase[] = [
      { name: 'baseline', epochs, seconds: pb.seconds, imagesPerSec: pb.imagesPerSec, what: 'training' },
      { name: 'sparse', epochs, seconds: ps.seconds, imagesPerSec: ps.imagesPerSec, what: 'training with L1 on γ' },
      { name: 'prune', epochs: null, seconds: pruneSeconds, imagesPerSec: test.n / Math.max(1e-9, pruneSeconds), what: 'threshold search, compaction, evaluation; images/s: test images over that time' },
      { name: 'fine-tune', epochs: finetuneEpochs, seconds: pf.seconds, imagesPerSec: pf.imagesPerSec, what: 'training the pruned model' },
      {
        name: 'latency',
        epochs: null,
        seconds: latencySeconds,
        imagesPerSec: f.latencyBatch / (prunedMs! / 1000),
        what: `inference, pruned (original: ${(f.latencyBatch / (originalMs! / 1000)).toFixed(1)} images/s)`,
      },
    ];
    const written = [files.baseline, files.sparse, files.pruned, files.finetuned, files.pruneJson, files.report, files.json];
    const title = `netslim demo: Network Slimming of ${net.split(',')[0]} on ${data.label}`;
    const subtitle =
      `${train.n} training / ${test.n} test images (${input.join('×')}${data.note ? `; ${data.note}` : ''}); baseline ${epochs} + sparse ${plural(epochs, 'epoch')} (s = ${f.sparsity}) + ` +
      `fine-tune ${plural(finetuneEpochs, 'epoch')}; pruned to ${targets}; adapter ${adapter}; ${new Date().toISOString().slice(0, 10)}.`;
    const html = reportHtml({
      title,
      subtitle,
      stages,
      phases,
      latencyBatch: f.latencyBatch,
      report,
      gammasBefore,
      gammasAfter,
      curves: [
        { phase: 'baseline', history: pb.history },
        { phase: 'sparse', history: ps.history },
        { phase: 'fine-tune', history: pf.history },
      ],
      prunedAccuracy: prunedAcc,
      files: written,
    });
    const totalSeconds = (performance.now() - t0) / 1000;
    const summary = {
      network: { arch: 'vgg', depth: f.depth, width: f.width, cfg, prunedCfg: report.cfg },
      data: { label: data.label, train: train.n, test: test.n, input, ...(data.note ? { note: data.note } : {}) },
      settings: { ...f, epochs, finetuneEpochs, latencyRuns },
      adapter,
      stages,
      phases,
      latency: { batch: f.latencyBatch, runs: latencyRuns, originalMs, prunedMs },
      history: { baseline: pb.history, sparse: ps.history, finetune: pf.history },
      totalSeconds,
    };
    await writeFilesAtomic([
      { path: files.report, bytes: new TextEncoder().encode(html) },
      { path: files.json, bytes: new TextEncoder().encode(JSON.stringify(summary, null, 2) + '\n') },
    ]);

    console.log(
      [
        '',
        textTable(stageRows(stages, f.latencyBatch)),
        '',
        textTable(phaseRows(phases), [4]),
        '',
        `total ${secs(totalSeconds)} · pruned cfg ${JSON.stringify(report.cfg)}`,
        'wrote:',
        ...written.map((p) => `  ${p}`),
      ].join('\n'),
    );
  } finally {
    // Every model goes before the device, also on failure (Dawn can crash at exit otherwise).
    for (const m of models.reverse()) m.destroy();
    ctx.destroy();
  }
}
