/** ReLU, ReLU6, dropout, residual add and gradient accumulation (shaders/elementwise.wgsl). */
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
 * y = min(max(x, 0), 6) (PyTorch's ReLU6, hardtanh(x, 0, 6)). Pass `y === x` to run in place.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([4], [-1, 3, 6, 7]);
 * console.log(await ctx.readF32(ops.relu6Forward(ctx, x))); // Float32Array [0, 3, 6, 6]
 * ops.relu6Forward(ctx, x, x); // in place
 * ctx.destroy();
 * ```
 */
export function relu6Forward(ctx: Context, x: Tensor, y?: Tensor): Tensor {
  if (y === x) {
    run(ctx, 'relu6_forward_inplace', { out: x }, x.size);
    return x;
  }
  const out = y ?? ctx.tensor(x.shape, undefined, 'f32', 'relu6.y');
  sameShape('relu6Forward', x, out, 'x', 'y');
  run(ctx, 'relu6_forward', { a: x, out }, x.size);
  return out;
}

/**
 * dx = dy · [0 < y < 6], from the forward output y: the same mask as PyTorch's hardtanh backward,
 * which passes the gradient where 0 < x < 6 (none at exactly 0 or 6), since 0 < y < 6 exactly
 * there. Pass `dx === dy` to run in place.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const y = ctx.tensor([4], [0, 3, 6, 6]); // the forward output
 * const dy = ctx.tensor([4], [5, 6, 7, 8]);
 * console.log(await ctx.readF32(ops.relu6Backward(ctx, y, dy))); // Float32Array [0, 6, 0, 0]
 * ctx.destroy();
 * ```
 */
export function relu6Backward(ctx: Context, y: Tensor, dy: Tensor, dx?: Tensor): Tensor {
  sameShape('relu6Backward', y, dy, 'y', 'dy');
  if (dx === dy) {
    run(ctx, 'relu6_backward_inplace', { a: y, out: dy }, y.size);
    return dy;
  }
  const out = dx ?? ctx.tensor(y.shape, undefined, 'f32', 'relu6.dx');
  sameShape('relu6Backward', y, out, 'y', 'dx');
  run(ctx, 'relu6_backward', { a: y, b: dy, out }, y.size);
  return out;
}

/** Dropout's drop probability and mask seed. */
export interface DropoutOptions {
  /** Probability of zeroing an element, in [0, 1); 0 is the identity. */
  p: number;
  /** Seed of the mask, an integer in [0, 2³²): the same seed and p give the same mask (draw a new one per step). */
  seed: number;
}

/** [threshold, scale] of the dropout kernel: drop where the element's 32 random bits < threshold. */
function dropoutParams(op: string, opts: DropoutOptions): [number, number] {
  const { p, seed } = opts;
  assertShape(p >= 0 && p < 1, () => `${op}: p = ${p} must be in [0, 1)`);
  assertShape(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff, () => `${op}: seed ${seed} must be an integer in [0, 2^32)`);
  return [Math.min(Math.round(p * 2 ** 32), 0xffffffff), Math.fround(1 / (1 - p))];
}

function dropout(ctx: Context, op: string, x: Tensor, opts: DropoutOptions, out: Tensor | undefined, label: string): Tensor {
  const [threshold, scale] = dropoutParams(op, opts);
  assertShape(x.dtype === 'f32', () => `${op}: input must be f32, not ${x.dtype}`);
  const o = out ?? ctx.tensor(x.shape, undefined, 'f32', label);
  if (o !== x) sameShape(op, x, o, 'input', 'output');
  if (opts.p === 0) {
    if (o !== x) ctx.copy(x, o, x.size * 4);
    return o;
  }
  const k = ctx.kernel({ shader: SHADER, entry: o === x ? 'dropout_inplace' : 'dropout' });
  const bindings: Record<string, Tensor> = o === x ? { out: o } : { a: x, out: o };
  ctx.dispatchFlat(k, bindings, { n: x.size, seed: opts.seed, threshold, scale }, Math.ceil(x.size / WG));
  return o;
}

/**
 * Training-mode dropout: y = x · mask with mask = 1/(1 − p) (rounded to float32, as PyTorch's)
 * where kept and 0 where dropped, each element dropped with probability p. The mask is a hash of
 * (seed, element index), recomputed by `dropoutBackward` from the same options rather than stored,
 * so it costs no memory and is the same in every lane and on every adapter. At inference skip the
 * op (dropout is then the identity). Pass `y === x` to run in place.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([8], [1, 2, 3, 4, 5, 6, 7, 8]);
 * const y = ops.dropoutForward(ctx, x, { p: 0.5, seed: 42 }); // each element 0 or 2x
 * console.log(await ctx.readF32(y)); // Float32Array [0, 0, 6, 8, 10, 0, 14, 0]
 * ctx.destroy();
 * ```
 */
export function dropoutForward(ctx: Context, x: Tensor, opts: DropoutOptions, y?: Tensor): Tensor {
  return dropout(ctx, 'dropoutForward', x, opts, y, 'dropout.y');
}

/**
 * Dropout backward: dx = dy · mask, the forward's mask recomputed from the same `{ p, seed }`.
 * Pass `dx === dy` to run in place.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const opts = { p: 0.5, seed: 42 };
 * const y = ops.dropoutForward(ctx, ctx.tensor([4], [1, 2, 3, 4]), opts);
 * const dx = ops.dropoutBackward(ctx, ctx.tensor([4], [1, 1, 1, 1]), opts); // the same mask
 * console.log(await ctx.readF32(y), await ctx.readF32(dx)); // Float32Array [0, 0, 6, 8] Float32Array [0, 0, 2, 2]
 * ctx.destroy();
 * ```
 */
export function dropoutBackward(ctx: Context, dy: Tensor, opts: DropoutOptions, dx?: Tensor): Tensor {
  return dropout(ctx, 'dropoutBackward', dy, opts, dx, 'dropout.dx');
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
