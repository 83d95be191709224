/**
 * Float64 reference of conv2d (no bias, no dilation or groups), written as the textbook loops so it
 * shares nothing with the kernels: the forward, and the backward as the scatter that the chain rule
 * gives directly (each forward term w·x sends dy·x to dw and dy·w to dx).
 */
export interface RefConvShape {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number;
  sh: number; sw: number; ph: number; pw: number;
}

export function refOutputSize(s: RefConvShape): [number, number] {
  return [Math.floor((s.H + 2 * s.ph - s.KH) / s.sh) + 1, Math.floor((s.W + 2 * s.pw - s.KW) / s.sw) + 1];
}

/** Calls f(yIndex, xIndex, wIndex) for every product term of the forward sum. */
function forEachTerm(s: RefConvShape, f: (yi: number, xi: number, wi: number) => void): void {
  const [OH, OW] = refOutputSize(s);
  for (let n = 0; n < s.N; n++) {
    for (let o = 0; o < s.O; o++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const yi = ((n * s.O + o) * OH + oh) * OW + ow;
          for (let c = 0; c < s.C; c++) {
            for (let kh = 0; kh < s.KH; kh++) {
              const ih = oh * s.sh - s.ph + kh;
              if (ih < 0 || ih >= s.H) continue;
              for (let kw = 0; kw < s.KW; kw++) {
                const iw = ow * s.sw - s.pw + kw;
                if (iw < 0 || iw >= s.W) continue;
                f(yi, ((n * s.C + c) * s.H + ih) * s.W + iw, ((o * s.C + c) * s.KH + kh) * s.KW + kw);
              }
            }
          }
        }
      }
    }
  }
}

/** y[n, o, oh, ow] = Σ_{c, kh, kw} w[o, c, kh, kw] · x[n, c, oh·sh − ph + kh, ow·sw − pw + kw]. */
export function refConv2d(s: RefConvShape, x: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const [OH, OW] = refOutputSize(s);
  const y = new Float64Array(s.N * s.O * OH * OW);
  forEachTerm(s, (yi, xi, wi) => {
    y[yi]! += w[wi]! * x[xi]!;
  });
  return y;
}

/** dx = ∂(Σ dy·y)/∂x. */
export function refConv2dBackwardInput(s: RefConvShape, dy: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.N * s.C * s.H * s.W);
  forEachTerm(s, (yi, xi, wi) => {
    dx[xi]! += dy[yi]! * w[wi]!;
  });
  return dx;
}

/** dw = ∂(Σ dy·y)/∂w. */
export function refConv2dBackwardWeight(s: RefConvShape, x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dw = new Float64Array(s.O * s.C * s.KH * s.KW);
  forEachTerm(s, (yi, xi, wi) => {
    dw[wi]! += dy[yi]! * x[xi]!;
  });
  return dw;
}
