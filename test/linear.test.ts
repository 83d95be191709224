import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/errors.js';
import { linearBackward, linearForward } from '../src/ops/linear.js';
import { useContext, f32 } from './util/gpu.js';
import { numericGrad, pick } from './util/gradcheck.js';
import { uniform } from './util/random.js';
import { TOL, expectClose } from './util/tolerance.js';
import { linearBackwardRef, linearRef, type LinearDims } from './reference/linear.js';

const getCtx = useContext();

// [N, in, out]: singletons, sizes that are not multiples of the 4×4 block, more than one
// workgroup (32 outputs) along each GEMM axis, and VGG's CIFAR head 512 → 10 at batch 64.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 3, 5],
  [3, 7, 10],
  [5, 17, 3],
  [133, 9, 6],
  [2, 70, 33],
  [64, 512, 10],
];

describe('linear', () => {
  for (const [batch, nin, nout] of SHAPES) {
    it(`forward and backward vs float64, N=${batch} in=${nin} out=${nout}`, async () => {
      const ctx = getCtx();
      const d: LinearDims = { batch, inFeatures: nin, outFeatures: nout };
      const seed = batch * 1000 + nin * 10 + nout;
      const xv = uniform(batch * nin, seed, -1, 1);
      const wv = uniform(nout * nin, seed + 1, -0.5, 0.5);
      const bv = uniform(nout, seed + 2, -1, 1);
      const gv = uniform(batch * nout, seed + 3, -1, 1);
      const x = f32(ctx, [batch, nin], xv), w = f32(ctx, [nout, nin], wv), b = f32(ctx, [nout], bv), dy = f32(ctx, [batch, nout], gv);
      const y = linearForward(ctx, x, w, b);
      const y0 = linearForward(ctx, x, w, null);
      const g = linearBackward(ctx, x, w, dy);
      expect(y.shape).toEqual([batch, nout]);
      expectClose(await ctx.readF32(y), linearRef(xv, wv, bv, d), TOL.forward, 'y');
      expectClose(await ctx.readF32(y0), linearRef(xv, wv, null, d), TOL.forward, 'y without bias');
      const ref = linearBackwardRef(xv, wv, gv, d);
      expectClose(await ctx.readF32(g.dx!), ref.dx, TOL.gradient, 'dx');
      expectClose(await ctx.readF32(g.dw), ref.dw, TOL.gradient, 'dw');
      expectClose(await ctx.readF32(g.db!), ref.db, TOL.gradient, 'db');
      for (const t of [x, w, b, dy, y, y0, g.dx!, g.dw, g.db!]) t.destroy();
    });
  }

  it('reference backward matches finite differences of the reference forward', () => {
    const d: LinearDims = { batch: 3, inFeatures: 5, outFeatures: 4 };
    const xv = uniform(15, 11), wv = uniform(20, 12), bv = uniform(4, 13), gv = uniform(12, 14);
    const ref = linearBackwardRef(xv, wv, gv, d);
    const nx = numericGrad((x) => linearRef(x, wv, bv, d), xv, gv);
    expectClose(nx.values, pick(ref.dx, nx.indices), TOL.finiteDiff, 'dx vs finite differences');
    const nw = numericGrad((w) => linearRef(xv, w, bv, d), wv, gv);
    expectClose(nw.values, pick(ref.dw, nw.indices), TOL.finiteDiff, 'dw vs finite differences');
    const nb = numericGrad((b) => linearRef(xv, wv, b, d), bv, gv);
    expectClose(nb.values, pick(ref.db, nb.indices), TOL.finiteDiff, 'db vs finite differences');
  });

  it('flattens [N, C, 1, 1] input, writes into given outputs, honours inputGrad/bias options', async () => {
    const ctx = getCtx();
    const d: LinearDims = { batch: 6, inFeatures: 12, outFeatures: 7 };
    const xv = uniform(72, 21), wv = uniform(84, 22), bv = uniform(7, 23), gv = uniform(42, 24);
    const x = f32(ctx, [6, 12, 1, 1], xv), w = f32(ctx, [7, 12], wv), b = f32(ctx, [7], bv), dy = f32(ctx, [6, 7], gv);
    // Preallocated outputs full of garbage: every element must be overwritten.
    const junk = (n: number) => new Float32Array(n).fill(123);
    const y = f32(ctx, [6, 7], junk(42)), dx = f32(ctx, [6, 12, 1, 1], junk(72)), dw = f32(ctx, [7, 12], junk(84)), db = f32(ctx, [7], junk(7));
    expect(linearForward(ctx, x, w, b, y)).toBe(y);
    const g = linearBackward(ctx, x, w, dy, {}, { dx, dw, db });
    expect(g.dx).toBe(dx);
    expect(g.dw).toBe(dw);
    expect(g.db).toBe(db);
    expectClose(await ctx.readF32(y), linearRef(xv, wv, bv, d), TOL.forward, 'y');
    const ref = linearBackwardRef(xv, wv, gv, d);
    expectClose(await ctx.readF32(dx), ref.dx, TOL.gradient, 'dx');
    expectClose(await ctx.readF32(dw), ref.dw, TOL.gradient, 'dw');
    expectClose(await ctx.readF32(db), ref.db, TOL.gradient, 'db');
    const only = linearBackward(ctx, x, w, dy, { inputGrad: false, bias: false });
    expect(only.dx).toBeUndefined();
    expect(only.db).toBeUndefined();
    expectClose(await ctx.readF32(only.dw), ref.dw, TOL.gradient, 'dw alone');
    for (const t of [x, w, b, dy, y, dx, dw, db, only.dw]) t.destroy();
  });

  it('rejects mismatched shapes with a ShapeError naming both', () => {
    const ctx = getCtx();
    const x = ctx.tensor([2, 3]), w = ctx.tensor([4, 5]), w2 = ctx.tensor([4, 3]), dy = ctx.tensor([2, 5]);
    expect(() => linearForward(ctx, x, w, null)).toThrow(ShapeError);
    expect(() => linearForward(ctx, x, w, null)).toThrow('linearForward: x [2, 3] has 3 features per sample but w [4, 5] expects 5');
    expect(() => linearBackward(ctx, x, w2, dy)).toThrow('linearBackward: dy [2, 5] should be [2, 4]');
    for (const t of [x, w, w2, dy]) t.destroy();
  });
});
