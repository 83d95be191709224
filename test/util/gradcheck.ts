/**
 * Finite-difference checks in float64. For a forward f: x → y (a float64 reference), the scalar
 * L = Σ g·f(x) for a fixed upstream gradient g has ∂L/∂x = (the backward applied to g). Central
 * differences (L(x+h·eᵢ) − L(x−h·eᵢ)) / 2h on a sample of coordinates check an analytic gradient.
 * Kinks (ReLU at 0, max-pool ties) are avoided by building inputs away from them.
 */
export interface GradcheckOptions {
  /** Step h (default 1e-3). */
  eps?: number;
  /** Check at most this many coordinates, spread evenly (default 64). */
  maxCoords?: number;
}

/** Numeric ∂(Σ g·f(x))/∂xᵢ for the sampled coordinates; returns [indices, values]. */
export function numericGrad(
  f: (x: Float64Array) => ArrayLike<number>,
  x: ArrayLike<number>,
  g: ArrayLike<number>,
  opts: GradcheckOptions = {},
): { indices: number[]; values: number[] } {
  const h = opts.eps ?? 1e-3;
  const max = opts.maxCoords ?? 64;
  const n = x.length;
  const step = Math.max(1, Math.floor(n / max));
  const xx = Float64Array.from(x);
  const loss = (): number => {
    const y = f(xx);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += g[i]! * y[i]!;
    return s;
  };
  const indices: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < n; i += step) {
    const orig = xx[i]!;
    xx[i] = orig + h;
    const lp = loss();
    xx[i] = orig - h;
    const lm = loss();
    xx[i] = orig;
    indices.push(i);
    values.push((lp - lm) / (2 * h));
  }
  return { indices, values };
}

/** Picks `indices` out of an array. */
export function pick(a: ArrayLike<number>, indices: number[]): number[] {
  return indices.map((i) => a[i]!);
}
