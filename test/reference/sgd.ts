/**
 * Reference SGD step: torch.optim.SGD (dampening 0, no Nesterov) with the Network Slimming
 * sparsity term, every float32 operation computed in float64 and rounded to float32 (what PyTorch
 * does without fused multiply-add), in PyTorch's order. Hyperparameters are float32, as in
 * PyTorch's kernels.
 */
export interface SgdRefOptions {
  lr: number;
  momentum: number;
  weightDecay: number;
  sparsity: number;
  firstStep: boolean;
}

const f = Math.fround;

/** Updates `param` and `buf` (float32 arrays) in place. */
export function sgdStepRef(param: Float32Array, grad: Float32Array, buf: Float32Array, o: SgdRefOptions): void {
  const lr = f(o.lr), mom = f(o.momentum), wd = f(o.weightDecay), s = f(o.sparsity);
  for (let i = 0; i < param.length; i++) {
    const w = param[i]!;
    let d = grad[i]!;
    if (s !== 0) d = f(d + f(s * Math.sign(w)));
    if (wd !== 0) d = f(d + f(wd * w));
    if (mom !== 0) {
      if (!o.firstStep) d = f(f(mom * buf[i]!) + d);
      buf[i] = d;
    }
    param[i] = f(w - f(lr * d));
  }
}
