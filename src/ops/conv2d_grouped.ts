/**
 * Grouped and depthwise 2-D convolution with an optional bias (shaders/conv2d_grouped.wgsl),
 * PyTorch's `nn.Conv2d(C, O, k, stride, padding, groups=G, bias)`: x [N, C, H, W], w [O, C/G, KH,
 * KW], bias [O], NCHW, zero padding, dilation 1, C and O divisible by G. Depthwise is G = C = O,
 * or O = m·C with a channel multiplier m. Also a per-channel bias add and bias gradient that work
 * for dense convolutions too (a dense conv with bias = conv2dForward + conv2dBiasAdd).
 *
 * Kernels (`opts.kernels`, default `auto`):
 * - groups = 1 (over more than one input channel) runs the dense, tuned kernels of conv2d.ts, with
 *   the bias as a separate pass;
 * - depthwise 3×3 at stride 1 or 2 (any padding, any channel multiplier) runs its forward as
 *   `dw3x3_s1` / `dw3x3_s2`: a block of 4 (stride 2: 2) rows × 4 pixels of one channel per
 *   invocation, each input row loaded once for the block, registers only;
 * - everything else (and all of it with `kernels: 'generic'`) runs the generic kernels: forward and
 *   input gradient with 4 pixels × 1 or 4 channels of a group per invocation, bias fused into the
 *   forward; both gather, no atomics.
 * The weight gradient gives each weight one invocation per slice of the N·OH·OW terms it sums and
 * adds the slices' partial sums with `sumPartials`; the bias gradient does the same per channel.
 */
import type { Context } from '../gpu/context.js';
import { Tensor, numel, shapeString } from '../gpu/tensor.js';
import { kernelKey, type KernelSpec } from '../gpu/kernel.js';
import { assertShape } from '../errors.js';
import { SUM_PARTIALS_SPEC, sumPartials } from './reduce.js';
import { expectF32, expectShape, outputSize, pair } from './conv-checks.js';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dKernelSpecs } from './conv2d.js';

const SHADER = 'conv2d_grouped.wgsl';
/** Invocations per workgroup of every entry point. */
const WG = 64;

/** Options of the grouped convolution passes. */
export interface GroupedConv2dOptions {
  /** Stride, one value for both axes or [height, width] (default 1). */
  stride?: number | [number, number];
  /** Zero padding on each side, one value or [height, width] (default 0). */
  padding?: number | [number, number];
  /** Number of groups G; the input and output channels must be divisible by it (default 1). */
  groups?: number;
  /**
   * `auto` (default): the dense conv2d kernels for groups = 1 and the depthwise 3×3 forward kernel
   * where it applies; `generic`: this family's generic kernels for every shape (for tests and
   * benchmarks).
   */
  kernels?: 'auto' | 'generic';
}

/** Everything the kernels need, resolved from the shapes and options. */
interface Geometry {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number;
  OH: number; OW: number;
  sh: number; sw: number; ph: number; pw: number;
  G: number; Cg: number; Og: number;
}

function geometry(op: string, xShape: readonly number[], wShape: readonly number[], opts: GroupedConv2dOptions): Geometry {
  for (const k of Object.keys(opts)) {
    assertShape(
      k === 'stride' || k === 'padding' || k === 'groups' || k === 'kernels',
      () => `${op}: unsupported option '${k}' (grouped conv2d supports stride, padding, groups and kernels; no dilation)`,
    );
  }
  assertShape(
    opts.kernels === undefined || opts.kernels === 'auto' || opts.kernels === 'generic',
    () => `${op}: kernels ${String(opts.kernels)} should be 'auto' or 'generic'`,
  );
  assertShape(xShape.length === 4, () => `${op}: x ${shapeString(xShape)} should be [N, C, H, W]`);
  assertShape(wShape.length === 4, () => `${op}: w ${shapeString(wShape)} should be [O, C/groups, KH, KW]`);
  const G = opts.groups ?? 1;
  assertShape(Number.isInteger(G) && G >= 1, () => `${op}: groups ${String(opts.groups)} should be a positive integer`);
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [O, Cg, KH, KW] = wShape as [number, number, number, number];
  assertShape(
    C % G === 0,
    () => `${op}: x ${shapeString(xShape)} has ${C} input channels, which groups = ${G} does not divide`,
  );
  assertShape(
    O % G === 0,
    () => `${op}: w ${shapeString(wShape)} has ${O} output channels, which groups = ${G} does not divide`,
  );
  assertShape(
    Cg === C / G,
    () => `${op}: w ${shapeString(wShape)} should have C/groups = ${C}/${G} = ${C / G} input channels per group in dim 1, not ${Cg}`,
  );
  assertShape(KH >= 1 && KW >= 1 && O >= 1 && C >= 1, () => `${op}: w ${shapeString(wShape)} has an empty dimension`);
  const [sh, sw] = pair(op, 'stride', opts.stride, 1);
  const [ph, pw] = pair(op, 'padding', opts.padding, 0);
  const [OH, OW] = outputSize(op, H, W, KH, KW, [sh, sw], [ph, pw]);
  return { N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, G, Cg, Og: O / G };
}

