import { describe, expect, it } from 'vitest';
import { ops } from '../src/core.js';
import { useContext, f32 } from './util/gpu.js';
import { uniform } from './util/random.js';
import { expectBitExact } from './util/tolerance.js';

const getCtx = useContext();

// Element-wise results are exact in float32 (max, select, one addition), so the float64
// reference rounded to float32 must match bit for bit.
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
