/**
 * The training loop of the reference `main.py` on the GPU: shuffled batches, augmentation on the
 * GPU, forward, cross-entropy, backward, SGD with the sparsity term — one submit per step and no
 * read-back but the loss and accuracy history when progress is reported. The learning rate drops
 * ×0.1 at the start of the epochs equal to 0.5·E and 0.75·E (as the reference compares them).
 */
import type { Context } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { ShapeError, TrainingDivergedError } from '../errors.js';
import { normalization, type Dataset } from '../data/datasets.js';
import { augmentBatch, uploadImages } from '../ops/augment.js';
import { channelSelectForward } from '../ops/channel.js';
import { softmaxCrossEntropy } from '../ops/cross_entropy.js';
import type { Model } from '../nn/model.js';
import { Dropout } from '../nn/layers.js';
import { SGD } from './sgd.js';
import { Mulberry32 } from '../util/random.js';
import { GpuWaiter } from '../gpu/wait.js';

/**
 * Options of a {@link Trainer} run (defaults as the reference `main.py`: batch 64, lr 0.1, momentum 0.9, weight decay 1e-4).
 */
export interface TrainOptions {
  epochs: number;
  batchSize?: number;
  testBatchSize?: number;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  /** s of the L1 penalty on BatchNorm γ; 0 trains without sparsity. */
  sparsity?: number;
  /**
   * s per epoch instead of one `sparsity` for the whole run (e.g. 0 for warm-up epochs, then a
   * rate): called with the epoch index (from 0) before it starts.
   */
  sparsitySchedule?: (epoch: number) => number;
  /**
   * How the learning rate falls: `'step'` (default, the reference's ×0.1 at 50 % and 75 % of the
   * epochs) or `'cosine'` (lr·(1 + cos(π·t))/2 before every step, t the fraction of the run's steps
   * done: it falls to 0 at the end of the last epoch).
   */
  lrSchedule?: 'step' | 'cosine';
  /** Seeds shuffling and augmentation (default 1). */
  seed?: number;
  /**
   * Pad 4 + random crop + horizontal flip on training batches. Default: on for image datasets
   * (uint8 pixels), off for tensor datasets (used as given).
   */
  augment?: boolean;
  /** Per-channel mean/std of [0, 1] pixels; default: the dataset's known values, else none. */
  normalize?: { mean: readonly number[]; std: readonly number[] } | null;
  /** Minimum time between progress read-backs (default 500 ms). */
  progressIntervalMs?: number;
  /** Called with the progress at most every `progressIntervalMs`, and after the last step of an epoch. */
  onStep?: (p: StepProgress) => void;
  /** Called after each epoch of `fit()` (save checkpoints here); awaited. */
  onEpoch?: (e: EpochResult) => void | Promise<void>;
  /**
   * Stops training between two steps (or before an evaluation): `fit()`, `trainEpoch()` and
   * `evaluate()` then reject with the signal's reason (an `AbortError` unless one was given). The
   * model keeps the weights of the last finished step and the trainer stays usable; `state()`
   * names the unfinished epoch, which a resumed run starts over.
   */
  signal?: AbortSignal;
}

/** Progress within an epoch, as `onStep` receives it. */
export interface StepProgress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  /** Mean loss and accuracy of the epoch so far (read back at most every progressIntervalMs). */
  loss: number;
  accuracy: number;
  imagesPerSec: number;
  etaSec: number;
  lr: number;
}

/** One epoch of `fit()`: learning rate, train and test loss and accuracy, best test accuracy so far. */
export interface EpochResult {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number | null;
  testAccuracy: number | null;
  best: number;
  isBest: boolean;
  imagesPerSec: number;
  seconds: number;
}

/** What `--resume` needs besides the weights. */
export interface TrainingState {
  /** The next epoch to run. */
  epoch: number;
  lr: number;
  best: number;
  optimizerSteps: number;
  /** Shuffling generator state. */
  rng: number;
  seed: number;
  /** The next mask seed of every `Dropout` layer, by layer name (empty for a model without dropout). */
  dropoutSeeds: Record<string, number>;
}

/** A dataset resident on the GPU, and the batch buffers for one batch size. */
class DeviceData {
  readonly pixels: Tensor;
  readonly isImages: boolean;
  readonly perSample: number;
  #batches = new Map<number, { indices: Tensor; labels: Tensor; x: Tensor }>();

