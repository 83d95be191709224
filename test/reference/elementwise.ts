/**
 * Reference ReLU6 and dropout in float64, written from PyTorch's definitions: ReLU6 is
 * hardtanh(x, 0, 6), whose backward passes the gradient where 0 < x < 6 (read from the input x
 * here, not from y as the kernels do); dropout multiplies by a mask of 0 or float32(1/(1 − p)).
 * The dropout mask is netslim's own (PyTorch's generator cannot be reproduced on the GPU): the
 * PCG hash of shaders/elementwise.wgsl, reimplemented on 32-bit integers with Math.imul.
 */

/** y = min(max(x, 0), 6). */
export function relu6Ref(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x as ArrayLike<number>, (v) => Math.min(Math.max(v, 0), 6));
}

/** dx = dy where 0 < x < 6, else 0 (PyTorch's hardtanh_backward on the input). */
export function relu6BackwardRef(x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  return Float64Array.from(dy as ArrayLike<number>, (g, i) => (x[i]! > 0 && x[i]! < 6 ? g : 0));
}

/** PCG hash (Jarzynski & Olano 2020) on u32. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The keep mask of dropout with probability p and seed over n elements (1 = kept). */
export function dropoutMaskRef(n: number, p: number, seed: number): Uint8Array {
  const threshold = Math.min(Math.round(p * 2 ** 32), 2 ** 32 - 1);
  const hs = pcgHash(seed);
  const keep = new Uint8Array(n);
  for (let i = 0; i < n; i++) keep[i] = pcgHash((pcgHash(i) ^ hs) >>> 0) >= threshold ? 1 : 0;
  return keep;
}

/**
 * x · mask with mask = float32(1/(1 − p)) where kept, 0 where dropped (also the backward, on dy).
 * Each product of two float32 values is exact in float64, so Math.fround of it is the float32
 * product a kernel must produce.
 */
export function dropoutRef(x: ArrayLike<number>, p: number, seed: number): Float64Array {
  const keep = dropoutMaskRef(x.length, p, seed);
  const scale = Math.fround(1 / (1 - p));
  return Float64Array.from(x as ArrayLike<number>, (v, i) => v * (keep[i] ? scale : 0));
}
