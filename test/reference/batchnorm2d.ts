/**
 * Float64 reference of BatchNorm2d (PyTorch semantics) on NCHW arrays, written from the
 * definitions with plain loops (two-pass mean/variance in float64), independent of the kernels.
 */

export interface BnTrainResult {
  y: Float64Array;
  mean: Float64Array;
  invstd: Float64Array;
  runningMean: Float64Array;
  runningVar: Float64Array;
}

/** Training forward: batch statistics, normalised output, updated running statistics. */
export function batchNormForwardTrainRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  momentum = 0.1,
  eps = 1e-5,
): BnTrainResult {
  const [N, C, H, W] = shape as [number, number, number, number];
  const hw = H * W;
  const M = N * hw;
  const y = new Float64Array(N * C * hw);
  const mean = new Float64Array(C);
  const invstd = new Float64Array(C);
  const rm = new Float64Array(C);
  const rv = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < hw; i++) s += x[(n * C + c) * hw + i]!;
    const mu = s / M;
    let ss = 0;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < hw; i++) {
        const d = x[(n * C + c) * hw + i]! - mu;
        ss += d * d;
      }
    }
    const varB = ss / M;
    const is = 1 / Math.sqrt(varB + eps);
    mean[c] = mu;
    invstd[c] = is;
    rm[c] = (1 - momentum) * runningMean[c]! + momentum * mu;
    rv[c] = (1 - momentum) * runningVar[c]! + momentum * ((varB * M) / (M - 1));
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < hw; i++) {
        const j = (n * C + c) * hw + i;
        y[j] = (x[j]! - mu) * is * gamma[c]! + beta[c]!;
      }
    }
  }
  return { y, mean, invstd, runningMean: rm, runningVar: rv };
}

/** Evaluation forward with the running statistics. */
export function batchNormForwardEvalRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  eps = 1e-5,
): Float64Array {
  const [N, C, H, W] = shape as [number, number, number, number];
  const hw = H * W;
  const y = new Float64Array(N * C * hw);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < hw; i++) {
        const j = (n * C + c) * hw + i;
        y[j] = ((x[j]! - runningMean[c]!) / Math.sqrt(runningVar[c]! + eps)) * gamma[c]! + beta[c]!;
      }
    }
  }
  return y;
}

/** Backward of the training forward from the saved mean and invstd. */
export function batchNormBackwardRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  shape: readonly number[],
  gamma: ArrayLike<number>,
  mean: ArrayLike<number>,
  invstd: ArrayLike<number>,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const [N, C, H, W] = shape as [number, number, number, number];
  const hw = H * W;
  const M = N * hw;
  const dx = new Float64Array(N * C * hw);
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let db = 0;
    let dg = 0;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < hw; i++) {
        const j = (n * C + c) * hw + i;
        db += dy[j]!;
        dg += dy[j]! * (x[j]! - mean[c]!) * invstd[c]!;
      }
    }
    dbeta[c] = db;
    dgamma[c] = dg;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < hw; i++) {
        const j = (n * C + c) * hw + i;
        const xhat = (x[j]! - mean[c]!) * invstd[c]!;
        dx[j] = ((gamma[c]! * invstd[c]!) / M) * (M * dy[j]! - db - xhat * dg);
      }
    }
  }
  return { dx, dgamma, dbeta };
}