  constructor(
    readonly ctx: Context,
    readonly data: Dataset,
  ) {
    this.isImages = data.images instanceof Uint8Array;
    this.perSample = data.channels * data.height * data.width;
    this.pixels = this.isImages
      ? uploadImages(ctx, data.images as Uint8Array, `${data.name} images`)
      : ctx.tensor([1, data.n, this.perSample, 1], data.images as Float32Array, 'f32', `${data.name} tensors`);
  }

  batch(size: number): { indices: Tensor; labels: Tensor; x: Tensor } {
    let b = this.#batches.get(size);
    if (!b) {
      const d = this.data;
      b = {
        indices: this.ctx.tensor([size], undefined, 'u32', 'batch indices'),
        labels: this.ctx.tensor([size], undefined, 'i32', 'batch labels'),
        x: this.ctx.tensor([size, d.channels, d.height, d.width], undefined, 'f32', 'batch'),
      };
      this.#batches.set(size, b);
    }
    return b;
  }

  /** Records the upload of a batch's indices and labels and the building of its input tensor. */
  load(idx: Uint32Array, augment: { pad: number; crop: boolean; flip: boolean; seed: number; step: number }, norm: { mean: readonly number[]; std: readonly number[] } | null): { x: Tensor; labels: Tensor } {
    const b = this.batch(idx.length);
    const q = this.ctx.device.queue;
    q.writeBuffer(b.indices.buffer, 0, idx);
    const labels = new Int32Array(idx.length);
    for (let i = 0; i < idx.length; i++) labels[i] = this.data.labels[idx[i]!]!;
    q.writeBuffer(b.labels.buffer, 0, labels);
    if (this.isImages) {
      const d = this.data;
      const c = d.channels;
      augmentBatch(this.ctx, this.pixels, b.indices, {
        channels: c,
        height: d.height,
        width: d.width,
        ...augment,
        mean: norm?.mean ?? new Array(c).fill(0),
        std: norm?.std ?? new Array(c).fill(1),
        samples: d.n,
      }, b.x);
    } else {
      // Tensor datasets: gather whole samples (rows of [1, N, C·H·W, 1]) as channels.
      channelSelectForward(this.ctx, this.pixels, b.indices, b.x.reshape([1, idx.length, this.perSample, 1]));
    }
    return { x: b.x, labels: b.labels };
  }

