/**
 * Reference 2-D pooling with PyTorch's CPU semantics, written as plain window scans (forward) and
 * scatters in output order (backward), independent of the kernels' gather formulation.
 */

export interface PoolGeometry {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

/** [planes N·C, H, W, OH, OW] (floor mode). */
function geom(shape: readonly number[], g: PoolGeometry): [number, number, number, number, number] {
  const [N, C, H, W] = shape as [number, number, number, number];
  const OH = Math.floor((H + 2 * g.ph - g.kh) / g.sh) + 1;
  const OW = Math.floor((W + 2 * g.pw - g.kw) / g.sw) + 1;
  return [N * C, H, W, OH, OW];
}

/** Output shape of the pool. */
export function poolOutputShapeRef(shape: readonly number[], g: PoolGeometry): number[] {
  const [, , , OH, OW] = geom(shape, g);
  return [shape[0]!, shape[1]!, OH, OW];
}

/**
 * Max pool forward as PyTorch's CPU kernel: start from −inf with the window's first in-bounds
 * element as the index, take values that are greater (or NaN).
 */
export function maxPool2dRef(x: ArrayLike<number>, shape: readonly number[], g: PoolGeometry): { y: Float64Array; argmax: Uint32Array } {
  const [P, H, W, OH, OW] = geom(shape, g);
  const y = new Float64Array(P * OH * OW);
  const argmax = new Uint32Array(P * OH * OW);
  for (let pl = 0; pl < P; pl++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const h0 = oh * g.sh - g.ph;
        const w0 = ow * g.sw - g.pw;
        const hs = Math.max(h0, 0);
        const ws = Math.max(w0, 0);
        const he = Math.min(h0 + g.kh, H);
        const we = Math.min(w0 + g.kw, W);
        let best = -Infinity;
        let arg = hs * W + ws;
        for (let ih = hs; ih < he; ih++) {
          for (let iw = ws; iw < we; iw++) {
            const v = x[pl * H * W + ih * W + iw]!;
            if (v > best || Number.isNaN(v)) {
              best = v;
              arg = ih * W + iw;
            }
          }
        }
        const o = (pl * OH + oh) * OW + ow;
        y[o] = best;
        argmax[o] = arg;
      }
    }
  }
  return { y, argmax };
}

/**
 * Max pool backward: scatter each dy to its argmax, outputs in ascending order. With `float32`
 * every addition is rounded to float32, which reproduces PyTorch's CPU result bit for bit.
 */
export function maxPool2dBackwardRef(
  dy: ArrayLike<number>,
  argmax: ArrayLike<number>,
  xShape: readonly number[],
  g: PoolGeometry,
  float32 = false,
): Float64Array {
  const [P, H, W, OH, OW] = geom(xShape, g);
  const dx = new Float64Array(P * H * W);
  for (let pl = 0; pl < P; pl++) {
    for (let o = 0; o < OH * OW; o++) {
      const j = pl * H * W + argmax[pl * OH * OW + o]!;
      const s = dx[j]! + dy[pl * OH * OW + o]!;
      dx[j] = float32 ? Math.fround(s) : s;
    }
  }
  return dx;
}

/** Average pool forward, count_include_pad: window sum / (kh·kw). */
export function avgPool2dRef(x: ArrayLike<number>, shape: readonly number[], g: PoolGeometry): Float64Array {
  const [P, H, W, OH, OW] = geom(shape, g);
  const y = new Float64Array(P * OH * OW);
  for (let pl = 0; pl < P; pl++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let s = 0;
        for (let i = 0; i < g.kh; i++) {
          for (let j = 0; j < g.kw; j++) {
            const ih = oh * g.sh - g.ph + i;
            const iw = ow * g.sw - g.pw + j;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) s += x[pl * H * W + ih * W + iw]!;
          }
        }
        y[(pl * OH + oh) * OW + ow] = s / (g.kh * g.kw);
      }
    }
  }
  return y;
}

/** Average pool backward: scatter dy/(kh·kw) to every in-bounds element of each window. */
export function avgPool2dBackwardRef(dy: ArrayLike<number>, xShape: readonly number[], g: PoolGeometry): Float64Array {
  const [P, H, W, OH, OW] = geom(xShape, g);
  const dx = new Float64Array(P * H * W);
  for (let pl = 0; pl < P; pl++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const d = dy[(pl * OH + oh) * OW + ow]! / (g.kh * g.kw);
        for (let i = 0; i < g.kh; i++) {
          for (let j = 0; j < g.kw; j++) {
            const ih = oh * g.sh - g.ph + i;
            const iw = ow * g.sw - g.pw + j;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) dx[pl * H * W + ih * W + iw] += d;
          }
        }
      }
    }
  }
  return dx;
}

/** Global average pool (AdaptiveAvgPool2d(1)): [N, C, H, W] → [N, C, 1, 1], each plane's mean. */
export function globalAvgPool2dRef(x: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const [N, C, H, W] = shape as [number, number, number, number];
  const y = new Float64Array(N * C);
  for (let pl = 0; pl < N * C; pl++) {
    let s = 0;
    for (let j = 0; j < H * W; j++) s += x[pl * H * W + j]!;
    y[pl] = s / (H * W);
  }
  return y;
}

/** Global average pool backward: dy[n, c]/(H·W) to every element of plane (n, c). */
export function globalAvgPool2dBackwardRef(dy: ArrayLike<number>, xShape: readonly number[]): Float64Array {
  const [N, C, H, W] = xShape as [number, number, number, number];
  const dx = new Float64Array(N * C * H * W);
  for (let i = 0; i < dx.length; i++) dx[i] = dy[Math.floor(i / (H * W))]! / (H * W);
  return dx;
}
