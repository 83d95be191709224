/**
 * Max and average 2-D pooling (shaders/pool2d.wgsl), PyTorch semantics: floor mode, max pads with
 * −inf and keeps the first maximum of a window, average counts the padding (count_include_pad).
 * Backward passes gather (each dx element reads the windows that cover it): no atomics, and
 * overlapping windows sum in PyTorch's order. Global average pooling (AdaptiveAvgPool2d(1)) has
 * its own kernels: a window of the whole plane needs no window arithmetic.
 */
import type { Context } from '../gpu/context.js';
import type { KernelSpec } from '../gpu/kernel.js';
import { Tensor, numel, shapeString } from '../gpu/tensor.js';
import { assertShape } from '../errors.js';

const SHADER = 'pool2d.wgsl';
const WG = 64;

/** Window, stride and padding of a 2-D pool; a number means the same for height and width. */
export interface Pool2dOptions {
  /** Window size [kh, kw]. */
  kernel: number | [number, number];
  /** Step between windows [sh, sw] (default: the kernel size). */
  stride?: number | [number, number];
  /** Implicit padding on each side [ph, pw] (default 0; at most half the kernel, as in PyTorch). */
  padding?: number | [number, number];
}

interface Geometry {
  N: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function geometry(op: string, xShape: readonly number[], opts: Pool2dOptions): Geometry {
  assertShape(xShape.length === 4, () => `${op}: input ${shapeString(xShape)} must be 4-D [N, C, H, W]`);
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [kh, kw] = pair(opts.kernel);
  const [sh, sw] = pair(opts.stride ?? opts.kernel);
  const [ph, pw] = pair(opts.padding ?? 0);
  const ints = [kh, kw, sh, sw, ph, pw].every((v) => Number.isInteger(v));
  assertShape(
    ints && kh >= 1 && kw >= 1 && sh >= 1 && sw >= 1 && ph >= 0 && pw >= 0,
    () => `${op}: kernel [${kh}, ${kw}], stride [${sh}, ${sw}], padding [${ph}, ${pw}] must be integers, kernel and stride ≥ 1, padding ≥ 0`,
  );
  assertShape(2 * ph <= kh && 2 * pw <= kw, () => `${op}: padding [${ph}, ${pw}] exceeds half the kernel [${kh}, ${kw}]`);
  const OH = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
  assertShape(
    OH >= 1 && OW >= 1,
    () => `${op}: input ${shapeString(xShape)} is smaller than the kernel [${kh}, ${kw}] with padding [${ph}, ${pw}]`,
  );
  return { N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw };
}

/**
 * Output shape [N, C, OH, OW] with OH = ⌊(H + 2·ph − kh)/sh⌋ + 1 (and likewise OW).
 *
 * @example
 * ```ts
 * import { ops } from 'netslim';
 *
 * console.log(ops.pool2dOutputShape([8, 16, 32, 32], { kernel: 2 })); // [8, 16, 16, 16]
 * console.log(ops.pool2dOutputShape([8, 16, 32, 32], { kernel: 3, stride: 2, padding: 1 })); // [8, 16, 16, 16]
 * ```
 */
export function pool2dOutputShape(xShape: readonly number[], opts: Pool2dOptions): number[] {
  const g = geometry('pool2dOutputShape', xShape, opts);
  return [g.N, g.C, g.OH, g.OW];
}

function uniforms(g: Geometry, total: number): Record<string, number> {
  return { total, H: g.H, W: g.W, OH: g.OH, OW: g.OW, kh: g.kh, kw: g.kw, sh: g.sh, sw: g.sw, ph: g.ph, pw: g.pw, divisor: g.kh * g.kw };
}

/** 2×2 windows, stride 2, no padding, rows of whole vec4: the vectorised entries apply. */
function isVec2x2(g: Geometry): boolean {
  return g.kh === 2 && g.kw === 2 && g.sh === 2 && g.sw === 2 && g.ph === 0 && g.pw === 0 && g.W % 4 === 0;
}

function checkTensor(op: string, name: string, t: Tensor, shape: readonly number[], dtype: 'f32' | 'u32'): void {
  assertShape(
    t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]) && t.dtype === dtype,
    () => `${op}: ${name} ${shapeString(t.shape)} (${t.dtype}) must be ${dtype} ${shapeString(shape)}`,
  );
}

function run(ctx: Context, entry: string, bindings: Record<string, Tensor>, g: Geometry, total: number): void {
  if (total === 0) return;
  ctx.dispatchFlat(ctx.kernel({ shader: SHADER, entry }), bindings, uniforms(g, total), Math.ceil(total / WG));
}