  destroy(): void {
    this.pixels.destroy();
    for (const b of this.#batches.values()) for (const t of Object.values(b)) t.destroy();
    this.#batches.clear();
  }
}

async function evaluateOn(
  model: Model, dev: DeviceData, batchSize: number, norm: { mean: readonly number[]; std: readonly number[] } | null, signal?: AbortSignal,
): Promise<{ loss: number; accuracy: number }> {
  const ctx = model.ctx;
  const d = dev.data;
  const steps = Math.ceil(d.n / batchSize);
  const loss = ctx.tensor([1], undefined, 'f32', 'eval loss');
  const correct = ctx.tensor([1], undefined, 'u32', 'eval correct');
  const lossHist = ctx.tensor([steps], undefined, 'f32', 'eval loss history');
  const correctHist = ctx.tensor([steps], undefined, 'u32', 'eval correct history');
  const waiter = new GpuWaiter(ctx);
  try {
    for (let s = 0; s < steps; s++) {
      signal?.throwIfAborted();
      const idx = new Uint32Array(Math.min(batchSize, d.n - s * batchSize));
      for (let i = 0; i < idx.length; i++) idx[i] = s * batchSize + i;
      const { x, labels } = dev.load(idx, { pad: 0, crop: false, flip: false, seed: 0, step: 0 }, norm);
      const logits = model.forward(x, false);
      softmaxCrossEntropy(ctx, logits, labels, { loss, correct });
      ctx.copy(loss, lossHist, 4, 0, 4 * s);
      ctx.copy(correct, correctHist, 4, 0, 4 * s);
      ctx.flush();
      await waiter.wait(idx.length);
    }
    const l = await ctx.readF32(lossHist);
    const c = (await ctx.read(correctHist)) as Uint32Array;
    let ls = 0;
    let cs = 0;
    for (let s = 0; s < steps; s++) {
      ls += l[s]! * Math.min(batchSize, d.n - s * batchSize);
      cs += c[s]!;
    }
    return { loss: ls / d.n, accuracy: cs / d.n };
  } finally {
    ctx.flush();
    for (const t of [loss, correct, lossHist, correctHist]) t.destroy();
  }
}

/**
 * Test loss and accuracy of a model on a dataset (running statistics, no augmentation;
 * image datasets normalised with their known mean/std unless `normalize` says otherwise).
 * `signal` stops it between two batches (the promise rejects with the signal's reason).
 *
 * @example
 * ```ts
 * import { init, models, datasetFromTensors, evaluate } from 'netslim/node';
 *
 * const ctx = await init();
 * const data = datasetFromTensors(Float32Array.from({ length: 8 * 64 }, Math.random), [8, 1, 8, 8], new Int32Array([0, 1, 0, 1, 0, 1, 0, 1]));
 * const model = models.vgg(ctx, { cfg: [4, 'M', 8, 'M', 8], inChannels: 1, numClasses: 2 });
 * const { loss, accuracy } = await evaluate(model, data, { batchSize: 4 });
 * console.log(loss, accuracy); // accuracy in [0, 1]
 * ctx.destroy();
 * ```
 */
export async function evaluate(
  model: Model,
  data: Dataset,
  options: { batchSize?: number; normalize?: { mean: readonly number[]; std: readonly number[] } | null; signal?: AbortSignal } = {},
): Promise<{ loss: number; accuracy: number }> {
  options.signal?.throwIfAborted();
  const dev = new DeviceData(model.ctx, data);
  try {
    const norm = options.normalize !== undefined ? options.normalize : data.images instanceof Uint8Array ? normalization(data.name) : null;
    return await evaluateOn(model, dev, options.batchSize ?? 256, norm, options.signal);
  } finally {
    dev.destroy();
  }
}

/** The cosine schedule's lr before step `done` of `total`: base·(1 + cos(π·done/total))/2, 0 after the last step. */
function cosineLr(base: number, done: number, total: number): number {
  return (base * (1 + Math.cos((Math.PI * done) / total))) / 2;
}

/**
 * The reference `main.py` training loop on the GPU, for one model and dataset: `fit()` runs the
 * epochs (the learning rate drops ×0.1 at 50 % and 75 %), `trainEpoch()` and `evaluate()` one at a time.
 *
 * @example
 * ```ts
 * import { init, models, datasetFromTensors, Trainer } from 'netslim/node';
 *
 * const ctx = await init();
 * const n = 64; // 8×8 images: class 0 has the top half lit, class 1 the bottom half
 * const x = Float32Array.from({ length: n * 64 }, (_, i) => Number((i % 64 < 32) === ((i >> 6) % 2 === 0)));
 * const data = datasetFromTensors(x, [n, 1, 8, 8], Int32Array.from({ length: n }, (_, i) => i % 2));
 * const model = models.vgg(ctx, { cfg: [4, 'M', 8, 'M', 8], inChannels: 1, numClasses: 2 });
 * const trainer = new Trainer(model, data, data, { epochs: 4, batchSize: 16, lr: 0.1, sparsity: 1e-4 });
 * for (const e of await trainer.fit()) console.log(e.epoch, e.lr, e.trainLoss.toFixed(3), e.testAccuracy);
 * // 0 0.1 0.68 0.5 … 3 0.001 0.50 1 (lr ×0.1 at epochs 2 and 3)
 * trainer.destroy();
 * ctx.destroy();
 * ```
 */
export class Trainer {
  readonly optimizer: SGD;
  readonly epochs: number;
  readonly batchSize: number;
  readonly testBatchSize: number;
  readonly seed: number;
  readonly augment: boolean;
  readonly normalize: { mean: readonly number[]; std: readonly number[] } | null;
  epoch = 0;
  best = 0;
  #rng: Mulberry32;
  #train: DeviceData;
  #test: DeviceData | null;
  #loss: Tensor;
  #correct: Tensor;
  /** Waits for each submitted step, sleeping through most of it (see GpuWaiter). */
  #waiter: GpuWaiter;

