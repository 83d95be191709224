/**
 * The GPU input pipeline (shaders/augment.wgsl): uint8 images stay on the GPU as packed bytes,
 * and one dispatch per batch gathers, pads, crops, flips and normalises them into f32 NCHW.
 * The random crop offsets and flips come from a hash of (seed, step, position in the batch), so a
 * batch is reproducible from those three numbers alone; {@link augmentParams} computes the same
 * values in JavaScript.
 */
import type { Context } from '../gpu/context.js';
import { Tensor, shapeString } from '../gpu/tensor.js';
import { ShapeError, assertShape } from '../errors.js';

const SHADER = 'augment.wgsl';
const WG = 256;
/** The kernel's uniform block holds the mean and std of at most this many channels. */
export const AUGMENT_MAX_CHANNELS = 4;

/** What {@link augmentBatch} does to each sample. */
export interface AugmentOptions {
  channels: number;
  height: number;
  width: number;
  /** Zero padding on each side before the random crop: 4 for CIFAR training, 0 for testing. */
  pad: number;
  /** Random H×W crop of the padded image (offsets uniform in 0..2·pad); false: the centre. */
  crop: boolean;
  /** Random horizontal flip with probability 1/2. */
  flip: boolean;
  /** u32 seed of the run. */
  seed: number;
  /** u32 step (e.g. the global batch counter): a new step gives new crops and flips. */
  step: number;
  /** Per-channel mean and std of the [0, 1] pixels (`channels` entries each). */
  mean: readonly number[];
  std: readonly number[];
  /**
   * Samples held by `images`; an index at or past it gives NaN. Default: the whole samples its
   * words hold (for samples under 4 bytes that counts the zero bytes padding the last word).
   */
  samples?: number;
}

/**
 * Uploads uint8 images (N·C·H·W bytes, NCHW) as a u32 tensor of packed bytes, four pixels per
 * word, little-endian; a byte count that is not a multiple of 4 is zero-padded to the next word.
 * The tensor's shape is [words]. Fails when it exceeds the device's storage-binding limit: upload
 * the dataset in chunks of whole samples then (`images.subarray(i·CHW, j·CHW)`).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const images = new Uint8Array([0, 64, 128, 255, 255, 128, 64, 0]); // 2 samples of 1×2×2
 * const packed = ops.uploadImages(ctx, images);
 * console.log(packed.shape, packed.dtype); // [2] u32
 * ctx.destroy();
 * ```
 */
export function uploadImages(ctx: Context, images: Uint8Array, label = 'images'): Tensor {
  const words = Math.ceil(images.length / 4);
  const limit = ctx.device.limits.maxStorageBufferBindingSize;
  if (words * 4 > limit) {
    throw new ShapeError(`${label}: ${images.length} bytes exceed the device's maxStorageBufferBindingSize ${limit}; upload it in chunks of whole samples`);
  }
  let packed: Uint32Array;
  if (images.length % 4 === 0 && images.byteOffset % 4 === 0) {
    packed = new Uint32Array(images.buffer, images.byteOffset, words);
  } else {
    packed = new Uint32Array(words);
    new Uint8Array(packed.buffer).set(images);
  }
  return ctx.tensor([words], packed, 'u32', label);
}

/**
 * The 32-bit PCG hash the kernel uses (Jarzynski & Olano 2020).
 *
 * @example
 * ```ts
 * import { ops } from 'netslim';
 *
 * console.log(ops.pcgHash(0), ops.pcgHash(1)); // two unrelated u32 values
 * ```
 */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/**
 * The crop offsets (in the padded image) and the flip that {@link augmentBatch} uses for batch
 * position `b` — the kernel's hash, in JavaScript.
 *
 * @example
 * ```ts
 * import { ops } from 'netslim';
 *
 * console.log(ops.augmentParams(1, 0, 0, 4)); // { ox, oy, flip } of sample 0 in step 0: offsets in 0..8
 * ```
 */
export function augmentParams(seed: number, step: number, b: number, pad: number, crop = true, flip = true): { ox: number; oy: number; flip: boolean } {
  const key = pcgHash((pcgHash((pcgHash(seed) + (step >>> 0)) >>> 0) + (b >>> 0)) >>> 0);
  const span = 2 * pad + 1;
  return {
    ox: crop ? pcgHash((key + 1) >>> 0) % span : pad,
    oy: crop ? pcgHash((key + 2) >>> 0) % span : pad,
    flip: flip && pcgHash((key + 3) >>> 0) >>> 31 === 1,
  };
}

