/**
 * 2-D convolution without bias, dilation or groups (shaders/conv2d_*.wgsl): forward, input gradient
 * (dgrad) and weight gradient (wgrad), each an implicit GEMM.
 *
 * Two kernel families, chosen by `opts.variant ?? ctx.variants.gemm`:
 * - `regblock` (SwiftShader): each invocation keeps 16 output rows × 8–16 pixels in registers, no
 *   workgroup memory or barriers; with subgroups, the 4 lanes of a group share the loads of values
 *   they all need (weights, or dy in wgrad) through `subgroupBroadcast`. 3×3 stride-1 layers get
 *   kernels that reuse input windows across neighbouring pixels.
 * - `tiled` (real GPUs): 64×64 output tiles staged through workgroup memory, 4×4 per invocation.
 *
 * The input gradient is a gather (no atomics), one dense GEMM per stride phase. The weight gradient
 * reduces over N·OH·OW, which is split into slices whose partial sums `sumPartials` adds. On
 * images of at most 4 pixels the regblock family runs one job per pixel (forward, input gradient)
 * or per tap (weight gradient) over the samples, with only the taps inside the image.
 */
import type { Context } from '../gpu/context.js';
import { Tensor, shapeString } from '../gpu/tensor.js';
import { kernelKey, type BuiltinKernelSpec, type Kernel, type KernelSpec } from '../gpu/kernel.js';
import type { Conv2dConv, Conv2dWgrad } from '../gpu/shader-types.js';
import { assertShape } from '../errors.js';
import { SUM_PARTIALS_SPEC, sumPartials } from './reduce.js';
import { expectF32, expectShape, outputSize, pair } from './conv-checks.js';

/** Options shared by the three conv2d passes. */
export interface Conv2dOptions {
  /** Stride, one value for both axes or [height, width] (default 1). */
  stride?: number | [number, number];
  /** Zero padding on each side, one value or [height, width] (default 0). */
  padding?: number | [number, number];
  /** Kernel family; default `ctx.variants.gemm`. */
  variant?: 'tiled' | 'regblock';
  /**
   * Let the regblock kernels share loads between lanes with subgroup operations when the device
   * has the `subgroups` feature (default true; false forces the plain form, e.g. to test it).
   */
  subgroups?: boolean;
  /**
   * Output rows per lane of the regblock forward/input-gradient kernels for the whole job (default:
   * 16-row groups and one 4-, 8- or 12-row group for the rest); for tests and benchmarks.
   */
  laneRows?: 4 | 8 | 12 | 16;
}

