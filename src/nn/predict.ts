/**
 * Prediction on raw images: pixels in, top-k classes with their probabilities (and names) out,
 * using what the model knows of its input (channels, size, the normalisation of the pixels it was
 * trained on) and of its classes. `Model.predict` is the entry point.
 */
import { ShapeError } from '../errors.js';
import { normalization } from '../data/datasets.js';
import type { Model } from './model.js';

/** One browser image for {@link Model.predict}: an `ImageData` (RGBA pixels) or an `ImageBitmap`. */
export type PredictImage = ImageData | ImageBitmap;

/**
 * Images for {@link Model.predict}: a batch of pixels in NCHW order, one browser image
 * (`ImageData` or `ImageBitmap`), or an array of them as a batch.
 */
export type PredictInput = Uint8Array | Uint8ClampedArray | Float32Array | PredictImage | readonly PredictImage[];

/** Options of {@link Model.predict}. */
export interface PredictOptions {
  /** Classes returned per image, most probable first (default 1). */
  topK?: number;
  /** Images per forward pass (default 64). */
  batchSize?: number;
  /**
   * Per-channel mean and std subtracted and divided after scaling to [0, 1] (default: the model's
   * `meta.mean` / `meta.std` when it has them, else the normalisation of its `meta.dataset` when
   * netslim knows it, else none); `false`: none.
   */
  normalize?: { mean: readonly number[]; std: readonly number[] } | false;
}

/**
 * One image's prediction: class indices, most probable first, their softmax probabilities, and
 * (when the model has class names, `meta.classNames`) the names of those classes.
 */
export interface Prediction {
  classes: number[];
  probabilities: number[];
  /** `meta.classNames[classes[i]]` for each class, when the model has class names. */
  labels?: string[];
}

const isImageData = (v: unknown): v is ImageData => typeof ImageData !== 'undefined' && v instanceof ImageData;
const isImageBitmap = (v: unknown): v is ImageBitmap => typeof ImageBitmap !== 'undefined' && v instanceof ImageBitmap;

/** The RGBA pixels of an ImageBitmap of the model's size (drawn into an OffscreenCanvas of its size). */
function bitmapPixels(bitmap: ImageBitmap, size: number, at: string): ImageData {
  if (bitmap.width !== size || bitmap.height !== size) throw new ShapeError(`predict: ${at} is ${bitmap.width}×${bitmap.height}, the model takes ${size}×${size}`);
  if (typeof OffscreenCanvas === 'undefined') throw new ShapeError('predict: reading an ImageBitmap needs OffscreenCanvas, which this environment lacks');
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const g = canvas.getContext('2d');
  if (!g) throw new ShapeError('predict: no 2D context on an OffscreenCanvas to read the ImageBitmap');
  g.drawImage(bitmap, 0, 0);
  return g.getImageData(0, 0, bitmap.width, bitmap.height);
}

/** An RGBA image's pixels as C×H×W floats in [0, 1] at `out[offset…]`: RGB, or grey (luminance) for one channel. */
function imagePixels(image: ImageData, c: number, size: number, out: Float32Array, offset: number, at: string): void {
  if (image.width !== size || image.height !== size) throw new ShapeError(`predict: ${at} is ${image.width}×${image.height}, the model takes ${size}×${size}`);
  if (c > 4) throw new ShapeError(`predict: the model takes ${c} channels; an image gives 1 (grey), 3 (RGB) or 4 (RGBA)`);
  const hw = size * size;
  const d = image.data;
  for (let p = 0; p < hw; p++) {
    if (c === 1) out[offset + p] = (0.299 * d[4 * p]! + 0.587 * d[4 * p + 1]! + 0.114 * d[4 * p + 2]!) / 255;
    else for (let k = 0; k < c; k++) out[offset + k * hw + p] = d[4 * p + k]! / 255;
  }
}

/** Pixels as [N, C, H, W] floats in [0, 1] (bytes are divided by 255; browser images' RGBA becomes RGB or grey). */
function toPixels(images: PredictInput, c: number, size: number): Float32Array {
  const list = Array.isArray(images) ? (images as readonly unknown[]) : isImageData(images) || isImageBitmap(images) ? [images] : null;
  if (list) {
    if (list.length === 0) throw new ShapeError('predict: an empty array of images');
    const per = c * size * size;
    const out = new Float32Array(list.length * per);
    list.forEach((image, i) => {
      const at = Array.isArray(images) ? `image ${i}` : 'the image';
      if (isImageBitmap(image)) imagePixels(bitmapPixels(image, size, at), c, size, out, i * per, at);
      else if (isImageData(image)) imagePixels(image, c, size, out, i * per, at);
      else throw new ShapeError(`predict: ${at} of the array is not an ImageData or ImageBitmap`);
    });
    return out;
  }
  const data = images as Uint8Array | Uint8ClampedArray | Float32Array;
  return data instanceof Float32Array ? data : Float32Array.from(data, (v) => v / 255);
}

/** See {@link Model.predict}. */
export async function predictImages(model: Model, images: PredictInput, options: PredictOptions = {}): Promise<Prediction[]> {
  const meta = model.meta;
  const c = meta.inChannels;
  const size = meta.inputSize ?? 32;
  const hw = size * size;
  const k = options.topK ?? 1;
  const classes = meta.numClasses;
  if (!(Number.isInteger(k) && k >= 1 && k <= classes)) throw new ShapeError(`predict: topK ${k} is not an integer from 1 to the model's ${classes} classes`);
  const batch = options.batchSize ?? 64;
  if (!(Number.isInteger(batch) && batch >= 1)) throw new ShapeError(`predict: batchSize ${batch} is not a positive integer`);
  const pixels = toPixels(images, c, size);
  const per = c * hw;
  if (pixels.length === 0 || pixels.length % per !== 0) {
    throw new ShapeError(`predict: ${pixels.length} values are not a whole number of ${c}×${size}×${size} images (${per} values each)`);
  }
  const n = pixels.length / per;
  const norm =
    options.normalize === false ? null : (options.normalize ?? (meta.mean && meta.std ? { mean: meta.mean, std: meta.std } : meta.dataset ? normalization(meta.dataset) : null));
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
        const names = meta.classNames;
        out.push({ classes: order, probabilities: order.map((j) => e[j]! / sum), ...(names ? { labels: order.map((j) => names[j]!) } : {}) });
      }
    } finally {
      t.destroy();
    }
  }
  return out;
}
