import { describe, expect, it } from 'vitest';
import { ops } from '../src/core.js';
import { useContext, f32 } from './util/gpu.js';
import { uniform } from './util/random.js';
import { TOL, expectBitExact, expectClose } from './util/tolerance.js';
import { numericGrad, pick } from './util/gradcheck.js';
import { dropoutMaskRef, dropoutRef, relu6BackwardRef, relu6Ref } from './reference/elementwise.js';

const getCtx = useContext();

// Element-wise results are exact in float32 (max, min, select, one addition, one multiplication:
// WGSL rounds + and × correctly), so the float64 reference rounded to float32 must match bit for bit.
describe('elementwise', () => {
  for (const n of [1, 7, 256, 1000, 70_000]) {
    it(`relu forward/backward, n=${n}`, async () => {
      const ctx = getCtx();
      const xv = uniform(n, n, -1, 1);
      const gv = uniform(n, n + 1, -1, 1);
      const x = f32(ctx, [n], xv);
      const dy = f32(ctx, [n], gv);
      const y = ops.reluForward(ctx, x);
      const dx = ops.reluBackward(ctx, y, dy);
      const ry = Float32Array.from(xv, (v) => Math.max(v, 0));
      const rdx = Float32Array.from(gv, (g, i) => (ry[i]! > 0 ? g : 0));
      expectBitExact(await ctx.readF32(y), ry, 'relu y');
      expectBitExact(await ctx.readF32(dx), rdx, 'relu dx');
      // in place
      ops.reluForward(ctx, x, x);
      ops.reluBackward(ctx, x, dy, dy);
      expectBitExact(await ctx.readF32(x), ry, 'relu y in place');
      expectBitExact(await ctx.readF32(dy), rdx, 'relu dx in place');
      for (const t of [x, dy, y, dx]) t.destroy();
    });
  }

  it('add and accumulate', async () => {
    const ctx = getCtx();
    const n = 1003;
    const av = uniform(n, 1), bv = uniform(n, 2);
    const a = f32(ctx, [n], av), b = f32(ctx, [n], bv);
    const s = ops.add(ctx, a, b);
    ops.accumulate(ctx, s, a);
    const ref = Float32Array.from(av, (v, i) => Math.fround(Math.fround(v + bv[i]!) + v));
    expectBitExact(await ctx.readF32(s), ref, 'a + b + a');
    for (const t of [a, b, s]) t.destroy();
  });

  it('folds more than 65535 workgroups into two dimensions', async () => {
    const ctx = getCtx();
    const n = 65536 * 256 + 300; // 65538 workgroups of 256
    const x = ctx.tensor([n], undefined, 'f32', 'big');
    const ones = new Float32Array(n).fill(-1);
    ones[n - 1] = 3;
    ctx.device.queue.writeBuffer(x.buffer, 0, ones);
    ops.reluForward(ctx, x, x);
    const y = await ctx.readF32(x);
    expect(y[0]).toBe(0);
    expect(y[n - 1]).toBe(3);
    expect(y[65536 * 256 - 1]).toBe(0);
    x.destroy();
  });

  it('rejects mismatched shapes naming both', () => {
    const ctx = getCtx();
    const a = ctx.tensor([2, 3]), b = ctx.tensor([3, 2]);
    expect(() => ops.add(ctx, a, b)).toThrow('add: a [2, 3] and b [3, 2] differ');
    a.destroy();
    b.destroy();
  });
});

/** Float32 of a float64 array with −0 read as +0: WGSL lets an implementation ignore the sign of zero. */
function f32z(a: ArrayLike<number>): Float32Array {
  return Float32Array.from(a, (v) => (v === 0 ? 0 : v));
}

/** n values in [lo, hi) with none within 2·10⁻³ of ReLU6's kinks at 0 and 6 (finite differences use h = 10⁻³). */
function awayFromKinks(n: number, seed: number, lo = -2, hi = 8): Float32Array {
  return uniform(n, seed, lo, hi).map((v) => (Math.abs(v) < 2e-3 ? v + 4e-3 : Math.abs(v - 6) < 2e-3 ? v + 4e-3 : v));
}

describe('relu6 and dropout references (finite differences)', () => {
  // Both are piecewise linear: central differences away from the kinks are exact up to float64
  // rounding, well inside TOL.finiteDiff.
  it('relu6 backward', () => {
    const x = awayFromKinks(300, 11);
    const dy = uniform(300, 12);
    const d = numericGrad(relu6Ref, x, dy, { maxCoords: 300 });
    expectClose(pick(relu6BackwardRef(x, dy), d.indices), d.values, TOL.finiteDiff, 'reference relu6 dx');
  });

  for (const p of [0.2, 0.5]) {
    it(`dropout backward, p = ${p}`, () => {
      const x = uniform(300, 13);
      const dy = uniform(300, 14);
      const d = numericGrad((xx) => dropoutRef(xx, p, 5), x, dy, { maxCoords: 300 });
      expectClose(pick(dropoutRef(dy, p, 5), d.indices), d.values, TOL.finiteDiff, 'reference dropout dx');
    });
  }
});

