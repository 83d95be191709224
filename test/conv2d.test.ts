import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/core.js';
// Imported directly: src/ops/index.ts (the lead's) re-exports these modules as ops.*.
import * as ops from '../src/ops/conv2d.js';
import { sumPartials } from '../src/ops/reduce.js';
import type { Conv2dOptions } from '../src/ops/conv2d.js';
import { createContext } from '#lane';
import { useContext, f32 } from './util/gpu.js';
import { uniform } from './util/random.js';
import { TOL, expectBitExact, expectClose } from './util/tolerance.js';
import { batchNormForwardEval } from '../src/ops/batchnorm2d.js';
import { add, reluForward } from '../src/ops/elementwise.js';
import { numericGrad, pick } from './util/gradcheck.js';
import {
  refConv2d, refConv2dBackwardInput, refConv2dBackwardWeight, refOutputSize, type RefConvShape,
} from './reference/conv2d.js';

const getCtx = useContext();

interface Case extends RefConvShape {
  name: string;
}

function conv(
  name: string, N: number, C: number, H: number, W: number, O: number, KH: number, KW: number,
  s: number | [number, number] = 1, p: number | [number, number] = 0,
): Case {
  const [sh, sw] = typeof s === 'number' ? [s, s] : s;
  const [ph, pw] = typeof p === 'number' ? [p, p] : p;
  return { name, N, C, H, W, O, KH, KW, sh, sw, ph, pw };
}

// Chosen so that together they run every kernel and block shape (checked below): 3×3 stride 1
// grids tiled by 4×4 and 2×8 blocks with ragged edges, 16-, 8- and 4-row lanes and jobs split
// among them, the generic
// kernel, every dgrad stride phase, and channel counts that are not multiples of 4 or 16.
const CASES: Case[] = [
  conv('3×3 pad 1, 13→5 channels, 9×11 (4×4 blocks, ragged)', 2, 13, 9, 11, 5, 3, 3, 1, 1),
  conv('batch 1, 1 channel in and out, 3×3 pad 0', 1, 1, 6, 9, 1, 3, 3),
  conv('3 input channels, 3×3 pad 1, 5×15 (2×8 blocks, ragged)', 2, 3, 5, 15, 17, 3, 3, 1, 1),
  conv('3×3 pad 2, 8×8', 1, 4, 8, 8, 6, 3, 3, 1, 2),
  conv('3×3 pad 0 on 4×4 (2×2 output)', 3, 5, 4, 4, 7, 3, 3),
  conv('1×1, 7×5', 3, 13, 7, 5, 6, 1, 1),
  conv('1×1 stride 2, odd sizes', 2, 5, 7, 9, 13, 1, 1, 2),
  conv('3×3 stride 2 pad 1, odd sizes (last row/col dropped)', 2, 5, 9, 7, 6, 3, 3, 2, 1),
  conv('5×5 pad 2', 2, 4, 7, 6, 5, 5, 5, 1, 2),
  conv('2×3 kernel, stride [2, 1], pad [0, 1]', 2, 3, 7, 5, 4, 2, 3, [2, 1], [0, 1]),
  conv('3×3 stride 3 pad 2 (phases without taps)', 1, 2, 8, 7, 3, 3, 3, 3, 2),
  // Output counts that are not multiples of 16 run as 16-row groups plus 8- or 4-row tails.
  conv('3×3 pad 1, 3→21 channels (16 + 8 rows per lane), 5×15', 2, 3, 5, 15, 21, 3, 3, 1, 1),
  conv('1×1, 6→20 channels (16 + 4 rows per lane)', 2, 6, 5, 3, 20, 1, 1),
  // Grids whose rows hold whole groups of 4 pixels store every 4-row × 4-pixel block at once.
  conv('1×1 stride 2, 16×16 → 8×8, 5→32 channels (whole store blocks)', 2, 5, 16, 16, 32, 1, 1, 2),
  // 1×1 stride-1 layers on images of a multiple of 4 pixels read and write 4-pixel vectors
  // (conv1x1_vec4): rows not a multiple of 4 (partial row groups), a last lane with one vector.
  conv('1×1, 6×6, 7→10 channels (vectors; 12-row lanes, a lane with one vector)', 3, 7, 6, 6, 10, 1, 1),
  conv('1×1, 4×4, 22→3 channels (vectors; 4-row, 16 + 8-row lanes, 16-lane groups)', 8, 22, 4, 4, 3, 1, 1),
  // 12-row lanes of the 3×3 (4×4 and 2×8 blocks) and generic kernels
  conv('3×3 pad 1, 5→12 channels, 8×8 (4×4 blocks, 12-row lanes)', 1, 5, 8, 8, 12, 3, 3, 1, 1),
  conv('3×3 pad 1, 6→11 channels, 6×16 (2×8 blocks, 12-row lanes)', 1, 6, 6, 16, 11, 3, 3, 1, 1),
  conv('3×3 stride 2 pad 1, 4→9 channels (generic kernel, 12-row lanes)', 2, 4, 9, 9, 9, 3, 3, 2, 1),
  // Images of at most 4 pixels run as one job per pixel over the samples (forward and, at stride
  // 1, the input gradient), with only the taps inside the image.
  conv('3×3 pad 1 on 2×2 (per-pixel jobs), 7→20 channels, batch 9', 9, 7, 2, 2, 20, 3, 3, 1, 1),
  conv('3×3 pad 1 on 1×1 (one tap per job)', 5, 6, 1, 1, 4, 3, 3, 1, 1),
  conv('1×1 kernel, pad [0, 1], on 1×2 (per-pixel jobs; two output pixels without a tap)', 3, 5, 1, 2, 6, 1, 1, 1, [0, 1]),
  conv('2×3 kernel, stride 2, pad [1, 2], on 3×2 (per-pixel forward jobs at stride 2)', 3, 5, 3, 2, 6, 2, 3, 2, [1, 2]),
];

