// The slimming pass against the reference algorithm (test/reference/prune.ts): for a small VGG,
// ResNet-11 and DenseNet-7 with γ full of ties and negative values, and one layer whose γ are all
// tiny (emptied at high ratios, then saved by the min-channels safeguard), the new cfg and every
// tensor of the pruned model must equal the reference bit for bit; the pruned model must compute
// what the masked model computes; strict mode must refuse to empty a layer.
import { describe, expect, it } from 'vitest';
import { densenetGraph, resnetGraph, vggGraph } from '../src/nn/models.js';
import { PruneError, countFlops, layerCosts, prune } from '../src/slim/prune.js';
import { referencePrune, type RefModel } from './reference/prune.js';
import { SMALL_MODELS } from './util/small-models.js';
import { useContext } from './util/gpu.js';
import { normal } from './util/random.js';
import { scramble } from './util/scramble.js';
import { expectBitExact, expectClose } from './util/tolerance.js';

const getCtx = useContext();

const CASES = SMALL_MODELS;

/** γ in multiples of 0.05 (many ties), both signs; β and running stats random; one BN tiny. */
describe('slim.prune', () => {
  it('counts FLOPs and parameters as the reference (VGG-19 7.963e8, ResNet-164 4.953e8 FLOPs)', () => {
    const flops = (g: ReturnType<typeof vggGraph>) => countFlops(g.graph, [3, 32, 32]);
    expect(flops(vggGraph({ depth: 19 })) / 1e8).toBeCloseTo(7.963, 3);
    expect(flops(resnetGraph({ depth: 164 })) / 1e8).toBeCloseTo(4.953, 3);
    const params = (g: ReturnType<typeof vggGraph>) => layerCosts(g.graph, [3, 32, 32]).reduce((a, c) => a + c.params, 0);
    expect(params(vggGraph({ depth: 19 }))).toBe(20_035_018); // convs 20 018 880 + BN 11 008 + linear 5 130: the paper's 20.04 M
    expect((params(resnetGraph({ depth: 164 })) / 1e6).toFixed(2)).toBe('1.71');
    expect((params(densenetGraph({ depth: 40 })) / 1e6).toFixed(2)).toBe('1.07');
  });

  for (const c of CASES) {
    for (const percent of [0, 0.3, 0.5, 0.7]) {
      it(`${c.name} at ${percent}: cfg and every pruned tensor equal the reference`, async () => {
        const ctx = getCtx();
        const model = c.make(ctx);
        const state = await scramble(model, 11, { tinyGamma: 1 });
        const ref = referencePrune(model.meta as RefModel, state, percent);
        const { model: pruned, report } = await prune(model, percent, { inputSize: c.input });
        expect(pruned.meta.cfg).toEqual(ref.cfg);
        expect(report.threshold).toBe(ref.threshold);
        const got = await pruned.stateDict();
        expect([...got.keys()].sort()).toEqual([...ref.state.keys()].sort());
        for (const [k, v] of ref.state) {
          const g = got.get(k)!;
          expect(g.shape, k).toEqual(v.shape);
          if (v.data instanceof BigInt64Array) expect(g.data, k).toEqual(v.data);
          else expectBitExact(g.data as Float32Array, v.data, `${c.name}@${percent} ${k}`);
        }
        expect(report.paramsAfter).toBe(pruned.parameterCount());
        expect(report.layerCosts.reduce((a, l) => a + l.paramsAfter, 0)).toBe(report.paramsAfter);
        expect(report.layerCosts.reduce((a, l) => a + l.flopsBefore, 0)).toBe(report.flopsBefore);
        expect(report.paramsAfter).toBeLessThanOrEqual(report.paramsBefore);
        // The original is untouched and still usable.
        const again = await model.stateDict();
        for (const [k, v] of state) if (v.data instanceof Float32Array) expectBitExact(again.get(k)!.data as Float32Array, v.data, `original ${k}`);
        pruned.destroy();
        model.destroy();
      });
    }

    it(`${c.name}: the pruned model computes what the masked model computes`, async () => {
      const ctx = getCtx();
      const model = c.make(ctx);
      const state = await scramble(model, 12, { tinyGamma: 1 });
      const ref = referencePrune(model.meta as RefModel, state, 0.5);
      const { model: pruned } = await prune(model, 0.5, { inputSize: c.input });
      // Masked model: every BN's γ and β times its mask, nothing else changed.
      const masked = new Map(state);
      for (const [b, mask] of ref.masks) {
        for (const p of ['weight', 'bias']) {
          const t = state.get(`${b}.${p}`)!;
          masked.set(`${b}.${p}`, { shape: t.shape, data: Float32Array.from(t.data as Float32Array, (v, i) => v * (mask[i] ? 1 : 0)) });
        }
      }
      model.loadStateDict(masked);
      const x = ctx.tensor([2, ...c.input], normal(2 * c.input[0] * c.input[1] * c.input[2], 5));
      const a = await ctx.readF32(model.forward(x, false));
      const b = await ctx.readF32(pruned.forward(x, false));
      // Same sums in another order over fewer (zero-free) terms: float32 rounding only.
      expectClose(b, a, { atol: 1e-5, rtol: 1e-4 }, `${c.name} pruned vs masked logits`);
      x.destroy();
      pruned.destroy();
      model.destroy();
    });
  }

  it('keeps the largest |γ| of a layer the threshold empties, and says so; strict mode refuses', async () => {
    const ctx = getCtx();
    const model = CASES[0]!.make(ctx);
    await scramble(model, 13, { tinyGamma: 1 });
    const { model: pruned, report } = await prune(model, 0.7, { inputSize: [3, 8, 8] });
    const saved = report.layers.filter((l) => l.safeguard);
    expect(saved.map((l) => l.name)).toEqual(['feature.5']);
    expect(saved[0]!.safeguard).toBe('min-channels: kept 1 instead of 0');
    pruned.destroy();
    await expect(prune(model, 0.7, { strict: true })).rejects.toThrow(PruneError);
    await expect(prune(model, 0.7, { strict: true })).rejects.toThrow(/removes all 12 channels of feature\.5/);
    await expect(prune(model, 1)).rejects.toThrow('prune: percent 1 is outside [0, 1)');
    model.destroy();
  });
});