describe('relu6', () => {
  // Exactly 0 and 6 get no gradient (PyTorch: hardtanh_backward passes it only where 0 < x < 6);
  // the neighbours 10⁻⁶ and 6 − 2⁻²¹ (the float32 just below 6) do. −0 is left out: the sign of
  // max(−0, 0) is the implementation's choice.
  const edges = [0, 1e-6, -1e-6, 6, 6 - 2 ** -21, 6 + 2 ** -21, 3, -5, 7, 1e30, -1e30];
  for (const n of [1, 7, 256, 1000, 70_000]) {
    it(`forward/backward, n=${n}`, async () => {
      const ctx = getCtx();
      const xv = uniform(n, n + 2, -2, 8);
      xv.set(edges.slice(0, n));
      const gv = uniform(n, n + 3, -1, 1);
      const x = f32(ctx, [n], xv);
      const dy = f32(ctx, [n], gv);
      const y = ops.relu6Forward(ctx, x);
      const dx = ops.relu6Backward(ctx, y, dy);
      // The kernel masks by the output y, the reference by the input x: equal bit for bit.
      const ry = Float32Array.from(relu6Ref(xv));
      const rdx = Float32Array.from(relu6BackwardRef(xv, gv));
      expectBitExact(await ctx.readF32(y), ry, 'relu6 y');
      expectBitExact(await ctx.readF32(dx), rdx, 'relu6 dx');
      ops.relu6Forward(ctx, x, x);
      ops.relu6Backward(ctx, x, dy, dy);
      expectBitExact(await ctx.readF32(x), ry, 'relu6 y in place');
      expectBitExact(await ctx.readF32(dy), rdx, 'relu6 dx in place');
      for (const t of [x, dy, y, dx]) t.destroy();
    });
  }

  it('gradient only strictly inside (0, 6)', async () => {
    const ctx = getCtx();
    const x = f32(ctx, [6], [-1, 0, 1e-6, 6 - 2 ** -21, 6, 7]);
    const dy = f32(ctx, [6], [1, 1, 1, 1, 1, 1]);
    const y = ops.relu6Forward(ctx, x);
    const dx = ops.relu6Backward(ctx, y, dy);
    expect(Array.from(await ctx.readF32(dx))).toEqual([0, 0, 1, 1, 0, 0]);
    for (const t of [x, dy, y, dx]) t.destroy();
  });
});

