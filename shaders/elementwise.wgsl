// Element-wise ops on flat f32 arrays of p.n elements (any layout: NCHW activations are just
// flat here). One invocation per element, 256 per workgroup, linear workgroup index folded
// into x·y by the host.
// ReLU's backward reads the forward *output* (as PyTorch's threshold_backward does), so the
// forward may run in place and nothing else needs saving. Residual add's backward is the
// identity for both inputs; `accumulate` adds a gradient into an existing one.

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

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