/** The BatchNorm2d (evaluation: running statistics) that a forward convolution applies to its output. */
export interface ConvBatchNormEpilogue {
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/** Options of {@link conv2dForward}: the convolution's, and what runs on its output before the store. */
export interface Conv2dForwardOptions extends Conv2dOptions {
  /** BatchNorm2d in evaluation on each output channel, bit for bit as batchNormForwardEval. */
  batchNorm?: ConvBatchNormEpilogue;
  /** ReLU on the output (after the BatchNorm2d when both are given). */
  relu?: boolean;
  /** A tensor shaped like y added to the output last (a residual Add fed by the convolution); it may not be y. */
  residual?: Tensor;
}

/** Everything the kernels need, resolved from the shapes and options. */
interface Geometry {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number;
  OH: number; OW: number;
  sh: number; sw: number; ph: number; pw: number;
}

function checkOptions(op: string, opts: Conv2dOptions): void {
  for (const k of Object.keys(opts)) {
    assertShape(
      k === 'stride' || k === 'padding' || k === 'variant' || k === 'subgroups' || k === 'laneRows',
      () => `${op}: unsupported option '${k}' (conv2d supports stride, padding, variant, subgroups and laneRows; no dilation or groups)`,
    );
  }
  assertShape(
    opts.variant === undefined || opts.variant === 'tiled' || opts.variant === 'regblock',
    () => `${op}: variant ${String(opts.variant)} should be 'tiled' or 'regblock'`,
  );
  assertShape(
    opts.laneRows === undefined || opts.laneRows === 4 || opts.laneRows === 8 || opts.laneRows === 12 || opts.laneRows === 16,
    () => `${op}: laneRows ${String(opts.laneRows)} should be 4, 8, 12 or 16`,
  );
}

function geometry(op: string, xShape: readonly number[], wShape: readonly number[], opts: Conv2dOptions): Geometry {
  checkOptions(op, opts);
  assertShape(xShape.length === 4, () => `${op}: x ${shapeString(xShape)} should be [N, C, H, W]`);
  assertShape(wShape.length === 4, () => `${op}: w ${shapeString(wShape)} should be [O, C, KH, KW]`);
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [O, Cw, KH, KW] = wShape as [number, number, number, number];
  assertShape(C === Cw, () => `${op}: x ${shapeString(xShape)} has ${C} channels but w ${shapeString(wShape)} expects ${Cw}`);
  assertShape(KH >= 1 && KW >= 1 && O >= 1 && C >= 1, () => `${op}: w ${shapeString(wShape)} has an empty dimension`);
  const [sh, sw] = pair(op, 'stride', opts.stride, 1);
  const [ph, pw] = pair(op, 'padding', opts.padding, 0);
  const [OH, OW] = outputSize(op, H, W, KH, KW, [sh, sw], [ph, pw]);
  return { N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw };
}

/**
 * Output shape [N, O, OH, OW] of a convolution of x [N, C, H, W] with w [O, C, KH, KW].
 *
 * @example
 * ```ts
 * import { ops } from 'netslim';
 *
 * console.log(ops.conv2dOutputShape([8, 3, 32, 32], [16, 3, 3, 3], { padding: 1 })); // [8, 16, 32, 32]
 * console.log(ops.conv2dOutputShape([8, 3, 32, 32], [16, 3, 3, 3], { padding: 1, stride: 2 })); // [8, 16, 16, 16]
 * ```
 */
export function conv2dOutputShape(xShape: readonly number[], wShape: readonly number[], opts: Conv2dOptions = {}): number[] {
  const g = geometry('conv2dOutputShape', xShape, wShape, opts);
  return [g.N, g.O, g.OH, g.OW];
}

// ------------------------------------------------------------------------------ forward and dgrad

/**
 * One implicit GEMM of the `conv_*` entry points: out[n, r, grid pixel] = Σ_{q, i, j} weight(r, q,
 * i, j) · in[n, q, row, col], with row = a·in_ys + row0 + i and col = b·in_xs + col0 + j (zero
 * outside the input) for grid pixel (a, b), written to out row out_y0 + a·out_ys, column out_x0 +
 * b·out_xs. The forward is one job; the input gradient is one job per stride phase. Its fields are
 * the uniform struct `Conv` of conv2d_common.wgsl (r_base: the first output row of a dispatch, set
 * per dispatch by convDispatches; eps: the BatchNorm2d eps of the evaluation epilogue, unused
 * without one).
 */
type ConvJob = Conv2dConv;

/** A spec of a kernel that runs convolution jobs. */
type ConvSpec =
  | BuiltinKernelSpec<'conv2d_forward.wgsl', 'conv_regblock' | 'conv1x1_vec4' | 'conv3x3_regblock'>
  | BuiltinKernelSpec<'conv2d_tiled.wgsl', 'conv_tiled'>;

/** A spec of a weight-gradient kernel. */
type WgradSpec =
  | BuiltinKernelSpec<'conv2d_wgrad.wgsl', 'wgrad3x3_regblock' | 'wgrad_regblock'>
  | BuiltinKernelSpec<'conv2d_tiled.wgsl', 'wgrad_tiled'>;

function convKernel(ctx: Context, spec: ConvSpec): Kernel<ConvJob> {
  return spec.shader === 'conv2d_tiled.wgsl' ? ctx.kernel(spec) : ctx.kernel(spec);
}

function wgradKernel(ctx: Context, spec: WgradSpec): Kernel<Conv2dWgrad> {
  return spec.shader === 'conv2d_tiled.wgsl' ? ctx.kernel(spec) : ctx.kernel(spec);
}

function forwardJob(g: Geometry): ConvJob {
  return {
    M: g.O, Q: g.C, TI: g.KH, TJ: g.KW,
    NB: g.N, GA: g.OH, GB: g.OW,
    out_n: g.O * g.OH * g.OW, out_c: g.OH * g.OW, out_w: g.OW, out_y0: 0, out_x0: 0, out_ys: 1, out_xs: 1,
    in_n: g.C * g.H * g.W, in_c: g.H * g.W, in_h: g.H, in_w: g.W, in_ys: g.sh, in_xs: g.sw,
    row0: -g.ph, col0: -g.pw,
    w_r: g.C * g.KH * g.KW, w_q: g.KH * g.KW, w_i: g.KW, w_j: 1, w_0: 0, r_base: 0, eps: 0,
  };
}

/**
 * The input gradient as a gather: dx[n, c, ih, iw] = Σ_{o, kh, kw} w[o, c, kh, kw] · dy[n, o, oh,
 * ow] over the taps with ih + ph − kh = oh·sh (and likewise for columns). Pixels of one stride
 * phase (ih mod sh, iw mod sw) share which taps divide evenly, so each phase is a dense GEMM over
 * only those taps, reading dy at row a + const − i: no atomics, no wasted taps. Taps are
 * reversed (i → TI−1−i) so the kernels always step +1 through the input.
 */
function dgradJobs(g: Geometry): ConvJob[] {
  const jobs: ConvJob[] = [];
  for (let py = 0; py < Math.min(g.sh, g.H); py++) {
    for (let px = 0; px < Math.min(g.sw, g.W); px++) {
      const kh0 = (py + g.ph) % g.sh;
      const kw0 = (px + g.pw) % g.sw;
      const TI = kh0 < g.KH ? Math.ceil((g.KH - kh0) / g.sh) : 0;
      const TJ = kw0 < g.KW ? Math.ceil((g.KW - kw0) / g.sw) : 0;
      // dy row of tap i (kh = kh0 + sh·i) for grid row a: a + rowBase − i; reversed: a + row0 + i'.
      const rowBase = (py + g.ph - kh0) / g.sh;
      const colBase = (px + g.pw - kw0) / g.sw;
      const w_i = g.sh * g.KW;
      const w_j = g.sw;
      jobs.push({
        M: g.C, Q: g.O, TI, TJ,
        NB: g.N, GA: Math.ceil((g.H - py) / g.sh), GB: Math.ceil((g.W - px) / g.sw),
        out_n: g.C * g.H * g.W, out_c: g.H * g.W, out_w: g.W, out_y0: py, out_x0: px, out_ys: g.sh, out_xs: g.sw,
        in_n: g.O * g.OH * g.OW, in_c: g.OH * g.OW, in_h: g.OH, in_w: g.OW, in_ys: 1, in_xs: 1,
        row0: rowBase - Math.max(TI - 1, 0), col0: colBase - Math.max(TJ - 1, 0),
        w_r: g.KH * g.KW, w_q: g.C * g.KH * g.KW,
        w_i: -w_i, w_j: -w_j,
        w_0: kh0 * g.KW + kw0 + Math.max(TI - 1, 0) * w_i + Math.max(TJ - 1, 0) * w_j,
        r_base: 0, eps: 0,
      });
    }
  }
  return jobs;
}

/** Largest output (forward) or input (input gradient) image, in pixels, that runs as per-pixel jobs over samples (see pixelJobs). */
const PIXEL_JOB_MAX = 4;

/**
 * A convolution whose image has at most PIXEL_JOB_MAX pixels (VGG's 2×2 stage) as one job per
 * pixel of that image, with the operands' roles swapped: the job's rows are the samples, its grid
 * pixels the channels written (the weights are read as the gathered operand), and its taps only
 * those that fall inside the image. The grid form computes every 3×3 tap of a 2×2 image, 5 of 9
 * on zero padding, and a batch-16 layer has 64 grid pixels (8 lanes); here a job has 4 taps and
 * hundreds of lanes. `dgrad` false: the forward, one job per output pixel (a, b);
 * true: the input gradient (stride 1), one job per input pixel (u, v). Bind the weight tensor as
 * the jobs' input `x` and the image operand (x or dy) as their `w`. Null where the grid form runs
 * (larger images, or the tiled kernels).
 */
function pixelJobs(ctx: Context, g: Geometry, opts: Conv2dOptions, dgrad: boolean): ConvJob[] | null {
  if (variantOf(ctx, opts) !== 'regblock') return null;
  if (dgrad ? g.H * g.W > PIXEL_JOB_MAX || g.sh !== 1 || g.sw !== 1 : g.OH * g.OW > PIXEL_JOB_MAX) return null;
  const jobs: ConvJob[] = [];
  // taps of one axis at image position p: forward, kernel index k with p·s − pad + k inside [0, size);
  // input gradient, k with p + pad − k inside [0, OSIZE)
  const range = (p: number, K: number, s: number, pad: number, size: number): [number, number] => {
    const lo = dgrad ? Math.max(0, p + pad - (size - 1)) : Math.max(0, pad - p * s);
    const hi = dgrad ? Math.min(K, p + pad + 1) : Math.min(K, size - p * s + pad);
    return hi > lo ? [lo, hi] : [0, 0];
  };
  const [rows, cols] = dgrad ? [g.H, g.W] : [g.OH, g.OW];
  for (let a = 0; a < rows; a++) {
    for (let b = 0; b < cols; b++) {
      let [i0, i1] = range(a, g.KH, g.sh, g.ph, dgrad ? g.OH : g.H);
      let [j0, j1] = range(b, g.KW, g.sw, g.pw, dgrad ? g.OW : g.W);
      // a pixel without taps (all in the padding) is written as 0: a job with no taps at all
      if (i1 === i0 || j1 === j0) [i0, i1, j0, j1] = [0, 0, 0, 0];
      const common = {
        M: g.N, TI: i1 - i0, TJ: j1 - j0, GA: 1, GB: 1,
        out_w: cols, out_y0: a, out_x0: b, out_ys: 1, out_xs: 1,
        in_h: g.KH, in_w: g.KW, in_ys: 1, in_xs: 1, row0: i0, col0: j0, r_base: 0, eps: 0,
      };
      jobs.push(
        dgrad
          ? {
            // dx[n, c, a, b] = Σ_{o, kh, kw} w[o, c, kh, kw] · dy[n, o, a + ph − kh, b + pw − kw]
            ...common, Q: g.O, NB: g.C,
            out_n: g.H * g.W, out_c: g.C * g.H * g.W,
            in_n: g.KH * g.KW, in_c: g.C * g.KH * g.KW,
            w_r: g.O * g.OH * g.OW, w_q: g.OH * g.OW, w_i: -g.OW, w_j: -1,
            w_0: i1 > i0 ? (a + g.ph - i0) * g.OW + (b + g.pw - j0) : 0,
          }
          : {
            // y[n, o, a, b] = Σ_{c, kh, kw} w[o, c, kh, kw] · x[n, c, a·sh − ph + kh, b·sw − pw + kw]
            ...common, Q: g.C, NB: g.O,
            out_n: g.OH * g.OW, out_c: g.O * g.OH * g.OW,
            in_n: g.C * g.KH * g.KW, in_c: g.KH * g.KW,
            w_r: g.C * g.H * g.W, w_q: g.H * g.W, w_i: g.W, w_j: 1,
            w_0: i1 > i0 ? (a * g.sh - g.ph + i0) * g.W + (b * g.sw - g.pw + j0) : 0,
          },
      );
    }
  }
  return jobs;
}

/**
 * The weight gradient of a stride-1 convolution whose output image has at most PIXEL_JOB_MAX
 * pixels, as one conv_* job per tap (kh, kw): rows are the output channels, grid pixels the input
 * channels, the reduction runs over the samples (Q) and the output pixels whose input pixel is
 * inside the image (the taps of the job), so no product with the zero padding is computed. Bind x
 * as the jobs' input `x` and dy as their `w`. Null where wgradPlan's kernels run.
 */
function tapJobs(ctx: Context, g: Geometry, opts: Conv2dOptions): ConvJob[] | null {
  if (variantOf(ctx, opts) !== 'regblock' || g.OH * g.OW > PIXEL_JOB_MAX || g.sh !== 1 || g.sw !== 1) return null;
  const jobs: ConvJob[] = [];
  for (let kh = 0; kh < g.KH; kh++) {
    for (let kw = 0; kw < g.KW; kw++) {
      // output pixels (a, b) whose input pixel (a − ph + kh, b − pw + kw) is inside the image
      let [a0, a1] = [Math.max(0, g.ph - kh), Math.min(g.OH, g.H + g.ph - kh)];
      let [b0, b1] = [Math.max(0, g.pw - kw), Math.min(g.OW, g.W + g.pw - kw)];
      if (a1 <= a0 || b1 <= b0) [a0, a1, b0, b1] = [0, 0, 0, 0];
      // dw[o, c, kh, kw] = Σ_{n, a, b} dy[n, o, a, b] · x[n, c, a − ph + kh, b − pw + kw]
      jobs.push({
        M: g.O, Q: g.N, TI: a1 - a0, TJ: b1 - b0, NB: g.C, GA: 1, GB: 1,
        out_n: g.KH * g.KW, out_c: g.C * g.KH * g.KW, out_w: g.KW, out_y0: kh, out_x0: kw, out_ys: 1, out_xs: 1,
        in_n: g.H * g.W, in_c: g.C * g.H * g.W, in_h: g.H, in_w: g.W, in_ys: 1, in_xs: 1,
        row0: kh - g.ph + a0, col0: kw - g.pw + b0,
        w_r: g.OH * g.OW, w_q: g.O * g.OH * g.OW, w_i: g.OW, w_j: 1, w_0: a0 * g.OW + b0,
        r_base: 0, eps: 0,
      });
    }
  }
  return jobs;
}

type Variant = 'tiled' | 'regblock';

/** Invocations per workgroup of the regblock conv kernels (SwiftShader runs workgroups whole, so
 * small groups waste little on small layers). */
const REGBLOCK_WG = 16;
/**
 * Workgroup size of a conv_* dispatch over `blocks` lane blocks: 16, or 4 (one SwiftShader
 * subgroup) where 16 would leave more than a tenth of the lanes idle. Idle lanes run the whole
 * kernel: a 2×2 layer at batch 16 (8 blocks) took 2.5× as long in one half-idle group of 16.
 */
function laneGroup(blocks: number): 4 | 16 {
  const lanes = Math.ceil(blocks / REGBLOCK_WG) * REGBLOCK_WG;
  return lanes - blocks > 0.1 * lanes ? 4 : REGBLOCK_WG;
}
/** Output rows (channels) per invocation of the wgrad regblock kernels. */
const REGBLOCK_ROWS = 16;
/** Pixels per invocation of conv_regblock. */
const GENERIC_PIXELS = 8;
/** Output rows and pixels per workgroup of the tiled kernels. */
const TILE = 64;

/**
 * The defines of conv2d_forward.wgsl for a dispatch: SG builds the subgroup form; TN is the block
 * width of conv3x3_regblock (4: 4×4 outputs; 8: 2×8), ROWS the output rows per lane of the conv_*
 * kernels, WG their workgroup size; BN, RELU and ADD turn on the evaluation epilogue of a forward
 * job, with the BatchNorm2d channel the grid pixel (PERPIX, per-pixel jobs) instead of the output
 * row. TAP1 builds conv_regblock for one tap (1×1 kernels, and their input gradient) without the
 * tap loops: SwiftShader pays for every accumulator at each loop's entry and exit, which cost a
 * 1×1 layer over 16 channels a third of its time.
 */
function forwardDefines(sg: boolean, tn: 4 | 8, rows: LaneRows, epi: Epilogue, tap1: boolean, wg: 4 | 16) {
  return { SG: sg, TN: tn, ROWS: rows, WG: wg, TAP1: tap1, ...epilogueDefines(epi) };
}

function epilogueDefines(epi: Epilogue) {
  return { BN: epi.bn, RELU: epi.relu, ADD: epi.add, PERPIX: epi.perPixel };
}

/** Which epilogue a conv_* kernel is built with. */
interface Epilogue {
  bn: boolean;
  relu: boolean;
  add: boolean;
  /** The BatchNorm2d channel is the grid pixel (per-pixel jobs), not the output row. */
  perPixel: boolean;
}
const NO_EPILOGUE: Epilogue = { bn: false, relu: false, add: false, perPixel: false };

type LaneRows = 4 | 8 | 12 | 16;

/** A run of row groups of one size: `count` groups of `rows` output rows from row `base`. */
interface RowGroups {
  rows: LaneRows;
  base: number;
  count: number;
}

/**
 * How a job's M output rows are split among lanes: 16-row groups for the multiples of 16, then one
 * group of the rest rounded up to 4 rows (each run is one dispatch). Pruned layers have any width:
 * rounding 10 rows up to 16 computes 60 % more than needed. Time per computed row, measured on
 * SwiftShader (2 cores, batch 64, forward with `laneRows` forced, VGG/ResNet layer shapes), as a
 * multiple of 16 rows': 12 rows 0.82–1.19 (median 1.06), 8 rows 1.06–1.32 (1.2), 4 rows 1.26–1.90
 * (1.5); fewer rows reload the same inputs for fewer outputs. With these, one tail group of
 * ceil(rest / 4) · 4 rows is always cheaper than a split (10 rows: 12 → 12.7 row-times; 8 + 4 → 15.6;
 * 16 → 16).
 */
function convRowGroups(M: number): RowGroups[] {
  const full = Math.floor(M / 16);
  const groups: RowGroups[] = full > 0 ? [{ rows: 16, base: 0, count: full }] : [];
  const rest = M - 16 * full;
  if (rest > 0) groups.push({ rows: (Math.ceil(rest / 4) * 4) as LaneRows, base: 16 * full, count: 1 });
  return groups;
}

function useSubgroups(ctx: Context, opts: Conv2dOptions): boolean {
  return ctx.subgroups && (opts.subgroups ?? true);
}

/**
 * Block shape of conv3x3_regblock for a job, or 0 for the generic kernel. The 3×3 kernel needs 3×3
 * taps stepping one input row and column per output (stride 1); a lane covers 4×4 (TN = 4) or 2×8
 * (TN = 8) outputs, so grids that the blocks do not tile waste lanes. Relative costs per computed
 * output measured on SwiftShader: 0.7 (4×4), 0.72 (2×8), 1.1 (generic, which wastes nothing).
 */
function blockWidth3x3(job: ConvJob): 0 | 4 | 8 {
  if (!(job.TI === 3 && job.TJ === 3 && job.in_xs === 1 && job.in_ys === 1)) return 0;
  const up = (v: number, m: number): number => Math.ceil(v / m) * m;
  const cost4 = up(job.GA, 4) * up(job.GB, 4) * 0.7;
  const cost8 = up(job.GA, 2) * up(job.GB, 8) * 0.72;
  const generic = job.GA * job.GB * 1.1;
  if (generic < Math.min(cost4, cost8)) return 0;
  return cost4 <= cost8 ? 4 : 8;
}

/**
 * Whether a job runs as conv1x1_vec4: one tap, stride 1, no padding or offsets, input and output
 * planes the grid itself, and a multiple of 4 pixels per image, so every 4-pixel vector of the
 * grid is 4 consecutive floats inside one sample of x, y and the residual.
 */
function vec4Job(job: ConvJob): boolean {
  const plane = job.GA * job.GB;
  return (
    job.TI === 1 && job.TJ === 1 && plane % 4 === 0 &&
    job.in_ys === 1 && job.in_xs === 1 && job.out_ys === 1 && job.out_xs === 1 &&
    job.row0 === 0 && job.col0 === 0 && job.out_y0 === 0 && job.out_x0 === 0 &&
    job.in_h === job.GA && job.in_w === job.GB && job.out_w === job.GB &&
    job.in_c === plane && job.out_c === plane && job.in_n % 4 === 0 && job.out_n % 4 === 0
  );
}

interface ConvDispatch {
  spec: ConvSpec;
  grid: [number, number, number];
  /** Uniforms: the job with this dispatch's first row. */
  params: ConvJob;
}

function grid3(ctx: Context, workgroups: number, rows: number): [number, number, number] {
  const max = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  const x = Math.min(workgroups, max);
  return [x, rows, Math.ceil(workgroups / x)];
}

/** The dispatches that compute one job: one for the tiled kernel, one per run of row groups for the regblock kernels. */
function convDispatches(ctx: Context, job: ConvJob, opts: Conv2dOptions, epi: Epilogue = NO_EPILOGUE): ConvDispatch[] {
  const npix = job.NB * job.GA * job.GB;
  if (variantOf(ctx, opts) === 'tiled') {
    return [{ spec: { shader: 'conv2d_tiled.wgsl', entry: 'conv_tiled', defines: epilogueDefines(epi) }, grid: grid3(ctx, Math.ceil(npix / TILE), Math.ceil(job.M / TILE)), params: job }];
  }
  const sg = useSubgroups(ctx, opts);
  const width = blockWidth3x3(job);
  const entry = width > 0 ? 'conv3x3_regblock' : vec4Job(job) ? 'conv1x1_vec4' : 'conv_regblock';
  const blocks = width > 0 ? job.NB * Math.ceil(job.GA / (16 / width)) * Math.ceil(job.GB / width) : Math.ceil(npix / GENERIC_PIXELS);
  const groups = opts.laneRows ? [{ rows: opts.laneRows, base: 0, count: Math.ceil(job.M / opts.laneRows) }] : convRowGroups(job.M);
  const wg = laneGroup(blocks);
  return groups.map((r) => ({
    spec: { shader: 'conv2d_forward.wgsl', entry, defines: forwardDefines(sg, width > 0 ? (width as 4 | 8) : 8, r.rows, epi, job.TI === 1 && job.TJ === 1, wg) },
    grid: grid3(ctx, Math.ceil(blocks / wg), r.count),
    params: { ...job, r_base: r.base },
  }));
}

function recordConvJob(
  ctx: Context, job: ConvJob, input: Tensor, w: Tensor, out: Tensor, opts: Conv2dOptions, epi: Epilogue = NO_EPILOGUE, extra: Record<string, Tensor> = {},
): void {
  if (job.NB * job.GA * job.GB === 0) return;
  for (const d of convDispatches(ctx, job, opts, epi)) {
    // conv1x1_vec4 binds the same buffers as arrays of vec4f
    const vec4 = { x4: input, y4: out, ...(extra.residual ? { residual4: extra.residual } : {}) };
    ctx.dispatch(convKernel(ctx, d.spec), { x: input, w, y: out, ...extra, ...vec4 }, d.params, d.grid);
  }
}

function variantOf(ctx: Context, opts: Conv2dOptions): Variant {
  return opts.variant ?? ctx.variants.gemm;
}

/**
 * Records y = conv2d(x, w): x [N, C, H, W], w [O, C, KH, KW] → y [N, O, OH, OW] (no bias). `y`, if
 * given, is overwritten (it may not be x or w). Nothing needs saving for the backward beyond x.
 * For inference, `opts.batchNorm`, `opts.relu` and `opts.residual` apply, in this order, a
 * BatchNorm2d (running statistics), a ReLU and a residual sum to the outputs before they are
 * stored: y is then what conv → batchNormForwardEval → ReLU → add give, bit for bit, in one pass.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 1, 3, 3], new Float32Array(9).fill(1));
 * const w = ctx.tensor([1, 1, 3, 3], new Float32Array(9).fill(1));
 * console.log(await ctx.readF32(ops.conv2dForward(ctx, x, w, { padding: 1 }))); // Float32Array [4, 6, 4, 6, 9, 6, 4, 6, 4]
 * const [gamma, beta, runningMean, runningVar] = [[1], [-5], [0], [1]].map((v) => ctx.tensor([1], v));
 * const bn = { gamma: gamma!, beta: beta!, runningMean: runningMean!, runningVar: runningVar!, eps: 0 };
 * console.log(await ctx.readF32(ops.conv2dForward(ctx, x, w, { padding: 1, batchNorm: bn, relu: true }))); // Float32Array [0, 1, 0, 1, 4, 1, 0, 1, 0]
 * ctx.destroy();
 * ```
 */
export function conv2dForward(ctx: Context, x: Tensor, w: Tensor, opts: Conv2dForwardOptions = {}, y?: Tensor): Tensor {
  const op = 'conv2dForward';
  const { batchNorm: bn, relu, residual, ...convOpts } = opts;
  const g = geometry(op, x.shape, w.shape, convOpts);
  expectF32(op, 'x', x);
  expectF32(op, 'w', w);
  const out = y ?? ctx.tensor([g.N, g.O, g.OH, g.OW], undefined, 'f32', 'conv2d.y');
  expectShape(op, 'y', out, [g.N, g.O, g.OH, g.OW]);
  assertShape(out !== x && out !== w, () => `${op}: y must not be x or w (a dispatch cannot read and write one buffer)`);
  const extra: Record<string, Tensor> = {};
  if (bn) {
    for (const [name, t] of [['gamma', bn.gamma], ['beta', bn.beta], ['runningMean', bn.runningMean], ['runningVar', bn.runningVar]] as const) {
      expectShape(op, `batchNorm.${name}`, t, [g.O]);
    }
    Object.assign(extra, { bn_gamma: bn.gamma, bn_beta: bn.beta, bn_mean: bn.runningMean, bn_var: bn.runningVar });
  }
  if (residual) {
    expectShape(op, 'residual', residual, [g.N, g.O, g.OH, g.OW]);
    assertShape(residual !== out, () => `${op}: residual must not be y (a dispatch cannot read and write one buffer)`);
    extra.residual = residual;
  }
  const epi = { bn: bn !== undefined, relu: relu === true, add: residual !== undefined, perPixel: false };
  const eps = bn ? (bn.eps ?? 1e-5) : 0;
  const small = pixelJobs(ctx, g, convOpts, false);
  if (small) {
    // the jobs' grid pixels are the output channels: a BatchNorm2d epilogue indexes them
    for (const job of small) recordConvJob(ctx, { ...job, eps }, w, x, out, convOpts, { ...epi, perPixel: true }, extra);
    return out;
  }
  recordConvJob(ctx, { ...forwardJob(g), eps }, x, w, out, convOpts, epi, extra);
  return out;
}

/**
 * Records dx = ∂L/∂x from dy [N, O, OH, OW] and w [O, C, KH, KW]; `xShape` is the forward input's
 * shape. `dx`, if given, is overwritten (also where no output used an input pixel).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const dy = ctx.tensor([1, 1, 3, 3], new Float32Array(9).fill(1));
 * const w = ctx.tensor([1, 1, 3, 3], new Float32Array(9).fill(1));
 * console.log(await ctx.readF32(ops.conv2dBackwardInput(ctx, dy, w, [1, 1, 3, 3], { padding: 1 }))); // Float32Array [4, 6, 4, 6, 9, 6, 4, 6, 4]
 * ctx.destroy();
 * ```
 */
export function conv2dBackwardInput(
  ctx: Context, dy: Tensor, w: Tensor, xShape: readonly number[], opts: Conv2dOptions = {}, dx?: Tensor,
): Tensor {
  const op = 'conv2dBackwardInput';
  const g = geometry(op, xShape, w.shape, opts);
  expectF32(op, 'w', w);
  expectShape(op, 'dy', dy, [g.N, g.O, g.OH, g.OW]);
  const out = dx ?? ctx.tensor([g.N, g.C, g.H, g.W], undefined, 'f32', 'conv2d.dx');
  expectShape(op, 'dx', out, [g.N, g.C, g.H, g.W]);
  assertShape(out !== dy && out !== w, () => `${op}: dx must not be dy or w (a dispatch cannot read and write one buffer)`);
  const small = pixelJobs(ctx, g, opts, true);
  if (small) for (const job of small) recordConvJob(ctx, job, w, dy, out, opts);
  else for (const job of dgradJobs(g)) recordConvJob(ctx, job, dy, w, out, opts);
  return out;
}

// ------------------------------------------------------------------------------------------ wgrad

/** How one wgrad call is cut up: the kernel, its grid, and the K slices (ranges of (n, oh) rows). */
interface WgradPlan {
  spec: WgradSpec;
  grid: [number, number, number];
  slices: number;
  rowsPerSlice: number;
}

/** Workgroups a wgrad dispatch should have at least, so every core gets work; more slices only add partials. */
const WGRAD_TARGET_WORKGROUPS = { regblock: 64, tiled: 512 };
/** Fewest output pixels (K terms) per slice, so a slice amortises its setup. */
const WGRAD_MIN_SLICE_PIXELS = 256;
/** Most bytes of partial sums per call. */
const WGRAD_MAX_PARTIAL_BYTES = 64 << 20;

function wgradPlan(ctx: Context, g: Geometry, opts: Conv2dOptions): WgradPlan {
  const variant = variantOf(ctx, opts);
  const sg = useSubgroups(ctx, opts);
  const J = g.C * g.KH * g.KW;
  let spec: WgradSpec;
  let gx: number;
  let gy: number;
  if (variant === 'tiled') {
    spec = { shader: 'conv2d_tiled.wgsl', entry: 'wgrad_tiled' };
    gx = Math.ceil(J / TILE);
    gy = Math.ceil(g.O / TILE);
  } else if (g.KH === 3 && g.KW === 3 && g.sw === 1 && g.OW >= 3) {
    // Two channels per lane, 4 lanes per workgroup: pruned channel counts waste at most 7 channels.
    spec = { shader: 'conv2d_wgrad.wgsl', entry: 'wgrad3x3_regblock', defines: { SG: sg } };
    gx = Math.ceil(g.C / 8);
    gy = Math.ceil(g.O / REGBLOCK_ROWS);
  } else {
    spec = { shader: 'conv2d_wgrad.wgsl', entry: 'wgrad_regblock', defines: { SG: sg } };
    gx = Math.ceil(J / (4 * 8));
    gy = Math.ceil(g.O / REGBLOCK_ROWS);
  }
  const rows = g.N * g.OH;
  const outSlice = g.O * J;
  const maxByMemory = Math.max(1, Math.floor(Math.min(WGRAD_MAX_PARTIAL_BYTES, ctx.device.limits.maxStorageBufferBindingSize) / (outSlice * 4)));
  const maxByWork = Math.max(1, Math.floor((rows * g.OW) / WGRAD_MIN_SLICE_PIXELS));
  const wanted = Math.ceil(WGRAD_TARGET_WORKGROUPS[variant] / (gx * gy));
  let slices = Math.max(1, Math.min(wanted, maxByMemory, maxByWork, rows, ctx.device.limits.maxComputeWorkgroupsPerDimension));
  const rowsPerSlice = Math.max(1, Math.ceil(rows / slices));
  slices = Math.max(1, Math.ceil(rows / rowsPerSlice));
  return { spec, grid: [gx, gy, slices], slices, rowsPerSlice };
}

/**
 * dw = ∂L/∂w from the forward input x [N, C, H, W] and dy [N, O, OH, OW]; `wShape` is [O, C, KH, KW].
 * The reduction over N·OH·OW is split into slices of (n, oh) rows that write partial sums, then
 * summed by {@link sumPartials} (one slice writes dw directly). `dw`, if given, is overwritten.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 1, 3, 3], new Float32Array(9).fill(1));
 * const dy = ctx.tensor([1, 1, 3, 3], new Float32Array(9).fill(1));
 * console.log(await ctx.readF32(ops.conv2dBackwardWeight(ctx, x, dy, [1, 1, 3, 3], { padding: 1 }))); // Float32Array [4, 6, 4, 6, 9, 6, 4, 6, 4]
 * ctx.destroy();
 * ```
 */
export function conv2dBackwardWeight(
  ctx: Context, x: Tensor, dy: Tensor, wShape: readonly number[], opts: Conv2dOptions = {}, dw?: Tensor,
): Tensor {
  const op = 'conv2dBackwardWeight';
  const g = geometry(op, x.shape, wShape, opts);
  expectF32(op, 'x', x);
  expectShape(op, 'dy', dy, [g.N, g.O, g.OH, g.OW]);
  const out = dw ?? ctx.tensor([g.O, g.C, g.KH, g.KW], undefined, 'f32', 'conv2d.dw');
  expectShape(op, 'dw', out, [g.O, g.C, g.KH, g.KW]);
  assertShape(out !== x && out !== dy, () => `${op}: dw must not be x or dy (a dispatch cannot read and write one buffer)`);
  if (g.N === 0) {
    ctx.clear(out); // an empty batch contributes nothing
    return out;
  }
  const small = tapJobs(ctx, g, opts);
  if (small) {
    for (const job of small) recordConvJob(ctx, job, x, dy, out, opts);
    return out;
  }
  const plan = wgradPlan(ctx, g, opts);
  const n = out.size;
  const params: Conv2dWgrad = {
    N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, KH: g.KH, KW: g.KW,
    sh: g.sh, sw: g.sw, ph: g.ph, pw: g.pw, rows_per_slice: plan.rowsPerSlice, out_slice: n,
  };
  const k = wgradKernel(ctx, plan.spec);
  const target = plan.slices === 1 ? out : ctx.scratch(plan.slices * n * 4, 'conv2d.dw partials');
  ctx.dispatch(k, { x, dy, dw: target }, params, plan.grid);
  if (plan.slices > 1) sumPartials(ctx, target, plan.slices, n, out);
  return out;
}

// ------------------------------------------------------------------------------------------ planning

/**
 * Every kernel that conv2dForward, conv2dBackwardInput and conv2dBackwardWeight would use for these
 * shapes and options (duplicates removed), so a caller can compile them ahead with `ctx.prepare()`.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * await ctx.prepare(ops.conv2dKernelSpecs(ctx, [64, 16, 32, 32], [32, 16, 3, 3], { padding: 1 }));
 * console.log(ctx.kernelCount); // forward, input-gradient and weight-gradient kernels, compiled
 * ctx.destroy();
 * ```
 */
export function conv2dKernelSpecs(ctx: Context, xShape: readonly number[], wShape: readonly number[], opts: Conv2dOptions = {}): KernelSpec[] {
  const g = geometry('conv2dKernelSpecs', xShape, wShape, opts);
  const specs: KernelSpec[] = [];
  const jobs = [...(pixelJobs(ctx, g, opts, false) ?? [forwardJob(g)]), ...(pixelJobs(ctx, g, opts, true) ?? dgradJobs(g))];
  for (const job of jobs) specs.push(...convDispatches(ctx, job, opts).map((d) => d.spec));
  const taps = tapJobs(ctx, g, opts);
  if (taps) {
    for (const job of taps) specs.push(...convDispatches(ctx, job, opts).map((d) => d.spec));
  } else {
    const plan = wgradPlan(ctx, g, opts);
    specs.push(plan.spec);
    if (plan.slices > 1) specs.push(SUM_PARTIALS_SPEC);
  }
  const seen = new Set<string>();
  return specs.filter((s) => {
    const key = kernelKey(s);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Number of K slices conv2dBackwardWeight cuts N·OH·OW into for these shapes (for tests and benchmarks).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * console.log(ops.conv2dWeightGradSlices(ctx, [64, 16, 32, 32], [32, 16, 3, 3], { padding: 1 }));
 * ctx.destroy();
 * ```
 */
export function conv2dWeightGradSlices(ctx: Context, xShape: readonly number[], wShape: readonly number[], opts: Conv2dOptions = {}): number {
  const g = geometry('conv2dWeightGradSlices', xShape, wShape, opts);
  if (tapJobs(ctx, g, opts)) return 1; // one job per tap, no partial sums
  return wgradPlan(ctx, g, opts).slices;
}
