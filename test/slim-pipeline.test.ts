// slim.slimToTarget: sparse training → prune to a FLOPs/params target → fine-tuning on tiny data;
// every stage measured, the stricter of two targets, a run interrupted in either training phase
// and resumed from its saved checkpoint ending bit for bit where the straight run ends, the
// warning before a prune of dense γ, and the recipe's checks.
import { describe, expect, it } from 'vitest';
import { datasetFromTensors, type Dataset } from '../src/data/datasets.js';
import { loadModel, loadTrainingState, saveModel, saveTrainingState } from '../src/io/checkpoint.js';
import { densenet, resnet, vgg } from '../src/nn/models.js';
import type { Model } from '../src/nn/model.js';
import { type SlimOptions, type SlimStage } from '../src/slim/pipeline.js';
import { slimRecipe, sparsityWarning } from '../src/slim/recipe.js';
import { slimToTarget } from '../src/slim/run.js';
import type { PruneReport } from '../src/slim/prune.js';
import { batchNormGammas } from '../src/slim/report.js';
import type { Context } from '../src/gpu/context.js';
import { evaluate } from '../src/train/trainer.js';
import { useContext } from './util/gpu.js';
import { rng } from './util/random.js';
import { expectBitExact } from './util/tolerance.js';

const getCtx = useContext();

/** 48 images 3×8×8: class 0 brighter on the left half, class 1 on the right, plus noise. */
function toyData(): Dataset {
  const n = 48;
  const r = rng(7);
  const x = new Float32Array(n * 3 * 64);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    for (let c = 0; c < 3; c++) for (let p = 0; p < 64; p++) x[i * 192 + c * 64 + p] = r() - 0.5 + ((p % 8 < 4) === (y[i] === 0) ? 1 : 0);
  }
  return datasetFromTensors(x, [n, 3, 8, 8], y, { name: 'toy' });
}

const toyModel = (ctx: Context) => vgg(ctx, { cfg: [8, 'M', 12, 'M', 10], numClasses: 2, inputSize: 8, seed: 3 });
const RUN: SlimOptions = { targetFlops: 0.5, epochs: 4, finetuneEpochs: 2, batchSize: 16, sparsity: 1e-2 };

async function weights(m: Model): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of await m.stateDict()) if (v.data instanceof Float32Array) out.set(k, v.data);
  return out;
}

