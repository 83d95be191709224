/** ReLU, residual add and gradient accumulation (shaders/elementwise.wgsl). */
import type { Context } from '../gpu/context.js';
import { Tensor, shapeString } from '../gpu/tensor.js';
import { assertShape } from '../errors.js';

const SHADER = 'elementwise.wgsl';
const WG = 256;

function sameShape(op: string, a: Tensor, b: Tensor, an: string, bn: string): void {
  assertShape(
    a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]),
    () => `${op}: ${an} ${shapeString(a.shape)} and ${bn} ${shapeString(b.shape)} differ`,
  );
}

function run(ctx: Context, entry: string, bindings: Record<string, Tensor>, n: number): void {
  const k = ctx.kernel({ shader: SHADER, entry });
  // Unused bindings of an entry point are not in its layout, so extra names are ignored.
  ctx.dispatchFlat(k, bindings, { n }, Math.ceil(n / WG));
}

/**
 * y = max(x, 0). Pass `y === x` (or omit y and set `inPlace`) to run in place.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([4], [-2, -1, 1, 2]);
 * console.log(await ctx.readF32(ops.reluForward(ctx, x))); // Float32Array [0, 0, 1, 2]
 * ops.reluForward(ctx, x, x); // in place
 * ctx.destroy();
 * ```
 */
export function reluForward(ctx: Context, x: Tensor, y?: Tensor): Tensor {
  if (y === x) {
    run(ctx, 'relu_forward_inplace', { out: x }, x.size);
    return x;
  }
  const out = y ?? ctx.tensor(x.shape, undefined, 'f32', 'relu.y');
  sameShape('reluForward', x, out, 'x', 'y');
  run(ctx, 'relu_forward', { a: x, out }, x.size);
  return out;
}

/**
 * dx = dy · [y > 0], from the forward output y. Pass `dx === dy` to run in place.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const y = ctx.tensor([4], [0, 0, 1, 2]); // the forward output
 * const dy = ctx.tensor([4], [5, 6, 7, 8]);
 * console.log(await ctx.readF32(ops.reluBackward(ctx, y, dy))); // Float32Array [0, 0, 7, 8]
 * ctx.destroy();
 * ```
 */
export function reluBackward(ctx: Context, y: Tensor, dy: Tensor, dx?: Tensor): Tensor {
  sameShape('reluBackward', y, dy, 'y', 'dy');
  if (dx === dy) {
    run(ctx, 'relu_backward_inplace', { a: y, out: dy }, y.size);
    return dy;
  }
  const out = dx ?? ctx.tensor(y.shape, undefined, 'f32', 'relu.dx');
  sameShape('reluBackward', y, out, 'y', 'dx');
  run(ctx, 'relu_backward', { a: y, b: dy, out }, y.size);
  return out;
}

/**
 * out = a + b (residual add). Its backward passes dy unchanged to both inputs.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const a = ctx.tensor([2], [1, 2]);
 * const b = ctx.tensor([2], [10, 20]);
 * console.log(await ctx.readF32(ops.add(ctx, a, b))); // Float32Array [11, 22]
 * ctx.destroy();
 * ```
 */
export function add(ctx: Context, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  sameShape('add', a, b, 'a', 'b');
  const o = out ?? ctx.tensor(a.shape, undefined, 'f32', 'add.out');
  sameShape('add', a, o, 'a', 'out');
  run(ctx, 'add', { a, b, out: o }, a.size);
  return o;
}

/**
 * into += a (a tensor used twice receives the sum of both gradients).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const grad = ctx.tensor([2], [1, 2]);
 * ops.accumulate(ctx, grad, ctx.tensor([2], [10, 20]));
 * console.log(await ctx.readF32(grad)); // Float32Array [11, 22]
 * ctx.destroy();
 * ```
 */
export function accumulate(ctx: Context, into: Tensor, a: Tensor): Tensor {
  sameShape('accumulate', into, a, 'into', 'a');
  run(ctx, 'accumulate', { a, out: into }, a.size);
  return into;
}