function isU32(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/**
 * Builds the batch `out` [B, C, H, W] (f32) from the samples `indices` (u32 [B]) of `images`
 * (u32 packed bytes, see {@link uploadImages}): zero-pad by `pad`, random H×W crop, random
 * horizontal flip, /255, (x − mean[c]) / std[c]. Test mode: pad 0, crop and flip false. An index
 * past the last whole sample in `images` yields NaN for that sample (indices are not read back).
 *
 * @example
 * ```ts
 * import { init, ops } from 'netslim/node';
 *
 * const ctx = await init();
 * const images = ops.uploadImages(ctx, new Uint8Array([0, 64, 128, 255, 255, 128, 64, 0])); // 2 samples of 1×2×2
 * const indices = ctx.tensor([2], [1, 0], 'u32');
 * const opts = { channels: 1, height: 2, width: 2, pad: 0, crop: false, flip: false, seed: 1, step: 0, mean: [0], std: [1] };
 * console.log(await ctx.readF32(ops.augmentBatch(ctx, images, indices, opts))); // sample 1 then 0, as /255
 * const train = ops.augmentBatch(ctx, images, indices, { ...opts, pad: 1, crop: true, flip: true }); // random crop and flip
 * console.log(train.shape); // [2, 1, 2, 2]
 * ctx.destroy();
 * ```
 */
export function augmentBatch(ctx: Context, images: Tensor, indices: Tensor, opts: AugmentOptions, out?: Tensor): Tensor {
  const op = 'augmentBatch';
  const { channels: c, height: h, width: w, pad } = opts;
  assertShape([c, h, w].every((d) => Number.isInteger(d) && d >= 1), () => `${op}: channels/height/width ${c}/${h}/${w} must be positive integers`);
  assertShape(Number.isInteger(pad) && pad >= 0 && pad < 1 << 15, () => `${op}: pad ${pad} must be a non-negative integer`);
  assertShape(isU32(opts.seed) && isU32(opts.step), () => `${op}: seed ${opts.seed} and step ${opts.step} must be u32 integers`);
  assertShape(c <= AUGMENT_MAX_CHANNELS, () => `${op}: ${c} channels; the kernel normalises at most ${AUGMENT_MAX_CHANNELS}`);
  assertShape(opts.mean.length === c && opts.std.length === c, () => `${op}: mean (${opts.mean.length}) and std (${opts.std.length}) need ${c} entries, one per channel`);
  assertShape(opts.std.every((s) => s !== 0 && Number.isFinite(s)) && opts.mean.every(Number.isFinite), () => `${op}: std [${opts.std.join(', ')}] must be finite and non-zero, mean finite`);
  assertShape(images.dtype === 'u32' && images.shape.length === 1, () => `${op}: images should be a 1-D u32 tensor of packed bytes (uploadImages), got ${images.dtype} ${shapeString(images.shape)}`);
  assertShape(indices.dtype === 'u32' && indices.shape.length === 1, () => `${op}: indices should be a 1-D u32 tensor, got ${indices.dtype} ${shapeString(indices.shape)}`);
  const chw = c * h * w;
  const held = Math.floor((images.size * 4) / chw);
  const samples = opts.samples ?? held;
  assertShape(Number.isInteger(samples) && samples >= 0 && samples <= held, () => `${op}: samples ${samples} but images hold ${held} samples of ${chw} bytes`);
  const batch = indices.shape[0]!;
  const shape = [batch, c, h, w];
  const y = out ?? ctx.tensor(shape, undefined, 'f32', 'augment.out');
  assertShape(y.dtype === 'f32' && y.shape.length === 4 && y.shape.every((d, i) => d === shape[i]), () => `${op}: out ${y.dtype} ${shapeString(y.shape)} should be f32 ${shapeString(shape)}`);
  const n = batch * chw;
  assertShape(n <= 0xffffffff, () => `${op}: batch of ${n} elements is too large`);
  const m = (i: number): number => opts.mean[i] ?? 0;
  const s = (i: number): number => opts.std[i] ?? 1;
  const k = ctx.kernel({ shader: SHADER, entry: 'augment' });
  ctx.dispatchFlat(
    k,
    { images, indices, out: y },
    {
      n, c, h, w, samples, pad,
      crop: opts.crop ? 1 : 0,
      flip: opts.flip ? 1 : 0,
      seed: opts.seed, step: opts.step,
      mean0: m(0), mean1: m(1), mean2: m(2), mean3: m(3),
      std0: s(0), std1: s(1), std2: s(2), std3: s(3),
    },
    Math.ceil(n / WG),
  );
  return y;
}
