/** Fully connected layer in PyTorch layout (shaders/linear.wgsl). */
import type { Context } from '../gpu/context.js';
import type { LinearParams } from '../gpu/shader-types.js';
import { Tensor, shapeString } from '../gpu/tensor.js';
import { assertShape } from '../errors.js';

const SHADER = 'linear.wgsl';
/** Outputs per invocation along each GEMM axis, and invocations per workgroup axis (8×8). */
const BLOCK = 4;
const WG_SIDE = 8;
const BIAS_WG = 64;

/** Options of {@link linearBackward}. */
export interface LinearBackwardOptions {
  /** Compute dx (default true; the first layer of a network needs none). */
  inputGrad?: boolean;
  /** Compute db (default true; set false for a layer without bias). */
  bias?: boolean;
}

/** Gradients from {@link linearBackward}; `dx`/`db` are present when requested. */
export interface LinearGrads {
  dx?: Tensor;
  dw: Tensor;
  db?: Tensor;
}

/** Preallocated outputs of {@link linearBackward}. */
export interface LinearGradBuffers {
  dx?: Tensor;
  dw?: Tensor;
  db?: Tensor;
}

interface Dims {
  batch: number;
  inFeatures: number;
  outFeatures: number;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function expectF32(op: string, name: string, t: Tensor): void {
  assertShape(t.dtype === 'f32', () => `${op}: ${name} has dtype ${t.dtype}, expected f32`);
}

function expectShape(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  expectF32(op, name, t);
  assertShape(sameShape(t.shape, shape), () => `${op}: ${name} ${shapeString(t.shape)} should be ${shapeString(shape)}`);
}

/**
 * x may have any rank ≥ 2 and is read as [N, prod(rest)], as `torch.flatten(x, 1)` would give
 * (VGG's pooled [N, 512, 1, 1] feeds the classifier directly).
 */
function dims(op: string, x: Tensor, w: Tensor): Dims {
  expectF32(op, 'x', x);
  expectF32(op, 'w', w);
  assertShape(x.shape.length >= 2, () => `${op}: x ${shapeString(x.shape)} should be [N, in] (or [N, C, …] flattened)`);
  assertShape(w.shape.length === 2, () => `${op}: w ${shapeString(w.shape)} should be [out, in]`);
  const features = x.shape.slice(1).reduce((a, d) => a * d, 1);
  assertShape(
    features === w.shape[1],
    () => `${op}: x ${shapeString(x.shape)} has ${features} features per sample but w ${shapeString(w.shape)} expects ${w.shape[1]}`,
  );
  return { batch: x.shape[0]!, inFeatures: features, outFeatures: w.shape[0]! };
}

function uniforms(d: Dims): LinearParams {
  return { batch: d.batch, in_features: d.inFeatures, out_features: d.outFeatures };
}

/** Workgroups covering `rows` × `cols` outputs in 4×4 blocks: [x over cols, y over rows]. */
function gemmGrid(rows: number, cols: number): [number, number] {
  const span = BLOCK * WG_SIDE;
  return [Math.ceil(cols / span), Math.ceil(rows / span)];
}

/**
 * y = x·wᵀ + b (PyTorch `nn.Linear`). x [N, in] (or [N, C, …], flattened per sample),
 * w [out, in], b [out] or null; returns y [N, out] (into `y` when given).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 3], [1, 2, 3]);
 * const w = ctx.tensor([2, 3], [1, 0, 0, 0, 1, 1]); // [out, in]
 * const b = ctx.tensor([2], [0.5, -1]);
 * console.log(await ctx.readF32(ops.linearForward(ctx, x, w, b))); // Float32Array [1.5, 4]
 * ctx.destroy();
 * ```
 */
export function linearForward(ctx: Context, x: Tensor, w: Tensor, b: Tensor | null, y?: Tensor): Tensor {
  const op = 'linearForward';
  const d = dims(op, x, w);
  if (b) expectShape(op, 'b', b, [d.outFeatures]);
  const out = y ?? ctx.tensor([d.batch, d.outFeatures], undefined, 'f32', 'linear.y');
  expectShape(op, 'y', out, [d.batch, d.outFeatures]);
  const k = ctx.kernel({ shader: SHADER, entry: b ? 'forward_bias' : 'forward' });
  const bindings: Record<string, Tensor> = { x, w, y: out };
  if (b) bindings.b = b;
  ctx.dispatch(k, bindings, uniforms(d), gemmGrid(d.batch, d.outFeatures));
  return out;
}

/**
 * Gradients of y = x·wᵀ + b given dy [N, out]: dw = dyᵀ·x [out, in] (summed over the batch),
 * db = Σ_n dy [out] (unless `opts.bias === false`), dx = dy·w shaped like x (unless
 * `opts.inputGrad === false`). Outputs go into `out`'s tensors when given; every gradient is
 * overwritten, not accumulated (an empty batch gives zeros).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 3], [1, 2, 3]);
 * const w = ctx.tensor([2, 3], [1, 0, 0, 0, 1, 1]);
 * const dy = ctx.tensor([1, 2], [1, 1]);
 * const { dx, dw, db } = ops.linearBackward(ctx, x, w, dy);
 * console.log(await ctx.readF32(dw), await ctx.readF32(db!), await ctx.readF32(dx!));
 * // Float32Array [1, 2, 3, 1, 2, 3] Float32Array [1, 1] Float32Array [1, 1, 1]
 * ctx.destroy();
 * ```
 */
export function linearBackward(
  ctx: Context,
  x: Tensor,
  w: Tensor,
  dy: Tensor,
  opts: LinearBackwardOptions = {},
  out: LinearGradBuffers = {},
): LinearGrads {
  const op = 'linearBackward';
  const d = dims(op, x, w);
  expectShape(op, 'dy', dy, [d.batch, d.outFeatures]);
  const u = uniforms(d);
  const grads: LinearGrads = { dw: out.dw ?? ctx.tensor(w.shape, undefined, 'f32', 'linear.dw') };
  expectShape(op, 'dw', grads.dw, w.shape);
  ctx.dispatch(ctx.kernel({ shader: SHADER, entry: 'weight_grad' }), { x, dy, dw: grads.dw }, u, gemmGrid(d.outFeatures, d.inFeatures));
  if (opts.bias ?? true) {
    const db = out.db ?? ctx.tensor([d.outFeatures], undefined, 'f32', 'linear.db');
    expectShape(op, 'db', db, [d.outFeatures]);
    ctx.dispatchFlat(ctx.kernel({ shader: SHADER, entry: 'bias_grad' }), { dy, db }, u, Math.ceil(d.outFeatures / BIAS_WG));
    grads.db = db;
  }
  if (opts.inputGrad ?? true) {
    const dx = out.dx ?? ctx.tensor(x.shape, undefined, 'f32', 'linear.dx');
    expectShape(op, 'dx', dx, x.shape);
    ctx.dispatch(ctx.kernel({ shader: SHADER, entry: 'input_grad' }), { w, dy, dx }, u, gemmGrid(d.batch, d.inFeatures));
    grads.dx = dx;
  }
  return grads;
}
