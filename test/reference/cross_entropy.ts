/** Float64 reference of mean softmax cross-entropy over logits [N, K] and labels in [0, K). */
export interface CrossEntropyRef {
  loss: number;
  dlogits: Float64Array;
  correct: number;
}

/** Per-row log-sum-exp with the max subtracted, the mean loss, (softmax − onehot)/N and the argmax hit count (lowest index on ties). */
export function crossEntropyRef(logits: ArrayLike<number>, labels: ArrayLike<number>, batch: number, classes: number): CrossEntropyRef {
  const dlogits = new Float64Array(batch * classes);
  let total = 0;
  let correct = 0;
  for (let n = 0; n < batch; n++) {
    const base = n * classes;
    let m = -Infinity;
    let arg = -1;
    for (let k = 0; k < classes; k++) {
      if (logits[base + k]! > m) {
        m = logits[base + k]!;
        arg = k;
      }
    }
    let s = 0;
    for (let k = 0; k < classes; k++) s += Math.exp(logits[base + k]! - m);
    const label = labels[n]!;
    total += Math.log(s) + m - logits[base + label]!;
    for (let k = 0; k < classes; k++) dlogits[base + k] = (Math.exp(logits[base + k]! - m) / s - (k === label ? 1 : 0)) / batch;
    if (arg === label) correct++;
  }
  return { loss: total / batch, dlogits, correct };
}

/** The mean loss alone, as a function of the logits (for finite differences). */
export function crossEntropyLossRef(logits: ArrayLike<number>, labels: ArrayLike<number>, batch: number, classes: number): number {
  return crossEntropyRef(logits, labels, batch, classes).loss;
}