/** The defines of conv2d_grouped.wgsl: channels per invocation, and whether the forward adds the bias. */
function defines(rows: 1 | 4, bias: boolean): { ROWS: 1 | 4; BIAS: boolean } {
  return { ROWS: rows, BIAS: bias };
}

/** Uniforms of `Params` in conv2d_grouped.wgsl: the geometry plus per-entry counts (0 where unused). */
function uniforms(g: Geometry, extra: Partial<Record<'total' | 'bx' | 'by' | 'rb' | 'rows_per_slice' | 'out_slice' | 'plane', number>>): Record<string, number> {
  return {
    N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, KH: g.KH, KW: g.KW,
    sh: g.sh, sw: g.sw, ph: g.ph, pw: g.pw, G: g.G, Cg: g.Cg, Og: g.Og,
    total: 0, bx: 0, by: 0, rb: 0, rows_per_slice: 0, out_slice: 0, plane: 0, ...extra,
  };
}

/**
 * The dense kernels of conv2d.ts run the convolution: groups = 1 with more than one input channel,
 * `kernels: 'auto'`. A single input channel is a depthwise convolution (channel multiplier O),
 * which this family's kernels compute without the dense kernels' blocks of 4–16 input channels.
 */
function dense(g: Geometry, opts: GroupedConv2dOptions): boolean {
  return g.G === 1 && g.C > 1 && (opts.kernels ?? 'auto') === 'auto';
}

function denseOpts(g: Geometry): { stride: [number, number]; padding: [number, number] } {
  return { stride: [g.sh, g.sw], padding: [g.ph, g.pw] };
}

/** Output rows of a depthwise 3×3 block (stride 1: 4, stride 2: 2), or 0 where the generic forward runs. */
function depthwise3x3Rows(g: Geometry, opts: GroupedConv2dOptions): 0 | 2 | 4 {
  if ((opts.kernels ?? 'auto') !== 'auto' || g.Cg !== 1 || g.KH !== 3 || g.KW !== 3 || g.sh !== g.sw) return 0;
  return g.sh === 1 ? 4 : g.sh === 2 ? 2 : 0;
}

interface Dispatch {
  spec: KernelSpec;
  params: Record<string, number>;
  workgroups: number;
}

function forwardDispatch(g: Geometry, opts: GroupedConv2dOptions, bias: boolean): Dispatch {
  const bx = Math.ceil(g.OW / 4);
  const dwRows = depthwise3x3Rows(g, opts);
  if (dwRows > 0) {
    const by = Math.ceil(g.OH / dwRows);
    const total = g.N * g.O * by * bx;
    return {
      spec: { shader: SHADER, entry: dwRows === 4 ? 'dw3x3_s1' : 'dw3x3_s2', defines: defines(1, bias) },
      params: uniforms(g, { total, bx, by }),
      workgroups: Math.ceil(total / WG),
    };
  }
  // 4 output channels per invocation share the input loads; a group of fewer runs one per invocation
  const rows = g.Og >= 4 ? 4 : 1;
  const rb = Math.ceil(g.Og / rows);
  const total = g.N * g.G * rb * g.OH * bx;
  return { spec: { shader: SHADER, entry: 'forward', defines: defines(rows, bias) }, params: uniforms(g, { total, bx, rb }), workgroups: Math.ceil(total / WG) };
}

