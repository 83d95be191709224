// Grouped / depthwise conv2d with bias (src/ops/conv2d_grouped.ts) against a float64 reference and
// finite differences.
//
// Tolerances (test/util/tolerance.ts), and why:
// - y vs the reference: TOL.forward (1e-5·scale + 1e-4 relative): a float32 sum of at most
//   Cg·KH·KW ≤ 75 terms plus the bias, far inside the K·2⁻²⁴ bound the policy is built for.
// - dx, dw, dbias vs the reference: TOL.gradient (1e-4·scale + 1e-3 relative): dw and dbias sum
//   up to N·OH·OW = 2304 terms in vec4 lanes and slices of partial sums added afterwards.
// - the depthwise 3×3 kernels vs the generic forward: TOL.forward. Both add the 9 taps in the
//   same (kh, kw) order, so they differ at most by where a compiler contracts a·b + c into one
//   fused multiply-add (a rounding each), not bit for bit on every adapter.
// - the reference's backward vs central differences of its own float64 forward: TOL.finiteDiff;
//   the GPU's backward vs the same differences: TOL.gradient (the loss Σ g·y is linear in x, w and
//   bias, so the differences are exact up to float64 rounding and the GPU's float32 error is what
//   remains).
// - conv2dBiasAdd: bit for bit (one float32 addition per element).
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/core.js';
// Imported directly: src/ops/index.ts re-exports these modules as ops.*.
import * as ops from '../src/ops/conv2d_grouped.js';
import type { GroupedConv2dOptions } from '../src/ops/conv2d_grouped.js';
import { conv2dForward } from '../src/ops/conv2d.js';
import { createContext } from '#lane';
import { useContext, f32 } from './util/gpu.js';
import { uniform } from './util/random.js';
import { TOL, expectBitExact, expectClose } from './util/tolerance.js';
import { numericGrad, pick } from './util/gradcheck.js';
import {
  refBiasGrad, refGroupedConv2d, refGroupedConv2dBackwardInput, refGroupedConv2dBackwardWeight, refGroupedOutputSize,
  type RefGroupedShape,
} from './reference/conv2d_grouped.js';

const getCtx = useContext();

interface Case extends RefGroupedShape {
  name: string;
  bias: boolean;
}

function conv(
  name: string, N: number, C: number, H: number, W: number, O: number, K: number | [number, number],
  s: number | [number, number], p: number | [number, number], G: number, bias: boolean,
): Case {
  const [KH, KW] = typeof K === 'number' ? [K, K] : K;
  const [sh, sw] = typeof s === 'number' ? [s, s] : s;
  const [ph, pw] = typeof p === 'number' ? [p, p] : p;
  return { name, N, C, H, W, O, KH, KW, sh, sw, ph, pw, G, bias };
}

