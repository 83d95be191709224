/**
 * Channel-dimension ops on NCHW tensors (shaders/channel.wgsl): concatenation along dim 1 and
 * Network Slimming's `channel_selection` (a gather of kept channels). All are exact copies.
 */
import type { Context } from '../gpu/context.js';
import type { ChannelSelectParams } from '../gpu/shader-types.js';
import { Tensor, numel, shapeString } from '../gpu/tensor.js';
import { assertShape } from '../errors.js';

const SHADER = 'channel.wgsl';
const WG = 256;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function expectShape(op: string, name: string, t: Tensor, shape: readonly number[], dtype = 'f32'): void {
  assertShape(t.dtype === dtype, () => `${op}: ${name} has dtype ${t.dtype}, expected ${dtype}`);
  assertShape(sameShape(t.shape, shape), () => `${op}: ${name} ${shapeString(t.shape)} should be ${shapeString(shape)}`);
}

/** Elements per channel: the product of the dims after N and C. */
function spatial(shape: readonly number[]): number {
  return numel(shape.slice(2));
}

/**
 * Checks that `shapes` agree except in dim 1 and returns the concatenated shape and each piece's
 * first channel.
 */
function concatLayout(op: string, shapes: readonly (readonly number[])[]): { shape: number[]; offsets: number[] } {
  assertShape(shapes.length >= 1, () => `${op}: no inputs`);
  const first = shapes[0]!;
  assertShape(first.length >= 2, () => `${op}: input 0 ${shapeString(first)} has no channel dim`);
  const offsets: number[] = [];
  let channels = 0;
  shapes.forEach((s, i) => {
    assertShape(
      s.length === first.length && s.every((d, j) => j === 1 || d === first[j]),
      () => `${op}: input ${i} ${shapeString(s)} does not match input 0 ${shapeString(first)} outside dim 1`,
    );
    offsets.push(channels);
    channels += s[1]!;
  });
  const shape = [...first];
  shape[1] = channels;
  return { shape, offsets };
}

function slice(ctx: Context, entry: 'insert_slice' | 'extract_slice', src: Tensor, dst: Tensor, piece: readonly number[], whole: readonly number[], offset: number): void {
  const s = spatial(whole);
  const n = numel(piece);
  const k = ctx.kernel({ shader: SHADER, entry });
  ctx.dispatchFlat(k, { src, dst }, { n, piece: piece[1]! * s, whole: whole[1]! * s, offset: offset * s }, Math.ceil(n / WG));
}

/**
 * Concatenates `inputs` along dim 1 (`torch.cat(inputs, 1)`); they must agree in every other dim.
 * Returns the result (written into `out` when given).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const a = ctx.tensor([1, 1, 1, 2], [1, 2]);
 * const b = ctx.tensor([1, 2, 1, 2], [3, 4, 5, 6]);
 * const y = ops.concatForward(ctx, [a, b]);
 * console.log(y.shape, await ctx.readF32(y)); // [1, 3, 1, 2] Float32Array [1, 2, 3, 4, 5, 6]
 * ctx.destroy();
 * ```
 */
export function concatForward(ctx: Context, inputs: readonly Tensor[], out?: Tensor): Tensor {
  const op = 'concatForward';
  inputs.forEach((t, i) => assertShape(t.dtype === 'f32', () => `${op}: input ${i} has dtype ${t.dtype}, expected f32`));
  const { shape, offsets } = concatLayout(op, inputs.map((t) => t.shape));
  const y = out ?? ctx.tensor(shape, undefined, 'f32', 'concat.y');
  expectShape(op, 'out', y, shape);
  inputs.forEach((t, i) => slice(ctx, 'insert_slice', t, y, t.shape, shape, offsets[i]!));
  return y;
}

/**
 * Backward of {@link concatForward}: slices dy [N, ΣCᵢ, …] back into one gradient per input of
 * `shapes` (into `outs[i]` when given).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const dy = ctx.tensor([1, 3, 1, 2], [1, 2, 3, 4, 5, 6]);
 * const [da, db] = ops.concatBackward(ctx, dy, [[1, 1, 1, 2], [1, 2, 1, 2]]);
 * console.log(await ctx.readF32(da!), await ctx.readF32(db!)); // Float32Array [1, 2] Float32Array [3, 4, 5, 6]
 * ctx.destroy();
 * ```
 */
