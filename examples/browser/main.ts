/**
 * The browser example: Network Slimming end to end on the page's WebGPU device.
 *
 * 1. Loads the built-in Fashion-MNIST subset (gzipped IDX served from the package's data/),
 *    builds a small VGG and trains it with the L1 penalty on BatchNorm γ, drawing the loss and
 *    accuracy curves and the |γ| histogram while it trains.
 * 2. A slider previews the prune on the host — threshold, channels kept per layer, parameters
 *    and FLOPs (preview.ts) — from γ read back once; "Prune" runs `slim.prune` on the GPU and
 *    checks that its report says the same.
 * 3. Fine-tunes the pruned network, then compares test accuracy and measured inference latency.
 * 4. Downloads the pruned model as safetensors (`saveModel`) or ONNX (`exportOnnx`).
 * 5. Imports the user's own ONNX model (drag and drop), prunes it to a FLOP target and offers it
 *    for download (import-onnx.ts).
 *
 * Training does not freeze the page: the trainer submits one step at a time and awaits the GPU
 * between steps, so the event loop (input, painting) runs while the GPU works; loss, accuracy and
 * γ are read back only at progress reports. A frame monitor shows the longest gap between
 * painted frames while busy.
 *
 * The query string overrides the settings (e.g. `?epochs=1&subset=160&batch=32` for a few
 * steps); the end-to-end test (test/node-only/browser-example.test.ts) reads the numbers from
 * `data-*` attributes.
 */
import * as Plot from '@observablehq/plot';
import {
  init,
  models,
  slim,
  Trainer,
  evaluate,
  saveModel,
  exportOnnx,
  measureLatency,
  parseIdxAsync,
  NoAdapterError,
  type Context,
  type Dataset,
  type Model,
  type Tensor,
  type EpochResult,
  type StepProgress,
} from 'netslim';
import { previewMismatches, previewPrune, type Preview } from './preview.js';
import { setupOnnxImport } from './import-onnx.js';

// ---------------------------------------------------------------------------------------------
// Settings

interface Settings {
  depth: number;
  width: number;
  subset: number;
  test: number;
  batch: number;
  epochs: number;
  s: number;
  lr: number;
  ftEpochs: number;
  ftLr: number;
  percent: number;
  latBatch: number;
  latRuns: number;
  seed: number;
  progressMs: number;
}

/**
 * Defaults sized like `netslim demo` (VGG-11 at 1/8 width; s = 1e-2 because a few hundred steps
 * at the paper's 1e-4 barely move γ; fine-tuning at lr 0.01), with fewer epochs: a page should
 * finish in minutes on a CPU-only machine too.
 */
const DEFAULTS: Settings = {
  depth: 11,
  width: 0.125,
  subset: 3000,
  test: 1000,
  batch: 64,
  epochs: 4,
  s: 1e-2,
  lr: 0.1,
  ftEpochs: 2,
  ftLr: 0.01,
  percent: 0.5,
  latBatch: 64,
  latRuns: 5,
  seed: 1,
  progressMs: 400,
};

/** The settings shown in the form: key, label, and whether the value is an integer. */
const FORM: [keyof Settings, string, boolean][] = [
  ['epochs', 'epochs', true],
  ['s', 'sparsity s', false],
  ['lr', 'learning rate', false],
  ['ftEpochs', 'fine-tune epochs', true],
  ['ftLr', 'fine-tune lr', false],
  ['width', 'VGG width', false],
  ['depth', 'VGG depth', true],
  ['subset', 'training images', true],
  ['test', 'test images', true],
  ['batch', 'batch', true],
];

function querySettings(): Settings {
  const q = new URLSearchParams(location.search);
  const s = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof Settings)[]) {
    const v = q.get(key);
    if (v !== null && v !== '' && Number.isFinite(Number(v))) s[key] = Number(v);
  }
  return s;
}

const settings = querySettings();

