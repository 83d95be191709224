/** Softmax cross-entropy loss, mean over the batch, with its gradient and accuracy count (shaders/cross_entropy.wgsl). */
import type { Context } from '../gpu/context.js';
import { Tensor, shapeString } from '../gpu/tensor.js';
import { assertShape } from '../errors.js';

const SHADER = 'cross_entropy.wgsl';
/** Samples per workgroup of `rows` (one partial sum each); `finish` is one workgroup of the same size. */
const WG = 64;
/** Bytes of one partial: { loss: f32, hits: u32 }. */
const PARTIAL_BYTES = 8;

/** Preallocated outputs of {@link softmaxCrossEntropy}. */
export interface CrossEntropyBuffers {
  loss?: Tensor;
  dlogits?: Tensor;
  correct?: Tensor;
}

/** Results of {@link softmaxCrossEntropy}. */
export interface CrossEntropyResult {
  /** f32 [1]: mean over the batch of −log softmax(logits)[label]. */
  loss: Tensor;
  /** f32 [N, K]: ∂loss/∂logits = (softmax − onehot(label)) / N. */
  dlogits: Tensor;
  /** u32 [1]: samples whose argmax (lowest index on ties) equals the label. */
  correct: Tensor;
}

function expectShape(op: string, name: string, t: Tensor, shape: readonly number[], dtype: string): void {
  assertShape(t.dtype === dtype, () => `${op}: ${name} has dtype ${t.dtype}, expected ${dtype}`);
  assertShape(t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]), () => `${op}: ${name} ${shapeString(t.shape)} should be ${shapeString(shape)}`);
}

/**
 * Softmax cross-entropy of logits [N, K] against labels [N] (u32 or i32), as PyTorch's
 * `F.cross_entropy(logits, labels)` (mean reduction), numerically stable (the row max is
 * subtracted). Also gives its gradient and the number of correct predictions, all reduced on the
 * GPU; nothing is read back. Labels must lie in [0, K): the kernel clamps any other label to K − 1
 * (the training code validates labels when it uploads them). N and K must be at least 1.
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const logits = ctx.tensor([2, 3], [2, 0, 0, 0, 0, 2]);
 * const labels = ctx.tensor([2], [0, 1], 'u32');
 * const { loss, dlogits, correct } = ops.softmaxCrossEntropy(ctx, logits, labels);
 * console.log(await ctx.readF32(loss), await ctx.read(correct)); // Float32Array [≈1.2395] Uint32Array [1]
 * console.log(await ctx.readF32(dlogits)); // (softmax − one-hot) / 2
 * ctx.destroy();
 * ```
 */
export function softmaxCrossEntropy(ctx: Context, logits: Tensor, labels: Tensor, out: CrossEntropyBuffers = {}): CrossEntropyResult {
  const op = 'softmaxCrossEntropy';
  assertShape(logits.dtype === 'f32' && logits.shape.length === 2, () => `${op}: logits ${shapeString(logits.shape)} (${logits.dtype}) should be f32 [N, K]`);
  const [batch, classes] = logits.shape as [number, number];
  assertShape(batch >= 1 && classes >= 1, () => `${op}: logits ${shapeString(logits.shape)} is empty`);
  assertShape(labels.dtype === 'u32' || labels.dtype === 'i32', () => `${op}: labels have dtype ${labels.dtype}, expected u32 or i32`);
  assertShape(labels.shape.length === 1 && labels.shape[0] === batch, () => `${op}: labels ${shapeString(labels.shape)} should be [${batch}] for logits ${shapeString(logits.shape)}`);
  const loss = out.loss ?? ctx.tensor([1], undefined, 'f32', 'cross_entropy.loss');
  const dlogits = out.dlogits ?? ctx.tensor(logits.shape, undefined, 'f32', 'cross_entropy.dlogits');
  const correct = out.correct ?? ctx.tensor([1], undefined, 'u32', 'cross_entropy.correct');
  expectShape(op, 'loss', loss, [1], 'f32');
  expectShape(op, 'dlogits', dlogits, logits.shape, 'f32');
  expectShape(op, 'correct', correct, [1], 'u32');
  const partials = Math.ceil(batch / WG);
  const partial = ctx.scratch(partials * PARTIAL_BYTES, 'cross_entropy.partial');
  const u = { batch, classes, partials };
  ctx.dispatchFlat(ctx.kernel({ shader: SHADER, entry: 'rows' }), { logits, labels, dlogits, partial }, u, partials);
  ctx.dispatch(ctx.kernel({ shader: SHADER, entry: 'finish' }), { partial, loss, correct }, u, [1]);
  return { loss, dlogits, correct };
}
