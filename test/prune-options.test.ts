// The slimming pass's options beyond the reference: mask mode (same shapes, pruned γ/β at zero and
// kept at zero by fine-tuning), bias compensation (checked against a float64 evaluation of the
// folding formula, and exactly where the constant reaches a linear layer), iterative pruning
// (also through selections that earlier rounds narrowed), and the report's table and SVG.
import { describe, expect, it } from 'vitest';
import type { Context } from '../src/gpu/context.js';
import { datasetFromTensors } from '../src/data/datasets.js';
import { loadModel, saveModel } from '../src/io/checkpoint.js';
import { densenet, resnet, vgg } from '../src/nn/models.js';
import type { Model } from '../src/nn/model.js';
import { cloneModel, countFlops, layerCosts, plan, prune, pruneIterative, type PruneReport } from '../src/slim/prune.js';
import { batchNormGammas, formatPruneTable, pruneAccuracyNote, pruneReportSvg } from '../src/slim/report.js';
import { Trainer } from '../src/train/trainer.js';
import { Conv2d } from '../src/nn/layers.js';
import { bnOrder, referencePrune, type RefModel } from './reference/prune.js';
import { useContext } from './util/gpu.js';
import { normal, rng } from './util/random.js';
import { scramble } from './util/scramble.js';
import { expectBitExact, expectClose } from './util/tolerance.js';

const getCtx = useContext();

const smallVgg = (ctx: Context) => vgg(ctx, { cfg: [8, 'M', 12, 'M', 10, 6], seed: 2 });

/** γ in multiples of 0.05 (ties) or continuous, both signs; β, running stats random. */
async function logits(ctx: Context, model: Model, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const t = ctx.tensor(shape, x);
  const y = await ctx.readF32(model.forward(t, false));
  t.destroy();
  return y;
}

describe('prune: mask mode', () => {
  for (const [name, make, input] of [
    ['vgg', smallVgg, [3, 8, 8]],
    ['resnet11', (ctx: Context) => resnet(ctx, { depth: 11, seed: 3 }), [3, 32, 32]],
  ] as const) {
    it(`${name}: same shapes, γ and β of the pruned channels zero, logits of the compact model`, async () => {
      const ctx = getCtx();
      const model = make(ctx);
      const state = await scramble(model, 21);
      // Non-zero momentum, so that zeroing it for the pruned channels is visible.
      for (const { slot } of model.parameters()) ctx.device.queue.writeBuffer(slot.momentum!.buffer, 0, normal(slot.momentum!.size, 3, 0.1));
      const ref = referencePrune(model.meta as RefModel, state, 0.5);
      const { model: masked, report } = await prune(model, 0.5, { mode: 'mask', inputSize: [...input] });
      const { model: compact, report: compactReport } = await prune(model, 0.5, { inputSize: [...input] });
      expect(masked.meta.pruning).toBe('mask');
      expect(masked.meta.cfg).toEqual(model.meta.cfg);
      expect(report.mode).toBe('mask');
      expect(report.cfg).toEqual(ref.cfg);
      expect(report.paramsAfter).toBe(compactReport.paramsAfter);
      expect(report.flopsAfter).toBe(compactReport.flopsAfter);
      const got = await masked.stateDict();
      for (const [k, v] of state) {
        const bn = k.replace(/\.(weight|bias)$/, '');
        const mask = ref.masks.get(bn);
        let want = v.data;
        if (mask && /\.(weight|bias)$/.test(k)) want = Float32Array.from(v.data as Float32Array, (x, i) => x * (mask[i] ? 1 : 0));
        if (want instanceof Float32Array) expectBitExact(got.get(k)!.data as Float32Array, want, `${name} ${k}`);
        else expect(got.get(k)!.data).toEqual(want);
        if (mask && k.endsWith('.weight')) {
          const m = await ctx.readF32((masked.graph.layers().find((l) => l.name === bn)!).slot('weight').momentum!);
          mask.forEach((keep, i) => keep || expect(Math.abs(m[i]!), `${k} momentum[${i}]`).toBe(0));
        }
      }
      const x = normal(2 * input[0] * input[1] * input[2], 8);
      expectClose(await logits(ctx, masked, x, [2, ...input]), await logits(ctx, compact, x, [2, ...input]), { atol: 1e-5, rtol: 1e-4 }, `${name} masked vs compact logits`);
      // The mode survives a checkpoint.
      const again = loadModel(ctx, await saveModel(masked), 'masked.safetensors');
      expect(again.meta.pruning).toBe('mask');
      for (const m of [again, masked, compact, model]) m.destroy();
    });
  }

  it('fine-tuning a mask-mode model keeps the pruned γ and β at exactly zero', async () => {
    const ctx = getCtx();
    const model = smallVgg(ctx);
    await scramble(model, 22);
    const { model: masked } = await prune(model, 0.5, { mode: 'mask', inputSize: [3, 8, 8] });
    const before = await batchNormGammas(masked);
    const n = 32;
    const y = new Int32Array(n).map((_, i) => i % 10);
    const data = datasetFromTensors(normal(n * 3 * 64, 4), [n, 3, 8, 8], y, { classes: 10, name: 'noise' });
    const trainer = new Trainer(masked, data, null, { epochs: 2, batchSize: 8, lr: 0.1, sparsity: 1e-4 });
    expect(trainer.optimizer.freezeZeroGamma).toBe(true);
    await trainer.fit();
    const state = await masked.stateDict();
    let zeros = 0;
    let moved = 0;
    for (const { name, gamma } of before) {
      const g = state.get(`${name}.weight`)!.data as Float32Array;
      const b = state.get(`${name}.bias`)!.data as Float32Array;
      gamma.forEach((v, i) => {
        if (v === 0) {
          zeros++;
          expect(Math.abs(g[i]!), `${name}.weight[${i}]`).toBe(0);
          expect(Math.abs(b[i]!), `${name}.bias[${i}]`).toBe(0);
        } else if (g[i] !== v) moved++;
      });
    }
    expect(zeros).toBeGreaterThan(10);
    expect(moved).toBeGreaterThan(10);
    masked.destroy();
    model.destroy();
  });
});