function dgradDispatch(g: Geometry): Dispatch {
  const bx = Math.ceil(g.W / 4);
  const rows = g.Cg >= 4 ? 4 : 1;
  const rb = Math.ceil(g.Cg / rows);
  const total = g.N * g.G * rb * g.H * bx;
  return { spec: { shader: SHADER, entry: 'dgrad', defines: defines(rows, false) }, params: uniforms(g, { total, bx, rb }), workgroups: Math.ceil(total / WG) };
}

/** Invocations a sliced reduction aims for, so every core (or GPU unit) has work. */
const TARGET_INVOCATIONS = 8192;
/** Fewest terms per slice, so that a slice amortises its setup and its partial sum. */
const MIN_SLICE_TERMS = 256;
/** Most bytes of partial sums per call. */
const MAX_PARTIAL_BYTES = 64 << 20;

/**
 * How a reduction of `outputs` sums over `rows` rows of `rowTerms` terms each is cut into slices of
 * whole rows: [slices, rowsPerSlice].
 */
function slicePlan(ctx: Context, outputs: number, rows: number, rowTerms: number): [number, number] {
  const maxByMemory = Math.floor(Math.min(MAX_PARTIAL_BYTES, ctx.device.limits.maxStorageBufferBindingSize) / (outputs * 4));
  const maxByWork = Math.floor((rows * rowTerms) / MIN_SLICE_TERMS);
  const wanted = Math.ceil(TARGET_INVOCATIONS / outputs);
  const slices = Math.max(1, Math.min(wanted, maxByMemory, maxByWork, rows));
  const rowsPerSlice = Math.max(1, Math.ceil(rows / slices));
  return [Math.max(1, Math.ceil(rows / rowsPerSlice)), rowsPerSlice];
}

function wgradDispatch(ctx: Context, g: Geometry): Dispatch & { slices: number } {
  const n = g.O * g.Cg * g.KH * g.KW;
  const [slices, rowsPerSlice] = slicePlan(ctx, n, g.N * g.OH, g.OW);
  const total = slices * n;
  return {
    spec: { shader: SHADER, entry: 'wgrad', defines: defines(1, false) },
    params: uniforms(g, { total, rows_per_slice: rowsPerSlice, out_slice: n }),
    workgroups: Math.ceil(total / WG),
    slices,
  };
}

/** N, C and elements per channel of an [N, C, …] tensor. */
function channelLayout(op: string, name: string, shape: readonly number[]): [number, number, number] {
  assertShape(shape.length >= 2, () => `${op}: ${name} ${shapeString(shape)} should be [N, C, …] (at least 2-D)`);
  return [shape[0]!, shape[1]!, numel(shape.slice(2))];
}

/** A geometry carrying only what bias_add / bias_grad read. */
function channelGeometry(N: number, C: number): Geometry {
  return { N, C, H: 0, W: 0, O: C, KH: 0, KW: 0, OH: 0, OW: 0, sh: 0, sw: 0, ph: 0, pw: 0, G: 1, Cg: C, Og: C };
}

function biasGradDispatch(ctx: Context, N: number, C: number, plane: number): Dispatch & { slices: number } {
  const [slices, rowsPerSlice] = slicePlan(ctx, C, N, plane);
  const total = slices * C;
  return {
    spec: { shader: SHADER, entry: 'bias_grad', defines: defines(1, false) },
    params: uniforms(channelGeometry(N, C), { total, rows_per_slice: rowsPerSlice, out_slice: C, plane }),
    workgroups: Math.ceil(total / WG),
    slices,
  };
}

const BIAS_ADD_SPEC: KernelSpec = { shader: SHADER, entry: 'bias_add', defines: defines(1, true) };

// ------------------------------------------------------------------------------------ public API

