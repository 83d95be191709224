// The training loop on small synthetic data: it learns, the learning rate drops at 50 % and 75 %
// of the epochs exactly as the reference compares them, image datasets go through the GPU
// augmentation, and evaluation uses running statistics.
import { describe, expect, it } from 'vitest';
import { datasetFromTensors, type Dataset } from '../src/data/datasets.js';
import { initialize, vgg } from '../src/nn/models.js';
import { Graph } from '../src/nn/graph.js';
import { Model } from '../src/nn/model.js';
import { BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, ReLU } from '../src/nn/layers.js';
import { loadModel, loadTrainingState, saveModel, saveTrainingState } from '../src/io/checkpoint.js';
import { Trainer, evaluate } from '../src/train/trainer.js';
import { TrainingDivergedError } from '../src/errors.js';
import { useContext } from './util/gpu.js';
import { rng } from './util/random.js';

const getCtx = useContext();

/** Two classes told apart by the mean brightness of the top half vs the bottom half. */
function halves(n: number, seed: number, asBytes: boolean): Dataset {
  const r = rng(seed);
  const hw = 8;
  const x = new Float32Array(n * hw * hw);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    for (let p = 0; p < hw * hw; p++) {
      const top = p < (hw * hw) / 2;
      x[i * hw * hw + p] = (top === (y[i] === 0) ? 0.9 : 0.1) + 0.1 * (r() - 0.5);
    }
  }
  const d = datasetFromTensors(x, [n, 1, hw, hw], y, { classes: 2, name: 'halves' });
  return asBytes ? { ...d, images: Uint8Array.from(x, (v) => Math.round(v * 255)), name: 'halves-u8' } : d;
}