function optsOf(c: RefConvShape): Conv2dOptions {
  return { stride: [c.sh, c.sw], padding: [c.ph, c.pw] };
}

const FORMS: { name: string; opts: Conv2dOptions }[] = [
  { name: 'regblock+subgroups', opts: { variant: 'regblock', subgroups: true } },
  { name: 'regblock plain', opts: { variant: 'regblock', subgroups: false } },
  { name: 'tiled', opts: { variant: 'tiled' } },
];

interface Data {
  xv: Float32Array;
  wv: Float32Array;
  gv: Float32Array;
  shapes: { x: number[]; w: number[]; y: number[] };
}

function data(c: RefConvShape, seed: number): Data {
  const [OH, OW] = refOutputSize(c);
  return {
    xv: uniform(c.N * c.C * c.H * c.W, seed),
    wv: uniform(c.O * c.C * c.KH * c.KW, seed + 1),
    gv: uniform(c.N * c.O * OH * OW, seed + 2),
    shapes: { x: [c.N, c.C, c.H, c.W], w: [c.O, c.C, c.KH, c.KW], y: [c.N, c.O, OH, OW] },
  };
}

/** Runs the three passes on the GPU and compares them with the float64 reference. */
async function checkAll(c: RefConvShape, opts: Conv2dOptions, seed: number, prefill?: number): Promise<void> {
  const ctx = getCtx();
  const d = data(c, seed);
  const x = f32(ctx, d.shapes.x, d.xv);
  const w = f32(ctx, d.shapes.w, d.wv);
  const dy = f32(ctx, d.shapes.y, d.gv);
  // Preallocated outputs filled with garbage must be overwritten, not accumulated into.
  const out = (shape: number[]) =>
    prefill === undefined ? undefined : f32(ctx, shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(prefill));
  const y = ops.conv2dForward(ctx, x, w, opts, out(d.shapes.y));
  const dx = ops.conv2dBackwardInput(ctx, dy, w, d.shapes.x, opts, out(d.shapes.x));
  const dw = ops.conv2dBackwardWeight(ctx, x, dy, d.shapes.w, opts, out(d.shapes.w));
  expectClose(await ctx.readF32(y), refConv2d(c, d.xv, d.wv), TOL.forward, 'y');
  expectClose(await ctx.readF32(dx), refConv2dBackwardInput(c, d.gv, d.wv), TOL.gradient, 'dx');
  expectClose(await ctx.readF32(dw), refConv2dBackwardWeight(c, d.xv, d.gv), TOL.gradient, 'dw');
  for (const t of [x, w, dy, y, dx, dw]) t.destroy();
}

