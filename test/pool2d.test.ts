import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/core.js';
import {
  avgPool2dBackward,
  avgPool2dForward,
  globalAvgPool2dBackward,
  globalAvgPool2dForward,
  maxPool2dBackward,
  maxPool2dForward,
  pool2dKernelSpecs,
  pool2dOutputShape,
  type Pool2dOptions,
} from '../src/ops/pool2d.js';
import { useContext, f32 } from './util/gpu.js';
import { integers, rng, uniform } from './util/random.js';
import { TOL, expectBitExact, expectClose } from './util/tolerance.js';
import { numericGrad, pick } from './util/gradcheck.js';
import {
  avgPool2dBackwardRef,
  avgPool2dRef,
  globalAvgPool2dBackwardRef,
  globalAvgPool2dRef,
  maxPool2dBackwardRef,
  maxPool2dRef,
  poolOutputShapeRef,
  type PoolGeometry,
} from './reference/pool2d.js';

const getCtx = useContext();

function geometry(o: Pool2dOptions): PoolGeometry {
  const two = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);
  const [kh, kw] = two(o.kernel);
  const [sh, sw] = two(o.stride ?? o.kernel);
  const [ph, pw] = two(o.padding ?? 0);
  return { kh, kw, sh, sw, ph, pw };
}

/** Distinct values at least 1e-2 apart in random order: no ties, and a ±1e-3 step keeps every argmax. */
function distinct(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const v = Float32Array.from({ length: n }, (_, i) => (i - n / 2) * 1e-2);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return v;
}

const f32s = (a: ArrayLike<number>): Float32Array => Float32Array.from(a);
const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);

// Max pool cases: the vectorised 2×2 path (W % 4 == 0; backward also needs H even), the general
// path (odd sizes leave rows/columns uncovered), overlapping windows, rectangular geometry.
const MAX_CASES: { shape: number[]; opts: Pool2dOptions; why: string }[] = [
  { shape: [2, 3, 8, 8], opts: { kernel: 2 }, why: '2×2 vectorised' },
  { shape: [1, 2, 5, 12], opts: { kernel: 2 }, why: '2×2 vectorised forward, odd H: general backward' },
  { shape: [1, 1, 7, 5], opts: { kernel: 2 }, why: 'batch 1, 1 channel, odd 7×5' },
  { shape: [2, 3, 6, 6], opts: { kernel: 2 }, why: '2×2, W % 4 ≠ 0' },
  { shape: [2, 3, 9, 7], opts: { kernel: 3, stride: 2, padding: 1 }, why: 'overlapping windows, padding' },
  { shape: [1, 2, 6, 5], opts: { kernel: [3, 2], stride: [1, 2], padding: [1, 0] }, why: 'rectangular' },
  { shape: [2, 4, 4, 4], opts: { kernel: 4 }, why: 'whole plane' },
];

const AVG_CASES: { shape: number[]; opts: Pool2dOptions; why: string }[] = [
  { shape: [2, 3, 8, 8], opts: { kernel: 2 }, why: 'kernel = stride = 2' },
  { shape: [2, 5, 8, 8], opts: { kernel: 8, stride: 8 }, why: 'global 8×8' },
  { shape: [1, 1, 7, 5], opts: { kernel: 2 }, why: 'batch 1, 1 channel, odd 7×5' },
  { shape: [2, 3, 9, 7], opts: { kernel: 3, stride: 2, padding: 1 }, why: 'overlapping, count_include_pad' },
  { shape: [1, 2, 6, 5], opts: { kernel: [3, 2], stride: [1, 2], padding: [1, 1] }, why: 'rectangular' },
];

describe('pool2d reference (finite differences)', () => {
  for (const { shape, opts } of [
    { shape: [1, 2, 5, 6], opts: { kernel: 3, stride: 2, padding: 1 } },
    { shape: [2, 1, 4, 4], opts: { kernel: 2 } },
  ]) {
    const g = geometry(opts);
    it(`max and avg backward of [${shape}] k${g.kh} s${g.sh} p${g.ph}`, () => {
      const x = distinct(numel(shape), 41);
      const dy = uniform(numel(poolOutputShapeRef(shape, g)), 42);
      const { argmax } = maxPool2dRef(x, shape, g);
      const dMax = numericGrad((xx) => maxPool2dRef(xx, shape, g).y, x, dy);
      expectClose(pick(maxPool2dBackwardRef(dy, argmax, shape, g), dMax.indices), dMax.values, TOL.finiteDiff, 'reference max dx');
      const dAvg = numericGrad((xx) => avgPool2dRef(xx, shape, g), x, dy);
      expectClose(pick(avgPool2dBackwardRef(dy, shape, g), dAvg.indices), dAvg.values, TOL.finiteDiff, 'reference avg dx');
    });
  }
});

