/** SGD with momentum, weight decay and Network Slimming's L1 sparsity term (shaders/sgd.wgsl). */
import type { Context } from '../gpu/context.js';
import { Tensor, shapeString } from '../gpu/tensor.js';
import { assertShape } from '../errors.js';

const SHADER = 'sgd.wgsl';
const WG = 256;

/** Hyperparameters of one {@link sgdStep}; the numbers are rounded to float32, as PyTorch's kernels do. */
export interface SgdOptions {
  /** Learning rate. */
  lr: number;
  /** Momentum factor (default 0.9); 0 disables the momentum buffer. */
  momentum?: number;
  /** L2 weight decay, added to the gradient as wd·w (default 1e-4). */
  weightDecay?: number;
  /** Network Slimming's L1 coefficient s: adds s·sign(w) to the gradient (default 0; pass it for BN γ only). */
  sparsity?: number;
  /** True on the first step of this parameter: the momentum buffer is set to the gradient instead of decayed. */
  firstStep: boolean;
}

/**
 * One step of `torch.optim.SGD` (dampening 0, no Nesterov) on one parameter, updating `param` and
 * `momentumBuffer` in place (grad is only read):
 * g' = g + s·sign(w) (sign(0) = 0); d = g' + wd·w; buf = d on the first step, else
 * momentum·buf + d; w ← w − lr·buf. A zero coefficient skips its term, as PyTorch does; with
 * momentum 0 the buffer is not touched and w ← w − lr·d.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const w = ctx.tensor([2], [1, 1]);
 * const g = ctx.tensor([2], [0.5, -0.5]);
 * const buf = ctx.tensor([2]);
 * ops.sgdStep(ctx, w, g, buf, { lr: 0.1, momentum: 0.9, weightDecay: 0, firstStep: true });
 * console.log(await ctx.readF32(w), await ctx.readF32(buf)); // Float32Array [0.95, 1.05] Float32Array [0.5, -0.5]
 * ctx.destroy();
 * ```
 */
export function sgdStep(ctx: Context, param: Tensor, grad: Tensor, momentumBuffer: Tensor, opts: SgdOptions): void {
  const op = 'sgdStep';
  for (const [name, t] of [['grad', grad], ['momentumBuffer', momentumBuffer]] as const) {
    assertShape(
      t.shape.length === param.shape.length && t.shape.every((d, i) => d === param.shape[i]),
      () => `${op}: ${name} ${shapeString(t.shape)} and param ${shapeString(param.shape)} differ`,
    );
  }
  for (const [name, t] of [['param', param], ['grad', grad], ['momentumBuffer', momentumBuffer]] as const) {
    assertShape(t.dtype === 'f32', () => `${op}: ${name} has dtype ${t.dtype}, expected f32`);
  }
  // Two bindings of one buffer where one is writable is a WebGPU validation error.
  assertShape(param !== grad && param !== momentumBuffer && grad !== momentumBuffer, () => `${op}: param, grad and momentumBuffer must be three different tensors`);
  const n = param.size;
  const k = ctx.kernel({ shader: SHADER, entry: 'step' });
  const uniforms = {
    n,
    lr: opts.lr,
    momentum: opts.momentum ?? 0.9,
    weight_decay: opts.weightDecay ?? 1e-4,
    sparsity: opts.sparsity ?? 0,
    first_step: opts.firstStep ? 1 : 0,
  };
  ctx.dispatchFlat(k, { param, grad, momentum_buf: momentumBuffer }, uniforms, Math.ceil(n / WG));
}

/**
 * Zeroes `grad` wherever `gamma` is exactly zero (±0), in place: with it before {@link sgdStep},
 * a BatchNorm channel whose γ was set to zero by mask-mode pruning keeps γ = β = 0 while the
 * rest trains (as the reference's mask implementation zeroes those gradients).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const gamma = ctx.tensor([3], [0, 0.5, -0]);
 * const grad = ctx.tensor([3], [1, 1, 1]);
 * ops.zeroGradWhereZero(ctx, gamma, grad);
 * console.log(await ctx.readF32(grad)); // Float32Array [0, 1, 0]
 * ctx.destroy();
 * ```
 */
export function zeroGradWhereZero(ctx: Context, gamma: Tensor, grad: Tensor): void {
  const op = 'zeroGradWhereZero';
  assertShape(gamma.size === grad.size && gamma.dtype === 'f32' && grad.dtype === 'f32', () => `${op}: gamma ${shapeString(gamma.shape)} and grad ${shapeString(grad.shape)} should be f32 of one size`);
  assertShape(gamma !== grad, () => `${op}: gamma and grad must be different tensors`);
  const n = grad.size;
  if (!n) return;
  ctx.dispatchFlat(ctx.kernel({ shader: SHADER, entry: 'zero_where_gamma_zero' }), { gamma, masked_grad: grad }, { n, lr: 0, momentum: 0, weight_decay: 0, sparsity: 0, first_step: 0 }, Math.ceil(n / WG));
}
