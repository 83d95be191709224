// Linear layer in PyTorch layout: x [N, IN] row-major (an NCHW activation is flattened per sample),
// w [OUT, IN], b [OUT], y [N, OUT] = x·wᵀ + b. Each GEMM invocation keeps a 4×4 block of outputs
// in registers and walks the reduction as rank-1 updates (no workgroup memory or barriers; loads
// past the edge are clamped, stores guarded). The backward needs only x and w, nothing is saved:
// dx = dy·w, dw = dyᵀ·x (one invocation sums its block over all N), db = Σ_n dy.

struct Params { batch: u32, in_features: u32, out_features: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dw: array<f32>;
@group(0) @binding(8) var<storage, read_write> db: array<f32>;

const LANE = vec4u(0u, 1u, 2u, 3u);

// Four consecutive indices from `first`, clamped to `last` so edge blocks read valid memory.
fn clamped4(first: u32, last: u32) -> vec4u {
  return min(vec4u(first) + LANE, vec4u(last));
}

// acc[r][c] = Σ_i x[n0 + r, i] · w[o0 + c, i]
fn forward_block(n0: u32, o0: u32) -> array<vec4f, 4> {
  let xr = clamped4(n0, p.batch - 1u) * p.in_features;
  let wr = clamped4(o0, p.out_features - 1u) * p.in_features;
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  for (var i = 0u; i < p.in_features; i++) {
    let wv = vec4f(w[wr.x + i], w[wr.y + i], w[wr.z + i], w[wr.w + i]);
    a0 += x[xr.x + i] * wv;
    a1 += x[xr.y + i] * wv;
    a2 += x[xr.z + i] * wv;
    a3 += x[xr.w + i] * wv;
  }
  return array<vec4f, 4>(a0, a1, a2, a3);
}

fn store_y_row(n: u32, o0: u32, v: vec4f) {
  if (n >= p.batch) { return; }
  let base = n * p.out_features;
  for (var c = 0u; c < 4u; c++) {
    if (o0 + c < p.out_features) { y[base + o0 + c] = v[c]; }
  }
}

// y = x·wᵀ. Grid: x over blocks of 4 outputs, y over blocks of 4 samples.
@compute @workgroup_size(8, 8, 1)
fn forward(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.y * 4u;
  let o0 = gid.x * 4u;
  let acc = forward_block(n0, o0);
  for (var r = 0u; r < 4u; r++) { store_y_row(n0 + r, o0, acc[r]); }
}

// y = x·wᵀ + b
@compute @workgroup_size(8, 8, 1)
fn forward_bias(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.y * 4u;
  let o0 = gid.x * 4u;
  let oc = clamped4(o0, p.out_features - 1u);
  let bias = vec4f(b[oc.x], b[oc.y], b[oc.z], b[oc.w]);
  let acc = forward_block(n0, o0);
  for (var r = 0u; r < 4u; r++) { store_y_row(n0 + r, o0, acc[r] + bias); }
}

// dx[n0 + r, i0 + c] = Σ_o dy[n0 + r, o] · w[o, i0 + c]. Grid: x over blocks of 4 inputs, y over samples.
@compute @workgroup_size(8, 8, 1)
fn input_grad(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.y * 4u;
  let i0 = gid.x * 4u;
  let dr = clamped4(n0, p.batch - 1u) * p.out_features;
  let ic = clamped4(i0, p.in_features - 1u);
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  for (var o = 0u; o < p.out_features; o++) {
    let base = o * p.in_features;
    let wv = vec4f(w[base + ic.x], w[base + ic.y], w[base + ic.z], w[base + ic.w]);
    a0 += dy[dr.x + o] * wv;
    a1 += dy[dr.y + o] * wv;
    a2 += dy[dr.z + o] * wv;
    a3 += dy[dr.w + o] * wv;
  }
  let acc = array<vec4f, 4>(a0, a1, a2, a3);
  for (var r = 0u; r < 4u; r++) {
    let n = n0 + r;
    if (n < p.batch) {
      for (var c = 0u; c < 4u; c++) {
        if (i0 + c < p.in_features) { dx[n * p.in_features + i0 + c] = acc[r][c]; }
      }
    }
  }
}

// dw[o0 + r, i0 + c] = Σ_n dy[n, o0 + r] · x[n, i0 + c]. Grid: x over blocks of 4 inputs, y over outputs.
@compute @workgroup_size(8, 8, 1)
fn weight_grad(@builtin(global_invocation_id) gid: vec3u) {
  let o0 = gid.y * 4u;
  let i0 = gid.x * 4u;
  let oc = clamped4(o0, p.out_features - 1u);
  let ic = clamped4(i0, p.in_features - 1u);
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  for (var n = 0u; n < p.batch; n++) {
    let x_row = n * p.in_features;
    let dy_row = n * p.out_features;
    let xv = vec4f(x[x_row + ic.x], x[x_row + ic.y], x[x_row + ic.z], x[x_row + ic.w]);
    a0 += dy[dy_row + oc.x] * xv;
    a1 += dy[dy_row + oc.y] * xv;
    a2 += dy[dy_row + oc.z] * xv;
    a3 += dy[dy_row + oc.w] * xv;
  }
  let acc = array<vec4f, 4>(a0, a1, a2, a3);
  for (var r = 0u; r < 4u; r++) {
    let o = o0 + r;
    if (o < p.out_features) {
      for (var c = 0u; c < 4u; c++) {
        if (i0 + c < p.in_features) { dw[o * p.in_features + i0 + c] = acc[r][c]; }
      }
    }
  }
}

// db[o] = Σ_n dy[n, o]; one invocation per output feature, 1-D (folded) grid.
@compute @workgroup_size(64, 1, 1)
fn bias_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let o = (wid.x + wid.y * nwg.x) * 64u + lid.x;
  if (o >= p.out_features) { return; }
  var s = 0.0;
  for (var n = 0u; n < p.batch; n++) { s += dy[n * p.out_features + o]; }
  db[o] = s;
}
