/** Split-K partial-sum reduction (shaders/reduce.wgsl), shared by ops that split long reductions. */
import type { Context } from '../gpu/context.js';
import { Tensor } from '../gpu/tensor.js';
import type { KernelSpec } from '../gpu/kernel.js';
import { assertShape } from '../errors.js';

const WG = 256;

/** The kernel {@link sumPartials} uses (for `ctx.prepare`). */
export const SUM_PARTIALS_SPEC: KernelSpec = { shader: 'reduce.wgsl', entry: 'sum_partials' };

/**
 * Records out[i] = Σ_{s < slices} partials[s·n + i] for i < n: the sum of the `slices` rows of a
 * [slices, n] row-major buffer of partial sums. `out` must hold at least n elements; only the
 * first n are written. With `slices === 1` this is a copy.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const partials = ctx.tensor([2, 3], [1, 2, 3, 10, 20, 30]); // 2 slices of 3 partial sums
 * const out = ctx.tensor([3]);
 * ops.sumPartials(ctx, partials, 2, 3, out);
 * console.log(await ctx.readF32(out)); // Float32Array [11, 22, 33]
 * ctx.destroy();
 * ```
 */
export function sumPartials(ctx: Context, partials: GPUBuffer | Tensor, slices: number, n: number, out: Tensor): void {
  assertShape(Number.isInteger(slices) && slices >= 1, () => `sumPartials: slices ${slices} should be a positive integer`);
  assertShape(Number.isInteger(n) && n >= 0, () => `sumPartials: n ${n} should be a non-negative integer`);
  const bytes = partials instanceof Tensor ? partials.size * 4 : partials.size;
  assertShape(bytes >= slices * n * 4, () => `sumPartials: partials hold ${bytes} bytes, ${slices} slices × ${n} need ${slices * n * 4}`);
  assertShape(out.size >= n, () => `sumPartials: out has ${out.size} elements, fewer than n = ${n}`);
  if (n === 0) return;
  const k = ctx.kernel(SUM_PARTIALS_SPEC);
  ctx.dispatchFlat(k, { partial: partials, out }, { n, slices }, Math.ceil(n / WG));
}