/**
 * Max pooling forward: y is the maximum of each window (padding counts as −inf); `argmax` (u32,
 * y's shape) is the flat index ih·W + iw of the chosen element within its (n, c) plane, the first
 * maximum in row-major window order on ties.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 1, 2, 2], [1, 4, 3, 2]);
 * const { y, argmax } = ops.maxPool2dForward(ctx, x, { kernel: 2 });
 * console.log(await ctx.readF32(y), await ctx.read(argmax)); // Float32Array [4] Uint32Array [1]
 * ctx.destroy();
 * ```
 */
export function maxPool2dForward(
  ctx: Context,
  x: Tensor,
  opts: Pool2dOptions,
  out: { y?: Tensor; argmax?: Tensor } = {},
): { y: Tensor; argmax: Tensor } {
  const op = 'maxPool2dForward';
  const g = geometry(op, x.shape, opts);
  assertShape(x.dtype === 'f32', () => `${op}: x must be f32, not ${x.dtype}`);
  const yShape = [g.N, g.C, g.OH, g.OW];
  const y = out.y ?? ctx.tensor(yShape, undefined, 'f32', 'maxpool.y');
  const argmax = out.argmax ?? ctx.tensor(yShape, undefined, 'u32', 'maxpool.argmax');
  checkTensor(op, 'y', y, yShape, 'f32');
  checkTensor(op, 'argmax', argmax, yShape, 'u32');
  if (isVec2x2(g)) run(ctx, 'max_forward_2x2', { x4: x, y2: y, argmax2: argmax }, g, numel(yShape) / 2);
  else run(ctx, 'max_forward', { x, y, argmax }, g, numel(yShape));
  return { y, argmax };
}

/**
 * Max pooling backward: dx[i] = Σ dy over the windows whose argmax is i (zero elsewhere).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 1, 2, 2], [1, 4, 3, 2]);
 * const { argmax } = ops.maxPool2dForward(ctx, x, { kernel: 2 });
 * const dy = ctx.tensor([1, 1, 1, 1], [10]);
 * console.log(await ctx.readF32(ops.maxPool2dBackward(ctx, dy, argmax, x.shape, { kernel: 2 }))); // Float32Array [0, 10, 0, 0]
 * ctx.destroy();
 * ```
 */
export function maxPool2dBackward(
  ctx: Context,
  dy: Tensor,
  argmax: Tensor,
  xShape: readonly number[],
  opts: Pool2dOptions,
  dx?: Tensor,
): Tensor {
  const op = 'maxPool2dBackward';
  const g = geometry(op, xShape, opts);
  const yShape = [g.N, g.C, g.OH, g.OW];
  checkTensor(op, 'dy', dy, yShape, 'f32');
  checkTensor(op, 'argmax', argmax, yShape, 'u32');
  const out = dx ?? ctx.tensor(xShape, undefined, 'f32', 'maxpool.dx');
  checkTensor(op, 'dx', out, xShape, 'f32');
  // With H even every input element lies in exactly one 2×2 window, so the block writer covers dx.
  if (isVec2x2(g) && g.H % 2 === 0) run(ctx, 'max_backward_2x2', { dy2: dy, argmax2_in: argmax, dx4: out }, g, numel(yShape) / 2);
  else run(ctx, 'max_backward', { dy, argmax_in: argmax, dx: out }, g, numel(xShape));
  return out;
}

/**
 * Average pooling forward: window sum / (kh·kw), padding counted as zeros (count_include_pad).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 1, 2, 2], [1, 2, 3, 4]);
 * console.log(await ctx.readF32(ops.avgPool2dForward(ctx, x, { kernel: 2 }))); // Float32Array [2.5]
 * ctx.destroy();
 * ```
 */
export function avgPool2dForward(ctx: Context, x: Tensor, opts: Pool2dOptions, y?: Tensor): Tensor {
  const op = 'avgPool2dForward';
  const g = geometry(op, x.shape, opts);
  assertShape(x.dtype === 'f32', () => `${op}: x must be f32, not ${x.dtype}`);
  const yShape = [g.N, g.C, g.OH, g.OW];
  const out = y ?? ctx.tensor(yShape, undefined, 'f32', 'avgpool.y');
  checkTensor(op, 'y', out, yShape, 'f32');
  run(ctx, 'avg_forward', { x, y: out }, g, numel(yShape));
  return out;
}

