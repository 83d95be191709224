// One SGD step as torch.optim.SGD (dampening 0, no Nesterov) with Network Slimming's sparsity
// subgradient fused in front, on flat arrays of p.n elements: param and momentum are updated in
// place, grad is read only. One invocation per element, float32 operations in PyTorch's order:
// g' = g + s·sign(w) (s ≠ 0 only); d = g' + wd·w (wd ≠ 0 only); buf = d on the first step, else
// momentum·buf + d (momentum ≠ 0 only; else buf is untouched and d is used); w = w − lr·buf.

struct Params { n: u32, lr: f32, momentum: f32, weight_decay: f32, sparsity: f32, first_step: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> momentum_buf: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> masked_grad: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn step(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid.x;
  if (i >= p.n) { return; }
  let w = param[i];
  var d = grad[i];
  // PyTorch skips a term whose coefficient is 0, so do we (keeps −0 gradients and inf weights as PyTorch has them).
  if (p.sparsity != 0.0) { d = d + p.sparsity * sign(w); }
  if (p.weight_decay != 0.0) { d = d + p.weight_decay * w; }
  if (p.momentum != 0.0) {
    if (p.first_step != 0u) {
      momentum_buf[i] = d;
    } else {
      d = p.momentum * momentum_buf[i] + d;
      momentum_buf[i] = d;
    }
  }
  param[i] = w - p.lr * d;
}

// Mask-mode fine-tuning (the reference's mask implementation): masked_grad[i] = 0 wherever
// gamma[i] == 0, for a BatchNorm's γ and β gradients, so pruned channels stay at zero (weight
// decay and the sparsity term of a zero γ are zero too).
@compute @workgroup_size(256, 1, 1)
fn zero_where_gamma_zero(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid.x;
  if (i >= p.n) { return; }
  if (gamma[i] == 0.0) { masked_grad[i] = 0.0; }
}