// Together (checked below) they run every entry point and define combination in each mode:
// generic forward with 1 and 4 channels per invocation (a partial 4-channel block too), with and
// without bias; the input gradient with 1 and 4 channels (partial too); the depthwise 3×3 kernels
// at stride 1 and 2 with and without bias, with a channel multiplier; the weight and bias gradients
// with one slice and with several.
const CASES: Case[] = [
  conv('groups 1, 3×3 pad 1, 3→5 channels, 7×5, bias', 2, 3, 7, 5, 5, 3, 1, 1, 1, true),
  conv('groups 1, 1×1 stride 2, 4→2 channels, batch 1', 1, 4, 7, 5, 2, 1, 2, 0, 1, false),
  conv('groups 2, 3×3 pad 1, 6→8 channels, 7×5, bias', 2, 6, 7, 5, 8, 3, 1, 1, 2, true),
  conv('groups 2, 3×3 stride 2 pad 0, 4→6 channels, 7×5', 2, 4, 7, 5, 6, 3, 2, 0, 2, false),
  conv('groups 2, 3×3 pad 0, 4→10 channels (5 out per group), 6×9', 2, 4, 6, 9, 10, 3, 1, 0, 2, false),
  conv('groups 2, 3×3 stride 2 pad 1, 10→12 channels (5 in, 6 out per group), 9×7, bias', 1, 10, 9, 7, 12, 3, 2, 1, 2, true),
  conv('groups 3, 1×1, 12→9 channels, 5×7', 2, 12, 5, 7, 9, 1, 1, 0, 3, false),
  conv('groups 2, 2×3 kernel, stride [2, 1], pad [1, 0], 4→4 channels, bias', 2, 4, 6, 7, 4, [2, 3], [2, 1], [1, 0], 2, true),
  conv('depthwise 3×3 stride 1 pad 1, 5 channels, 7×5, bias', 2, 5, 7, 5, 5, 3, 1, 1, 5, true),
  conv('depthwise 3×3 stride 2 pad 1, 3 channels, 7×5', 2, 3, 7, 5, 3, 3, 2, 1, 3, false),
  conv('depthwise 3×3 stride 2 pad 0, batch 1, 2 channels, 7×5, bias', 1, 2, 7, 5, 2, 3, 2, 0, 2, true),
  conv('depthwise 3×3 stride 1 pad 0, batch 1, one channel, 7×5', 1, 1, 7, 5, 1, 3, 1, 0, 1, false),
  conv('depthwise 3×3 stride 1 pad 1, batch 1, one channel, 7×5, bias', 1, 1, 7, 5, 1, 3, 1, 1, 1, true),
  conv('channel multiplier 2, 3→6 channels, 3×3 stride 1 pad 1, 7×5, bias', 2, 3, 7, 5, 6, 3, 1, 1, 3, true),
  conv('channel multiplier 2, 2→4 channels, 3×3 stride 2 pad 1, 7×5', 1, 2, 7, 5, 4, 3, 2, 1, 2, false),
  conv('depthwise 1×1, 4 channels, 5×7, bias', 2, 4, 5, 7, 4, 1, 1, 0, 4, true),
  conv('depthwise 5×5 pad 2, 3 channels, 7×5', 1, 3, 7, 5, 3, 5, 1, 2, 3, false),
  conv('depthwise 3×3 stride 3 pad 1, 2 channels, 9×7', 1, 2, 9, 7, 2, 3, 3, 1, 2, false),
];
// N·OH·OW = 2304 terms per weight and 4 samples of 576 per bias: both reductions run in slices.
const BIG = conv('depthwise 3×3 pad 1, 4 channels, batch 4, 24×24, bias (sliced reductions)', 4, 4, 24, 24, 4, 3, 1, 1, 4, true);

const MODES: { name: string; kernels: 'auto' | 'generic' }[] = [
  { name: 'auto', kernels: 'auto' },
  { name: 'generic', kernels: 'generic' },
];

function optsOf(c: RefGroupedShape, kernels: 'auto' | 'generic' = 'auto'): GroupedConv2dOptions {
  return { stride: [c.sh, c.sw], padding: [c.ph, c.pw], groups: c.G, kernels };
}

interface Data {
  xv: Float32Array;
  wv: Float32Array;
  bv: Float32Array | null;
  gv: Float32Array;
  shapes: { x: number[]; w: number[]; y: number[] };
}