describe('maxpool2d', () => {
  it('every pooling kernel compiles ahead of use', async () => {
    const ctx = getCtx();
    const before = ctx.kernelCount;
    await ctx.prepare(pool2dKernelSpecs());
    expect(ctx.kernelCount - before).toBe(pool2dKernelSpecs().length);
  });

  for (const { shape, opts, why } of MAX_CASES) {
    it(`forward, argmax, backward: [${shape}] ${JSON.stringify(opts)} (${why})`, async () => {
      const ctx = getCtx();
      const g = geometry(opts);
      const yShape = pool2dOutputShape(shape, opts);
      expect(yShape).toEqual(poolOutputShapeRef(shape, g));
      // Small integers make ties common; negative values make −inf padding matter.
      const xv = f32s(Array.from(integers(numel(shape), 5, 51), (v) => v - 6));
      const dyv = uniform(numel(yShape), 52);
      const x = f32(ctx, shape, xv);
      const dy = f32(ctx, yShape, dyv);
      const { y, argmax } = maxPool2dForward(ctx, x, opts);
      const ref = maxPool2dRef(xv, shape, g);
      expectBitExact(await ctx.readF32(y), f32s(ref.y), 'y');
      const am = await ctx.read(argmax);
      expect(am).toBeInstanceOf(Uint32Array);
      expect(Array.from(am)).toEqual(Array.from(ref.argmax)); // exact
      // Sums of overlapping windows in PyTorch's order, rounded like float32: bit for bit.
      const dx = maxPool2dBackward(ctx, dy, argmax, shape, opts);
      expectBitExact(await ctx.readF32(dx), f32s(maxPool2dBackwardRef(dyv, ref.argmax, shape, g, true)), 'dx');
      // Preallocated outputs are written in place (dx full of garbage first: every element is set).
      ctx.device.queue.writeBuffer(dx.buffer, 0, new Float32Array(numel(shape)).fill(7));
      expect(maxPool2dForward(ctx, x, opts, { y, argmax }).y).toBe(y);
      expect(maxPool2dBackward(ctx, dy, argmax, shape, opts, dx)).toBe(dx);
      expectBitExact(await ctx.readF32(dx), f32s(maxPool2dBackwardRef(dyv, ref.argmax, shape, g, true)), 'dx again');
      for (const t of [x, dy, y, argmax, dx]) t.destroy();
    });
  }

  it('NaN wins a window, as in PyTorch', async () => {
    const ctx = getCtx();
    const shape = [1, 1, 4, 8];
    const xv = uniform(32, 61);
    xv[9] = NaN; // window (0, 0) of the 2×2 pool: rows 0–1, columns 0–1
    xv[3] = NaN; // and window (0, 1) via the general path below
    const x = f32(ctx, shape, xv);
    for (const opts of [{ kernel: 2 }, { kernel: 3, stride: 1, padding: 1 }] as Pool2dOptions[]) {
      const { y, argmax } = maxPool2dForward(ctx, x, opts);
      const ref = maxPool2dRef(xv, shape, geometry(opts));
      expectBitExact(await ctx.readF32(y), f32s(ref.y), `y ${JSON.stringify(opts)}`);
      expect(Array.from(await ctx.read(argmax))).toEqual(Array.from(ref.argmax));
      y.destroy();
      argmax.destroy();
    }
    x.destroy();
  });
});

describe('avgpool2d', () => {
  for (const { shape, opts, why } of AVG_CASES) {
    it(`forward, backward: [${shape}] ${JSON.stringify(opts)} (${why})`, async () => {
      const ctx = getCtx();
      const g = geometry(opts);
      const yShape = pool2dOutputShape(shape, opts);
      expect(yShape).toEqual(poolOutputShapeRef(shape, g));
      const xv = uniform(numel(shape), 71);
      const dyv = uniform(numel(yShape), 72);
      const x = f32(ctx, shape, xv);
      const dy = f32(ctx, yShape, dyv);
      const y = avgPool2dForward(ctx, x, opts);
      expectClose(await ctx.readF32(y), avgPool2dRef(xv, shape, g), TOL.forward, 'y');
      const dx = avgPool2dBackward(ctx, dy, shape, opts);
      expectClose(await ctx.readF32(dx), avgPool2dBackwardRef(dyv, shape, g), TOL.forward, 'dx');
      for (const t of [x, dy, y, dx]) t.destroy();
    });
  }
});

// Global average pool cases: batch 1 and one channel, 1×1 planes (the identity), H·W below,
// at and above a multiple of 4 (the kernel's four running sums take a tail of H·W mod 4), plane
// counts that are not a multiple of the 64-invocation workgroup, a CNN head, and one long plane.
const GAP_CASES: { shape: number[]; why: string }[] = [
  { shape: [1, 1, 1, 1], why: 'one element' },
  { shape: [3, 5, 1, 1], why: '1×1 planes: the identity' },
  { shape: [1, 1, 1, 13], why: 'batch 1, 1 channel, H·W mod 4 = 1' },
  { shape: [1, 1, 7, 5], why: 'batch 1, 1 channel, odd 7×5' },
  { shape: [2, 3, 9, 7], why: 'H·W mod 4 = 3' },
  { shape: [1, 70, 3, 3], why: '70 planes: two workgroups, the second partial' },
  { shape: [4, 33, 4, 4], why: 'CNN head, H·W mod 4 = 0' },
  { shape: [1, 2, 61, 67], why: 'long planes (4087 terms)' },
];