  constructor(
    readonly model: Model,
    readonly train: Dataset,
    readonly test: Dataset | null,
    readonly options: TrainOptions,
  ) {
    const ctx = model.ctx;
    this.#waiter = new GpuWaiter(ctx);
    if (!(Number.isInteger(options.epochs) && options.epochs >= 1)) throw new ShapeError(`train: epochs ${options.epochs} must be a positive integer`);
    this.epochs = options.epochs;
    this.batchSize = options.batchSize ?? 64;
    this.testBatchSize = options.testBatchSize ?? 256;
    for (const [k, v] of [['batch size', this.batchSize], ['test batch size', this.testBatchSize]] as const) {
      if (!(Number.isInteger(v) && v >= 1)) throw new ShapeError(`train: ${k} ${v} must be a positive integer`);
    }
    this.seed = options.seed ?? 1;
    const images = train.images instanceof Uint8Array;
    this.augment = options.augment ?? images;
    this.normalize = options.normalize !== undefined ? options.normalize : images ? normalization(train.name) : null;
    for (const d of [train, test]) {
      if (!d) continue;
      if (d.channels !== model.meta.inChannels) throw new ShapeError(`train: ${d.name} has ${d.channels} channels, the ${model.meta.arch} model takes ${model.meta.inChannels}`);
      if (d.classes > model.meta.numClasses) throw new ShapeError(`train: ${d.name} has ${d.classes} classes, the model outputs ${model.meta.numClasses}`);
    }
    if (options.lrSchedule !== undefined && options.lrSchedule !== 'step' && options.lrSchedule !== 'cosine') throw new ShapeError(`train: lrSchedule ${String(options.lrSchedule)} is not 'step' or 'cosine'`);
    this.optimizer = new SGD(model, {
      lr: options.lr ?? 0.1,
      momentum: options.momentum ?? 0.9,
      weightDecay: options.weightDecay ?? 1e-4,
      sparsity: options.sparsity ?? 0,
    });
    this.#rng = new Mulberry32(this.seed);
    this.#train = new DeviceData(ctx, train);
    this.#test = test ? new DeviceData(ctx, test) : null;
    this.#loss = ctx.tensor([1], undefined, 'f32', 'loss');
    this.#correct = ctx.tensor([1], undefined, 'u32', 'correct');
  }

  /** The model's context. */
  get ctx(): Context {
    return this.model.ctx;
  }