describe('trainer', () => {
  it('learns a separable task, drops the lr at 50 % and 75 % of the epochs, and evaluates', async () => {
    const ctx = getCtx();
    const model = vgg(ctx, { cfg: [4, 'M', 8, 'M', 8], inChannels: 1, numClasses: 2, seed: 3 });
    const seen: number[] = [];
    const trainer = new Trainer(model, halves(128, 1, false), halves(40, 2, false), {
      epochs: 4,
      batchSize: 16,
      testBatchSize: 32,
      lr: 0.1,
      sparsity: 1e-4,
      progressIntervalMs: 0,
      onStep: (p) => seen.push(p.step),
    });
    const results = await trainer.fit();
    expect(results.map((r) => r.lr)).toEqual([0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1 * 0.1]);
    expect(results[3]!.testAccuracy).toBeGreaterThan(0.9);
    expect(results[3]!.trainLoss).toBeLessThan(results[0]!.trainLoss);
    expect(seen.slice(0, 9)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 1]); // 128 / 16 steps, reported each step
    const ev = await trainer.evaluate();
    expect(ev.accuracy).toBe(results[3]!.testAccuracy);
    trainer.destroy();
    model.destroy();
  });

  it('an AbortSignal stops training between two steps and leaves the trainer and model usable', async () => {
    const ctx = getCtx();
    const model = vgg(ctx, { cfg: [4, 'M', 8, 'M', 8], inChannels: 1, numClasses: 2, seed: 5 });
    const abort = new AbortController();
    const reason = new Error('stopped by the user');
    const epochs: number[] = [];
    const trainer = new Trainer(model, halves(64, 6, false), halves(16, 7, false), {
      epochs: 3,
      batchSize: 8,
      lr: 0.1,
      progressIntervalMs: 0,
      signal: abort.signal,
      onStep: (p) => {
        if (p.epoch === 1 && p.step === 3) abort.abort(reason);
      },
      onEpoch: (e) => {
        epochs.push(e.epoch);
      },
    });
    await expect(trainer.fit()).rejects.toBe(reason);
    // epoch 0 finished (8 steps) and 3 steps of epoch 1; the unfinished epoch is the one to resume
    expect(epochs).toEqual([0]);
    expect(trainer.optimizer.steps).toBe(8 + 3);
    expect(trainer.state().epoch).toBe(1);
    await expect(trainer.evaluate()).rejects.toBe(reason);
    await expect(evaluate(model, halves(16, 7, false), { signal: abort.signal })).rejects.toBe(reason);
    // the model still runs, and a new trainer without the signal carries on from the weights
    const x = ctx.tensor([2, 1, 8, 8], new Float32Array(128).fill(0.5));
    expect((await ctx.readF32(model.forward(x, false))).every(Number.isFinite)).toBe(true);
    x.destroy();
    const again = new Trainer(model, halves(64, 6, false), null, { epochs: 1, batchSize: 8, lr: 0.1 });
    expect((await again.fit()).length).toBe(1);
    again.destroy();
    trainer.destroy();
    model.destroy();
  });

  it('an odd number of epochs never drops at 50 %', async () => {
    const ctx = getCtx();
    const model = vgg(ctx, { cfg: [2, 'M', 2, 'M', 2], inChannels: 1, numClasses: 2 });
    const trainer = new Trainer(model, halves(8, 3, false), null, { epochs: 3, batchSize: 8, lr: 1 });
    const results = await trainer.fit();
    // 3·0.5 = 1.5 and 3·0.75 = 2.25 are never integers.
    expect(results.map((r) => r.lr)).toEqual([1, 1, 1]);
    expect(results[0]!.testAccuracy).toBeNull();
    trainer.destroy();
    model.destroy();
  });

  it("lrSchedule 'cosine' sets lr·(1 + cos(π·t))/2 before every step, t the fraction of the run's steps done", async () => {
    const ctx = getCtx();
    const model = vgg(ctx, { cfg: [2, 'M', 2, 'M', 2], inChannels: 1, numClasses: 2 });
    const lrs: number[] = [];
    // 20 images in batches of 8: 3 steps an epoch (the last one short), 6 in all
    const trainer = new Trainer(model, halves(20, 4, false), null, { epochs: 2, batchSize: 8, lr: 0.2, lrSchedule: 'cosine', progressIntervalMs: 0, onStep: (p) => lrs.push(p.lr) });
    const results = await trainer.fit();
    const want = [0, 1, 2, 3, 4, 5].map((k) => 0.1 * (1 + Math.cos((Math.PI * k) / 6)));
    expect(lrs.length).toBe(6);
    lrs.forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 12));
    expect(results.map((r) => r.lr)).toEqual([lrs[2], lrs[5]]); // an epoch reports its last step's lr
    trainer.destroy();
    model.destroy();
  });

  it('trains on uint8 images through the GPU augmentation', async () => {
    const ctx = getCtx();
    const model = vgg(ctx, { cfg: [4, 'M', 8, 'M', 8], inChannels: 1, numClasses: 2, seed: 5 });
    const trainer = new Trainer(model, halves(128, 4, true), halves(32, 5, true), { epochs: 4, batchSize: 16, lr: 0.1, augment: true, normalize: { mean: [0.5], std: [0.4] } });
    const results = await trainer.fit();
    expect(results[3]!.testAccuracy).toBeGreaterThan(0.9);
    trainer.destroy();
    model.destroy();
  });

  it('a resumed run redraws the same dropout masks: the training state carries every Dropout seed', async () => {
    const ctx = getCtx();
    const make = () => {
      const g = new Graph(1);
      g.chain(
        g.input,
        new Conv2d('conv', { inChannels: 1, outChannels: 4, kernel: 3, padding: 1 }),
        new BatchNorm2d('bn', 4),
        new ReLU(''),
        new GlobalAvgPool2d(''),
        new Flatten(''),
        new Dropout('drop', 0.5, 11),
        new Linear('fc', 4, 2),
      );
      const m = new Model(ctx, g, { arch: 'custom', numClasses: 2, inChannels: 1 });
      initialize(m, 4);
      return m;
    };
    const opts = { epochs: 2, batchSize: 8, lr: 0.1 };
    const straight = new Trainer(make(), halves(32, 7, false), null, opts);
    await straight.fit();
    const first = new Trainer(make(), halves(32, 7, false), null, opts);
    await first.trainEpoch();
    first.epoch += 1;
    const weights = await saveModel(first.model);
    const state = await saveTrainingState(first);
    const seeds = first.state().dropoutSeeds;
    expect(Object.keys(seeds)).toEqual(['drop']);
    expect(seeds.drop, 'four training forwards advanced the seed').not.toBe(11);
    const resumed = new Trainer(loadModel(ctx, weights), halves(32, 7, false), null, opts);
    expect((resumed.model.graph.layers().find((l) => l.name === 'drop') as Dropout).seed, 'a loaded model starts from the default seed').not.toBe(seeds.drop);
    loadTrainingState(resumed, state);
    await resumed.fit();
    const a = await saveModel(straight.model);
    const b = await saveModel(resumed.model);
    expect(a.length).toBe(b.length);
    expect(a.findIndex((v, i) => v !== b[i]), 'resumed weights equal the straight run, bit for bit (first differing byte)').toBe(-1);
    // A state whose seeds name a layer the model lacks is refused before anything changes.
    const other = new Trainer(vgg(ctx, { cfg: [2, 'M', 2, 'M', 2], inChannels: 1, numClasses: 2 }), halves(8, 3, false), null, opts);
    expect(() => other.restore({ ...first.state(), epoch: 5 })).toThrow(/dropout seed for "drop", which is no Dropout layer/);
    expect(other.epoch).toBe(0);
    for (const t of [straight, first, resumed, other]) {
      t.destroy();
      t.model.destroy();
    }
  });

  it('stops on a non-finite loss with a TrainingDivergedError naming the epoch and step', async () => {
    const ctx = getCtx();
    const model = vgg(ctx, { cfg: [2, 'M', 2, 'M', 2], inChannels: 1, numClasses: 2, seed: 3 });
    // A NaN learning rate: step 1's loss is computed before the update and is finite, then every
    // weight is NaN and step 2's loss is NaN.
    const trainer = new Trainer(model, halves(16, 9, false), null, { epochs: 2, batchSize: 8, lr: 0.1 });
    trainer.epoch = 1;
    trainer.optimizer.lr = NaN;
    const err = await trainer.fit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    const d = err as TrainingDivergedError;
    expect([d.epoch, d.step, Number.isNaN(d.loss)]).toEqual([1, 2, true]);
    expect(d.message).toBe('the training loss became NaN in epoch 2, step 2: the weights from that step on are not usable (lower the learning rate or check the data)');
    trainer.destroy();
    model.destroy();
  });
});