function readForm(): Settings {
  const s = { ...settings };
  for (const [key, label, integer] of FORM) {
    const v = Number(($(`opt-${key}`) as HTMLInputElement).value);
    if (!Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) throw new Error(`${label}: ${JSON.stringify(($(`opt-${key}`) as HTMLInputElement).value)} is not a valid ${integer ? 'whole ' : ''}number`);
    s[key] = v;
  }
  if (![11, 13, 16, 19].includes(s.depth)) throw new Error(`VGG depth must be 11, 13, 16 or 19, not ${s.depth}`);
  for (const k of ['epochs', 'subset', 'test', 'batch'] as const) if (s[k] < 1) throw new Error(`${k} must be at least 1`);
  return s;
}

// ---------------------------------------------------------------------------------------------
// DOM helpers

function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page: no #${id}`);
  return e;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string>> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) if (v !== undefined) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function setData(e: HTMLElement, data: Record<string, string | number | boolean>): void {
  for (const [k, v] of Object.entries(data)) e.dataset[k] = String(v);
}

type State = 'loading' | 'no-webgpu' | 'ready' | 'training' | 'trained' | 'pruning' | 'pruned' | 'finetuning' | 'done' | 'error';

function status(state: State, text: string): void {
  const s = $('status');
  s.dataset.state = state;
  s.textContent = text;
}

function showError(e: unknown): void {
  console.error(e);
  $('error-message').textContent = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  $('error').hidden = false;
  status('error', 'Stopped by an error (see above).');
}