describe('conv2d vs float64 reference', () => {
  for (const form of FORMS) {
    for (const [i, c] of CASES.entries()) {
      it(`${form.name}: ${c.name}`, async () => {
        await checkAll(c, { ...optsOf(c), ...form.opts }, 100 + 10 * i);
      });
    }
  }

  // N·OH·OW = 2304 terms per dw element: enough that wgrad cuts the reduction into slices and sums
  // their partials with sumPartials.
  const big = conv('wgrad in several K slices', 4, 3, 24, 24, 5, 3, 3, 1, 1);
  const big1x1 = conv('wgrad in several K slices, 1×1 stride 2', 4, 6, 47, 45, 5, 1, 1, 2);
  for (const form of FORMS) {
    for (const c of [big, big1x1]) {
      it(`${form.name}: ${c.name}`, async () => {
        const opts = { ...optsOf(c), ...form.opts };
        expect(ops.conv2dWeightGradSlices(getCtx(), [c.N, c.C, c.H, c.W], [c.O, c.C, c.KH, c.KW], opts)).toBeGreaterThan(1);
        await checkAll(c, opts, 7);
      });
    }
  }

  for (const form of FORMS) {
    it(`${form.name}: preallocated outputs are overwritten`, async () => {
      await checkAll(conv('phases and slices', 2, 3, 23, 21, 5, 3, 3, 2, 1), { stride: 2, padding: 1, ...form.opts }, 9, Number.NaN);
      await checkAll(big, { padding: 1, ...form.opts }, 10, 1e30);
    });
  }

  it('the cases above run every kernel and block shape of each form', () => {
    const ctx = getCtx();
    // SwiftShader here offers subgroups in both lanes, so the subgroup form is really tested.
    if (ctx.adapter.isSwiftShader) expect(ctx.subgroups).toBe(true);
    for (const form of FORMS) {
      const seen = new Set<string>();
      for (const c of [...CASES, big, big1x1]) {
        for (const s of ops.conv2dKernelSpecs(ctx, [c.N, c.C, c.H, c.W], [c.O, c.C, c.KH, c.KW], { ...optsOf(c), ...form.opts })) {
          const d = s.defines ?? {};
          seen.add(s.entry === 'conv3x3_regblock' ? `${s.entry} TN=${d.TN} ROWS=${d.ROWS}` : s.entry === 'conv_regblock' || s.entry === 'conv1x1_vec4' ? `${s.entry} ROWS=${d.ROWS}` : s.entry);
          if (s.entry.endsWith('_regblock') || s.entry === 'conv1x1_vec4') expect(d.SG, `${form.name} ${s.entry} subgroups`).toBe(!!(form.opts.subgroups && ctx.subgroups));
          // workgroups of 16 lanes, or of 4 where 16 would idle lanes; conv_regblock with tap loops or for one tap
          if (s.entry.startsWith('conv') && s.entry !== 'conv_tiled') seen.add(`${s.entry} WG=${d.WG}`);
          if (s.entry === 'conv_regblock') seen.add(`${s.entry} ${d.TAP1 === true ? 'one tap' : 'taps'}`);
        }
      }
      const want =
        form.opts.variant === 'tiled'
          ? ['conv_tiled', 'wgrad_tiled', 'sum_partials']
          : [
            ...[16, 12, 8, 4].flatMap((r) => [`conv3x3_regblock TN=4 ROWS=${r}`, `conv3x3_regblock TN=8 ROWS=${r}`, `conv_regblock ROWS=${r}`, `conv1x1_vec4 ROWS=${r}`]),
            ...[4, 16].flatMap((wg) => [`conv3x3_regblock WG=${wg}`, `conv_regblock WG=${wg}`, `conv1x1_vec4 WG=${wg}`]),
            'conv_regblock one tap', 'conv_regblock taps',
            'wgrad3x3_regblock', 'wgrad_regblock', 'sum_partials',
          ];
      expect([...seen].sort(), form.name).toEqual(expect.arrayContaining(want));
    }
  });

  // The evaluation epilogue (BatchNorm2d with running statistics, ReLU, residual sum) must store
  // exactly what the separate ops give: the same f32 operations in the same order.
  for (const form of FORMS) {
    it(`${form.name}: the BatchNorm2d/ReLU/residual epilogue equals conv → batchNormForwardEval → ReLU → add bit for bit`, async () => {
      const ctx = getCtx();
      const vec4 = CASES.find((c) => c.name.startsWith('1×1, 6×6'))!; // conv1x1_vec4, with a partial row group
      for (const [i, c] of [CASES[0]!, CASES[2]!, CASES[5]!, CASES[7]!, vec4, CASES.at(-2)!, CASES.at(-1)!].entries()) {
        const opts = { ...optsOf(c), ...form.opts };
        const d = data(c, 300 + i);
        const x = f32(ctx, d.shapes.x, d.xv);
        const w = f32(ctx, d.shapes.w, d.wv);
        const gamma = f32(ctx, [c.O], uniform(c.O, 310 + i, -1.5, 1.5));
        const beta = f32(ctx, [c.O], uniform(c.O, 320 + i, -0.5, 0.5));
        const runningMean = f32(ctx, [c.O], uniform(c.O, 330 + i, -0.5, 0.5));
        const runningVar = f32(ctx, [c.O], uniform(c.O, 340 + i, 0.2, 2));
        const batchNorm = { gamma, beta, runningMean, runningVar, eps: 1e-3 };
        const plain = ops.conv2dForward(ctx, x, w, opts);
        const bn = batchNormForwardEval(ctx, plain, gamma, beta, runningMean, runningVar, { eps: 1e-3 });
        const withRelu = reluForward(ctx, bn);
        expectBitExact(await ctx.readF32(ops.conv2dForward(ctx, x, w, { ...opts, batchNorm, relu: true })), await ctx.readF32(withRelu), `${c.name}: BN + ReLU`);
        expectBitExact(await ctx.readF32(ops.conv2dForward(ctx, x, w, { ...opts, batchNorm })), await ctx.readF32(bn), `${c.name}: BN`);
        expectBitExact(await ctx.readF32(ops.conv2dForward(ctx, x, w, { ...opts, relu: true })), await ctx.readF32(reluForward(ctx, plain)), `${c.name}: ReLU`);
        if (c === CASES.at(-2)) {
          // a 2×2 image runs one job per output pixel (4 dispatches) with the BatchNorm2d by grid pixel
          const before = ctx.dispatchCount;
          const probe = ops.conv2dForward(ctx, x, w, { ...opts, batchNorm });
          if (form.opts.variant === 'regblock') expect(ctx.dispatchCount - before).toBe(4);
          await ctx.sync();
          probe.destroy();
        }
        const residual = f32(ctx, d.shapes.y, uniform(d.gv.length, 350 + i));
        expectBitExact(await ctx.readF32(ops.conv2dForward(ctx, x, w, { ...opts, residual })), await ctx.readF32(add(ctx, plain, residual)), `${c.name}: + residual`);
        expectBitExact(
          await ctx.readF32(ops.conv2dForward(ctx, x, w, { ...opts, batchNorm, relu: true, residual })),
          await ctx.readF32(add(ctx, withRelu, residual)),
          `${c.name}: BN + ReLU + residual`,
        );
        for (const t of [x, w, gamma, beta, runningMean, runningVar, plain, bn, withRelu, residual]) t.destroy();
      }
      const x = ctx.tensor([1, 2, 4, 4]);
      const w = ctx.tensor([3, 2, 3, 3]);
      const v2 = ctx.tensor([2]);
      const v3 = ctx.tensor([3]);
      expect(() => ops.conv2dForward(ctx, x, w, { batchNorm: { gamma: v2, beta: v3, runningMean: v3, runningVar: v3 } })).toThrow(
        'conv2dForward: batchNorm.gamma [2] should be [3]',
      );
      const y = ctx.tensor([1, 3, 2, 2]);
      expect(() => ops.conv2dForward(ctx, x, w, { residual: y }, y)).toThrow('conv2dForward: residual must not be y');
      expect(() => ops.conv2dForward(ctx, x, w, { residual: v3 })).toThrow('conv2dForward: residual [3] should be [1, 3, 2, 2]');
      for (const t of [x, w, v2, v3, y]) t.destroy();
    });
  }

  for (const laneRows of [4, 8, 12, 16] as const) {
    it(`laneRows ${laneRows} forces one lane height for the whole job`, async () => {
      for (const [i, c] of [CASES[0]!, CASES.at(-2)!, CASES.at(-1)!].entries()) await checkAll(c, { ...optsOf(c), variant: 'regblock', laneRows }, 400 + i);
      const c = CASES.at(-2)!;
      const rows = ops.conv2dKernelSpecs(getCtx(), [c.N, c.C, c.H, c.W], [c.O, c.C, c.KH, c.KW], { ...optsOf(c), variant: 'regblock', laneRows })
        .filter((s) => s.entry.startsWith('conv'))
        .map((s) => s.defines?.ROWS);
      expect(new Set(rows)).toEqual(new Set([laneRows]));
    });
  }

  it('a job with M rows not a multiple of 16 runs as 16-row groups plus one group of the rest rounded up to 4', () => {
    const ctx = getCtx();
    const rows = (O: number, C = 16): string[] =>
      ops.conv2dKernelSpecs(ctx, [1, C, 6, 6], [O, C, 1, 1], { variant: 'regblock' })
        .filter((s) => s.entry === 'conv1x1_vec4')
        .map((s) => String(s.defines?.ROWS));
    // forward first (M = O), then the input gradient (M = C = 16)
    expect(rows(16)).toEqual(['16']);
    expect(rows(17)).toEqual(['16', '4']);
    expect(rows(22)).toEqual(['16', '8']);
    expect(rows(3)).toEqual(['4', '16']);
    expect(rows(7)).toEqual(['8', '16']);
    expect(rows(45)).toEqual(['16']); // 32 + 13: a whole 16-row group beats 12 + 4
    expect(rows(10)).toEqual(['12', '16']);
    expect(rows(28)).toEqual(['16', '12']);
  });

  it('conv2dKernelSpecs lists every kernel the ops build (a fresh context compiles them ahead)', async () => {
    // One shape that needs four kernels (3×3 forward, 4-row dgrad, wgrad, sumPartials); each
    // compile costs about a second here, so one form only.
    const ctx = await createContext();
    try {
      const c = big;
      const opts: Conv2dOptions = { ...optsOf(c), variant: 'regblock' };
      const specs = ops.conv2dKernelSpecs(ctx, [c.N, c.C, c.H, c.W], [c.O, c.C, c.KH, c.KW], opts);
      expect(specs.length).toBe(4);
      await ctx.prepare(specs);
      expect(ctx.kernelCount).toBe(4);
      const x = ctx.tensor([c.N, c.C, c.H, c.W]);
      const w = ctx.tensor([c.O, c.C, c.KH, c.KW]);
      const dy = ctx.tensor(ops.conv2dOutputShape(x.shape, w.shape, opts));
      const made = [ops.conv2dForward(ctx, x, w, opts), ops.conv2dBackwardInput(ctx, dy, w, x.shape, opts), ops.conv2dBackwardWeight(ctx, x, dy, w.shape, opts)];
      await ctx.sync();
      expect(ctx.kernelCount).toBe(4);
      for (const t of [x, w, dy, ...made]) t.destroy();
    } finally {
      ctx.destroy();
    }
  });
});

