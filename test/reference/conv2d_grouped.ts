/**
 * Float64 reference of grouped (and depthwise) conv2d with an optional bias, PyTorch's
 * nn.Conv2d(C, O, (KH, KW), stride, padding, groups=G, bias), written as the textbook loops so it
 * shares nothing with the kernels: output channel o of group g = ⌊o / (O/G)⌋ reads input channels
 * g·C/G .. (g+1)·C/G − 1 with w[o, c − g·C/G, kh, kw]. The backward is the scatter that the chain
 * rule gives directly (each forward term w·x sends dy·x to dw and dy·w to dx; dbias sums dy).
 */
export interface RefGroupedShape {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number;
  sh: number; sw: number; ph: number; pw: number;
  G: number;
}

export function refGroupedOutputSize(s: RefGroupedShape): [number, number] {
  return [Math.floor((s.H + 2 * s.ph - s.KH) / s.sh) + 1, Math.floor((s.W + 2 * s.pw - s.KW) / s.sw) + 1];
}

/** Calls f(yIndex, xIndex, wIndex) for every product term of the forward sum. */
function forEachTerm(s: RefGroupedShape, f: (yi: number, xi: number, wi: number) => void): void {
  const [OH, OW] = refGroupedOutputSize(s);
  const Cg = s.C / s.G;
  const Og = s.O / s.G;
  for (let n = 0; n < s.N; n++) {
    for (let o = 0; o < s.O; o++) {
      const g = Math.floor(o / Og);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const yi = ((n * s.O + o) * OH + oh) * OW + ow;
          for (let cg = 0; cg < Cg; cg++) {
            const c = g * Cg + cg;
            for (let kh = 0; kh < s.KH; kh++) {
              const ih = oh * s.sh - s.ph + kh;
              if (ih < 0 || ih >= s.H) continue;
              for (let kw = 0; kw < s.KW; kw++) {
                const iw = ow * s.sw - s.pw + kw;
                if (iw < 0 || iw >= s.W) continue;
                f(yi, ((n * s.C + c) * s.H + ih) * s.W + iw, ((o * Cg + cg) * s.KH + kh) * s.KW + kw);
              }
            }
          }
        }
      }
    }
  }
}

/** y[n, o, oh, ow] = bias[o] + Σ_{cg, kh, kw} w[o, cg, kh, kw] · x[n, g·Cg + cg, oh·sh − ph + kh, ow·sw − pw + kw]. */
export function refGroupedConv2d(
  s: RefGroupedShape, x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null,
): Float64Array {
  const [OH, OW] = refGroupedOutputSize(s);
  const y = new Float64Array(s.N * s.O * OH * OW);
  forEachTerm(s, (yi, xi, wi) => {
    y[yi]! += w[wi]! * x[xi]!;
  });
  if (bias) for (let i = 0; i < y.length; i++) y[i]! += bias[Math.floor(i / (OH * OW)) % s.O]!;
  return y;
}

/** dx = ∂(Σ dy·y)/∂x. */
export function refGroupedConv2dBackwardInput(s: RefGroupedShape, dy: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.N * s.C * s.H * s.W);
  forEachTerm(s, (yi, xi, wi) => {
    dx[xi]! += dy[yi]! * w[wi]!;
  });
  return dx;
}

/** dw = ∂(Σ dy·y)/∂w. */
export function refGroupedConv2dBackwardWeight(s: RefGroupedShape, x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dw = new Float64Array(s.O * (s.C / s.G) * s.KH * s.KW);
  forEachTerm(s, (yi, xi, wi) => {
    dw[wi]! += dy[yi]! * x[xi]!;
  });
  return dw;
}

/** dbias[c] = Σ_{n, p} dy[n, c, p] for dy [N, C, plane]. */
export function refBiasGrad(N: number, C: number, plane: number, dy: ArrayLike<number>): Float64Array {
  const db = new Float64Array(C);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let p = 0; p < plane; p++) db[c]! += dy[(n * C + c) * plane + p]!;
  return db;
}