describe('prune: bias compensation', () => {
  it('is exact where the pruned channels reach a linear layer: the compensated model computes what the original computes', async () => {
    const ctx = getCtx();
    const model = smallVgg(ctx);
    const state = await scramble(model, 23);
    const r = rng(5);
    // Every γ clearly non-zero except three channels of the last BatchNorm (feature.12), which are 0.
    for (const b of bnOrder(model.meta as RefModel)) {
      const g = state.get(`${b}.weight`)!.data as Float32Array;
      for (let c = 0; c < g.length; c++) g[c] = 0.5 + r();
    }
    const last = state.get('feature.12.weight')!.data as Float32Array;
    for (const c of [0, 2, 4]) last[c] = 0;
    (state.get('feature.12.bias')!.data as Float32Array).set([0.7, -0.2, 0.4, 0.9, 0.3, -0.5]);
    model.loadStateDict(state);
    const percent = 2.5 / 36; // k = 2 of 36 channels: the three zeros (ties) are pruned
    const plain = await prune(model, percent, { inputSize: [3, 8, 8] });
    const comp = await prune(model, percent, { compensate: true, inputSize: [3, 8, 8] });
    expect(comp.report.cfg).toEqual([8, 'M', 12, 'M', 10, 3]);
    expect(comp.report.compensation!.folded).toContainEqual({ from: 'feature.12', through: 'classifier', into: 'classifier.bias' });
    const x = normal(3 * 3 * 64, 9);
    const want = await logits(ctx, model, x, [3, 3, 8, 8]);
    // Pruned channels output relu(β) everywhere; the fold moves exactly that into the bias: rounding only.
    expectClose(await logits(ctx, comp.model, x, [3, 3, 8, 8]), want, { atol: 1e-5, rtol: 1e-5 }, 'compensated vs original');
    const off = await logits(ctx, plain.model, x, [3, 3, 8, 8]);
    expect(Math.max(...off.map((v, i) => Math.abs(v - want[i]!)))).toBeGreaterThan(1e-2);
    for (const m of [plain.model, comp.model, model]) m.destroy();
  });

  for (const [name, make, input] of [
    ['vgg', smallVgg, [3, 8, 8]],
    ['resnet11', (ctx: Context) => resnet(ctx, { depth: 11, seed: 3 }), [3, 32, 32]],
    ['densenet7', (ctx: Context) => densenet(ctx, { depth: 7, seed: 4 }), [3, 32, 32]],
  ] as const) {
    for (const mode of ['compact', 'mask'] as const) {
      it(`${name} (${mode}): every folded running mean and bias equals the float64 formula`, async () => {
        const ctx = getCtx();
        const model = make(ctx);
        const state = await scramble(model, 24);
        const ref = referencePrune(model.meta as RefModel, state, 0.5);
        const { model: pruned, report } = await prune(model, 0.5, { compensate: true, mode, inputSize: [...input] });
        const got = await pruned.stateDict();
        const { folded, skipped } = report.compensation!;
        expect(folded.length).toBeGreaterThan(0);
        const arr = (k: string) => state.get(k)!.data as Float32Array;
        for (const f of folded) {
          const w = arr(`${f.through}.weight`);
          const wShape = state.get(`${f.through}.weight`)!.shape;
          const beta = arr(`${f.from}.bias`);
          const mask = ref.masks.get(f.from)!;
          const outputs = wShape[0]!;
          const taps = w.length / outputs / mask.length;
          const delta = new Float64Array(outputs);
          for (let o = 0; o < outputs; o++) {
            for (let i = 0; i < mask.length; i++) {
              if (mask[i]) continue;
              let s = 0;
              for (let k = 0; k < taps; k++) s += w[(o * mask.length + i) * taps + k]!;
              delta[o]! += Math.max(beta[i]!, 0) * s;
            }
          }
          const sign = f.into.endsWith('running_mean') ? -1 : 1;
          const target = f.into.replace(/\.(running_mean|bias)$/, '');
          const layer = report.layers.find((l) => l.name === target);
          const keep = mode === 'compact' && layer && !layer.selected ? ref.masks.get(target)!.flatMap((k, i) => (k ? [i] : [])) : [...Array(outputs).keys()];
          const before = arr(f.into);
          const want = keep.map((o) => before[o]! + sign * delta[o]!);
          // float32 sums of up to a few hundred terms against float64: 1e-5 relative to the sums' size.
          expectClose(got.get(f.into)!.data as Float32Array, want, { atol: 1e-5, rtol: 1e-5 }, `${name} ${f.into}`);
        }
        if (name === 'resnet11') expect(skipped.map((s) => s.through)).toContain('layer1.0.conv3');
        if (name === 'densenet7') expect(folded.map((f) => f.into)).toEqual(['fc.bias']);
        pruned.destroy();
        model.destroy();
      });
    }
  }
});