describe('conv2d on a grid larger than one dispatch dimension', () => {
  it('folds more than 65535 workgroups (1×1, 1 channel, 2900×2900)', async () => {
    const ctx = getCtx();
    const n = 2900 * 2900; // 8.4 M pixels: 65,704 workgroups of 16 lanes × 8 pixels
    const xv = uniform(n, 5);
    const x = f32(ctx, [1, 1, 2900, 2900], xv);
    const w = f32(ctx, [1, 1, 1, 1], [0.75]);
    const y = ops.conv2dForward(ctx, x, w, { variant: 'regblock' });
    // one product per output, exact in float32
    expectBitExact(await ctx.readF32(y), Float32Array.from(xv, (v) => Math.fround(0.75 * v)), 'y');
    for (const t of [x, w, y]) t.destroy();
  });
});

describe('conv2d float64 reference backward vs finite differences', () => {
  const tiny = [
    conv('3×3 stride 2 pad 1, odd sizes', 2, 2, 5, 6, 3, 3, 3, 2, 1),
    conv('2×3 kernel, stride [1, 2], pad [1, 0]', 1, 3, 4, 7, 2, 2, 3, [1, 2], [1, 0]),
    conv('1×1 stride 2', 2, 3, 5, 5, 2, 1, 1, 2),
  ];
  for (const c of tiny) {
    it(c.name, () => {
      const d = data(c, 31);
      const x64 = Float64Array.from(d.xv);
      const w64 = Float64Array.from(d.wv);
      // The loss Σ g·y is linear in x and in w, so central differences are exact up to rounding.
      const nx = numericGrad((xx) => refConv2d(c, xx, w64), x64, d.gv);
      expectClose(pick(refConv2dBackwardInput(c, d.gv, w64), nx.indices), nx.values, TOL.finiteDiff, 'dx');
      const nw = numericGrad((ww) => refConv2d(c, x64, ww), w64, d.gv);
      expectClose(pick(refConv2dBackwardWeight(c, x64, d.gv), nw.indices), nw.values, TOL.finiteDiff, 'dw');
    });
  }
});