const count = (n: number): string => n.toLocaleString('en');
const pc = (x: number): string => `${(100 * x).toFixed(1)} %`;
const mflops = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`);
const change = (a: number, b: number, f: (n: number) => string): string => (a === b ? f(a) : `${f(a)} → ${f(b)}`);
const less = (a: number, b: number): string => (a ? `−${(100 * (1 - b / a)).toFixed(1)} %` : '');
const nextFrame = () => new Promise<void>((r) => requestAnimationFrame(() => r()));

// ---------------------------------------------------------------------------------------------
// Frame monitor: while the page is busy, the longest gap between two painted frames.

const frames = { busy: false, count: 0, maxGapMs: 0, last: 0 };
function watchFrames(now: number): void {
  if (frames.busy && frames.last) {
    frames.count++;
    frames.maxGapMs = Math.max(frames.maxGapMs, now - frames.last);
  }
  frames.last = now;
  requestAnimationFrame(watchFrames);
}
requestAnimationFrame(watchFrames);

function responsiveness(): string {
  setData($('status'), { frames: frames.count, maxFrameGapMs: Math.round(frames.maxGapMs) });
  return `page painted ${frames.count} frames while busy (longest gap ${Math.round(frames.maxGapMs)} ms)`;
}

// ---------------------------------------------------------------------------------------------
// Data

const DATA = './data/fashion-mnist-subset/';

async function fetchBytes(name: string): Promise<Uint8Array> {
  const r = await fetch(DATA + name);
  if (!r.ok) throw new Error(`${DATA}${name}: HTTP ${r.status} (serve the page with npm run serve, which also serves data/)`);
  return new Uint8Array(await r.arrayBuffer());
}

/** The first `n` samples (the subset files are already shuffled). */
function head(d: Dataset, n: number): Dataset {
  if (n >= d.n) return d;
  const per = d.channels * d.height * d.width;
  return { ...d, images: d.images.slice(0, n * per), labels: d.labels.slice(0, n), n };
}

async function loadData(): Promise<{ train: Dataset; test: Dataset }> {
  const [ti, tl, vi, vl] = await Promise.all(
    ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'].map(fetchBytes),
  );
  // Zero-padded to 32×32, so the CIFAR VGG applies; named fashion-mnist so its mean/std normalise it.
  const opts = { padTo: 32, name: 'fashion-mnist' };
  const [train, test] = await Promise.all([
    parseIdxAsync(ti!, tl!, { ...opts, imagesName: 'train-images', labelsName: 'train-labels' }),
    parseIdxAsync(vi!, vl!, { ...opts, imagesName: 't10k-images', labelsName: 't10k-labels' }),
  ]);
  return { train, test };
}

// ---------------------------------------------------------------------------------------------
// Charts

interface CurvePoint {
  step: number;
  phase: string;
  split: 'train' | 'test';
  loss: number;
  accuracy: number;
}

const CHART_W = 460;

function drawCurves(points: CurvePoint[], pruneAt: number | null): void {
  const box = $('curves');
  const train = points.filter((p) => p.split === 'train');
  const test = points.filter((p) => p.split === 'test');
  const phases = [...new Set(points.map((p) => p.phase))];
  const chart = (y: 'loss' | 'accuracy') =>
    Plot.plot({
      width: CHART_W,
      height: 200,
      marginLeft: 48,
      x: { label: 'step', grid: true },
      y: { label: y === 'loss' ? 'loss' : 'accuracy (%)', grid: true, ...(y === 'accuracy' ? { domain: [0, 100] } : {}) },
      color: { domain: phases.length ? phases : ['sparse training'], legend: y === 'loss' },
      marks: [
        Plot.line(train, { x: 'step', y: (p: CurvePoint) => (y === 'loss' ? p.loss : 100 * p.accuracy), stroke: 'phase', z: 'phase' }),
        Plot.dot(test, { x: 'step', y: (p: CurvePoint) => (y === 'loss' ? p.loss : 100 * p.accuracy), fill: 'phase', r: 3.5, symbol: 'diamond' }),
        ...(pruneAt !== null ? [Plot.ruleX([pruneAt], { stroke: '#999', strokeDasharray: '3 3' })] : []),
      ],
    });
  box.replaceChildren(
    el('figcaption', {}, 'Loss and accuracy: lines are the running mean of the epoch on training batches, diamonds the test split after each epoch'),
    chart('loss'),
    chart('accuracy'),
  );
  const last = train.at(-1);
  setData(box, { points: train.length, testPoints: test.length, ...(last ? { lastLoss: last.loss, lastAccuracy: last.accuracy } : {}) });
}

function absGammas(gammas: slim.LayerGammas[]): number[] {
  return gammas.flatMap((g) => Array.from(g.gamma, (v) => Math.abs(v)));
}

function drawGammas(gammas: slim.LayerGammas[], caption: string, threshold: number | null): void {
  const box = $('gammas');
  const values = absGammas(gammas);
  const max = Math.max(1e-6, ...values);
  box.replaceChildren(
    el('figcaption', {}, caption),
    Plot.plot({
      width: CHART_W,
      height: 240,
      marginLeft: 48,
      x: { label: '|γ|', domain: [0, max] },
      y: { label: 'channels', grid: true },
      marks: [
        Plot.rectY(values, { fill: 'steelblue', ...Plot.binX({ y: 'count' }, { x: (d: number) => d, thresholds: 40, domain: [0, max] }) }),
        ...(threshold !== null ? [Plot.ruleX([threshold], { stroke: 'red', strokeWidth: 2 })] : []),
        Plot.ruleY([0]),
      ],
    }),
  );
  setData(box, { updates: Number(box.dataset.updates ?? 0) + 1, count: values.length });
}

// ---------------------------------------------------------------------------------------------
// γ while training: one copy of every BatchNorm's γ into one buffer and one read-back, recorded
// between two steps, so the histogram shows one consistent step.

class GammaTap {
  readonly #tensor: Tensor;
  readonly #sizes: { name: string; n: number }[];
  #pending: Promise<slim.LayerGammas[]> | null = null;

  constructor(readonly model: Model) {
    this.#sizes = model.batchNorms().map((b) => ({ name: b.name, n: b.channels }));
    this.#tensor = model.ctx.tensor([this.#sizes.reduce((a, s) => a + s.n, 0)], undefined, 'f32', 'example γ tap');
  }

  /** γ of every BatchNorm now (null when a read is still in flight). */
  read(): Promise<slim.LayerGammas[]> | null {
    if (this.#pending) return null;
    const ctx = this.model.ctx;
    let o = 0;
    for (const b of this.model.batchNorms()) {
      ctx.copy(b.slot('weight').value!, this.#tensor, b.channels * 4, 0, o * 4);
      o += b.channels;
    }
    // readF32 records its copy and submits before its first await: the snapshot is of this moment.
    this.#pending = ctx.readF32(this.#tensor).then((all) => {
      let off = 0;
      return this.#sizes.map(({ name, n }) => ({ name, gamma: all.slice(off, (off += n)) }));
    });
    const p = this.#pending;
    void p.finally(() => (this.#pending = null)).catch(() => {});
    return p;
  }

  async destroy(): Promise<void> {
    await this.#pending?.catch(() => {});
    this.#tensor.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Latency: median time of one eval-mode forward, submitted and awaited, per model.

function latencies(ctx: Context, ms: Model[], batch: number, runs: number): Promise<number[]> {
  return measureLatency(ctx, ms, [batch, 1, 32, 32], { runs, onRun: nextFrame });
}

// ---------------------------------------------------------------------------------------------
// The app

interface Run {
  settings: Settings;
  /** The training and test images this run uses (the first `subset` and `test` of the files). */
  train: Dataset;
  test: Dataset;
  model: Model;
  /** γ of the trained model, read once when training ended (the preview's input). */
  gammas: slim.LayerGammas[];
  trainedAccuracy: number;
  points: CurvePoint[];
  steps: number;
  pruneAt: number | null;
  preview: Preview | null;
  pruned: { model: Model; report: slim.PruneReport; accuracy: number; finetuned: number | null; latency: { original: number; pruned: number; batch: number } } | null;
}

const INPUT: [number, number, number] = [1, 32, 32];
let ctx: Context;
let data: { train: Dataset; test: Dataset };
let run: Run | null = null;
let busy = false;
let training = false;
/** The Stop button aborts it; the trainer stops between two steps. A new one per action. */
let stop = new AbortController();

const buttons = ['train', 'stop', 'prune', 'finetune', 'download-safetensors', 'download-onnx'] as const;

function enable(): void {
  const set = (id: string, on: boolean) => (($(id) as HTMLButtonElement).disabled = !on);
  set('train', !busy);
  set('stop', busy && training && !stop.signal.aborted);
  set('prune', !busy && !!run?.preview);
  set('finetune', !busy && !!run?.pruned);
  set('download-safetensors', !busy && !!run?.pruned);
  set('download-onnx', !busy && !!run?.pruned);
  ($('percent') as HTMLInputElement).disabled = busy || !run?.gammas.length;
}

/** Runs one action with every button disabled; errors go to the error box. */
function action(fn: () => Promise<void>): () => void {
  return () => {
    if (busy) return;
    busy = true;
    stop = new AbortController();
    frames.count = 0;
    frames.maxGapMs = 0;
    frames.busy = true;
    enable();
    fn()
      .catch(showError)
      .finally(() => {
        busy = false;
        frames.busy = false;
        enable();
      });
  };
}

function vggCfg(depth: number, width: number): (number | 'M')[] {
  const base = models.VGG_CFG[depth];
  if (!base) throw new Error(`VGG depth ${depth}: use 11, 13, 16 or 19`);
  return base.map((v) => (v === 'M' ? v : Math.max(1, Math.round(v * width))));
}

function resetRun(): void {
  if (!run) return;
  run.pruned?.model.destroy();
  run.model.destroy();
  run = null;
  for (const id of ['preview', 'preview-chart', 'pruned', 'compare', 'pruned-summary']) $(id).replaceChildren();
  $('preview-summary').textContent = 'Train first: the preview needs the trained γ.';
}

/** Trains `model` for `epochs`, adding curve points to `r` under `phase`; returns the last test accuracy, or null when stopped. */
async function trainPhase(r: Run, model: Model, phase: string, o: { epochs: number; lr: number; sparsity: number }, tap: GammaTap | null): Promise<number | null> {
  const s = r.settings;
  const stepsPerEpoch = Math.ceil(r.train.n / s.batch);
  const start = r.steps;
  let lastGamma = 0;
  const refreshGammas = (caption: string) => {
    const p = tap?.read();
    if (!p) return;
    lastGamma = performance.now();
    void p.then((g) => drawGammas(g, caption, null)).catch(showError);
  };
  const trainer = new Trainer(model, r.train, r.test, {
    epochs: o.epochs,
    batchSize: s.batch,
    testBatchSize: 256,
    lr: o.lr,
    sparsity: o.sparsity,
    seed: s.seed,
    progressIntervalMs: s.progressMs,
    signal: stop.signal,
    onStep: (p: StepProgress) => {
      const step = start + p.epoch * stepsPerEpoch + p.step;
      r.steps = Math.max(r.steps, step);
      r.points.push({ step, phase, split: 'train', loss: p.loss, accuracy: p.accuracy });
      drawCurves(r.points, r.pruneAt);
      status(
        phase === 'fine-tune' ? 'finetuning' : 'training',
        `${phase}: epoch ${p.epoch + 1}/${p.epochs} · step ${p.step}/${p.steps} · loss ${p.loss.toFixed(3)} · accuracy ${pc(p.accuracy)} · ` +
          `${p.imagesPerSec.toFixed(0)} images/s · ${responsiveness()}`,
      );
      if (performance.now() - lastGamma > 1000) refreshGammas(`|γ| of every BatchNorm channel during ${phase}, step ${step}`);
    },
    onEpoch: async (e: EpochResult) => {
      const step = start + (e.epoch + 1) * stepsPerEpoch;
      r.points.push({ step, phase, split: 'test', loss: e.testLoss!, accuracy: e.testAccuracy! });
      drawCurves(r.points, r.pruneAt);
      const g = tap?.read();
      if (g) drawGammas(await g, `|γ| of every BatchNorm channel after ${phase} epoch ${e.epoch + 1}`, null);
      await nextFrame();
    },
  });
  training = true;
  enable();
  try {
    const history = await trainer.fit();
    return history.at(-1)?.testAccuracy ?? null;
  } catch (e) {
    if (stop.signal.aborted) return null;
    throw e;
  } finally {
    training = false;
    trainer.destroy();
  }
}

const train = action(async () => {
  const s = readForm();
  resetRun();
  const cfg = vggCfg(s.depth, s.width);
  const model = models.vgg(ctx, { cfg, depth: s.depth, inChannels: 1, numClasses: 10, seed: s.seed, dataset: 'fashion-mnist' });
  const r: Run = { settings: s, train: head(data.train, s.subset), test: head(data.test, s.test), model, gammas: [], trainedAccuracy: NaN, points: [], steps: 0, pruneAt: null, preview: null, pruned: null };
  run = r;
  status('training', `Sparse training of VGG-${s.depth} (cfg ${JSON.stringify(cfg)}, ${count(model.parameterCount())} parameters): compiling the kernels…`);
  drawCurves(r.points, null);
  const tap = new GammaTap(model);
  try {
    const first = tap.read();
    if (first) drawGammas(await first, '|γ| of every BatchNorm channel at initialisation (all 0.5)', null);
    const acc = await trainPhase(r, model, 'sparse training', { epochs: s.epochs, lr: s.lr, sparsity: s.s }, tap);
    r.trainedAccuracy = acc ?? (await evaluate(model, r.test)).accuracy;
  } finally {
    await tap.destroy();
  }
  r.gammas = await slim.batchNormGammas(model);
  r.pruneAt = r.steps;
  updatePreview();
  status('trained', `Trained: test accuracy ${pc(r.trainedAccuracy)}${stop.signal.aborted ? ' (stopped early)' : ''}. Move the slider to preview a prune. ${responsiveness()}`);
});

function updatePreview(): void {
  const r = run;
  if (!r?.gammas.length) return;
  const input = $('percent') as HTMLInputElement;
  const percent = Number(input.value);
  $('percent-value').textContent = `${Math.round(100 * percent)} %`;
  const p = previewPrune(r.model, r.gammas, percent, INPUT);
  r.preview = p;
  drawGammas(r.gammas, `|γ| of the trained model; red: the threshold of a ${Math.round(100 * percent)} % prune (${p.threshold.toPrecision(3)})`, p.threshold);
  $('preview-summary').textContent =
    `Keeps channels with |γ| > ${p.threshold.toPrecision(4)}: ${p.keptChannels} of ${p.totalChannels} channels, ` +
    `parameters ${count(p.paramsBefore)} → ${count(p.paramsAfter)} (${less(p.paramsBefore, p.paramsAfter)}), ` +
    `FLOPs per image ${mflops(p.flopsBefore)} → ${mflops(p.flopsAfter)} (${less(p.flopsBefore, p.flopsAfter)}).`;
  const box = $('preview');
  box.replaceChildren(layerTable(p.layers, p.layerCosts, 'preview'));
  setData(box, {
    percent,
    threshold: p.threshold,
    cfg: JSON.stringify(p.cfg),
    channels: JSON.stringify(p.layers.map((l) => l.after)),
    keptChannels: p.keptChannels,
    paramsBefore: p.paramsBefore,
    paramsAfter: p.paramsAfter,
    flopsBefore: p.flopsBefore,
    flopsAfter: p.flopsAfter,
  });
  drawChannels(p.layers);
  enable();
}

let channelsDrawn = 0;

/** Draws the channel bars; the chart loads asynchronously, so only the latest call's chart lands. */
function drawChannels(layers: { name: string; before: number; after: number }[]): void {
  const bars = layers.map((l, i) => ({ layer: `conv ${i + 1}`, before: l.before, after: l.after }));
  const ticket = ++channelsDrawn;
  void slim
    .channelBarsPlot(bars, { width: 380, marginLeft: 60 })
    .then((chart) => {
      if (ticket === channelsDrawn) $('preview-chart').replaceChildren(el('figcaption', {}, 'Channels per layer: before (grey) and kept (blue)'), chart);
    })
    .catch(showError);
}

/** One row per conv (with its BatchNorm's channels, parameters of both) and the classifier, then the total. */
function layerTable(layers: { name: string; before: number; after: number; safeguard?: string }[], costs: slim.PruneReport['layerCosts'], what: string): HTMLTableElement {
  const cost = new Map(costs.map((c) => [`${c.kind}:${c.name}`, c]));
  const rows: HTMLTableRowElement[] = [];
  const num = (s: string) => el('td', { class: 'num' }, s);
  let i = 0;
  for (const c of costs) {
    if (c.kind === 'BatchNorm2d') continue;
    let channels = '';
    let paramsBefore = c.paramsBefore;
    let paramsAfter = c.paramsAfter;
    let note = '';
    if (c.kind === 'Conv2d') {
      // VGG: conv feature.j feeds BatchNorm feature.(j+1).
      const bnName = c.name.replace(/\.(\d+)$/, (_, j: string) => `.${Number(j) + 1}`);
      const l = layers.find((x) => x.name === bnName);
      const bn = cost.get(`BatchNorm2d:${bnName}`);
      if (l) channels = change(l.before, l.after, String);
      if (bn) {
        paramsBefore += bn.paramsBefore;
        paramsAfter += bn.paramsAfter;
      }
      note = l?.safeguard ?? '';
      i++;
    }
    rows.push(
      el(
        'tr',
        {},
        el('td', {}, c.kind === 'Conv2d' ? `conv ${i} + BN (${c.name})` : `${c.kind === 'Linear' ? 'classifier' : c.kind} (${c.name})`),
        num(channels),
        num(change(paramsBefore, paramsAfter, count)),
        num(change(c.flopsBefore, c.flopsAfter, mflops)),
        el('td', {}, note),
      ),
    );
  }
  const sum = (f: (c: (typeof costs)[number]) => number) => costs.reduce((s, c) => s + f(c), 0);
  const [pb, pa, fb, fa] = [sum((c) => c.paramsBefore), sum((c) => c.paramsAfter), sum((c) => c.flopsBefore), sum((c) => c.flopsAfter)];
  const kb = layers.reduce((s, l) => s + l.before, 0);
  const ka = layers.reduce((s, l) => s + l.after, 0);
  rows.push(
    el(
      'tr',
      { class: 'total' },
      el('td', {}, 'total'),
      num(`${kb} → ${ka}`),
      num(`${count(pb)} → ${count(pa)} (${less(pb, pa)})`),
      num(`${mflops(fb)} → ${mflops(fa)} (${less(fb, fa)})`),
      el('td', {}, ''),
    ),
  );
  return el(
    'table',
    { 'aria-label': `${what}: channels, parameters and FLOPs per layer` },
    el('thead', {}, el('tr', {}, el('th', {}, 'layer'), el('th', { class: 'num' }, 'channels'), el('th', { class: 'num' }, 'parameters'), el('th', { class: 'num' }, 'FLOPs/image'), el('th', {}, 'safeguard'))),
    el('tbody', {}, ...rows),
  );
}

const prune = action(async () => {
  const r = run;
  if (!r?.preview) throw new Error('prune: train first');
  const preview = r.preview;
  status('pruning', `Pruning ${Math.round(100 * preview.percent)} % of the channels on the GPU…`);
  await nextFrame();
  if (r.pruned) {
    r.pruned.model.destroy();
    r.pruned = null;
  }
  const { model: small, report } = await slim.prune(r.model, preview.percent, { inputSize: INPUT });
  const mismatches = previewMismatches(preview, report);
  status('pruning', 'Pruned: measuring test accuracy and latency…');
  const accuracy = (await evaluate(small, r.test)).accuracy;
  const [original, pruned] = await latencies(ctx, [r.model, small], r.settings.latBatch, r.settings.latRuns);
  r.pruned = { model: small, report, accuracy, finetuned: null, latency: { original: original!, pruned: pruned!, batch: r.settings.latBatch } };
  $('pruned-summary').replaceChildren(
    `slim.prune: ${report.totalChannels - report.prunedChannels} of ${report.totalChannels} channels kept, cfg ${JSON.stringify(report.cfg)}, `,
    `${count(report.paramsAfter)} parameters, ${mflops(report.flopsAfter)} FLOPs per image; test accuracy before fine-tuning ${pc(accuracy)}. `,
    mismatches.length
      ? el('span', { class: 'bad' }, `The report differs from the preview: ${mismatches.join('; ')}`)
      : el('span', { class: 'ok' }, '✓ The report equals the preview, layer by layer.'),
  );
  const box = $('pruned');
  box.replaceChildren(layerTable(report.layers, report.layerCosts, 'pruned model'));
  setData(box, {
    percent: report.percent,
    threshold: report.threshold,
    cfg: JSON.stringify(report.cfg),
    channels: JSON.stringify(report.layers.map((l) => l.after)),
    keptChannels: report.totalChannels - report.prunedChannels,
    paramsBefore: report.paramsBefore,
    paramsAfter: report.paramsAfter,
    flopsBefore: report.flopsBefore,
    flopsAfter: report.flopsAfter,
    matches: mismatches.length === 0,
    mismatches: JSON.stringify(mismatches),
  });
  drawCompare(r);
  status('pruned', `Pruned to ${pc(report.paramsAfter / report.paramsBefore)} of the parameters; test accuracy ${pc(accuracy)} before fine-tuning. ${responsiveness()}`);
});

const finetune = action(async () => {
  const r = run;
  if (!r?.pruned) throw new Error('fine-tune: prune first');
  const p = r.pruned;
  const s = r.settings;
  status('finetuning', 'Fine-tuning the pruned network: compiling…');
  const acc = await trainPhase(r, p.model, 'fine-tune', { epochs: s.ftEpochs, lr: s.ftLr, sparsity: 0 }, null);
  p.finetuned = acc ?? (await evaluate(p.model, r.test)).accuracy;
  drawCompare(r);
  status('done', `Fine-tuned: test accuracy ${pc(p.finetuned)} (trained ${pc(r.trainedAccuracy)}, pruned ${pc(p.accuracy)}). ${responsiveness()}`);
});

function drawCompare(r: Run): void {
  const p = r.pruned;
  if (!p) return;
  const rep = p.report;
  const lat = p.latency;
  const num = (s: string) => el('td', { class: 'num' }, s);
  const row = (name: string, acc: number | null, params: number, flops: number, ms: number) =>
    el('tr', {}, el('td', {}, name), num(acc === null ? '–' : pc(acc)), num(count(params)), num(mflops(flops)), num(`${ms.toFixed(1)} ms`), num(`${(lat.original / ms).toFixed(2)}×`));
  const box = $('compare');
  box.replaceChildren(
    el(
      'table',
      { 'aria-label': 'accuracy and latency' },
      el(
        'thead',
        {},
        el('tr', {}, ...['model', 'test accuracy', 'parameters', 'FLOPs/image', `latency (batch ${lat.batch})`, 'speed-up'].map((h, i) => el('th', i ? { class: 'num' } : {}, h))),
      ),
      el(
        'tbody',
        {},
        row('trained (sparse)', r.trainedAccuracy, rep.paramsBefore, rep.flopsBefore, lat.original),
        row('pruned', p.accuracy, rep.paramsAfter, rep.flopsAfter, lat.pruned),
        row('pruned + fine-tuned', p.finetuned, rep.paramsAfter, rep.flopsAfter, lat.pruned),
      ),
    ),
    el('p', { class: 'muted' }, `Latency: median of ${r.settings.latRuns} eval-mode forwards of a batch of ${lat.batch}, each submitted and awaited (fine-tuning does not change the network's shape).`),
  );
  setData(box, {
    accTrained: r.trainedAccuracy,
    accPruned: p.accuracy,
    accFinetuned: p.finetuned ?? '',
    latencyOriginal: lat.original,
    latencyPruned: lat.pruned,
    latencyBatch: lat.batch,
  });
}

