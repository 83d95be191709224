/** Float64 reference of the linear layer (PyTorch layout: x [N, in], w [out, in], b [out]). */
export interface LinearDims {
  batch: number;
  inFeatures: number;
  outFeatures: number;
}

/** y [N, out] = x·wᵀ + b (b may be null). */
export function linearRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, d: LinearDims): Float64Array {
  const y = new Float64Array(d.batch * d.outFeatures);
  for (let n = 0; n < d.batch; n++) {
    for (let o = 0; o < d.outFeatures; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < d.inFeatures; i++) s += x[n * d.inFeatures + i]! * w[o * d.inFeatures + i]!;
      y[n * d.outFeatures + o] = s;
    }
  }
  return y;
}

/** dx = dy·w [N, in], dw = dyᵀ·x [out, in], db = Σ_n dy [out]. */
export function linearBackwardRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  dy: ArrayLike<number>,
  d: LinearDims,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const { batch, inFeatures: nin, outFeatures: nout } = d;
  const dx = new Float64Array(batch * nin);
  const dw = new Float64Array(nout * nin);
  const db = new Float64Array(nout);
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < nout; o++) {
      const g = dy[n * nout + o]!;
      db[o]! += g;
      for (let i = 0; i < nin; i++) {
        dx[n * nin + i]! += g * w[o * nin + i]!;
        dw[o * nin + i]! += g * x[n * nin + i]!;
      }
    }
  }
  return { dx, dw, db };
}