describe('prune: iterative', () => {
  it('VGG: two rounds of 30 % equal pruning twice, fine-tuning called after each', async () => {
    const ctx = getCtx();
    const model = smallVgg(ctx);
    await scramble(model, 25);
    const rounds: number[] = [];
    const { model: twice, reports } = await pruneIterative(model, 0.3, { rounds: 2, inputSize: [3, 8, 8], fineTune: (_m, r) => void rounds.push(r) });
    expect(rounds).toEqual([0, 1]);
    const once = await prune(model, 0.3, { inputSize: [3, 8, 8] });
    const again = await prune(once.model, 0.3, { inputSize: [3, 8, 8] });
    expect(reports.map((r) => r.cfg)).toEqual([once.report.cfg, again.report.cfg]);
    const [a, b] = [await twice.stateDict(), await again.model.stateDict()];
    for (const [k, v] of b) if (v.data instanceof Float32Array) expectBitExact(a.get(k)!.data as Float32Array, v.data, k);
    for (const m of [twice, once.model, again.model, model]) m.destroy();
  });

  for (const [name, make] of [
    ['resnet11', (ctx: Context) => resnet(ctx, { depth: 11, seed: 3 })],
    ['densenet7', (ctx: Context) => densenet(ctx, { depth: 7, seed: 4 })],
  ] as const) {
    it(`${name}: a second round counts only the channels left and compacts through the narrowed selections`, async () => {
      const ctx = getCtx();
      const model = make(ctx);
      await scramble(model, 26, { ties: false });
      const { model: once, report: first } = await prune(model, 0.3);
      const zeroed = first.layers.reduce((a, l) => a + (l.selected ? l.before - l.after : 0), 0);
      expect(zeroed).toBeGreaterThan(0);
      const { model: twice, reports } = await pruneIterative(model, 0.3, { rounds: 2 });
      const total = reports[1]!.totalChannels;
      expect(reports[1]!.percent).toBeCloseTo((zeroed + 0.3 * (total - zeroed)) / total, 12);
      // Round 2 compacted through selections that round 1 narrowed: it must compute what its
      // input computes with round 2's channels masked (mask mode at the same threshold).
      const masked = await prune(once, reports[1]!.percent, { mode: 'mask' });
      expect(reports[1]!.cfg).toEqual(masked.report.cfg);
      const x = normal(2 * 3 * 32 * 32, 10);
      expectClose(await logits(ctx, twice, x, [2, 3, 32, 32]), await logits(ctx, masked.model, x, [2, 3, 32, 32]), { atol: 1e-5, rtol: 1e-4 }, `${name} round 2 vs masked`);
      for (const m of [once, twice, masked.model, model]) m.destroy();
    });
  }

  it('rejects a bad number of rounds', async () => {
    const model = smallVgg(getCtx());
    await expect(pruneIterative(model, 0.3, { rounds: 0 })).rejects.toThrow('pruneIterative: rounds 0 must be a positive integer');
    model.destroy();
  });
});