describe('dropout', () => {
  // Kernel and reference compute the same float32 products x · float32(1/(1 − p)) (PyTorch's
  // scaling): bit for bit, zeros compared by value. p = 0.1 and 0.3 have inexact scales.
  for (const n of [1, 7, 256, 1000, 70_000]) {
    for (const p of [0.1, 0.3, 0.5]) {
      it(`forward/backward, n=${n}, p=${p}`, async () => {
        const ctx = getCtx();
        const opts = { p, seed: 1000 + n };
        const xv = uniform(n, n + 4);
        const gv = uniform(n, n + 5);
        const x = f32(ctx, [n], xv);
        const dy = f32(ctx, [n], gv);
        const y = ops.dropoutForward(ctx, x, opts);
        const dx = ops.dropoutBackward(ctx, dy, opts);
        const ry = f32z(dropoutRef(xv, p, opts.seed));
        const rdx = f32z(dropoutRef(gv, p, opts.seed));
        expectBitExact(f32z(await ctx.readF32(y)), ry, 'dropout y');
        expectBitExact(f32z(await ctx.readF32(dx)), rdx, 'dropout dx');
        ops.dropoutForward(ctx, x, opts, x);
        ops.dropoutBackward(ctx, dy, opts, dy);
        expectBitExact(f32z(await ctx.readF32(x)), ry, 'dropout y in place');
        expectBitExact(f32z(await ctx.readF32(dy)), rdx, 'dropout dx in place');
        for (const t of [x, dy, y, dx]) t.destroy();
      });
    }
  }

  it('kept values are x/(1 − p) exactly where 1/(1 − p) is a float32 (p = 0.5, 0.75)', async () => {
    const ctx = getCtx();
    const n = 1000;
    const xv = uniform(n, 21);
    const x = f32(ctx, [n], xv);
    for (const p of [0.5, 0.75]) {
      const y = ops.dropoutForward(ctx, x, { p, seed: 3 });
      const keep = dropoutMaskRef(n, p, 3);
      expectBitExact(f32z(await ctx.readF32(y)), f32z(Array.from(xv, (v, i) => (keep[i] ? v / (1 - p) : 0))), `y, p = ${p}`);
      y.destroy();
    }
    x.destroy();
  });

  it('p = 0 is the identity', async () => {
    const ctx = getCtx();
    const xv = uniform(1001, 22);
    const x = f32(ctx, [1001], xv);
    const y = ops.dropoutForward(ctx, x, { p: 0, seed: 9 });
    expectBitExact(await ctx.readF32(y), xv, 'y');
    expect(ops.dropoutBackward(ctx, x, { p: 0, seed: 9 }, x)).toBe(x);
    expectBitExact(await ctx.readF32(x), xv, 'dx in place');
    x.destroy();
    y.destroy();
  });

  // Mask statistics over n = 2²⁰ elements (on ones, so y is 0 or the scale). Each element drops
  // independently with probability p, so the dropped fraction has standard deviation
  // σ = √(p(1 − p)/n) ≤ 4.9·10⁻⁴; the bounds are 6σ (seeds are fixed: this is deterministic, the
  // bound says how far from p a sound hash may land). Adjacent pairs both dropped: mean p², variance
  // (p²(1 − p²) + 2p³(1 − p))/n (overlapping pairs covary), also within 6σ.
  const N = 1 << 20;
  const dropped = async (p: number, seed: number): Promise<Uint8Array> => {
    const ctx = getCtx();
    const ones = f32(ctx, [N], new Float32Array(N).fill(1));
    const y = await ctx.readF32(ops.dropoutForward(ctx, ones, { p, seed }));
    ones.destroy();
    return Uint8Array.from(y, (v) => (v === 0 ? 1 : 0));
  };

  for (const p of [0.1, 0.5, 0.9]) {
    it(`drops a fraction p of a large tensor, p = ${p}`, async () => {
      for (const seed of [0, 1, 0xffffffff]) {
        const d = await dropped(p, seed);
        let k = 0, pairs = 0;
        for (let i = 0; i < N; i++) k += d[i]!;
        for (let i = 0; i + 1 < N; i++) pairs += d[i]! & d[i + 1]!;
        const sigma = Math.sqrt((p * (1 - p)) / N);
        expect(Math.abs(k / N - p), `seed ${seed}: dropped ${k / N}`).toBeLessThan(6 * sigma);
        const sigmaPairs = Math.sqrt((p * p * (1 - p * p) + 2 * p ** 3 * (1 - p)) / N);
        expect(Math.abs(pairs / (N - 1) - p * p), `seed ${seed}: adjacent pairs ${pairs / (N - 1)}`).toBeLessThan(6 * sigmaPairs);
        // The GPU's mask is the reference hash's.
        expect(Array.from(dropoutMaskRef(64, p, seed), (v) => 1 - v)).toEqual(Array.from(d.subarray(0, 64)));
      }
    });
  }

  it('same seed, same mask; another seed, an independent mask', async () => {
    const p = 0.5;
    const a = await dropped(p, 1);
    expect(await dropped(p, 1)).toEqual(a);
    // Independent masks agree on a fraction p² + (1 − p)² = 0.5 of elements, σ = 0.5/√n.
    for (const seed of [2, 1 + 2 ** 16, 2 ** 31 + 1]) {
      const b = await dropped(p, seed);
      let agree = 0;
      for (let i = 0; i < N; i++) agree += a[i] === b[i] ? 1 : 0;
      expect(Math.abs(agree / N - 0.5), `seeds 1 and ${seed} agree on ${agree / N}`).toBeLessThan(6 * 0.5 / Math.sqrt(N));
    }
  });

  it('backward zeroes exactly what the forward dropped', async () => {
    const ctx = getCtx();
    const n = 5003;
    const opts = { p: 0.4, seed: 77 };
    const x = f32(ctx, [n], uniform(n, 31, 0.5, 1.5));
    const dyv = uniform(n, 32, 0.5, 1.5);
    const dy = f32(ctx, [n], dyv);
    const yt = ops.dropoutForward(ctx, x, opts);
    const y = await ctx.readF32(yt);
    ops.dropoutBackward(ctx, dy, opts, dy);
    const dx = await ctx.readF32(dy);
    const scale = Math.fround(1 / 0.6);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      expect(dx[i] === 0, `element ${i}`).toBe(y[i] === 0);
      if (y[i] !== 0) {
        kept++;
        expect(dx[i]).toBe(Math.fround(dyv[i]! * scale));
      }
    }
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(n);
    for (const t of [x, dy, yt]) t.destroy();
  });

  it('rejects p outside [0, 1) and seeds that are not u32', () => {
    const ctx = getCtx();
    const x = ctx.tensor([4]), y = ctx.tensor([5]);
    expect(() => ops.dropoutForward(ctx, x, { p: 1, seed: 0 })).toThrow('dropoutForward: p = 1 must be in [0, 1)');
    expect(() => ops.dropoutBackward(ctx, x, { p: -0.1, seed: 0 })).toThrow('dropoutBackward: p = -0.1 must be in [0, 1)');
    expect(() => ops.dropoutForward(ctx, x, { p: 0.5, seed: 2 ** 32 })).toThrow('dropoutForward: seed 4294967296 must be an integer in [0, 2^32)');
    expect(() => ops.dropoutForward(ctx, x, { p: 0.5, seed: 1.5 })).toThrow('must be an integer');
    expect(() => ops.dropoutForward(ctx, x, { p: 0.5, seed: 1 }, y)).toThrow('dropoutForward: input [4] and output [5] differ');
    x.destroy();
    y.destroy();
  });
});