/**
 * Output shape [N, O, OH, OW] of a grouped convolution of x [N, C, H, W] with w [O, C/groups, KH,
 * KW]; throws a ShapeError naming the bad value when groups does not divide C or O or w does not
 * fit.
 *
 * @example
 * ```ts
 * import { ops } from 'netslim';
 *
 * // depthwise 3×3 over 32 channels, stride 2
 * console.log(ops.groupedConv2dOutputShape([8, 32, 32, 32], [32, 1, 3, 3], { groups: 32, stride: 2, padding: 1 })); // [8, 32, 16, 16]
 * console.log(ops.groupedConv2dOutputShape([8, 6, 9, 9], [4, 3, 3, 3], { groups: 2 })); // [8, 4, 7, 7]
 * ```
 */
export function groupedConv2dOutputShape(xShape: readonly number[], wShape: readonly number[], opts: GroupedConv2dOptions = {}): number[] {
  const g = geometry('groupedConv2dOutputShape', xShape, wShape, opts);
  return [g.N, g.O, g.OH, g.OW];
}

/**
 * Records y = conv2d(x, w, groups) + bias: x [N, C, H, W], w [O, C/groups, KH, KW], bias [O] or
 * null → y [N, O, OH, OW], as PyTorch's nn.Conv2d with `groups`. `y`, if given, is overwritten (it
 * may not be x, w or bias). The backward needs only x and w.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * // depthwise: 2 channels, each with its own 3×3 kernel of ones, and a bias per channel
 * const x = ctx.tensor([1, 2, 3, 3], [...new Array(9).fill(1), ...new Array(9).fill(2)]);
 * const w = ctx.tensor([2, 1, 3, 3], new Float32Array(18).fill(1));
 * const bias = ctx.tensor([2], [0.5, -1]);
 * const y = ops.groupedConv2dForward(ctx, x, w, bias, { groups: 2, padding: 1 });
 * console.log(await ctx.readF32(y)); // Float32Array [4.5, 6.5, 4.5, 6.5, 9.5, 6.5, 4.5, 6.5, 4.5, 7, 11, 7, 11, 17, 11, 7, 11, 7]
 * ctx.destroy();
 * ```
 */
export function groupedConv2dForward(
  ctx: Context, x: Tensor, w: Tensor, bias: Tensor | null, opts: GroupedConv2dOptions = {}, y?: Tensor,
): Tensor {
  const op = 'groupedConv2dForward';
  const g = geometry(op, x.shape, w.shape, opts);
  expectF32(op, 'x', x);
  expectF32(op, 'w', w);
  if (bias) expectShape(op, 'bias', bias, [g.O]);
  const out = y ?? ctx.tensor([g.N, g.O, g.OH, g.OW], undefined, 'f32', 'conv2d_grouped.y');
  expectShape(op, 'y', out, [g.N, g.O, g.OH, g.OW]);
  assertShape(out !== x && out !== w && out !== bias, () => `${op}: y must not be x, w or bias (a dispatch cannot read and write one buffer)`);
  if (dense(g, opts)) {
    conv2dForward(ctx, x, w, denseOpts(g), out);
    if (bias) conv2dBiasAdd(ctx, out, bias);
    return out;
  }
  const d = forwardDispatch(g, opts, bias !== null);
  ctx.dispatchFlat(ctx.kernel(d.spec), bias ? { x, w, y: out, bias } : { x, w, y: out }, d.params, d.workgroups);
  return out;
}

/**
 * Records dx = ∂L/∂x of a grouped convolution from dy [N, O, OH, OW] and w [O, C/groups, KH, KW];
 * `xShape` is the forward input's shape. Each dx element gathers the outputs that used it (no
 * atomics). `dx`, if given, is overwritten (also where no output used an input pixel).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const dy = ctx.tensor([1, 2, 2, 2], [1, 1, 1, 1, 1, 2, 3, 4]);
 * const w = ctx.tensor([2, 1, 1, 1], [10, 100]); // depthwise 1×1: a scale per channel
 * console.log(await ctx.readF32(ops.groupedConv2dBackwardInput(ctx, dy, w, [1, 2, 2, 2], { groups: 2 }))); // Float32Array [10, 10, 10, 10, 100, 200, 300, 400]
 * ctx.destroy();
 * ```
 */
