import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/errors.js';
import { sgdStep, type SgdOptions } from '../src/ops/sgd.js';
import { useContext, f32 } from './util/gpu.js';
import { uniform } from './util/random.js';
import { expectBitExact } from './util/tolerance.js';
import { sgdStepRef } from './reference/sgd.js';

const getCtx = useContext();

/** Distance in units in the last place between two float32 values (±0 equal). */
function ulps(a: number, b: number): number {
  const key = (v: number) => {
    const u = new Uint32Array(Float32Array.of(v).buffer)[0]!;
    return u & 0x80000000 ? -(u & 0x7fffffff) : u; // monotone integer order of floats
  };
  return Math.abs(key(a) - key(b));
}

function expectUlps(actual: Float32Array, expected: Float32Array, maxUlps: number, what: string): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0, at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = ulps(actual[i]!, expected[i]!);
    if (d > worst) [worst, at] = [d, i];
  }
  if (worst > maxUlps) throw new Error(`${what}: element ${at} is ${actual[at]}, expected ${expected[at]} (${worst} ulps apart, at most ${maxUlps} allowed)`);
}

/** Weights of both signs with every 7th exactly zero; gradients with every 11th exactly zero. */
function weights(n: number, seed: number): Float32Array {
  return Float32Array.from(uniform(n, seed, -1, 1), (v, i) => (i % 7 === 0 ? 0 : v));
}
function gradient(n: number, seed: number): Float32Array {
  return Float32Array.from(uniform(n, seed, -0.1, 0.1), (v, i) => (i % 11 === 0 ? 0 : v));
}

// The kernel runs PyTorch's float32 operations in PyTorch's order and the reference rounds each
// to float32. SwiftShader does not fuse multiply-add, so there the results must be bit-identical
// (which also pins the order of the operations). A real GPU may fuse a·b + c into one rounding:
// 1 ulp per fused operation, compounding over 3 steps to a few ulps; 4 is far below TOL.forward
// (~1000 ulps at |w| ≈ 1).
function maxUlps(isSwiftShader: boolean): number {
  return isSwiftShader ? 0 : 4;
}

describe('sgd', () => {
  const CASES: [string, Omit<SgdOptions, 'firstStep'>][] = [
    ['momentum and weight decay', { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, sparsity: 0 }],
    ['with sparsity', { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, sparsity: 1e-4 }],
    ['sparsity without weight decay', { lr: 0.02, momentum: 0.9, weightDecay: 0, sparsity: 1e-3 }],
    ['without momentum', { lr: 0.1, momentum: 0, weightDecay: 1e-4, sparsity: 1e-5 }],
    ['defaults (momentum 0.9, weight decay 1e-4)', { lr: 0.1 }],
  ];
  CASES.forEach(([name, opts], c) => {
    it(`3 steps, ${name}`, async () => {
      const ctx = getCtx();
      const n = 1037; // several workgroups, not a multiple of 256
      const w0 = weights(n, 50 + c);
      const sentinel = new Float32Array(n).fill(-7.5); // the momentum buffer's prior contents
      const param = f32(ctx, [n], w0), buf = f32(ctx, [n], sentinel), grad = ctx.tensor([n]);
      const refW = Float32Array.from(w0), refBuf = Float32Array.from(sentinel);
      const momentum = opts.momentum ?? 0.9;
      const tol = maxUlps(ctx.adapter.isSwiftShader);
      for (let step = 0; step < 3; step++) {
        const g = gradient(n, 60 + 10 * c + step);
        ctx.device.queue.writeBuffer(grad.buffer, 0, g);
        sgdStep(ctx, param, grad, buf, { ...opts, firstStep: step === 0 });
        sgdStepRef(refW, g, refBuf, { lr: opts.lr, momentum, weightDecay: opts.weightDecay ?? 1e-4, sparsity: opts.sparsity ?? 0, firstStep: step === 0 });
        const w = await ctx.readF32(param);
        expectUlps(w, refW, tol, `param after step ${step + 1}`);
        expectUlps(await ctx.readF32(buf), refBuf, tol, `momentum buffer after step ${step + 1}`);
        expectBitExact(await ctx.readF32(grad), g, 'grad is read only');
        // Zero weights move too (through their gradient): the update is not skipped at w = 0.
        expect(w.some((v, i) => v !== 0 && w0[i] === 0)).toBe(true);
      }
      if (momentum === 0) expectBitExact(await ctx.readF32(buf), sentinel, 'buffer untouched without momentum');
      for (const t of [param, buf, grad]) t.destroy();
    });
  });

  it('sign(0) = 0: a zero weight with zero gradient and no weight decay stays exactly zero', async () => {
    const ctx = getCtx();
    const param = f32(ctx, [4], [0, 1, -1, 0]), grad = f32(ctx, [4], [0, 0, 0, 0.5]), buf = ctx.tensor([4]);
    sgdStep(ctx, param, grad, buf, { lr: 1, momentum: 0.9, weightDecay: 0, sparsity: 0.25, firstStep: true });
    expectBitExact(await ctx.readF32(param), Float32Array.of(0, 0.75, -0.75, -0.5), 'param');
    expectBitExact(await ctx.readF32(buf), Float32Array.of(0, 0.25, -0.25, 0.5), 'buffer');
    for (const t of [param, grad, buf]) t.destroy();
  });

  it('rejects a gradient of another shape with a ShapeError', () => {
    const ctx = getCtx();
    const p = ctx.tensor([3, 4]), g = ctx.tensor([4, 3]), b = ctx.tensor([3, 4]);
    expect(() => sgdStep(ctx, p, g, b, { lr: 0.1, firstStep: true })).toThrow(ShapeError);
    expect(() => sgdStep(ctx, p, g, b, { lr: 0.1, firstStep: true })).toThrow('sgdStep: grad [4, 3] and param [3, 4] differ');
    expect(() => sgdStep(ctx, p, b, b, { lr: 0.1, firstStep: true })).toThrow('three different tensors');
    for (const t of [p, g, b]) t.destroy();
  });
});