describe('prune report', () => {
  async function sample(): Promise<{ report: PruneReport; model: Model; pruned: Model }> {
    const model = smallVgg(getCtx());
    await scramble(model, 27);
    const { model: pruned, report } = await prune(model, 0.7, { inputSize: [3, 8, 8] });
    return { report, model, pruned };
  }

  it('notes an accuracy that fell to chance (γ not sparse yet), and nothing otherwise', () => {
    const note = pruneAccuracyNote(0.9047, 0.1, 10, 0.311);
    expect(note).toMatch(/^accuracy fell to chance \(10\.00 %, 1\/10 = 10\.00 %\): channels with \|γ\| ≤ 0\.311 /);
    expect(note).toContain('--refine');
    expect(pruneAccuracyNote(0.9047, 0.8946, 10, 0.311)).toBeNull(); // kept most of it
    expect(pruneAccuracyNote(0.15, 0.1, 10, 0.311)).toBeNull(); // never well above chance
    expect(pruneAccuracyNote(0.9, 0.014, 100, 0.05)).toMatch(/1\/100 = 1\.00 %/); // CIFAR-100
    expect(pruneAccuracyNote(0.9, 0.016, 100, 0.05)).toBeNull();
  });

  it('prints a table with every layer, the safeguards and the totals', async () => {
    const { report, model, pruned } = await sample();
    const table = formatPruneTable(report).split('\n');
    expect(table[0]).toMatch(/^layer\s+kind\s+channels\s+params\s+FLOPs\s+note$/);
    const rows = table.slice(2, 2 + report.layerCosts.length);
    report.layerCosts.forEach((c, i) => expect(rows[i]!.startsWith(c.name)).toBe(true));
    for (const l of report.layers) {
      const row = rows.find((r) => r.startsWith(`${l.name} `) && r.includes('BatchNorm2d'))!;
      expect(row).toContain(l.before === l.after ? String(l.before) : `${l.before} → ${l.after}`);
      if (l.safeguard) expect(row).toContain(l.safeguard);
    }
    const total = table[table.length - 2]!;
    expect(total).toContain(`${report.paramsBefore.toLocaleString('en')} → ${report.paramsAfter.toLocaleString('en')}`);
    expect(table[table.length - 1]).toContain(`threshold |γ| > ${report.threshold.toPrecision(4)}`);
    pruned.destroy();
    model.destroy();
  });

  it('draws the γ histogram with the threshold and one bar pair per BatchNorm as a standalone SVG', async () => {
    const { report, model, pruned } = await sample();
    const doc = (globalThis as { document?: Document }).document ?? ((await import('linkedom')).parseHTML('<!doctype html><html><body></body></html>').document as unknown as Document);
    const svg = await pruneReportSvg(report, await batchNormGammas(model), { document: doc, title: 'test' });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    // Histogram bins + 2 bars per BatchNorm.
    expect(svg.split('<rect').length - 1).toBeGreaterThanOrEqual(2 * report.layers.length + 5);
    expect(svg).toContain('stroke="red"');
    for (const l of report.layers) expect(svg).toContain(l.name);
    pruned.destroy();
    model.destroy();
  });

  it('cloneModel copies every tensor and selection', async () => {
    const ctx = getCtx();
    const model = resnet(ctx, { depth: 11, seed: 3 });
    const state = await scramble(model, 28);
    const { model: pruned } = await prune(model, 0.4);
    const copy = cloneModel(pruned);
    const [a, b] = [await pruned.stateDict(), await copy.stateDict()];
    for (const [k, v] of a) if (v.data instanceof Float32Array) expectBitExact(b.get(k)!.data as Float32Array, v.data, k);
    const x = normal(3 * 32 * 32, 11);
    expectBitExact(await logits(ctx, copy, x, [1, 3, 32, 32]), await logits(ctx, pruned, x, [1, 3, 32, 32]), 'clone logits');
    expect(state.size).toBe(a.size);
    for (const m of [copy, pruned, model]) m.destroy();
  });
});