describe('global average pool (AdaptiveAvgPool2d(1))', () => {
  it('reference backward (finite differences)', () => {
    for (const shape of [[2, 3, 5, 7], [1, 1, 1, 3]]) {
      const x = uniform(numel(shape), 81);
      const dy = uniform(shape[0]! * shape[1]!, 82);
      const d = numericGrad((xx) => globalAvgPool2dRef(xx, shape), x, dy, { maxCoords: 210 });
      expectClose(pick(globalAvgPool2dBackwardRef(dy, shape), d.indices), d.values, TOL.finiteDiff, `reference dx [${shape}]`);
    }
  });

  // Forward: float32 sums of H·W terms (four running sums of ⌈H·W/4⌉ terms, then one division)
  // against a float64 mean: TOL.forward, the policy for float32 sums of up to ~5000 terms.
  // Backward: one float32 division per element, which WGSL guarantees to 2.5 ULP (≤ 2.5·2⁻²³
  // relative); 3·10⁻⁷ relative bounds it.
  const DIVISION = { atol: 0, rtol: 3e-7 };
  for (const { shape, why } of GAP_CASES) {
    it(`forward, backward: [${shape}] (${why})`, async () => {
      const ctx = getCtx();
      const yShape = [shape[0]!, shape[1]!, 1, 1];
      const xv = uniform(numel(shape), 91);
      const dyv = uniform(numel(yShape), 92);
      const x = f32(ctx, shape, xv);
      const dy = f32(ctx, yShape, dyv);
      const y = globalAvgPool2dForward(ctx, x);
      expect(y.shape).toEqual(yShape);
      expectClose(await ctx.readF32(y), globalAvgPool2dRef(xv, shape), TOL.forward, 'y');
      const dx = globalAvgPool2dBackward(ctx, dy, shape);
      expectClose(await ctx.readF32(dx), globalAvgPool2dBackwardRef(dyv, shape), DIVISION, 'dx');
      // Preallocated outputs are written in place, every element of them.
      ctx.device.queue.writeBuffer(dx.buffer, 0, new Float32Array(numel(shape)).fill(7));
      ctx.device.queue.writeBuffer(y.buffer, 0, new Float32Array(numel(yShape)).fill(7));
      expect(globalAvgPool2dForward(ctx, x, y)).toBe(y);
      expect(globalAvgPool2dBackward(ctx, dy, shape, dx)).toBe(dx);
      expectClose(await ctx.readF32(y), globalAvgPool2dRef(xv, shape), TOL.forward, 'y again');
      expectClose(await ctx.readF32(dx), globalAvgPool2dBackwardRef(dyv, shape), DIVISION, 'dx again');
      for (const t of [x, dy, y, dx]) t.destroy();
    });
  }

  it('rejects shapes naming the op', () => {
    const ctx = getCtx();
    const x = ctx.tensor([2, 3, 4]);
    const dy = ctx.tensor([2, 3, 1, 2]);
    expect(() => globalAvgPool2dForward(ctx, x)).toThrow('globalAvgPool2dForward: input [2, 3, 4] must be 4-D [N, C, H, W]');
    expect(() => globalAvgPool2dBackward(ctx, dy, [2, 3, 4, 4])).toThrow('globalAvgPool2dBackward: dy [2, 3, 1, 2] (f32) must be f32 [2, 3, 1, 1]');
    expect(() => globalAvgPool2dBackward(ctx, dy, [2, 3, 0, 4])).toThrow('globalAvgPool2dBackward: input [2, 3, 0, 4] has an empty H×W plane');
    x.destroy();
    dy.destroy();
  });
});

describe('pool2d shape errors', () => {
  it('name the op and the shapes', () => {
    const ctx = getCtx();
    const x = ctx.tensor([2, 3, 8, 8]);
    const dy = ctx.tensor([2, 3, 4, 5]);
    const am = ctx.tensor([2, 3, 4, 4], undefined, 'u32');
    expect(() => maxPool2dBackward(ctx, dy, am, [2, 3, 8, 8], { kernel: 2 })).toThrow(ShapeError);
    expect(() => maxPool2dBackward(ctx, dy, am, [2, 3, 8, 8], { kernel: 2 })).toThrow('maxPool2dBackward: dy [2, 3, 4, 5] (f32) must be f32 [2, 3, 4, 4]');
    expect(() => avgPool2dForward(ctx, x, { kernel: 3, padding: 2 })).toThrow('avgPool2dForward: padding [2, 2] exceeds half the kernel [3, 3]');
    expect(() => maxPool2dForward(ctx, x, { kernel: 9 })).toThrow('maxPool2dForward: input [2, 3, 8, 8] is smaller than the kernel [9, 9]');
    for (const t of [x, dy, am]) t.destroy();
  });
});