function data(c: Case, seed: number): Data {
  const [OH, OW] = refGroupedOutputSize(c);
  const Cg = c.C / c.G;
  return {
    xv: uniform(c.N * c.C * c.H * c.W, seed),
    wv: uniform(c.O * Cg * c.KH * c.KW, seed + 1),
    bv: c.bias ? uniform(c.O, seed + 3) : null,
    gv: uniform(c.N * c.O * OH * OW, seed + 2),
    shapes: { x: [c.N, c.C, c.H, c.W], w: [c.O, Cg, c.KH, c.KW], y: [c.N, c.O, OH, OW] },
  };
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs the forward, dx, dw and (with a bias) dbias on the GPU and compares them with the float64 reference. */
async function checkAll(c: Case, opts: GroupedConv2dOptions, seed: number, prefill?: number): Promise<void> {
  const ctx = getCtx();
  const d = data(c, seed);
  const x = f32(ctx, d.shapes.x, d.xv);
  const w = f32(ctx, d.shapes.w, d.wv);
  const b = d.bv ? f32(ctx, [c.O], d.bv) : null;
  const dy = f32(ctx, d.shapes.y, d.gv);
  // Preallocated outputs filled with garbage must be overwritten, not accumulated into.
  const out = (shape: number[]) => (prefill === undefined ? undefined : f32(ctx, shape, new Float32Array(size(shape)).fill(prefill)));
  const y = ops.groupedConv2dForward(ctx, x, w, b, opts, out(d.shapes.y));
  const dx = ops.groupedConv2dBackwardInput(ctx, dy, w, d.shapes.x, opts, out(d.shapes.x));
  const dw = ops.groupedConv2dBackwardWeight(ctx, x, dy, d.shapes.w, opts, out(d.shapes.w));
  const db = b ? ops.conv2dBiasGrad(ctx, dy, out([c.O])) : null;
  expectClose(await ctx.readF32(y), refGroupedConv2d(c, d.xv, d.wv, d.bv), TOL.forward, 'y');
  expectClose(await ctx.readF32(dx), refGroupedConv2dBackwardInput(c, d.gv, d.wv), TOL.gradient, 'dx');
  expectClose(await ctx.readF32(dw), refGroupedConv2dBackwardWeight(c, d.xv, d.gv), TOL.gradient, 'dw');
  if (db) expectClose(await ctx.readF32(db), refBiasGrad(c.N, c.O, d.shapes.y[2]! * d.shapes.y[3]!, d.gv), TOL.gradient, 'dbias');
  for (const t of [x, w, b, dy, y, dx, dw, db]) t?.destroy();
}

describe('grouped conv2d vs float64 reference', () => {
  for (const mode of MODES) {
    for (const [i, c] of [...CASES, BIG].entries()) {
      it(`${mode.name}: ${c.name}`, async () => {
        await checkAll(c, optsOf(c, mode.kernels), 100 + 10 * i);
      });
    }
    it(`${mode.name}: preallocated outputs are overwritten`, async () => {
      await checkAll(CASES[5]!, optsOf(CASES[5]!, mode.kernels), 7, Number.NaN);
      await checkAll(CASES[13]!, optsOf(CASES[13]!, mode.kernels), 8, 1e30);
      await checkAll(BIG, optsOf(BIG, mode.kernels), 9, Number.NaN);
    });
  }

  it('the cases above run every entry point and define combination', () => {
    const ctx = getCtx();
    const seen = new Set<string>();
    for (const mode of MODES) {
      for (const c of [...CASES, BIG]) {
        for (const s of ops.groupedConv2dKernelSpecs(ctx, [c.N, c.C, c.H, c.W], [c.O, c.C / c.G, c.KH, c.KW], optsOf(c, mode.kernels), c.bias)) {
          if (s.shader !== 'conv2d_grouped.wgsl') {
            seen.add(s.entry === 'sum_partials' ? s.entry : 'dense conv2d');
            continue;
          }
          const d = s.defines ?? {};
          const rows = d.ROWS === 4 ? ' R4' : '';
          const bias = d.BIAS === true ? ' BIAS' : '';
          if (s.entry === 'forward') seen.add(`forward${rows}${bias}`);
          else if (s.entry === 'dgrad') seen.add(`dgrad${rows}`);
          else if (s.entry.startsWith('dw3x3')) seen.add(`${s.entry}${bias}`);
          else seen.add(s.entry);
        }
      }
    }
    expect([...seen].sort()).toEqual(
      [
        'forward', 'forward BIAS', 'forward R4', 'forward R4 BIAS',
        'dgrad', 'dgrad R4',
        'dw3x3_s1', 'dw3x3_s1 BIAS', 'dw3x3_s2', 'dw3x3_s2 BIAS',
        'wgrad', 'bias_grad', 'sum_partials', 'bias_add', 'dense conv2d',
      ].sort(),
    );
    // both reductions of BIG run in slices
    const big = ops.groupedConv2dKernelSpecs(ctx, [BIG.N, BIG.C, BIG.H, BIG.W], [BIG.O, 1, 3, 3], optsOf(BIG), true).map((s) => s.entry);
    expect(big).toEqual(['dw3x3_s1', 'dgrad', 'wgrad', 'sum_partials', 'bias_grad']);
  });

  it('groupedConv2dKernelSpecs lists every kernel the ops build (a fresh context compiles them ahead)', async () => {
    const ctx = await createContext();
    try {
      const c = BIG;
      const opts = optsOf(c);
      const specs = ops.groupedConv2dKernelSpecs(ctx, [c.N, c.C, c.H, c.W], [c.O, 1, 3, 3], opts, true);
      await ctx.prepare(specs);
      expect(ctx.kernelCount).toBe(specs.length);
      const x = ctx.tensor([c.N, c.C, c.H, c.W]);
      const w = ctx.tensor([c.O, 1, 3, 3]);
      const b = ctx.tensor([c.O]);
      const dy = ctx.tensor(ops.groupedConv2dOutputShape(x.shape, w.shape, opts));
      const made = [
        ops.groupedConv2dForward(ctx, x, w, b, opts),
        ops.groupedConv2dBackwardInput(ctx, dy, w, x.shape, opts),
        ops.groupedConv2dBackwardWeight(ctx, x, dy, w.shape, opts),
        ops.conv2dBiasGrad(ctx, dy),
      ];
      await ctx.sync();
      expect(ctx.kernelCount).toBe(specs.length);
      for (const t of [x, w, b, dy, ...made]) t.destroy();
    } finally {
      ctx.destroy();
    }
  });
});

describe('depthwise 3×3 forward kernels vs the generic forward', () => {
  // Sizes that are not multiples of the 4×4 (stride 1) or 2×4 (stride 2) output blocks, images
  // smaller than a block, batch 1, one channel, channel multipliers 1 and 2, padding 0 and 1.
  const sizes: [number, number][] = [[1, 1], [2, 3], [3, 3], [5, 7], [7, 5], [8, 8], [9, 4], [13, 6]];
  for (const stride of [1, 2]) {
    for (const [N, C, m] of [[1, 1, 1], [3, 2, 1], [1, 3, 2], [2, 1, 3]] as const) {
      it(`stride ${stride}, batch ${N}, ${C} channel(s) × multiplier ${m}, pad 0 and 1, ${sizes.length} image sizes`, async () => {
        const ctx = getCtx();
        for (const [i, [H, W]] of sizes.entries()) {
          for (const pad of [0, 1]) {
            if (H + 2 * pad < 3 || W + 2 * pad < 3) continue;
            const c = conv(`${H}×${W} pad ${pad}`, N, C, H, W, C * m, 3, stride, pad, C, (i + pad) % 2 === 0);
            const d = data(c, 500 + 10 * i + pad);
            const x = f32(ctx, d.shapes.x, d.xv);
            const w = f32(ctx, d.shapes.w, d.wv);
            const b = d.bv ? f32(ctx, [c.O], d.bv) : null;
            const fast = optsOf(c, 'auto');
            const entries = ops.groupedConv2dKernelSpecs(ctx, d.shapes.x, d.shapes.w, fast).map((s) => s.entry);
            expect(entries[0], c.name).toBe(stride === 1 ? 'dw3x3_s1' : 'dw3x3_s2');
            const yFast = ops.groupedConv2dForward(ctx, x, w, b, fast);
            const yGeneric = ops.groupedConv2dForward(ctx, x, w, b, optsOf(c, 'generic'));
            const generic = await ctx.readF32(yGeneric);
            expectClose(await ctx.readF32(yFast), generic, TOL.forward, `${c.name}: fast vs generic`);
            expectClose(generic, refGroupedConv2d(c, d.xv, d.wv, d.bv), TOL.forward, `${c.name}: generic vs reference`);
            for (const t of [x, w, b, yFast, yGeneric]) t?.destroy();
          }
        }
      });
    }
  }
});

describe('grouped conv2d backward by finite differences', () => {
  const tiny = [
    conv('groups 2, 3×3 stride 2 pad 1, 4→6 channels, bias', 2, 4, 5, 6, 6, 3, 2, 1, 2, true),
    conv('depthwise 3×3 pad 1, 3 channels, bias', 1, 3, 5, 4, 3, 3, 1, 1, 3, true),
    conv('channel multiplier 2, 2×3 kernel, stride [1, 2], pad [1, 0], bias', 2, 2, 4, 7, 4, [2, 3], [1, 2], [1, 0], 2, true),
  ];
  for (const mode of MODES) {
    for (const [i, c] of tiny.entries()) {
      it(`${mode.name}: ${c.name}`, async () => {
        const ctx = getCtx();
        const opts = optsOf(c, mode.kernels);
        const d = data(c, 31 + i);
        const x64 = Float64Array.from(d.xv);
        const w64 = Float64Array.from(d.wv);
        const b64 = Float64Array.from(d.bv!);
        const x = f32(ctx, d.shapes.x, d.xv);
        const w = f32(ctx, d.shapes.w, d.wv);
        const dy = f32(ctx, d.shapes.y, d.gv);
        const dx = await ctx.readF32(ops.groupedConv2dBackwardInput(ctx, dy, w, d.shapes.x, opts));
        const dw = await ctx.readF32(ops.groupedConv2dBackwardWeight(ctx, x, dy, d.shapes.w, opts));
        const db = await ctx.readF32(ops.conv2dBiasGrad(ctx, dy));
        // L = Σ g·y is linear in x, w and bias: central differences are exact up to rounding.
        const nx = numericGrad((xx) => refGroupedConv2d(c, xx, w64, b64), x64, d.gv);
        expectClose(pick(refGroupedConv2dBackwardInput(c, d.gv, w64), nx.indices), nx.values, TOL.finiteDiff, 'reference dx');
        expectClose(pick(dx, nx.indices), nx.values, TOL.gradient, 'dx');
        const nw = numericGrad((ww) => refGroupedConv2d(c, x64, ww, b64), w64, d.gv);
        expectClose(pick(refGroupedConv2dBackwardWeight(c, x64, d.gv), nw.indices), nw.values, TOL.finiteDiff, 'reference dw');
        expectClose(pick(dw, nw.indices), nw.values, TOL.gradient, 'dw');
        const nb = numericGrad((bb) => refGroupedConv2d(c, x64, w64, bb), b64, d.gv);
        const [OH, OW] = refGroupedOutputSize(c);
        expectClose(pick(refBiasGrad(c.N, c.O, OH * OW, d.gv), nb.indices), nb.values, TOL.finiteDiff, 'reference dbias');
        expectClose(pick(db, nb.indices), nb.values, TOL.gradient, 'dbias');
        for (const t of [x, w, dy]) t.destroy();
      });
    }
  }
});

describe('conv2dBiasAdd and conv2dBiasGrad', () => {
  it('a dense conv2dForward + conv2dBiasAdd is nn.Conv2d with bias; the add is one float32 addition', async () => {
    const ctx = getCtx();
    const c = conv('dense 3×3 pad 1, 3→7 channels, bias', 2, 3, 7, 5, 7, 3, 1, 1, 1, true);
    const d = data(c, 41);
    const x = f32(ctx, d.shapes.x, d.xv);
    const w = f32(ctx, d.shapes.w, d.wv);
    const b = f32(ctx, [c.O], d.bv!);
    const y = conv2dForward(ctx, x, w, { padding: 1 });
    const plain = await ctx.readF32(y);
    expect(ops.conv2dBiasAdd(ctx, y, b)).toBe(y);
    const got = await ctx.readF32(y);
    expectBitExact(got, plain.map((v, i) => Math.fround(v + d.bv![Math.floor(i / 35) % c.O]!)), 'y + bias');
    expectClose(got, refGroupedConv2d(c, d.xv, d.wv, d.bv), TOL.forward, 'y');
    for (const t of [x, w, b, y]) t.destroy();
  });

  // [N, C] (a linear layer's output), [N, C, L], and a large [N, C, H, W] summed in slices
  for (const shape of [[5, 3], [3, 4, 7], [16, 3, 33, 31], [1, 1, 1, 1]]) {
    it(`conv2dBiasGrad over dy ${JSON.stringify(shape)}`, async () => {
      const ctx = getCtx();
      const [N, C] = shape as [number, number];
      const plane = size(shape.slice(2));
      const gv = uniform(size(shape), 51);
      const dy = f32(ctx, shape, gv);
      const db = ops.conv2dBiasGrad(ctx, dy, f32(ctx, [C], new Float32Array(C).fill(Number.NaN)));
      expectClose(await ctx.readF32(db), refBiasGrad(N, C, plane, gv), TOL.gradient, 'dbias');
      // and the add on the same shapes
      const bv = uniform(C, 52);
      const b = f32(ctx, [C], bv);
      ops.conv2dBiasAdd(ctx, dy, b);
      expectBitExact(await ctx.readF32(dy), gv.map((v, i) => Math.fround(v + bv[Math.floor(i / plane) % C]!)), 'dy + bias');
      for (const t of [dy, db, b]) t.destroy();
    });
  }
});

describe('grouped conv2d argument checks', () => {
  it('an empty batch gives empty y and dx and zero dw and dbias', async () => {
    const ctx = getCtx();
    for (const kernels of ['auto', 'generic'] as const) {
      const opts: GroupedConv2dOptions = { padding: 1, groups: 3, kernels };
      const x = ctx.tensor([0, 3, 5, 5]);
      const w = f32(ctx, [6, 1, 3, 3], uniform(54, 1));
      const b = f32(ctx, [6], uniform(6, 2));
      const y = ops.groupedConv2dForward(ctx, x, w, b, opts);
      expect(y.shape).toEqual([0, 6, 5, 5]);
      const dx = ops.groupedConv2dBackwardInput(ctx, y, w, x.shape, opts);
      expect(dx.shape).toEqual([0, 3, 5, 5]);
      const dw = ops.groupedConv2dBackwardWeight(ctx, x, y, w.shape, opts, f32(ctx, [6, 1, 3, 3], new Float32Array(54).fill(7)));
      expectBitExact(await ctx.readF32(dw), new Float32Array(54), 'dw');
      const db = ops.conv2dBiasGrad(ctx, y, f32(ctx, [6], new Float32Array(6).fill(7)));
      expectBitExact(await ctx.readF32(db), new Float32Array(6), 'dbias');
      for (const t of [x, w, b, y, dx, dw, db]) t.destroy();
    }
  });

  it('names the bad value when groups does not divide the channels or w does not fit', () => {
    const shape = ops.groupedConv2dOutputShape;
    expect(() => shape([2, 6, 8, 8], [4, 2, 3, 3], { groups: 4 })).toThrow(ShapeError);
    expect(() => shape([2, 6, 8, 8], [4, 2, 3, 3], { groups: 4 })).toThrow(
      'groupedConv2dOutputShape: x [2, 6, 8, 8] has 6 input channels, which groups = 4 does not divide',
    );
    expect(() => shape([2, 6, 8, 8], [5, 2, 3, 3], { groups: 3 })).toThrow(
      'groupedConv2dOutputShape: w [5, 2, 3, 3] has 5 output channels, which groups = 3 does not divide',
    );
    expect(() => shape([2, 6, 8, 8], [6, 3, 3, 3], { groups: 3 })).toThrow(
      'groupedConv2dOutputShape: w [6, 3, 3, 3] should have C/groups = 6/3 = 2 input channels per group in dim 1, not 3',
    );
    expect(() => shape([2, 6, 8, 8], [6, 1, 3, 3], { groups: 0 })).toThrow('groupedConv2dOutputShape: groups 0 should be a positive integer');
    expect(() => shape([2, 6, 8, 8], [6, 1, 3, 3], { groups: 1.5 })).toThrow('groups 1.5 should be a positive integer');
    expect(() => shape([2, 6, 2, 2], [6, 1, 3, 3], { groups: 6 })).toThrow('does not fit input 2×2');
    expect(() => shape([2, 6, 8, 8], [6, 1, 3, 3], { groups: 6, dilation: 2 } as GroupedConv2dOptions)).toThrow("unsupported option 'dilation'");
    expect(shape([5, 6, 9, 7], [12, 1, 3, 3], { groups: 6, stride: 2, padding: 1 })).toEqual([5, 12, 5, 4]);
  });

  it('rejects a wrong bias, dy or output tensor, naming it', () => {
    const ctx = getCtx();
    const x = ctx.tensor([2, 4, 6, 6]);
    const w = ctx.tensor([4, 1, 3, 3]);
    const b5 = ctx.tensor([5]);
    const opts = { groups: 4, padding: 1 };
    expect(() => ops.groupedConv2dForward(ctx, x, w, b5, opts)).toThrow('groupedConv2dForward: bias [5] should be [4]');
    expect(() => ops.groupedConv2dForward(ctx, x, w, null, opts, x)).toThrow('groupedConv2dForward: y must not be x, w or bias');
    const dy = ctx.tensor([2, 4, 5, 6]);
    expect(() => ops.groupedConv2dBackwardInput(ctx, dy, w, x.shape, opts)).toThrow('groupedConv2dBackwardInput: dy [2, 4, 5, 6] should be [2, 4, 6, 6]');
    expect(() => ops.groupedConv2dBackwardWeight(ctx, x, dy, w.shape, opts)).toThrow('groupedConv2dBackwardWeight: dy [2, 4, 5, 6] should be [2, 4, 6, 6]');
    expect(() => ops.conv2dBiasAdd(ctx, x, b5)).toThrow('conv2dBiasAdd: bias [5] should be [4]');
    expect(() => ops.conv2dBiasGrad(ctx, dy, b5)).toThrow('conv2dBiasGrad: dbias [5] should be [4]');
    expect(() => ops.conv2dBiasGrad(ctx, b5)).toThrow('conv2dBiasGrad: dy [5] should be [N, C, …]');
    for (const t of [x, w, b5, dy]) t.destroy();
  });
});