describe('prune: the FLOP count follows the model input size', () => {
  it('counts FLOPs at meta.inputSize when no inputSize is given', async () => {
    const ctx = getCtx();
    // 16×16 inputs: two 2×2 pools leave 4×4, which the VGG builder's final pool takes down to 1×1
    const model = vgg(ctx, { cfg: [8, 'M', 12, 'M', 10, 6], seed: 2, inputSize: 16 });
    await scramble(model, 31);
    const implicit = await prune(model, 0.3);
    const explicit = await prune(model, 0.3, { inputSize: [3, 16, 16] });
    expect(implicit.report.flopsBefore).toBe(explicit.report.flopsBefore);
    expect(implicit.report.flopsAfter).toBe(explicit.report.flopsAfter);
    expect(implicit.report.flopsBefore).toBe(countFlops(model.graph, [3, 16, 16]));
    // (at 32×32 the classifier would get 4× the features it takes: the count had failed before)
    for (const m of [implicit.model, explicit.model, model]) m.destroy();
  });
});

describe('prune: cost-aware ranking and two targets', () => {
  /** float64 reference: per BatchNorm of a plain conv chain, the FLOPs of one channel (its conv's share plus the next layer's). */
  function chainChannelCost(model: Model, inputSize: [number, number, number]): number[] {
    const layers = layerCosts(model.graph, inputSize).filter((c) => c.kind === 'Conv2d' || c.kind === 'Linear');
    const bns = model.batchNorms();
    const convs = model.graph.nodes.filter((n) => n.layer instanceof Conv2d).map((n) => n.layer as Conv2d);
    return bns.map((_, b) => {
      const next = layers[b + 1]!;
      const nextIn = b + 1 < convs.length ? convs[b + 1]!.inChannels : bns[b]!.channels;
      return layers[b]!.flops / convs[b]!.outChannels + next.flops / nextIn;
    });
  }

  for (const a of [0.5, 1, 2]) {
    it(`costExponent ${a}: the threshold over |γ| / (c / mean c)^${a} (float64 reference), every layer's kept count, the γ separation`, async () => {
      const ctx = getCtx();
      const model = smallVgg(ctx);
      await scramble(model, 41);
      const size: [number, number, number] = [3, 8, 8];
      const cost = chainChannelCost(model, size);
      const gammas = await batchNormGammas(model);
      const mean = gammas.reduce((s, g, b) => s + g.gamma.length * cost[b]!, 0) / gammas.reduce((s, g) => s + g.gamma.length, 0);
      const scores = gammas.map((g, b) => Array.from(g.gamma, (v) => Math.abs(v) / Math.pow(cost[b]! / mean, a)));
      const pool = scores.flat().sort((x, y) => x - y);
      const thr = pool[Math.floor(pool.length * 0.5)]!;
      const { model: small, report } = await prune(model, 0.5, { inputSize: size, costExponent: a });
      expect(report.costExponent).toBe(a);
      // the kernel ranks float32 scores: the threshold agrees to float32 rounding (2^-23 relative, one op per score)
      expect(Math.abs(report.threshold - thr)).toBeLessThanOrEqual(4 * 2 ** -23 * thr);
      report.layers.forEach((l, b) => expect(l.after, l.name).toBe(Math.max(1, scores[b]!.filter((s) => s > thr).length)));
      // separation over |γ|: the largest removed, the median kept
      const removed: number[] = [];
      const kept: number[] = [];
      gammas.forEach((g, b) => {
        const order = Array.from(g.gamma, (v, p) => [Math.abs(v), scores[b]![p]!] as const).sort((x, y) => y[1] - x[1]);
        order.forEach(([v], r) => (r < report.layers[b]!.after ? kept : removed).push(v));
      });
      kept.sort((x, y) => x - y);
      expect(report.gammaSeparation.removedMax).toBe(Math.max(...removed));
      expect(report.gammaSeparation.keptMedian).toBe((kept[(kept.length - 1) >> 1]! + kept[kept.length >> 1]!) / 2);
      expect(formatPruneTable(report)).toContain(`threshold |γ|/c^${a} > `);
      small.destroy();
      model.destroy();
    });
  }

  it('costExponent 0 is the reference ranking, bit for bit; a negative or non-finite one is refused', async () => {
    const ctx = getCtx();
    const model = smallVgg(ctx);
    await scramble(model, 42);
    const plain = await plan(model, 0.6, { inputSize: [3, 8, 8] });
    const zero = await plan(model, 0.6, { inputSize: [3, 8, 8], costExponent: 0 });
    expect(zero).toEqual(plain);
    for (const bad of [-1, NaN, Infinity]) await expect(plan(model, 0.6, { costExponent: bad })).rejects.toThrow(`prune: costExponent ${bad} must be a finite number ≥ 0`);
    model.destroy();
  });

  it('spends a FLOPs target on the cheap channels: with costExponent 1 the small-map layers keep more', async () => {
    const ctx = getCtx();
    const model = smallVgg(ctx);
    await scramble(model, 43);
    const plain = await plan(model, { flops: 0.4 }, { inputSize: [3, 8, 8] });
    const aware = await plan(model, { flops: 0.4 }, { inputSize: [3, 8, 8], costExponent: 1 });
    for (const r of [plain, aware]) expect(r.target!.reached.flops).toBeLessThanOrEqual(0.4);
    const last = (r: PruneReport) => r.layers[r.layers.length - 1]!.after;
    expect(last(aware)).toBeGreaterThan(last(plain)); // the 2×2 layer: cheapest channels
    model.destroy();
  });

  it('a target of FLOPs and parameters: the smallest prune meeting both, the stricter of the two single targets', async () => {
    const ctx = getCtx();
    const model = resnet(ctx, { depth: 11, seed: 3 });
    await scramble(model, 44);
    const size: [number, number, number] = [3, 32, 32];
    for (const [flops, params] of [[0.6, 0.4], [0.4, 0.6]]) {
      const both = await plan(model, { flops, params }, { inputSize: size });
      const f = await plan(model, { flops }, { inputSize: size });
      const p = await plan(model, { params }, { inputSize: size });
      expect(both.target).toEqual({ flops, params, reached: { flops: both.flopsAfter / both.flopsBefore, params: both.paramsAfter / both.paramsBefore } });
      expect(both.prunedChannels).toBe(Math.max(f.prunedChannels, p.prunedChannels));
      expect(both.layers).toEqual((f.prunedChannels >= p.prunedChannels ? f : p).layers);
    }
    await expect(plan(model, { flops: 0.5, params: 0 })).rejects.toThrow('prune: target {"flops":0.5,"params":0} should be { flops: F }, { params: F } or both');
    await expect(plan(model, { flops: 0.5, percent: 0.2 } as unknown as { flops: number })).rejects.toThrow(/should be \{ flops: F \}/);
    model.destroy();
  });
});
