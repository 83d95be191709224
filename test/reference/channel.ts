/** Reference channel ops on NCHW data seen per sample as [C, S] (S = product of trailing dims). */

function spatial(shape: readonly number[]): number {
  return shape.slice(2).reduce((a, d) => a * d, 1);
}

/** torch.cat(inputs, 1). */
export function concatRef(inputs: readonly Float32Array[], shapes: readonly (readonly number[])[]): Float32Array {
  const batch = shapes[0]![0]!;
  const s = spatial(shapes[0]!);
  const total = shapes.reduce((a, sh) => a + sh[1]!, 0);
  const out = new Float32Array(batch * total * s);
  for (let n = 0; n < batch; n++) {
    let c0 = 0;
    inputs.forEach((data, k) => {
      const c = shapes[k]![1]!;
      for (let ch = 0; ch < c; ch++) {
        for (let j = 0; j < s; j++) out[(n * total + c0 + ch) * s + j] = data[(n * c + ch) * s + j]!;
      }
      c0 += c;
    });
  }
  return out;
}

/** The pieces of dy [N, ΣC, …] for inputs of `shapes` (dy[:, c0:c0+Cᵢ]). */
export function concatBackwardRef(dy: Float32Array, shapes: readonly (readonly number[])[]): Float32Array[] {
  const batch = shapes[0]![0]!;
  const s = spatial(shapes[0]!);
  const total = shapes.reduce((a, sh) => a + sh[1]!, 0);
  let c0 = 0;
  return shapes.map((sh) => {
    const c = sh[1]!;
    const piece = new Float32Array(batch * c * s);
    for (let n = 0; n < batch; n++) {
      for (let ch = 0; ch < c; ch++) {
        for (let j = 0; j < s; j++) piece[(n * c + ch) * s + j] = dy[(n * total + c0 + ch) * s + j]!;
      }
    }
    c0 += c;
    return piece;
  });
}

/** y[:, j] = x[:, indices[j]]. */
export function channelSelectRef(x: Float32Array, shape: readonly number[], indices: ArrayLike<number>): Float32Array {
  const [batch, c] = shape as [number, number];
  const s = spatial(shape);
  const k = indices.length;
  const y = new Float32Array(batch * k * s);
  for (let n = 0; n < batch; n++) {
    for (let j = 0; j < k; j++) {
      for (let q = 0; q < s; q++) y[(n * k + j) * s + q] = x[(n * c + indices[j]!) * s + q]!;
    }
  }
  return y;
}

/** dx = 0 except dx[:, indices[j]] = dy[:, j]. */
export function channelSelectBackwardRef(dy: Float32Array, shape: readonly number[], indices: ArrayLike<number>): Float32Array {
  const [batch, c] = shape as [number, number];
  const s = spatial(shape);
  const k = indices.length;
  const dx = new Float32Array(batch * c * s);
  for (let n = 0; n < batch; n++) {
    for (let j = 0; j < k; j++) {
      for (let q = 0; q < s; q++) dx[(n * c + indices[j]!) * s + q] = dy[(n * k + j) * s + q]!;
    }
  }
  return dx;
}
