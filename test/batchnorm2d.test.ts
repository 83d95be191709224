import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/core.js';
import {
  batchNormBackward,
  batchNormForwardEval,
  batchNormForwardTrain,
  batchNormKernelSpecs,
  batchNormSlices,
} from '../src/ops/batchnorm2d.js';
import { useContext, f32 } from './util/gpu.js';
import { normal, uniform } from './util/random.js';
import { TOL, expectBitExact, expectClose } from './util/tolerance.js';
import { channelSelectForward } from '../src/ops/channel.js';
import { reluForward } from '../src/ops/elementwise.js';
import { numericGrad, pick } from './util/gradcheck.js';
import { batchNormBackwardRef, batchNormForwardEvalRef, batchNormForwardTrainRef } from './reference/batchnorm2d.js';

const getCtx = useContext();

/** NCHW data whose channels have different means and spreads, as after a convolution. */
function activations(shape: number[], seed: number, offset = 0): Float32Array {
  const [N, C, H, W] = shape as [number, number, number, number];
  const v = normal(N * C * H * W, seed);
  const centre = uniform(C, seed + 1, -2, 2);
  const spread = uniform(C, seed + 2, 0.5, 2);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < H * W; i++) {
        const j = (n * C + c) * H * W + i;
        v[j] = offset + centre[c]! + spread[c]! * v[j]!;
      }
    }
  }
  return v;
}

const f32s = (a: ArrayLike<number>): Float32Array => Float32Array.from(a);

interface Params {
  gamma: Float32Array;
  beta: Float32Array;
  rm: Float32Array;
  rv: Float32Array;
}

function params(C: number, seed: number): Params {
  return {
    gamma: uniform(C, seed, 0.5, 1.5),
    beta: uniform(C, seed + 1, -0.5, 0.5),
    rm: uniform(C, seed + 2, -0.2, 0.2),
    rv: uniform(C, seed + 3, 0.5, 1.5),
  };
}

// Shapes: vec4 and scalar paths, batch 1, one and three channels, odd 7×5 planes, H·W = 1,
// large M with small C (several slices per channel) and small M with large C (fused path).
const SHAPES: { shape: number[]; why: string }[] = [
  { shape: [2, 3, 4, 4], why: '3 channels, vec4' },
  { shape: [1, 1, 7, 5], why: 'batch 1, 1 channel, odd 7×5' },
  { shape: [3, 4, 7, 5], why: 'odd 7×5, scalar loads' },
  { shape: [5, 3, 1, 1], why: 'H·W = 1' },
  { shape: [2, 512, 2, 2], why: 'small M, large C' },
  { shape: [4, 2, 64, 64], why: 'large M, small C, vec4 slices' },
  { shape: [3, 2, 37, 41], why: 'large M, small C, scalar slices' },
  { shape: [40, 3, 3, 3], why: '3×3 planes, a slice step spans runs (scalar)' },
  { shape: [48, 4, 2, 6], why: 'a slice step spans runs (vec4)' },
];

describe('batchnorm2d reference (finite differences)', () => {
  for (const shape of [
    [2, 3, 3, 2],
    [1, 2, 3, 3],
  ]) {
    it(`dx, dγ, dβ of [${shape}]`, () => {
      const C = shape[1]!;
      const x = activations(shape, 11);
      const g = uniform(x.length, 12);
      const { gamma, beta, rm, rv } = params(C, 13);
      const fwd = batchNormForwardTrainRef(x, shape, gamma, beta, rm, rv);
      const ref = batchNormBackwardRef(x, g, shape, gamma, fwd.mean, fwd.invstd);

      const dx = numericGrad((xx) => batchNormForwardTrainRef(xx, shape, gamma, beta, rm, rv).y, x, g);
      expectClose(pick(ref.dx, dx.indices), dx.values, TOL.finiteDiff, 'reference dx');
      const dg = numericGrad((gg) => batchNormForwardTrainRef(x, shape, gg, beta, rm, rv).y, gamma, g);
      expectClose(pick(ref.dgamma, dg.indices), dg.values, TOL.finiteDiff, 'reference dγ');
      const db = numericGrad((bb) => batchNormForwardTrainRef(x, shape, gamma, bb, rm, rv).y, beta, g);
      expectClose(pick(ref.dbeta, db.indices), db.values, TOL.finiteDiff, 'reference dβ');
    });
  }
});

