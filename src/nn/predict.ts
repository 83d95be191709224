/**
 * Prediction on raw images: pixels in, top-k classes with their probabilities out, using what the
 * model knows of its input (channels, size, and the normalisation of the dataset it was trained
 * on). `Model.predict` is the entry point.
 */
import { ShapeError } from '../errors.js';
import { normalization } from '../data/datasets.js';
import type { Model } from './model.js';

/** Images for {@link Model.predict}: a batch of pixels in NCHW order, or one browser `ImageData`. */
export type PredictInput = Uint8Array | Uint8ClampedArray | Float32Array | ImageData;

/** Options of {@link Model.predict}. */
export interface PredictOptions {
  /** Classes returned per image, most probable first (default 1). */
  topK?: number;
  /** Images per forward pass (default 64). */
  batchSize?: number;
  /**
   * Per-channel mean and std subtracted and divided after scaling to [0, 1] (default: the
   * normalisation of the model's `meta.dataset` when netslim knows it, else none); `false`: none.
   */
  normalize?: { mean: readonly number[]; std: readonly number[] } | false;
}

/** One image's prediction: class indices, most probable first, and their softmax probabilities. */
export interface Prediction {
  classes: number[];
  probabilities: number[];
}

/** Pixels as [N, C, H, W] floats in [0, 1] (bytes are divided by 255; ImageData's RGBA becomes RGB or grey). */
function toPixels(images: PredictInput, c: number, hw: number): Float32Array {
  if (typeof ImageData !== 'undefined' && images instanceof ImageData) {
    if (images.width * images.height !== hw) throw new ShapeError(`predict: the image is ${images.width}×${images.height}, the model takes ${Math.sqrt(hw)}×${Math.sqrt(hw)}`);
    const out = new Float32Array(c * hw);
    const d = images.data;
    for (let p = 0; p < hw; p++) {
      if (c === 1) out[p] = (0.299 * d[4 * p]! + 0.587 * d[4 * p + 1]! + 0.114 * d[4 * p + 2]!) / 255;
      else for (let k = 0; k < c; k++) out[k * hw + p] = d[4 * p + k]! / 255;
    }
    return out;
  }
  const data = images as Uint8Array | Uint8ClampedArray | Float32Array;
  return data instanceof Float32Array ? data : Float32Array.from(data, (v) => v / 255);
}

/** See {@link Model.predict}. */
export async function predictImages(model: Model, images: PredictInput, options: PredictOptions = {}): Promise<Prediction[]> {
  const c = model.meta.inChannels;
  const size = model.meta.inputSize ?? 32;
  const hw = size * size;
  const k = options.topK ?? 1;
  const classes = model.meta.numClasses;
  if (!(Number.isInteger(k) && k >= 1 && k <= classes)) throw new ShapeError(`predict: topK ${k} is not an integer from 1 to the model's ${classes} classes`);
  const batch = options.batchSize ?? 64;
  if (!(Number.isInteger(batch) && batch >= 1)) throw new ShapeError(`predict: batchSize ${batch} is not a positive integer`);
  const pixels = toPixels(images, c, hw);
  const per = c * hw;
  if (pixels.length === 0 || pixels.length % per !== 0) {
    throw new ShapeError(`predict: ${pixels.length} values are not a whole number of ${c}×${size}×${size} images (${per} values each)`);
  }
  const n = pixels.length / per;
  const norm = options.normalize === false ? null : (options.normalize ?? (model.meta.dataset ? normalization(model.meta.dataset) : null));
  if (norm && (norm.mean.length !== c || norm.std.length !== c)) throw new ShapeError(`predict: normalize has ${norm.mean.length} means and ${norm.std.length} stds for ${c} channels`);
  const ctx = model.ctx;
  const out: Prediction[] = [];
  for (let s = 0; s < n; s += batch) {
    const b = Math.min(batch, n - s);
    const x = pixels.slice(s * per, (s + b) * per);
    if (norm) for (let i = 0; i < b; i++) for (let ch = 0; ch < c; ch++) for (let p = 0; p < hw; p++) x[i * per + ch * hw + p] = (x[i * per + ch * hw + p]! - norm.mean[ch]!) / norm.std[ch]!;
    const t = ctx.tensor([b, c, size, size], x, 'f32', 'predict input');
    try {
      const logits = await ctx.readF32(model.forward(t, false));
      for (let i = 0; i < b; i++) {
        const row = logits.subarray(i * classes, (i + 1) * classes);
        const max = Math.max(...row);
        const e = Array.from(row, (v) => Math.exp(v - max));
        const sum = e.reduce((a, v) => a + v, 0);
        const order = e.map((_, j) => j).sort((a, b2) => e[b2]! - e[a]! || a - b2).slice(0, k);
        out.push({ classes: order, probabilities: order.map((j) => e[j]! / sum) });
      }
    } finally {
      t.destroy();
    }
  }
  return out;
}