  /** Everything `--resume` needs besides the weights and momentum buffers. */
  state(): TrainingState {
    const dropoutSeeds: Record<string, number> = {};
    for (const l of this.model.graph.layers()) if (l instanceof Dropout) dropoutSeeds[l.name] = l.seed;
    return { epoch: this.epoch, lr: this.optimizer.lr, best: this.best, optimizerSteps: this.optimizer.steps, rng: this.#rng.state, seed: this.seed, dropoutSeeds };
  }

  /**
   * Continues from `state()`: epoch, learning rate, best accuracy, optimizer steps, shuffling state
   * and the dropout layers' mask seeds. Throws naming a dropout seed that fits no `Dropout` layer of
   * the model, before changing anything.
   */
  restore(s: TrainingState): void {
    const dropouts = new Map<string, Dropout>();
    for (const l of this.model.graph.layers()) if (l instanceof Dropout) dropouts.set(l.name, l);
    for (const name of Object.keys(s.dropoutSeeds)) {
      if (!dropouts.has(name)) throw new Error(`training state: dropout seed for ${JSON.stringify(name)}, which is no Dropout layer of this model`);
    }
    for (const [name, seed] of Object.entries(s.dropoutSeeds)) dropouts.get(name)!.seed = seed >>> 0;
    this.epoch = s.epoch;
    this.optimizer.lr = s.lr;
    this.best = s.best;
    this.optimizer.steps = s.optimizerSteps;
    this.#rng.state = s.rng >>> 0;
  }

  /**
   * One epoch of training; returns the epoch's mean loss, accuracy and throughput. Throws a
   * TrainingDivergedError naming the first step whose loss is NaN or ±Inf (checked whenever the
   * losses are read: at each progress report and at the end of the epoch).
   */
  async trainEpoch(onStep?: (p: StepProgress) => void): Promise<{ loss: number; accuracy: number; imagesPerSec: number; seconds: number }> {
    const ctx = this.ctx;
    const n = this.train.n;
    const B = this.batchSize;
    const steps = Math.ceil(n / B);
    const perm = this.#rng.permutation(n);
    const lossHist = ctx.tensor([steps], undefined, 'f32', 'loss history');
    const correctHist = ctx.tensor([steps], undefined, 'u32', 'correct history');
    const interval = this.options.progressIntervalMs ?? 500;
    const t0 = performance.now();
    let lastReport = t0;
    let seen = 0;
    let summary: { loss: number; accuracy: number };
    const readSummary = async (upto: number): Promise<{ loss: number; accuracy: number }> => {
      const l = await ctx.readF32(lossHist);
      const c = (await ctx.read(correctHist)) as Uint32Array;
      let ls = 0;
      let cs = 0;
      let ns = 0;
      for (let s = 0; s < upto; s++) {
        if (!Number.isFinite(l[s]!)) throw new TrainingDivergedError(this.epoch, s + 1, l[s]!);
        const bs = Math.min(B, n - s * B);
        ls += l[s]! * bs;
        cs += c[s]!;
        ns += bs;
      }
      return { loss: ls / ns, accuracy: cs / ns };
    };
    try {
      for (let s = 0; s < steps; s++) {
        this.options.signal?.throwIfAborted();
        const idx = perm.subarray(s * B, Math.min(n, (s + 1) * B));
        const { x, labels } = this.#train.load(
          idx,
          { pad: this.augment ? 4 : 0, crop: this.augment, flip: this.augment, seed: this.seed, step: this.optimizer.steps >>> 0 },
          this.normalize,
        );
        if (this.options.lrSchedule === 'cosine') this.optimizer.lr = cosineLr(this.options.lr ?? 0.1, this.epoch * steps + s, this.epochs * steps);
        const logits = this.model.forward(x, true);
        softmaxCrossEntropy(ctx, logits, labels, { dlogits: this.model.outputGrad(x), loss: this.#loss, correct: this.#correct });
        this.model.backward(x);
        this.optimizer.step();
        ctx.copy(this.#loss, lossHist, 4, 0, 4 * s);
        ctx.copy(this.#correct, correctHist, 4, 0, 4 * s);
        ctx.flush();
        await this.#waiter.wait(idx.length);
        seen += idx.length;
        const now = performance.now();
        if (onStep && (now - lastReport >= interval || s === steps - 1)) {
          lastReport = now;
          summary = await readSummary(s + 1);
          const ips = (seen / (now - t0)) * 1000;
          onStep({
            epoch: this.epoch,
            epochs: this.epochs,
            step: s + 1,
            steps,
            loss: summary.loss,
            accuracy: summary.accuracy,
            imagesPerSec: ips,
            etaSec: (n - seen) / ips,
            lr: this.optimizer.lr,
          });
        }
      }
      summary = await readSummary(steps);
    } finally {
      ctx.flush();
      lossHist.destroy();
      correctHist.destroy();
    }
    const seconds = (performance.now() - t0) / 1000;
    return { ...summary, imagesPerSec: n / seconds, seconds };
  }

  /** Mean loss and accuracy on `data` (default: the test split) with running statistics. */
  async evaluate(data?: Dataset): Promise<{ loss: number; accuracy: number }> {
    this.options.signal?.throwIfAborted();
    const dev = data ? new DeviceData(this.ctx, data) : this.#test;
    if (!dev) throw new ShapeError('evaluate: no test split');
    try {
      return await evaluateOn(this.model, dev, this.testBatchSize, this.normalize, this.options.signal);
    } finally {
      if (data) dev.destroy();
    }
  }

  /** Runs the remaining epochs; `onEpoch` (e.g. checkpoint saving) runs after each. */
  async fit(): Promise<EpochResult[]> {
    const results: EpochResult[] = [];
    for (; this.epoch < this.epochs; ) {
      const e = this.epoch;
      // Step schedule: the reference compares the integer epoch with E·0.5 and E·0.75 (an odd E
      // never drops at 50 %). The cosine schedule sets the lr before every step (trainEpoch).
      if (this.options.lrSchedule !== 'cosine' && (e === this.epochs * 0.5 || e === this.epochs * 0.75)) this.optimizer.lr *= 0.1;
      if (this.options.sparsitySchedule) {
        const s = this.options.sparsitySchedule(e);
        if (!(Number.isFinite(s) && s >= 0)) throw new ShapeError(`train: sparsitySchedule(${e}) gave ${s}, not a rate ≥ 0`);
        this.optimizer.sparsity = s;
      }
      const tr = await this.trainEpoch(this.options.onStep);
      const te = this.#test ? await this.evaluate() : null;
      const acc = te?.accuracy ?? null;
      const isBest = acc !== null && acc > this.best;
      if (acc !== null) this.best = Math.max(this.best, acc);
      this.epoch = e + 1;
      const r: EpochResult = {
        epoch: e,
        lr: this.optimizer.lr,
        trainLoss: tr.loss,
        trainAccuracy: tr.accuracy,
        testLoss: te?.loss ?? null,
        testAccuracy: acc,
        best: this.best,
        isBest,
        imagesPerSec: tr.imagesPerSec,
        seconds: tr.seconds,
      };
      results.push(r);
      await this.options.onEpoch?.(r);
    }
    return results;
  }

  /** Releases the dataset copies and batch buffers (the model stays). */
  destroy(): void {
    this.ctx.flush();
    this.#train.destroy();
    this.#test?.destroy();
    this.#loss.destroy();
    this.#correct.destroy();
  }
}
