// Evaluation runs Conv2d → BatchNorm2d → ReLU in the convolution's pass and a BatchNorm2d with the
// ChannelSelection and/or ReLU after it in one pass. The fused model must give bit for bit what
// the layers give one by one, on the three architectures, unpruned (every channel selected) and
// pruned (narrowed selections).
import { describe, expect, it } from 'vitest';
import { BatchNorm2d } from '../src/nn/layers.js';
import type { Model } from '../src/nn/model.js';
import { prune } from '../src/slim/prune.js';
import { useContext } from './util/gpu.js';
import { hashedStateDict } from './util/hashed-weights.js';
import { uniform } from './util/random.js';
import { expectBitExact } from './util/tolerance.js';
import { SMALL_MODELS } from './util/small-models.js';

const getCtx = useContext();

async function evalBothWays(model: Model, xv: Float32Array, shape: number[]): Promise<{ fused: Float32Array; apart: Float32Array; saved: number }> {
  const ctx = model.ctx;
  const x = ctx.tensor(shape, xv);
  try {
    const d0 = ctx.dispatchCount;
    const fused = await ctx.readF32(model.forward(x, false));
    const d1 = ctx.dispatchCount;
    model.evalFusion = false;
    const apart = await ctx.readF32(model.forward(x, false));
    const d2 = ctx.dispatchCount;
    model.evalFusion = true;
    return { fused, apart, saved: d2 - d1 - (d1 - d0) };
  } finally {
    x.destroy();
  }
}

describe('evaluation fuses Conv2d → BatchNorm2d → ReLU and BatchNorm2d → selection → ReLU', () => {
  for (const c of SMALL_MODELS) {
    it(`${c.name}: fused == layer by layer, unpruned and pruned`, async () => {
      const ctx = getCtx();
      const model = c.make(ctx);
      try {
        // Weights with negative γ (so the ReLU clips) and running statistics far from 0 and 1.
        const bns = model.namedSlots().filter((s) => s.layer instanceof BatchNorm2d).map((s) => s.layer.name);
        model.loadStateDict(hashedStateDict(await model.stateDict(), bns));
        const shape = [3, ...c.input];
        const xv = uniform(shape.reduce((a, b) => a * b, 1), 5);
        const whole = await evalBothWays(model, xv, shape);
        expectBitExact(whole.fused, whole.apart, `${c.name} unpruned`);
        // every BatchNorm2d is followed by a ReLU (and the selections of ResNet/DenseNet): one pass saved per fused layer
        expect(whole.saved).toBeGreaterThanOrEqual(model.batchNorms().length);
        const { model: pruned } = await prune(model, 0.4, { inputSize: c.input });
        try {
          const p = await evalBothWays(pruned, xv, shape);
          expectBitExact(p.fused, p.apart, `${c.name} pruned`);
          // (the count depends on the widths: convolutions over images of ≤ 4 pixels run one job per pixel unfused)
          expect(p.saved).toBeGreaterThanOrEqual(pruned.batchNorms().length);
        } finally {
          pruned.destroy();
        }
      } finally {
        model.destroy();
      }
    });
  }
});
