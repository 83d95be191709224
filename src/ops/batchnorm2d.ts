/**
 * BatchNorm2d (shaders/batchnorm2d.wgsl): training forward with running-statistics update,
 * evaluation forward, and the backward from the saved per-channel mean and invstd.
 *
 * Every op is three dispatches: per-slice partial reductions (one invocation per slice of a
 * channel, so both many-channel/small-M and few-channel/large-M layers fill the device), a
 * per-channel finalise, and an element-wise apply. No kernel uses a workgroup barrier: on
 * SwiftShader one costs tens of µs per workgroup, more than the arithmetic of a whole slice.
 */
import type { Context } from '../gpu/context.js';
import type { KernelSpec } from '../gpu/kernel.js';
import { Tensor, shapeString } from '../gpu/tensor.js';
import { assertShape } from '../errors.js';

const SHADER = 'batchnorm2d.wgsl';
/** Invocations per workgroup of every entry point. */
const WG = 64;
/** Vectors each invocation walks (about): enough to amortise its start, few enough to spread the work. */
const VECTORS_PER_INVOCATION = 32;
/** At most this many slices per channel: the finalise pass merges them serially. */
const MAX_SLICES = 1024;

/** Options of the BatchNorm2d ops (PyTorch defaults). */
export interface BatchNormOptions {
  /** Weight of the new batch statistic in the running average (default 0.1). */
  momentum?: number;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/** How a shape is cut into slices, and the uniforms that describe it to the kernels. */
interface Plan {
  C: number;
  /** Slices per channel. */
  slices: number;
  uniforms: Record<string, number>;
  defines: { W: 1 | 4 };
}

function plan(xShape: readonly number[]): Plan {
  const [N, C, H, Wd] = xShape as [number, number, number, number];
  const hwFloats = H * Wd;
  // vec4 loads when every run of H·W splits into whole vectors.
  const width: 1 | 4 = hwFloats % 4 === 0 ? 4 : 1;
  const hw = hwFloats / width;
  const m = N * hw;
  const slices = Math.max(1, Math.min(MAX_SLICES, Math.ceil(m / VECTORS_PER_INVOCATION)));
  const stepN = Math.floor(slices / hw);
  const stepR = slices - stepN * hw;
  return {
    C,
    slices,
    uniforms: {
      C,
      S: slices,
      hw,
      m,
      step_r: stepR,
      step_idx: stepN * C * hw + stepR,
      wrap_idx: (C - 1) * hw,
      count: N * hwFloats,
    },
    defines: { W: width },
  };
}

function spec(p: Plan, entry: string): KernelSpec {
  return { shader: SHADER, entry, defines: p.defines };
}

function checkX(op: string, x: Tensor): void {
  assertShape(x.shape.length === 4 && x.dtype === 'f32', () => `${op}: x ${shapeString(x.shape)} (${x.dtype}) must be a 4-D f32 tensor [N, C, H, W]`);
  assertShape(x.size < 2 ** 32, () => `${op}: x ${shapeString(x.shape)} has more than 2³² − 1 elements`);
}

function checkChannelVector(op: string, name: string, t: Tensor, x: Tensor): void {
  const C = x.shape[1]!;
  assertShape(
    t.shape.length === 1 && t.shape[0] === C && t.dtype === 'f32',
    () => `${op}: ${name} ${shapeString(t.shape)} must be an f32 vector [${C}] for x ${shapeString(x.shape)}`,
  );
}

function checkSame(op: string, name: string, t: Tensor, x: Tensor): void {
  assertShape(
    t.shape.length === x.shape.length && t.shape.every((d, i) => d === x.shape[i]) && t.dtype === 'f32',
    () => `${op}: ${name} ${shapeString(t.shape)} must match x ${shapeString(x.shape)}`,
  );
}

function withOptions(p: Plan, opts: BatchNormOptions): Record<string, number> {
  return { ...p.uniforms, eps: opts.eps ?? 1e-5, momentum: opts.momentum ?? 0.1 };
}

/** Workgroups of the slice kernels (one invocation per channel slice) and of the per-channel kernels. */
function sliceGroups(p: Plan): number {
  return Math.ceil((p.C * p.slices) / WG);
}
function channelGroups(p: Plan): number {
  return Math.ceil(p.C / WG);
}

/**
 * Training forward of BatchNorm2d: per channel c over M = N·H·W values, the batch mean and biased
 * variance var_b give y = (x − mean)·invstd·γ + β with invstd = 1/√(var_b + eps). Updates
 * `runningMean` and `runningVar` in place (the latter with the unbiased var_b·M/(M − 1)) and saves
 * mean and invstd for {@link batchNormBackward}. Throws a ShapeError when M = 1 (as PyTorch does).
 * The variance is computed stably: Welford's update within each slice, Chan's merge across slices.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([2, 1, 1, 2], [1, 2, 3, 4]); // one channel, M = 4 values
 * const gamma = ctx.tensor([1], [1]);
 * const beta = ctx.tensor([1], [0]);
 * const runningMean = ctx.tensor([1], [0]);
 * const runningVar = ctx.tensor([1], [1]);
 * const { y } = ops.batchNormForwardTrain(ctx, x, gamma, beta, runningMean, runningVar);
 * console.log(await ctx.readF32(y)); // ≈ [-1.342, -0.447, 0.447, 1.342]
 * console.log(await ctx.readF32(runningMean), await ctx.readF32(runningVar)); // [0.25] [≈1.0667]
 * ctx.destroy();
 * ```
 */
export function batchNormForwardTrain(
  ctx: Context,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  opts: BatchNormOptions = {},
  out: { y?: Tensor; saveMean?: Tensor; saveInvStd?: Tensor } = {},
): { y: Tensor; saveMean: Tensor; saveInvStd: Tensor } {
  const op = 'batchNormForwardTrain';
  checkX(op, x);
  checkChannelVector(op, 'gamma', gamma, x);
  checkChannelVector(op, 'beta', beta, x);
  checkChannelVector(op, 'runningMean', runningMean, x);
  checkChannelVector(op, 'runningVar', runningVar, x);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  assertShape(N * H * W > 1, () => `${op}: x ${shapeString(x.shape)} has one value per channel (N·H·W = 1); training statistics need more than one`);
  const y = out.y ?? ctx.tensor(x.shape, undefined, 'f32', 'batchnorm.y');
  const saveMean = out.saveMean ?? ctx.tensor([C], undefined, 'f32', 'batchnorm.saveMean');
  const saveInvStd = out.saveInvStd ?? ctx.tensor([C], undefined, 'f32', 'batchnorm.saveInvStd');
  checkSame(op, 'y', y, x);
  checkChannelVector(op, 'saveMean', saveMean, x);
  checkChannelVector(op, 'saveInvStd', saveInvStd, x);
  if (x.size === 0) return { y, saveMean, saveInvStd };

  const p = plan(x.shape);
  const u = withOptions(p, opts);
  const partials = ctx.scratch(C * p.slices * 8, 'batchnorm.partials');
  const coef = ctx.scratch(C * 16, 'batchnorm.coef');
  ctx.dispatchFlat(ctx.kernel(spec(p, 'forward_partials')), { x, partials }, u, sliceGroups(p));
  ctx.dispatchFlat(
    ctx.kernel(spec(p, 'forward_finalize')),
    { partials_in: partials, gamma, beta, running_mean: runningMean, running_var: runningVar, save_mean: saveMean, save_invstd: saveInvStd, coef },
    u,
    channelGroups(p),
  );
  ctx.dispatchFlat(ctx.kernel(spec(p, 'forward_apply')), { x, coef_in: coef, out: y }, u, sliceGroups(p));
  return { y, saveMean, saveInvStd };
}

/** Options of {@link batchNormForwardEval}: what the graph applies right after the BatchNorm2d. */
export interface BatchNormEvalOptions extends BatchNormOptions {
  /** Apply ReLU to the output (a BatchNorm2d → ReLU pair in one pass). */
  relu?: boolean;
  /**
   * u32 channel list [K]: output channel j is input channel indices[j] (a ChannelSelection right
   * after the BatchNorm2d), so only the kept channels are read and written. An index ≥ C gives 0.
   */
  indices?: Tensor;
}

/** Output vectors per forward_eval invocation. */
const EVAL_CHUNK = 32;

/**
 * Evaluation forward of BatchNorm2d: y = (x − runningMean)/√(runningVar + eps)·γ + β, optionally
 * followed in the same pass by a channel selection (`opts.indices`: y has K channels) and a ReLU
 * (`opts.relu`); the result is bit for bit what the separate ops give. The running statistics are
 * only read (`opts.momentum` is ignored).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 1, 1, 2], [1, 3]);
 * const [gamma, beta] = [ctx.tensor([1], [1]), ctx.tensor([1], [0])];
 * const [runningMean, runningVar] = [ctx.tensor([1], [2]), ctx.tensor([1], [4])];
 * console.log(await ctx.readF32(ops.batchNormForwardEval(ctx, x, gamma, beta, runningMean, runningVar))); // ≈ [-0.5, 0.5]
 * console.log(await ctx.readF32(ops.batchNormForwardEval(ctx, x, gamma, beta, runningMean, runningVar, { relu: true }))); // ≈ [0, 0.5]
 * ctx.destroy();
 * ```
 */
export function batchNormForwardEval(
  ctx: Context,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  opts: BatchNormEvalOptions = {},
  y?: Tensor,
): Tensor {
  const op = 'batchNormForwardEval';
  checkX(op, x);
  checkChannelVector(op, 'gamma', gamma, x);
  checkChannelVector(op, 'beta', beta, x);
  checkChannelVector(op, 'runningMean', runningMean, x);
  checkChannelVector(op, 'runningVar', runningVar, x);
  const idx = opts.indices;
  if (idx) {
    assertShape(idx.dtype === 'u32' && idx.shape.length === 1, () => `${op}: indices ${shapeString(idx.shape)} (${idx.dtype}) must be a u32 vector [K]`);
  }
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const K = idx ? idx.shape[0]! : C;
  const out = y ?? ctx.tensor([N, K, H, W], undefined, 'f32', 'batchnorm.y');
  assertShape(
    out.dtype === 'f32' && out.shape.length === 4 && [N, K, H, W].every((d, i) => d === out.shape[i]),
    () => `${op}: y ${shapeString(out.shape)} must be f32 ${shapeString([N, K, H, W])}`,
  );
  assertShape(out !== x, () => `${op}: y must not be x (a dispatch cannot read and write one buffer)`);
  if (out.size === 0) return out;
  const p = plan(x.shape);
  const hw = p.uniforms.hw!;
  const chunk = Math.min(hw, EVAL_CHUNK);
  const chunks = Math.ceil(hw / chunk);
  const runs = N * K;
  const bindings: Record<string, Tensor> = { x, gamma, beta, mean_in: runningMean, stat_in: runningVar, out };
  if (idx) bindings.indices = idx;
  ctx.dispatchFlat(
    ctx.kernel({ shader: SHADER, entry: 'forward_eval', defines: { ...p.defines, GATHER: idx !== undefined } }),
    bindings,
    { C, K, hw, runs, chunk, chunks, relu: opts.relu ? 1 : 0, eps: opts.eps ?? 1e-5 },
    Math.ceil((runs * chunks) / WG),
  );
  return out;
}

/**
 * Backward of the training forward, from x, dy and the saved mean and invstd:
 * dβ = Σdy, dγ = Σdy·x̂ and dx = γ·invstd/M·(M·dy − dβ − x̂·dγ) with x̂ = (x − mean)·invstd.
 * dγ and dβ are overwritten, not accumulated.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([2, 1, 1, 2], [1, 2, 3, 4]);
 * const gamma = ctx.tensor([1], [1]);
 * const { saveMean, saveInvStd } = ops.batchNormForwardTrain(ctx, x, gamma, ctx.tensor([1]), ctx.tensor([1]), ctx.tensor([1], [1]));
 * const dy = ctx.tensor([2, 1, 1, 2], [1, 1, 1, 1]);
 * const { dx, dgamma, dbeta } = ops.batchNormBackward(ctx, x, dy, gamma, saveMean, saveInvStd);
 * console.log(await ctx.readF32(dx), await ctx.readF32(dgamma), await ctx.readF32(dbeta)); // ≈ [0, 0, 0, 0] ≈ [0] [4]
 * ctx.destroy();
 * ```
 */
export function batchNormBackward(
  ctx: Context,
  x: Tensor,
  dy: Tensor,
  gamma: Tensor,
  saveMean: Tensor,
  saveInvStd: Tensor,
  out: { dx?: Tensor; dgamma?: Tensor; dbeta?: Tensor } = {},
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const op = 'batchNormBackward';
  checkX(op, x);
  checkSame(op, 'dy', dy, x);
  checkChannelVector(op, 'gamma', gamma, x);
  checkChannelVector(op, 'saveMean', saveMean, x);
  checkChannelVector(op, 'saveInvStd', saveInvStd, x);
  const C = x.shape[1]!;
  const dx = out.dx ?? ctx.tensor(x.shape, undefined, 'f32', 'batchnorm.dx');
  const dgamma = out.dgamma ?? ctx.tensor([C], undefined, 'f32', 'batchnorm.dgamma');
  const dbeta = out.dbeta ?? ctx.tensor([C], undefined, 'f32', 'batchnorm.dbeta');
  checkSame(op, 'dx', dx, x);
  checkChannelVector(op, 'dgamma', dgamma, x);
  checkChannelVector(op, 'dbeta', dbeta, x);
  if (x.size === 0) return { dx, dgamma, dbeta };

  const p = plan(x.shape);
  const u = withOptions(p, {});
  const partials = ctx.scratch(C * p.slices * 8, 'batchnorm.partials');
  const coef = ctx.scratch(C * 16, 'batchnorm.coef');
  ctx.dispatchFlat(ctx.kernel(spec(p, 'backward_partials')), { x, dy, mean_in: saveMean, partials }, u, sliceGroups(p));
  ctx.dispatchFlat(
    ctx.kernel(spec(p, 'backward_finalize')),
    { partials_in: partials, gamma, mean_in: saveMean, stat_in: saveInvStd, dgamma, dbeta, coef },
    u,
    channelGroups(p),
  );
  ctx.dispatchFlat(ctx.kernel(spec(p, 'backward_apply')), { x, dy, coef_in: coef, out: dx }, u, sliceGroups(p));
  return { dx, dgamma, dbeta };
}

/**
 * The kernels the BatchNorm2d ops use for inputs of shape `xShape` (training forward, evaluation
 * forward and backward), for `ctx.prepare()`. Shapes only reach the kernels as uniforms, so the
 * specs differ only by whether H·W is a multiple of 4 (vec4 or scalar loads). `ctx` is taken for
 * adapter-specific variants; there are none yet.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * await ctx.prepare(ops.batchNormKernelSpecs(ctx, [64, 16, 32, 32])); // compiled ahead, in parallel
 * console.log(ctx.kernelCount);
 * ctx.destroy();
 * ```
 */
export function batchNormKernelSpecs(ctx: Context, xShape: readonly number[]): KernelSpec[] {
  void ctx;
  assertShape(xShape.length === 4, () => `batchNormKernelSpecs: x ${shapeString(xShape)} must be 4-D [N, C, H, W]`);
  const p = plan(xShape);
  const entries = ['forward_partials', 'forward_finalize', 'forward_apply', 'forward_eval', 'backward_partials', 'backward_finalize', 'backward_apply'];
  return entries.map((e) => spec(p, e));
}

/**
 * Slices each channel is cut into for `xShape` (1: one invocation reduces a whole channel); for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { ops } from 'netslim';
 *
 * console.log(ops.batchNormSlices([64, 16, 32, 32]), ops.batchNormSlices([2, 512, 2, 2])); // more slices for long channels
 * ```
 */
export function batchNormSlices(xShape: readonly number[]): number {
  return plan(xShape).slices;
}