export function groupedConv2dBackwardInput(
  ctx: Context, dy: Tensor, w: Tensor, xShape: readonly number[], opts: GroupedConv2dOptions = {}, dx?: Tensor,
): Tensor {
  const op = 'groupedConv2dBackwardInput';
  const g = geometry(op, xShape, w.shape, opts);
  expectF32(op, 'w', w);
  expectShape(op, 'dy', dy, [g.N, g.O, g.OH, g.OW]);
  const out = dx ?? ctx.tensor([g.N, g.C, g.H, g.W], undefined, 'f32', 'conv2d_grouped.dx');
  expectShape(op, 'dx', out, [g.N, g.C, g.H, g.W]);
  assertShape(out !== dy && out !== w, () => `${op}: dx must not be dy or w (a dispatch cannot read and write one buffer)`);
  if (dense(g, opts)) return conv2dBackwardInput(ctx, dy, w, xShape, denseOpts(g), out);
  const d = dgradDispatch(g);
  ctx.dispatchFlat(ctx.kernel(d.spec), { dy, w, dx: out }, d.params, d.workgroups);
  return out;
}

/**
 * Records dw = ∂L/∂w of a grouped convolution from the forward input x [N, C, H, W] and dy [N, O,
 * OH, OW]; `wShape` is [O, C/groups, KH, KW]. Each weight sums its N·OH·OW terms, cut into slices
 * whose partial sums {@link sumPartials} adds. `dw`, if given, is overwritten.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 2, 2, 2], [1, 2, 3, 4, 1, 1, 1, 1]);
 * const dy = ctx.tensor([1, 2, 2, 2], [1, 1, 1, 1, 2, 2, 2, 2]);
 * console.log(await ctx.readF32(ops.groupedConv2dBackwardWeight(ctx, x, dy, [2, 1, 1, 1], { groups: 2 }))); // Float32Array [10, 8]
 * ctx.destroy();
 * ```
 */
export function groupedConv2dBackwardWeight(
  ctx: Context, x: Tensor, dy: Tensor, wShape: readonly number[], opts: GroupedConv2dOptions = {}, dw?: Tensor,
): Tensor {
  const op = 'groupedConv2dBackwardWeight';
  const g = geometry(op, x.shape, wShape, opts);
  expectF32(op, 'x', x);
  expectShape(op, 'dy', dy, [g.N, g.O, g.OH, g.OW]);
  const out = dw ?? ctx.tensor([g.O, g.Cg, g.KH, g.KW], undefined, 'f32', 'conv2d_grouped.dw');
  expectShape(op, 'dw', out, [g.O, g.Cg, g.KH, g.KW]);
  assertShape(out !== x && out !== dy, () => `${op}: dw must not be x or dy (a dispatch cannot read and write one buffer)`);
  if (dense(g, opts)) return conv2dBackwardWeight(ctx, x, dy, wShape, denseOpts(g), out);
  if (g.N === 0) {
    ctx.clear(out); // an empty batch contributes nothing
    return out;
  }
  const d = wgradDispatch(ctx, g);
  const target = d.slices === 1 ? out : ctx.scratch(d.slices * out.size * 4, 'conv2d_grouped.dw partials');
  ctx.dispatchFlat(ctx.kernel(d.spec), { x, dy, dw: target }, d.params, d.workgroups);
  if (d.slices > 1) sumPartials(ctx, target, d.slices, out.size, out);
  return out;
}

/**
 * Records y[n, c, …] += bias[c] in place for y [N, C, …] (e.g. a dense conv2dForward's output, to
 * give a convolution with bias) and returns y.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 1, 2, 2], [1, 2, 3, 4]);
 * const w = ctx.tensor([2, 1, 1, 1], [1, -1]);
 * const y = ops.conv2dForward(ctx, x, w); // dense 1×1, no bias
 * ops.conv2dBiasAdd(ctx, y, ctx.tensor([2], [10, 20]));
 * console.log(await ctx.readF32(y)); // Float32Array [11, 12, 13, 14, 19, 18, 17, 16]
 * ctx.destroy();
 * ```
 */