export function concatBackward(ctx: Context, dy: Tensor, shapes: readonly (readonly number[])[], outs?: Tensor[]): Tensor[] {
  const op = 'concatBackward';
  const { shape, offsets } = concatLayout(op, shapes);
  expectShape(op, 'dy', dy, shape);
  assertShape(outs === undefined || outs.length === shapes.length, () => `${op}: ${outs!.length} outputs given for ${shapes.length} inputs`);
  return shapes.map((s, i) => {
    const dx = outs?.[i] ?? ctx.tensor(s, undefined, 'f32', 'concat.dx');
    expectShape(op, `outs[${i}]`, dx, s);
    slice(ctx, 'extract_slice', dy, dx, s, shape, offsets[i]!);
    return dx;
  });
}

function selectUniforms(n: number, xShape: readonly number[], kept: number): ChannelSelectParams {
  return { n, spatial: spatial(xShape), kept, channels: xShape[1]! };
}

function checkIndices(op: string, indices: Tensor): number {
  assertShape(indices.dtype === 'u32' || indices.dtype === 'i32', () => `${op}: indices have dtype ${indices.dtype}, expected u32`);
  assertShape(indices.shape.length === 1, () => `${op}: indices ${shapeString(indices.shape)} should be [k]`);
  return indices.shape[0]!;
}

/**
 * Network Slimming's `channel_selection`: y[:, j] = x[:, indices[j]] for x [N, C, …], giving
 * [N, k, …] (into `y` when given). `indices` is u32 [k], kept channels in order; an index ≥ C
 * selects zeros (the pruning code only produces valid, unique indices).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 3, 1, 1], [10, 20, 30]);
 * const kept = ctx.tensor([2], [0, 2], 'u32');
 * console.log(await ctx.readF32(ops.channelSelectForward(ctx, x, kept))); // Float32Array [10, 30]
 * ctx.destroy();
 * ```
 */
export function channelSelectForward(ctx: Context, x: Tensor, indices: Tensor, y?: Tensor): Tensor {
  const op = 'channelSelectForward';
  const kept = checkIndices(op, indices);
  assertShape(x.dtype === 'f32' && x.shape.length >= 2, () => `${op}: x ${shapeString(x.shape)} (${x.dtype}) should be f32 [N, C, …]`);
  const shape = [...x.shape];
  shape[1] = kept;
  const out = y ?? ctx.tensor(shape, undefined, 'f32', 'select.y');
  expectShape(op, 'y', out, shape);
  const n = out.size;
  if (n === 0) return out;
  ctx.dispatchFlat(ctx.kernel({ shader: SHADER, entry: 'select_forward' }), { src: x, indices, dst: out }, selectUniforms(n, x.shape, kept), Math.ceil(n / WG));
  return out;
}

/**
 * Backward of {@link channelSelectForward}: dx of shape `xShape` is zero except
 * dx[:, indices[j]] = dy[:, j] (into `dx` when given). Indices must be unique (they are a scatter
 * target); an index ≥ C is ignored.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const dy = ctx.tensor([1, 2, 1, 1], [1, 2]);
 * const kept = ctx.tensor([2], [0, 2], 'u32');
 * console.log(await ctx.readF32(ops.channelSelectBackward(ctx, dy, kept, [1, 3, 1, 1]))); // Float32Array [1, 0, 2]
 * ctx.destroy();
 * ```
 */
export function channelSelectBackward(ctx: Context, dy: Tensor, indices: Tensor, xShape: readonly number[], dx?: Tensor): Tensor {
  const op = 'channelSelectBackward';
  const kept = checkIndices(op, indices);
  assertShape(xShape.length >= 2, () => `${op}: xShape ${shapeString(xShape)} should be [N, C, …]`);
  const shape = [...xShape];
  shape[1] = kept;
  expectShape(op, 'dy', dy, shape);
  const out = dx ?? ctx.tensor(xShape, undefined, 'f32', 'select.dx');
  expectShape(op, 'dx', out, xShape);
  if (out.size === 0) return out;
  // Zero-filled by a kernel rather than clearBuffer, so the compute pass stays open.
  ctx.dispatchFlat(ctx.kernel({ shader: SHADER, entry: 'zero_fill' }), { dst: out }, selectUniforms(out.size, xShape, kept), Math.ceil(out.size / WG));
  if (dy.size > 0) {
    ctx.dispatchFlat(ctx.kernel({ shader: SHADER, entry: 'select_scatter' }), { src: dy, indices, dst: out }, selectUniforms(dy.size, xShape, kept), Math.ceil(dy.size / WG));
  }
  return out;
}