describe('sumPartials', () => {
  for (const [slices, n] of [[1, 5], [7, 1000], [3, 70_001]] as const) {
    it(`${slices} slices of ${n}`, async () => {
      const ctx = getCtx();
      const pv = uniform(slices * n, slices + n, -1e3, 1e3);
      const partials = f32(ctx, [slices, n], pv);
      const out = ctx.tensor([n]);
      sumPartials(ctx, partials, slices, n, out);
      // The kernel adds the slices in order in float32, so the same order here matches bit for bit.
      const want = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let k = 0; k < slices; k++) s = Math.fround(s + pv[k * n + i]!);
        want[i] = s;
      }
      expectBitExact(await ctx.readF32(out), want, 'sum');
      partials.destroy();
      out.destroy();
    });
  }

  it('rejects a partials buffer shorter than slices × n', () => {
    const ctx = getCtx();
    const partials = ctx.tensor([2, 10]);
    const out = ctx.tensor([10]);
    expect(() => sumPartials(ctx, partials, 3, 10, out)).toThrow(ShapeError);
    partials.destroy();
    out.destroy();
  });
});

describe('conv2d argument checks', () => {
  it('an empty batch gives empty y and dx and a zero dw', async () => {
    const ctx = getCtx();
    const x = ctx.tensor([0, 3, 5, 5]);
    const w = f32(ctx, [4, 3, 3, 3], uniform(108, 1));
    const y = ops.conv2dForward(ctx, x, w, { padding: 1 });
    expect(y.shape).toEqual([0, 4, 5, 5]);
    const dx = ops.conv2dBackwardInput(ctx, y, w, x.shape, { padding: 1 });
    expect(dx.shape).toEqual([0, 3, 5, 5]);
    const dw = ops.conv2dBackwardWeight(ctx, x, y, w.shape, { padding: 1 }, f32(ctx, [4, 3, 3, 3], new Float32Array(108).fill(7)));
    expectBitExact(await ctx.readF32(dw), new Float32Array(108), 'dw');
    for (const t of [x, w, y, dx, dw]) t.destroy();
  });

  it('names the op and both shapes on a channel mismatch', () => {
    const ctx = getCtx();
    const x = ctx.tensor([2, 3, 8, 8]);
    const w = ctx.tensor([4, 5, 3, 3]);
    expect(() => ops.conv2dForward(ctx, x, w)).toThrow(ShapeError);
    expect(() => ops.conv2dForward(ctx, x, w)).toThrow('conv2dForward: x [2, 3, 8, 8] has 3 channels but w [4, 5, 3, 3] expects 5');
    x.destroy();
    w.destroy();
  });

  it('rejects a wrong dy, a kernel larger than the input, and options it does not support', () => {
    const ctx = getCtx();
    const w = ctx.tensor([4, 3, 3, 3]);
    const dy = ctx.tensor([2, 4, 7, 7]);
    expect(() => ops.conv2dBackwardInput(ctx, dy, w, [2, 3, 8, 8], { padding: 1 })).toThrow(
      'conv2dBackwardInput: dy [2, 4, 7, 7] should be [2, 4, 8, 8]',
    );
    expect(() => ops.conv2dOutputShape([1, 3, 2, 2], [4, 3, 3, 3])).toThrow('does not fit input 2×2');
    expect(() => ops.conv2dOutputShape([1, 3, 8, 8], [4, 3, 3, 3], { dilation: 2 } as Conv2dOptions)).toThrow("unsupported option 'dilation'");
    expect(ops.conv2dOutputShape([5, 3, 9, 7], [4, 3, 3, 3], { stride: 2, padding: 1 })).toEqual([5, 4, 5, 4]);
    w.destroy();
    dy.destroy();
  });
});
