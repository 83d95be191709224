// Element-wise ops on flat f32 arrays of p.n elements (dropout: dp.n; any layout: NCHW activations
// are just flat here). One invocation per element, 256 per workgroup, linear workgroup index
// folded into x·y by the host.
// ReLU's backward reads the forward *output* (as PyTorch's threshold_backward does), so the
// forward may run in place and nothing else needs saving. Residual add's backward is the
// identity for both inputs; `accumulate` adds a gradient into an existing one.
// ReLU6 (PyTorch's hardtanh(x, 0, 6)) likewise reads y in its backward: 0 < y < 6 exactly when
// 0 < x < 6, PyTorch's condition (no gradient at x = 0 or x = 6).
// Dropout keeps element i when dropout_bits(seed, i) ≥ threshold (= round(p·2³²), so it drops
// with probability threshold/2³² ≈ p) and multiplies it by scale = float32(1/(1 − p)). The mask
// is a pure function of (seed, i) and is recomputed, never stored: the backward is the same
// kernel applied to dy with the same seed and p.

struct Params { n: u32 }

// Dropout's uniform block (its entries use no `p`).
struct DropoutParams {
  n: u32,
  seed: u32,
  threshold: u32, // drop where bits < threshold
  scale: f32,     // 1/(1 − p) rounded to float32
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> dp: DropoutParams;

fn flat_index(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * 256u + lid.x;
}

// out = max(a, 0)
@compute @workgroup_size(256, 1, 1)
fn relu_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = max(a[i], 0.0);
}

// out = max(out, 0), in place
@compute @workgroup_size(256, 1, 1)
fn relu_forward_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = max(out[i], 0.0);
}

// out = dy where y > 0, else 0.  a: forward output y, b: dy
@compute @workgroup_size(256, 1, 1)
fn relu_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = select(0.0, b[i], a[i] > 0.0);
}

// out = out where y > 0, else 0, in place on dy.  a: forward output y
@compute @workgroup_size(256, 1, 1)
fn relu_backward_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = select(0.0, out[i], a[i] > 0.0);
}

// out = a + b (residual add forward)
@compute @workgroup_size(256, 1, 1)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = a[i] + b[i];
}

// out += a (gradient accumulation where a tensor feeds two consumers)
@compute @workgroup_size(256, 1, 1)
fn accumulate(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = out[i] + a[i];
}

// out = min(max(a, 0), 6)
@compute @workgroup_size(256, 1, 1)
fn relu6_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = min(max(a[i], 0.0), 6.0);
}

// out = min(max(out, 0), 6), in place
@compute @workgroup_size(256, 1, 1)
fn relu6_forward_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = min(max(out[i], 0.0), 6.0);
}

// out = dy where 0 < y < 6, else 0.  a: forward output y, b: dy
@compute @workgroup_size(256, 1, 1)
fn relu6_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  let y = a[i];
  out[i] = select(0.0, b[i], (y > 0.0) & (y < 6.0));
}

// out = out where 0 < y < 6, else 0, in place on dy.  a: forward output y
@compute @workgroup_size(256, 1, 1)
fn relu6_backward_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  let y = a[i];
  out[i] = select(0.0, out[i], (y > 0.0) & (y < 6.0));
}

// PCG hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020): a bijection on u32.
fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// Counter-based random bits of element i under seed: pcg(pcg(i) ^ pcg(seed)).
fn dropout_bits(seed: u32, i: u32) -> u32 {
  return pcg_hash(pcg_hash(i) ^ pcg_hash(seed));
}

// out = a · mask, mask = scale where kept, else 0 (forward on x, or backward on dy). A product, as
// PyTorch's x · mask, so a dropped −x gives −0.
@compute @workgroup_size(256, 1, 1)
fn dropout(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= dp.n) { return; }
  out[i] = a[i] * select(0.0, dp.scale, dropout_bits(dp.seed, i) >= dp.threshold);
}

// out = out · mask, in place
@compute @workgroup_size(256, 1, 1)
fn dropout_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= dp.n) { return; }
  out[i] = out[i] * select(0.0, dp.scale, dropout_bits(dp.seed, i) >= dp.threshold);
}