describe('slimToTarget', () => {
  it('trains sparse, prunes to the FLOPs target, fine-tunes, and measures every stage', async () => {
    const ctx = getCtx();
    const data = toyData();
    const model = toyModel(ctx);
    const epochs: string[] = [];
    const seen: string[] = [];
    const r = await slimToTarget(model, data, data, {
      ...RUN,
      onEpoch: (phase, e) => {
        epochs.push(`${phase} ${e.epoch}`);
      },
      onStage: (s) => {
        seen.push(s.stage);
      },
    });
    expect(epochs).toEqual(['sparse 0', 'sparse 1', 'finetune 0', 'finetune 1']);
    expect(seen).toEqual(['original', 'sparse', 'pruned', 'finetuned']);
    expect(r.stages.map((s) => s.stage)).toEqual(['original', 'sparse', 'pruned', 'finetuned']);
    const [orig, sparse, pruned, tuned] = r.stages as [SlimStage, SlimStage, SlimStage, SlimStage];
    expect(sparse.flops).toBe(orig.flops);
    expect(pruned.flops).toBeLessThanOrEqual(0.5 * orig.flops);
    expect(pruned.flops).toBe(r.report.flopsAfter);
    expect(pruned.params).toBe(r.report.paramsAfter);
    expect(tuned.flops).toBe(pruned.flops);
    for (const s of r.stages) expect(s.accuracy).toBeGreaterThanOrEqual(0);
    expect(tuned.accuracy).toBe((await evaluate(r.model, data)).accuracy);
    expect(r.report.compensation).toBeDefined(); // the recipe compensates
    r.model.destroy();
    model.destroy();
  });

  it('with two targets, meets both', async () => {
    const ctx = getCtx();
    const data = toyData();
    const model = toyModel(ctx);
    const r = await slimToTarget(model, data, null, { ...RUN, epochs: 2, finetuneEpochs: 1, targetFlops: 0.9, targetParams: 0.4 });
    const [orig, , pruned] = r.stages as [SlimStage, SlimStage, SlimStage];
    expect(pruned.params).toBeLessThanOrEqual(0.4 * orig.params);
    expect(pruned.flops).toBeLessThanOrEqual(0.9 * orig.flops);
    expect(orig.accuracy).toBeNull();
    r.model.destroy();
    model.destroy();
  });

  for (const [name, make] of [
    ['ResNet-11 (pre-activation, selections)', (ctx: Context) => resnet(ctx, { depth: 11, numClasses: 2, seed: 4 })],
    ['DenseNet-7 (concatenations, selections)', (ctx: Context) => densenet(ctx, { depth: 7, numClasses: 2, seed: 4 })],
  ] as const) {
    it(`${name}: slims to the FLOPs target with the default recipe (cost-aware ranking, gradual pruning)`, async () => {
      const ctx = getCtx();
      const n = 16;
      const r0 = rng(9);
      const y = Int32Array.from({ length: n }, (_, i) => i % 2);
      const x = Float32Array.from({ length: n * 3 * 32 * 32 }, (_, i) => r0() - 0.5 + (y[Math.floor(i / 3072)] === 0 ? 0.5 : 0));
      const data = datasetFromTensors(x, [n, 3, 32, 32], y, { name: 'toy32' });
      const model = make(ctx);
      const r = await slimToTarget(model, data, data, { targetFlops: 0.7, epochs: 3, finetuneEpochs: 1, batchSize: 8 });
      expect(r.report.costExponent).toBe(1);
      const [orig, sparse, pruned, tuned] = r.stages as [SlimStage, SlimStage, SlimStage, SlimStage];
      expect(pruned.flops).toBeLessThanOrEqual(0.7 * orig.flops);
      expect(pruned.flops).toBe(r.report.flopsAfter);
      expect(tuned.params).toBe(r.model.parameterCount());
      // gradual pruning masked the target before the cut: the pruned model computes what the masked sparse model computed
      expect(pruned.accuracy).toBe(sparse.accuracy);
      expect(tuned.accuracy).toBe((await evaluate(r.model, data)).accuracy);
      r.model.destroy();
      model.destroy();
    });
  }

  const STOPS = [
    { stopIn: 'sparse', at: 0, run: RUN, what: 'its sparse phase' },
    { stopIn: 'finetune', at: 0, run: RUN, what: 'its finetune phase' },
    { stopIn: 'sparse', at: 3, run: { ...RUN, epochs: 6, finetuneEpochs: 1, gradualEpochs: 2 }, what: 'gradual pruning, after the first mask' },
  ] as const;
  for (const { stopIn, at, run: RUN, what } of STOPS) {
    it(`a run stopped in ${what} and resumed from its last checkpoint ends as the straight run does, bit for bit`, async () => {
      const ctx = getCtx();
      const data = toyData();
      const straight = toyModel(ctx);
      const want = await slimToTarget(straight, data, data, RUN);

      // The interrupted run: saves each epoch's model and state, stops after the first epoch of `stopIn`.
      const first = toyModel(ctx);
      const stop = new AbortController();
      let saved: { phase: 'sparse' | 'finetune'; model: Uint8Array; state: Uint8Array } | null = null;
      const stages: SlimStage[] = [];
      let report: PruneReport | undefined;
      await expect(
        slimToTarget(first, data, data, {
          ...RUN,
          signal: stop.signal,
          onEpoch: async (phase, _e, trainer) => {
            saved = { phase, model: await saveModel(trainer.model), state: await saveTrainingState(trainer) };
            if (phase === stopIn && _e.epoch === at) stop.abort();
          },
          onStage: (s, _m, rep) => {
            if (s.stage !== 'original') stages.push(s);
            report = rep ?? report;
          },
        }),
      ).rejects.toThrow();
      expect(saved!.phase).toBe(stopIn);

      const resumed = loadModel(ctx, saved!.model);
      const original = want.stages[0]!;
      const r = await slimToTarget(resumed, data, data, {
        ...RUN,
        resume: {
          phase: stopIn,
          stages: [original, ...stages],
          ...(report ? { report } : {}),
          restore: (trainer) => loadTrainingState(trainer, saved!.state),
        },
      });
      expect(r.stages.map((s) => s.stage)).toEqual(['original', 'sparse', 'pruned', 'finetuned']);
      expect(r.stages[3]!.accuracy).toBe(want.stages[3]!.accuracy);
      const a = await weights(r.model);
      const b = await weights(want.model);
      expect([...a.keys()]).toEqual([...b.keys()]);
      for (const [k, v] of a) expectBitExact(v, b.get(k)!, k);
      for (const m of [straight, want.model, first, resumed, r.model]) m.destroy();
      if (r.model !== resumed) resumed.destroy();
    });
  }

  it('gradual pruning masks a growing share of the target over the last sparse epochs, the whole of it before the cut', async () => {
    const ctx = getCtx();
    const data = toyData();
    const model = toyModel(ctx);
    const zeros: number[] = [];
    const r = await slimToTarget(model, data, data, {
      ...RUN,
      epochs: 6,
      finetuneEpochs: 1,
      gradualEpochs: 2,
      onEpoch: async (phase, _e, trainer) => {
        if (phase !== 'sparse') return;
        const gammas = await batchNormGammas(trainer.model);
        zeros.push(gammas.reduce((a, g) => a + g.gamma.filter((v) => v === 0).length, 0));
      },
    });
    // 5 sparse epochs: masks after epochs 3 (half the target's share of channels) and 4 (all of it);
    // the epoch-5 training keeps them at zero. (A γ may reach exactly 0 by itself: SwiftShader
    // flushes denormals, hence "at least".)
    const pruned = r.report.prunedChannels;
    expect(zeros[2]).toBeGreaterThan(zeros[1]!);
    expect(zeros[2]).toBeGreaterThanOrEqual(Math.floor((r.report.percent * r.report.totalChannels) / 2));
    expect(zeros[2]).toBeLessThan(pruned);
    expect(zeros[3]).toBeGreaterThanOrEqual(pruned);
    expect(zeros[4]).toBe(zeros[3]); // the masked channels stayed at zero through the last sparse epoch
    // the cut removes exactly the masked channels: the network computes what the masked one did
    const [, sparse, after] = r.stages as [SlimStage, SlimStage, SlimStage];
    expect(after.accuracy).toBe(sparse.accuracy);
    expect(r.warnings).toEqual([]); // the threshold is 0: nothing left to warn about
    r.model.destroy();
    model.destroy();
  });

  it('warns before pruning γ that are not sparse yet', async () => {
    const ctx = getCtx();
    const data = toyData();
    const model = toyModel(ctx);
    const heard: string[] = [];
    const r = await slimToTarget(model, data, data, { ...RUN, epochs: 2, finetuneEpochs: 1, sparsity: 0, onWarning: (m) => heard.push(m) });
    expect(heard.length).toBeGreaterThanOrEqual(1);
    expect(heard[0]).toMatch(/^γ are not sparse yet: the largest pruned \|γ\| .* of the median kept \|γ\|/);
    expect(heard[0]).toBe(sparsityWarning(r.report));
    expect(r.warnings).toEqual(heard);
    r.model.destroy();
    model.destroy();
  });

  it('sparsityWarning: quiet when the pruned |γ| sit far below the kept ones', () => {
    const dense = [{ name: 'a', gamma: new Float32Array([0.4, -0.5, 0.45, 0.6]) }];
    expect(sparsityWarning(0.45, dense)).toMatch(/not sparse yet.*82 % of the median kept \|γ\| 0\.55/);
    const sparse = [{ name: 'a', gamma: new Float32Array([0.0005, -0.001, 0.4, -0.6]) }];
    expect(sparsityWarning(0.001, sparse)).toBeNull();
    expect(sparsityWarning(0.049, [{ name: 'a', gamma: new Float32Array([0.01, 0.5, 0.5]) }])).toBeNull(); // 9.8 % of 0.5
    expect(sparsityWarning(0.05, [{ name: 'a', gamma: new Float32Array([0.01, 0.5, 0.5]) }])).not.toBeNull(); // 10 %
    // from a prune's report: its largest removed |γ| against its median kept |γ|
    expect(sparsityWarning({ gammaSeparation: { removedMax: 0.049, keptMedian: 0.5 } })).toBeNull();
    expect(sparsityWarning({ gammaSeparation: { removedMax: 0.05, keptMedian: 0.5 } })).toMatch(/^γ are not sparse yet: the largest pruned \|γ\| 0\.0500 is 10 % of the median kept \|γ\| 0\.500/);
    expect(sparsityWarning({ gammaSeparation: { removedMax: 0, keptMedian: 0 } })).toBeNull(); // nothing kept
  });

  it('refuses recipes and targets that cannot run, naming the value', async () => {
    expect(() => slimRecipe({ epochs: 4, finetuneEpochs: 4 })).toThrow('slim: finetuneEpochs 4 leaves no sparse training in 4 epochs');
    expect(() => slimRecipe({ epochs: 4, finetuneEpochs: 1, warmupEpochs: 3 })).toThrow('slim: warmupEpochs 3 leaves no sparse epoch of the 3');
    expect(() => slimRecipe({ epochs: 5, finetuneEpochs: 1, gradualEpochs: 4 })).toThrow('slim: gradualEpochs 4 must be fewer than the 4 sparse epochs');
    expect(() => slimRecipe({ epochs: 2.5 })).toThrow('slim: epochs 2.5 must be an integer ≥ 2');
    expect(() => slimRecipe({ lr: -1 })).toThrow('slim: lr -1 must be a finite number ≥ 0');
    expect(() => slimRecipe({ lrSchedule: 'linear' as 'step' })).toThrow("slim: lrSchedule linear is not 'step' or 'cosine'");
    const ctx = getCtx();
    const model = toyModel(ctx);
    const data = toyData();
    await expect(slimToTarget(model, data, null, { epochs: 2, finetuneEpochs: 1 })).rejects.toThrow('slim: give targetFlops, targetParams or both');
    await expect(slimToTarget(model, data, null, { targetFlops: 1.5 })).rejects.toThrow('slim: targetFlops 1.5 must be a fraction in (0, 1)');
    model.destroy();
  });
});