function download(bytes: Uint8Array, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function fileStem(r: Run): string {
  const p = r.pruned!;
  return `vgg${r.settings.depth}-fashion-mnist-pruned${Math.round(100 * p.report.percent)}${p.finetuned !== null ? '-finetuned' : ''}`;
}

const downloadSafetensors = action(async () => {
  const r = run;
  if (!r?.pruned) throw new Error('download: prune first');
  download(await saveModel(r.pruned.model), `${fileStem(r)}.safetensors`, 'application/octet-stream');
});

const downloadOnnx = action(async () => {
  const r = run;
  if (!r?.pruned) throw new Error('download: prune first');
  download(await exportOnnx(r.pruned.model, { inputSize: INPUT }), `${fileStem(r)}.onnx`, 'application/octet-stream');
});

function buildForm(): void {
  const box = $('settings');
  for (const [key, label] of FORM) {
    box.append(el('label', {}, label, el('input', { id: `opt-${key}`, type: 'number', value: String(settings[key]), step: 'any', min: '0' })));
  }
  ($('percent') as HTMLInputElement).value = String(settings.percent);
}

async function main(): Promise<void> {
  buildForm();
  status('loading', 'Looking for a WebGPU adapter…');
  try {
    ctx = await init();
  } catch (e) {
    // NoAdapterError: no navigator.gpu, or no adapter; anything else here is a device request that failed.
    $('no-webgpu-detail').textContent = e instanceof NoAdapterError ? e.message : `Requesting a WebGPU device failed: ${e instanceof Error ? e.message : String(e)}`;
    $('no-webgpu').hidden = false;
    for (const id of buttons) ($(id) as HTMLButtonElement).disabled = true;
    status('no-webgpu', 'No WebGPU: nothing can run on this browser.');
    return;
  }
  void ctx.device.lost.then((info) => {
    if (info.reason !== 'destroyed') showError(new Error(`the GPU device was lost: ${info.message || info.reason}`));
  });
  const a = ctx.adapter;
  status('loading', `WebGPU adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'unnamed'}. Loading the Fashion-MNIST subset…`);
  data = await loadData();
  $('data-info').textContent =
    `Data: the Fashion-MNIST subset that ships with netslim (${count(data.train.n)} training and ${count(data.test.n)} test images of 10 classes, ` +
    `28×28 grey padded to 32×32). Device: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'unnamed adapter'}.`;
  $('train').addEventListener('click', train);
  $('stop').addEventListener('click', () => {
    stop.abort();
    ($('stop') as HTMLButtonElement).disabled = true;
  });
  $('percent').addEventListener('input', () => {
    try {
      updatePreview();
    } catch (e) {
      showError(e);
    }
  });
  $('prune').addEventListener('click', prune);
  $('finetune').addEventListener('click', finetune);
  $('download-safetensors').addEventListener('click', downloadSafetensors);
  $('download-onnx').addEventListener('click', downloadOnnx);
  setupOnnxImport(ctx, download);
  enable();
  status('ready', 'Ready: press Train.');
}

window.addEventListener('unhandledrejection', (e) => showError(e.reason));
main().catch(showError);
