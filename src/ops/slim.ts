/** Kernels of the slimming pass (shaders/slim.wgsl): zeroing pruned rows, bias compensation. */
import type { Context } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { assertShape } from '../errors.js';

const SHADER = 'slim.wgsl';

/** Uniforms of `multiply_rows`. */
interface RowsParams {
  /** Elements of x. */
  n: number;
  /** Elements per row (one mask entry each). */
  row: number;
}

/** Uniforms of `compensate`. */
interface CompensateParams {
  outputs: number;
  inputs: number;
  taps: number;
  /** 1: subtract (a running mean); 2: the pruned inputs pass a ReLU (relu(β)). */
  flags: number;
}

/**
 * x[r, :] *= mask[r] in place, x seen as [mask.size, x.size / mask.size] rows: zeroes pruned
 * channels (γ and β of a BatchNorm, a convolution's output rows).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const w = ctx.tensor([3, 2], [1, 2, 3, 4, 5, 6]);
 * ops.multiplyRows(ctx, w, ctx.tensor([3], [1, 0, 1]));
 * console.log(await ctx.readF32(w)); // Float32Array [1, 2, 0, 0, 5, 6]
 * ctx.destroy();
 * ```
 */
export function multiplyRows(ctx: Context, x: Tensor, mask: Tensor): void {
  assertShape(mask.size > 0 && x.size % mask.size === 0, () => `multiplyRows: ${x.size} elements are not ${mask.size} whole rows`);
  if (!x.size) return;
  const u: RowsParams = { n: x.size, row: x.size / mask.size };
  ctx.dispatchFlat(ctx.kernel({ shader: SHADER, entry: 'multiply_rows' }), { x, mask }, { ...u }, Math.ceil(x.size / 256));
}

/**
 * Bias compensation: adjusted[j] ± Σ over inputs i with mask[i] = 0 of act(β[i]) · Σ_k
 * weight[kept[j], i, k], weight seen as [O, inputs, taps] (subtract for a running mean; act = ReLU
 * when `relu`).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const weight = ctx.tensor([1, 2, 1], [2, 3]); // one output, two inputs, one tap
 * const bias = ctx.tensor([1], [0]);
 * ops.compensatePruned(ctx, { weight, beta: ctx.tensor([2], [0.5, 4]), mask: ctx.tensor([2], [1, 0]), kept: ctx.tensor([1], [0], 'u32'), adjusted: bias }, { subtract: false, relu: true });
 * console.log(await ctx.readF32(bias)); // Float32Array [12]: input 1 (β = 4, weight 3) is pruned
 * ctx.destroy();
 * ```
 */
export function compensatePruned(
  ctx: Context,
  t: { weight: Tensor; beta: Tensor; mask: Tensor; kept: Tensor; adjusted: Tensor },
  o: { subtract: boolean; relu: boolean },
): void {
  const inputs = t.mask.size;
  const outputs = t.kept.size;
  assertShape(t.beta.size === inputs, () => `compensatePruned: β has ${t.beta.size} entries for ${inputs} inputs`);
  assertShape(t.adjusted.size === outputs, () => `compensatePruned: ${t.adjusted.size} entries to adjust for ${outputs} kept outputs`);
  const perRow = t.weight.size / t.weight.shape[0]!;
  assertShape(perRow % inputs === 0, () => `compensatePruned: weight rows of ${perRow} are not ${inputs} inputs × taps`);
  if (!outputs) return;
  const u: CompensateParams = { outputs, inputs, taps: perRow / inputs, flags: (o.subtract ? 1 : 0) | (o.relu ? 2 : 0) };
  ctx.dispatchFlat(ctx.kernel({ shader: SHADER, entry: 'compensate' }), { weight: t.weight, beta: t.beta, mask: t.mask, kept: t.kept, adjusted: t.adjusted }, { ...u }, Math.ceil(outputs / 64));
}