/**
 * Average pooling backward: each window's dy/(kh·kw) goes to every input element of the window.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const dy = ctx.tensor([1, 1, 1, 1], [4]);
 * console.log(await ctx.readF32(ops.avgPool2dBackward(ctx, dy, [1, 1, 2, 2], { kernel: 2 }))); // Float32Array [1, 1, 1, 1]
 * ctx.destroy();
 * ```
 */
export function avgPool2dBackward(ctx: Context, dy: Tensor, xShape: readonly number[], opts: Pool2dOptions, dx?: Tensor): Tensor {
  const op = 'avgPool2dBackward';
  const g = geometry(op, xShape, opts);
  const yShape = [g.N, g.C, g.OH, g.OW];
  checkTensor(op, 'dy', dy, yShape, 'f32');
  const out = dx ?? ctx.tensor(xShape, undefined, 'f32', 'avgpool.dx');
  checkTensor(op, 'dx', out, xShape, 'f32');
  run(ctx, 'avg_backward', { dy, dx: out }, g, numel(xShape));
  return out;
}

/** The geometry of a pool whose single window is the whole H×W plane (divisor H·W). */
function globalGeometry(op: string, xShape: readonly number[]): Geometry {
  assertShape(xShape.length === 4, () => `${op}: input ${shapeString(xShape)} must be 4-D [N, C, H, W]`);
  const [N, C, H, W] = xShape as [number, number, number, number];
  assertShape(H >= 1 && W >= 1, () => `${op}: input ${shapeString(xShape)} has an empty H×W plane`);
  return { N, C, H, W, OH: 1, OW: 1, kh: H, kw: W, sh: H, sw: W, ph: 0, pw: 0 };
}

/**
 * Global average pooling forward (PyTorch's AdaptiveAvgPool2d(1)): x [N, C, H, W] → y [N, C, 1, 1],
 * the mean of each H×W plane, for any H and W. One invocation per plane keeps four running float32
 * sums (elements j mod 4) and divides their total by H·W.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 2, 2, 3], [1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 6]);
 * console.log(await ctx.readF32(ops.globalAvgPool2dForward(ctx, x))); // Float32Array [3.5, 1]
 * ctx.destroy();
 * ```
 */
export function globalAvgPool2dForward(ctx: Context, x: Tensor, y?: Tensor): Tensor {
  const op = 'globalAvgPool2dForward';
  const g = globalGeometry(op, x.shape);
  assertShape(x.dtype === 'f32', () => `${op}: x must be f32, not ${x.dtype}`);
  const yShape = [g.N, g.C, 1, 1];
  const out = y ?? ctx.tensor(yShape, undefined, 'f32', 'gap.y');
  checkTensor(op, 'y', out, yShape, 'f32');
  run(ctx, 'global_avg_forward', { x, y: out }, g, g.N * g.C);
  return out;
}

/**
 * Global average pooling backward: every element of plane (n, c) of dx [N, C, H, W] gets
 * dy[n, c] / (H·W).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const dy = ctx.tensor([1, 2, 1, 1], [4, 8]);
 * console.log(await ctx.readF32(ops.globalAvgPool2dBackward(ctx, dy, [1, 2, 2, 2]))); // Float32Array [1, 1, 1, 1, 2, 2, 2, 2]
 * ctx.destroy();
 * ```
 */
export function globalAvgPool2dBackward(ctx: Context, dy: Tensor, xShape: readonly number[], dx?: Tensor): Tensor {
  const op = 'globalAvgPool2dBackward';
  const g = globalGeometry(op, xShape);
  checkTensor(op, 'dy', dy, [g.N, g.C, 1, 1], 'f32');
  const out = dx ?? ctx.tensor(xShape, undefined, 'f32', 'gap.dx');
  checkTensor(op, 'dx', out, xShape, 'f32');
  run(ctx, 'global_avg_backward', { dy, dx: out }, g, numel(xShape));
  return out;
}

/**
 * Every pooling kernel (they take shapes as uniforms, so one set serves all layers), for `ctx.prepare()`.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * await ctx.prepare(ops.pool2dKernelSpecs());
 * console.log(ctx.kernelCount);
 * ctx.destroy();
 * ```
 */
export function pool2dKernelSpecs(): KernelSpec[] {
  return [
    'max_forward',
    'max_backward',
    'avg_forward',
    'avg_backward',
    'max_forward_2x2',
    'max_backward_2x2',
    'global_avg_forward',
    'global_avg_backward',
  ].map((entry) => ({ shader: SHADER, entry }));
}