export function conv2dBiasAdd(ctx: Context, y: Tensor, bias: Tensor): Tensor {
  const op = 'conv2dBiasAdd';
  expectF32(op, 'y', y);
  const [N, C, plane] = channelLayout(op, 'y', y.shape);
  expectShape(op, 'bias', bias, [C]);
  assertShape(y !== bias, () => `${op}: y must not be bias`);
  const total = y.size;
  if (total === 0) return y;
  ctx.dispatchFlat(ctx.kernel(BIAS_ADD_SPEC), { y, bias }, uniforms(channelGeometry(N, C), { total, plane }), Math.ceil(total / WG));
  return y;
}

/**
 * Records dbias[c] = Σ_{n, …} dy[n, c, …], the bias gradient of a convolution (grouped or dense)
 * from dy [N, C, …]. The sum is cut into slices of samples whose partial sums {@link sumPartials}
 * adds. `dbias` [C], if given, is overwritten.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const dy = ctx.tensor([2, 2, 1, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
 * console.log(await ctx.readF32(ops.conv2dBiasGrad(ctx, dy))); // Float32Array [14, 22]
 * ctx.destroy();
 * ```
 */
export function conv2dBiasGrad(ctx: Context, dy: Tensor, dbias?: Tensor): Tensor {
  const op = 'conv2dBiasGrad';
  expectF32(op, 'dy', dy);
  const [N, C, plane] = channelLayout(op, 'dy', dy.shape);
  const out = dbias ?? ctx.tensor([C], undefined, 'f32', 'conv2d_grouped.dbias');
  expectShape(op, 'dbias', out, [C]);
  assertShape(out !== dy, () => `${op}: dbias must not be dy`);
  if (C === 0) return out;
  if (N * plane === 0) {
    ctx.clear(out);
    return out;
  }
  const d = biasGradDispatch(ctx, N, C, plane);
  const target = d.slices === 1 ? out : ctx.scratch(d.slices * C * 4, 'conv2d_grouped.dbias partials');
  ctx.dispatchFlat(ctx.kernel(d.spec), { dy, db: target }, d.params, d.workgroups);
  if (d.slices > 1) sumPartials(ctx, target, d.slices, C, out);
  return out;
}

/**
 * Every kernel that groupedConv2dForward (with a bias when `bias` is true), groupedConv2dBackwardInput,
 * groupedConv2dBackwardWeight and, with `bias`, conv2dBiasGrad would use for these shapes and
 * options (duplicates removed), so a caller can compile them ahead with `ctx.prepare()`.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const specs = ops.groupedConv2dKernelSpecs(ctx, [64, 32, 16, 16], [32, 1, 3, 3], { groups: 32, padding: 1 }, true);
 * console.log(specs.map((s) => s.entry)); // [ 'dw3x3_s1', 'dgrad', 'wgrad', 'sum_partials', 'bias_grad' ]
 * await ctx.prepare(specs);
 * ctx.destroy();
 * ```
 */
export function groupedConv2dKernelSpecs(
  ctx: Context, xShape: readonly number[], wShape: readonly number[], opts: GroupedConv2dOptions = {}, bias = false,
): KernelSpec[] {
  const g = geometry('groupedConv2dKernelSpecs', xShape, wShape, opts);
  const specs: KernelSpec[] = [];
  if (dense(g, opts)) {
    specs.push(...conv2dKernelSpecs(ctx, xShape, wShape, denseOpts(g)));
    if (bias) specs.push(BIAS_ADD_SPEC);
  } else {
    specs.push(forwardDispatch(g, opts, bias).spec, dgradDispatch(g).spec);
    if (g.N > 0) {
      const d = wgradDispatch(ctx, g);
      specs.push(d.spec);
      if (d.slices > 1) specs.push(SUM_PARTIALS_SPEC);
    }
  }
  if (bias && g.N * g.OH * g.OW > 0) {
    const d = biasGradDispatch(ctx, g.N, g.O, g.OH * g.OW);
    specs.push(d.spec);
    if (d.slices > 1) specs.push(SUM_PARTIALS_SPEC);
  }
  const seen = new Set<string>();
  return specs.filter((s) => {
    const key = kernelKey(s);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