describe('batchnorm2d', () => {
  it('whole-channel and split-channel reductions both occur below', () => {
    expect(batchNormSlices([2, 512, 2, 2])).toBe(1);
    expect(batchNormSlices([4, 2, 64, 64])).toBeGreaterThan(1);
    expect(batchNormSlices([3, 2, 37, 41])).toBeGreaterThan(1);
    // More slices than vectors per run: the cursor wraps from one batch item's run to the next.
    expect(batchNormSlices([40, 3, 3, 3])).toBeGreaterThan(9);
    expect(batchNormSlices([48, 4, 2, 6])).toBeGreaterThan(3);
  });

  for (const { shape, why } of SHAPES) {
    it(`train ×2, eval, backward: [${shape}] (${why})`, async () => {
      const ctx = getCtx();
      await ctx.prepare(batchNormKernelSpecs(ctx, shape));
      const C = shape[1]!;
      const opts = { momentum: 0.1, eps: 1e-5 };
      const x1v = activations(shape, 21);
      const x2v = activations(shape, 22);
      const P = params(C, 23);
      const x1 = f32(ctx, shape, x1v);
      const x2 = f32(ctx, shape, x2v);
      const gamma = f32(ctx, [C], P.gamma);
      const beta = f32(ctx, [C], P.beta);
      const rm = f32(ctx, [C], P.rm);
      const rv = f32(ctx, [C], P.rv);

      // Two consecutive training steps; the second writes into the first's outputs.
      const s1 = batchNormForwardTrain(ctx, x1, gamma, beta, rm, rv, opts);
      const r1 = batchNormForwardTrainRef(x1v, shape, P.gamma, P.beta, P.rm, P.rv);
      expectClose(await ctx.readF32(s1.y), r1.y, TOL.forward, 'step 1 y');
      expectClose(await ctx.readF32(s1.saveMean), r1.mean, TOL.forward, 'step 1 mean');
      expectClose(await ctx.readF32(s1.saveInvStd), r1.invstd, TOL.forward, 'step 1 invstd');
      const s2 = batchNormForwardTrain(ctx, x2, gamma, beta, rm, rv, opts, s1);
      expect(s2.y).toBe(s1.y);
      const r2 = batchNormForwardTrainRef(x2v, shape, P.gamma, P.beta, r1.runningMean, r1.runningVar);
      expectClose(await ctx.readF32(s2.y), r2.y, TOL.forward, 'step 2 y');
      expectClose(await ctx.readF32(rm), r2.runningMean, TOL.forward, 'running mean after 2 steps');
      expectClose(await ctx.readF32(rv), r2.runningVar, TOL.forward, 'running var after 2 steps');

      // Evaluation forward with the running statistics the GPU now holds.
      const rmNow = await ctx.readF32(rm);
      const rvNow = await ctx.readF32(rv);
      const ye = batchNormForwardEval(ctx, x1, gamma, beta, rm, rv, opts);
      const yeRef = batchNormForwardEvalRef(x1v, shape, P.gamma, P.beta, rmNow, rvNow);
      expectClose(await ctx.readF32(ye), yeRef, TOL.forward, 'eval y');

      // Fused with a channel selection (every other channel, backwards, plus an index ≥ C that
      // gives zeros) and a ReLU: the float64 reference, and bit for bit the three separate ops.
      const keep = [...Array(C).keys()].filter((c) => c % 2 === 0).reverse().concat([C + 3]);
      const idx = ctx.tensor([keep.length], keep, 'u32');
      const fused = await ctx.readF32(batchNormForwardEval(ctx, x1, gamma, beta, rm, rv, { ...opts, relu: true, indices: idx }));
      const [N, , H, W] = shape as [number, number, number, number];
      const fusedRef = new Float64Array(N * keep.length * H * W);
      for (let n = 0; n < N; n++) {
        keep.forEach((c, j) => {
          for (let i = 0; i < H * W; i++) fusedRef[(n * keep.length + j) * H * W + i] = c < C ? Math.max(0, yeRef[(n * C + c) * H * W + i]!) : 0;
        });
      }
      expectClose(fused, fusedRef, TOL.forward, 'eval y, selected, relu');
      const apart = reluForward(ctx, channelSelectForward(ctx, ye, idx));
      expectBitExact(fused, await ctx.readF32(apart), 'fused vs separate ops');
      expectBitExact(
        await ctx.readF32(batchNormForwardEval(ctx, x1, gamma, beta, rm, rv, { ...opts, relu: true })),
        await ctx.readF32(reluForward(ctx, ye)),
        'BN + ReLU fused vs separate',
      );

      // Backward from step 2's statistics (rounded to float32, as the GPU holds them).
      const dyv = normal(x2v.length, 24);
      const dy = f32(ctx, shape, dyv);
      const mean = f32(ctx, [C], f32s(r2.mean));
      const invstd = f32(ctx, [C], f32s(r2.invstd));
      const g = batchNormBackward(ctx, x2, dy, gamma, mean, invstd);
      const rg = batchNormBackwardRef(x2v, dyv, shape, P.gamma, f32s(r2.mean), f32s(r2.invstd));
      expectClose(await ctx.readF32(g.dbeta), rg.dbeta, TOL.gradient, 'dβ');
      expectClose(await ctx.readF32(g.dgamma), rg.dgamma, TOL.gradient, 'dγ');
      expectClose(await ctx.readF32(g.dx), rg.dx, TOL.gradient, 'dx');

      for (const t of [x1, x2, gamma, beta, rm, rv, s1.y, s1.saveMean, s1.saveInvStd, ye, dy, mean, invstd, g.dx, g.dgamma, g.dbeta]) t.destroy();
    });
  }

  it('variance stays accurate for a large mean (no E[x²] − E[x]²)', async () => {
    const ctx = getCtx();
    const shape = [8, 2, 32, 32];
    const xv = activations(shape, 31, 1000);
    const P = params(2, 32);
    const x = f32(ctx, shape, xv);
    const gamma = f32(ctx, [2], P.gamma);
    const beta = f32(ctx, [2], P.beta);
    const rm = f32(ctx, [2], P.rm);
    const rv = f32(ctx, [2], P.rv);
    const s = batchNormForwardTrain(ctx, x, gamma, beta, rm, rv);
    const r = batchNormForwardTrainRef(xv, shape, P.gamma, P.beta, P.rm, P.rv);
    // (y itself is not compared: the float32 mean near 1000 is off by up to ~ulp(1000) = 6e-5,
    // which shifts every y by that much times invstd·γ whatever the variance algorithm.)
    expectClose(await ctx.readF32(s.saveInvStd), r.invstd, TOL.forward, 'invstd');
    expectClose(await ctx.readF32(rv), r.runningVar, TOL.forward, 'running var');
    for (const t of [x, gamma, beta, rm, rv, s.y, s.saveMean, s.saveInvStd]) t.destroy();
  });

  it('rejects bad shapes with a ShapeError naming the op and the shapes', () => {
    const ctx = getCtx();
    const x = ctx.tensor([2, 4, 5, 5]);
    const v4 = ctx.tensor([4]);
    const v3 = ctx.tensor([3]);
    expect(() => batchNormForwardTrain(ctx, x, v3, v4, v4, v4)).toThrow(ShapeError);
    expect(() => batchNormForwardTrain(ctx, x, v3, v4, v4, v4)).toThrow('batchNormForwardTrain: gamma [3] must be an f32 vector [4] for x [2, 4, 5, 5]');
    const one = ctx.tensor([1, 4, 1, 1]);
    expect(() => batchNormForwardTrain(ctx, one, v4, v4, v4, v4)).toThrow('batchNormForwardTrain: x [1, 4, 1, 1] has one value per channel');
    const dy = ctx.tensor([2, 4, 5, 4]);
    expect(() => batchNormBackward(ctx, x, dy, v4, v4, v4)).toThrow('batchNormBackward: dy [2, 4, 5, 4] must match x [2, 4, 5, 5]');
    const idx = ctx.tensor([2], [0, 1], 'u32');
    expect(() => batchNormForwardEval(ctx, x, v4, v4, v4, v4, { indices: idx }, dy)).toThrow('batchNormForwardEval: y [2, 4, 5, 4] must be f32 [2, 2, 5, 5]');
    expect(() => batchNormForwardEval(ctx, x, v4, v4, v4, v4, { indices: v4 })).toThrow('batchNormForwardEval: indices [4] (f32) must be a u32 vector [K]');
    for (const t of [x, v4, v3, one, dy, idx]) t.destroy();
  });
});
