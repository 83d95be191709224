/**
 * Image files for `netslim predict --image`: PNG and JPEG decoded in pure JavaScript (`pngjs`,
 * `jpeg-js`, imported on first use), then resampled on the host to the model's input size and
 * turned into the [0, 1] pixels `model.predict` takes: RGB, or grey (luminance, with the weights
 * of `model.predict`'s ImageData path) for a one-channel model. Node only.
 */
import { NetslimError } from '../errors.js';

/** An image file that cannot be read: not PNG or JPEG, damaged, or of no use to the model (names the file; exit code 1). */
export class ImageFileError extends NetslimError {
  constructor(message: string) {
    super(message);
    this.name = 'ImageFileError';
  }
}

/** Decoded pixels: 8-bit RGBA, row-major. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];
const startsWith = (bytes: Uint8Array, magic: number[]): boolean => bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);

/**
 * The decoder's complaint as text (some throw strings, not Errors). A TypeError or RangeError is
 * the decoder failing inside on data it did not expect (found by fuzzing jpeg-js: "Cannot read
 * properties of undefined"), which says nothing to a user: the data is damaged.
 */
const reason = (e: unknown): string => (e instanceof TypeError || e instanceof RangeError ? 'its data is damaged' : String((e as Error)?.message ?? e).split('\n')[0]!);

/**
 * Decodes a PNG or JPEG file's bytes (told apart by their first bytes, not the file name) into
 * RGBA; anything else, or a damaged file, is an ImageFileError naming `file`.
 */
export async function decodeImage(bytes: Uint8Array, file: string): Promise<RgbaImage> {
  let image: RgbaImage;
  if (startsWith(bytes, PNG_MAGIC)) {
    const { PNG } = await import('pngjs');
    try {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      image = { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    } catch (e) {
      throw new ImageFileError(`${file}: cannot decode the PNG image: ${reason(e)}`);
    }
  } else if (startsWith(bytes, JPEG_MAGIC)) {
    const jpeg = await import('jpeg-js');
    try {
      image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 100, maxMemoryUsageInMB: 1024 });
    } catch (e) {
      throw new ImageFileError(`${file}: cannot decode the JPEG image: ${reason(e)}`);
    }
  } else {
    throw new ImageFileError(`${file}: not a PNG or JPEG image (netslim predict reads PNG and JPEG files)`);
  }
  if (!(image.width > 0 && image.height > 0) || image.data.length < image.width * image.height * 4) {
    throw new ImageFileError(`${file}: the image decodes to ${image.width}×${image.height} with ${image.data.length} bytes of pixels`);
  }
  return image;
}

/**
 * The source pixels and weights that make each of `outSize` outputs from `inSize` inputs: a
 * triangle (bilinear) filter on pixel centres, widened to the downscale factor when shrinking (as
 * PIL's and torchvision's antialiased bilinear resize), weights normalised over the pixels that
 * exist (so edges clamp). Same size: each output is its own input pixel.
 */
export function bilinearTaps(inSize: number, outSize: number): { index: number[]; weight: number[] }[] {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  const taps: { index: number[]; weight: number[] }[] = [];
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const index: number[] = [];
    const weight: number[] = [];
    for (let i = Math.max(0, Math.floor(centre - support - 0.5)); i <= Math.min(inSize - 1, Math.ceil(centre + support)); i++) {
      const w = 1 - Math.abs(i + 0.5 - centre) / support;
      if (w > 0) {
        index.push(i);
        weight.push(w);
      }
    }
    const sum = weight.reduce((a, b) => a + b, 0);
    taps.push({ index, weight: weight.map((w) => w / sum) });
  }
  return taps;
}

/** One [h, w] plane resampled to [size, size] with {@link bilinearTaps}, rows then columns. */
function resamplePlane(plane: Float32Array, w: number, h: number, size: number): Float32Array {
  if (w === size && h === size) return plane;
  const xs = bilinearTaps(w, size);
  const ys = bilinearTaps(h, size);
  const rows = new Float64Array(h * size);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < size; x++) {
      const { index, weight } = xs[x]!;
      let v = 0;
      for (let k = 0; k < index.length; k++) v += weight[k]! * plane[y * w + index[k]!]!;
      rows[y * size + x] = v;
    }
  }
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const { index, weight } = ys[y]!;
    for (let x = 0; x < size; x++) {
      let v = 0;
      for (let k = 0; k < index.length; k++) v += weight[k]! * rows[index[k]! * size + x]!;
      out[y * size + x] = v;
    }
  }
  return out;
}

/**
 * An image as `channels`×`size`×`size` floats in [0, 1] for `model.predict`: RGB for three
 * channels, luminance (0.299 R + 0.587 G + 0.114 B) for one; resampled to `size`×`size` when it
 * has another size (a non-square image is stretched, not cropped). Alpha is ignored.
 */
export function imagePixels(image: RgbaImage, channels: number, size: number, file: string): Float32Array {
  if (channels !== 1 && channels !== 3) throw new ImageFileError(`${file}: the model takes ${channels} input channels; an image gives 1 (grey) or 3 (RGB)`);
  const { width: w, height: h, data: d } = image;
  const hw = w * h;
  const out = new Float32Array(channels * size * size);
  for (let c = 0; c < channels; c++) {
    const plane = new Float32Array(hw);
    for (let p = 0; p < hw; p++) plane[p] = channels === 1 ? (0.299 * d[4 * p]! + 0.587 * d[4 * p + 1]! + 0.114 * d[4 * p + 2]!) / 255 : d[4 * p + c]! / 255;
    out.set(resamplePlane(plane, w, h, size), c * size * size);
  }
  return out;
}
