// Max and average 2-D pooling on NCHW x [N, C, H, W] → y [N, C, OH, OW] (floor mode, zero or
// −inf padding). Forward: one invocation per output element (PyTorch's window scan order).
// Max saves argmax (u32, y's shape): the flat index ih·W + iw of the chosen element in its (n, c)
// plane. Backward (gather, no atomics): one invocation per input element sums, in ascending output
// order, the dy of the windows that cover it (max: only those whose argmax is this element).
// The *_2x2 entries: kernel = stride = 2, no padding, W % 4 == 0 (backward: H even), vector loads.
// The global_avg_* entries (AdaptiveAvgPool2d(1)): y [N, C, 1, 1] is the mean of each (n, c) plane
// of H·W elements (divisor = H·W); total counts planes (forward) or input elements (backward).

struct Params {
  total: u32, // invocations that do work (output elements, input elements, or vector groups)
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  kh: u32,
  kw: u32,
  sh: u32,
  sw: u32,
  ph: u32,
  pw: u32,
  divisor: f32, // kh·kw (count_include_pad = true; floor mode keeps windows inside the padded input)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read> argmax_in: array<u32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
// Vector views of the same buffers for the 2×2 entries.
@group(0) @binding(7) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> y2: array<vec2<f32>>;
@group(0) @binding(9) var<storage, read_write> argmax2: array<vec2<u32>>;
@group(0) @binding(10) var<storage, read> dy2: array<vec2<f32>>;
@group(0) @binding(11) var<storage, read> argmax2_in: array<vec2<u32>>;
@group(0) @binding(12) var<storage, read_write> dx4: array<vec4<f32>>;

fn linear_id(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * 64u + lid.x;
}

// NaN test on the bits (a float comparison may be folded away by the compiler).
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn nan2(v: vec2<f32>) -> vec2<bool> {
  return (bitcast<vec2<u32>>(v) & vec2<u32>(0x7fffffffu)) > vec2<u32>(0x7f800000u);
}

// The window of output (oh, ow), clipped to the input: [h0, h1) × [w0, w1).
struct Window { h0: u32, h1: u32, w0: u32, w1: u32 }

fn window(oh: u32, ow: u32) -> Window {
  let hs = i32(oh * p.sh) - i32(p.ph);
  let ws = i32(ow * p.sw) - i32(p.pw);
  return Window(u32(max(hs, 0)), u32(min(hs + i32(p.kh), i32(p.H))), u32(max(ws, 0)), u32(min(ws + i32(p.kw), i32(p.W))));
}

// Outputs whose windows cover input row (or column) i: [lo, hi] as [lo, hi + 1), clipped.
fn covering(i: u32, pad: u32, k: u32, s: u32, n_out: u32) -> vec2<u32> {
  let first = i32(i + pad) - i32(k) + 1; // lowest window start that still covers i
  let lo = select(0u, (u32(max(first, 0)) + s - 1u) / s, first > 0);
  let hi = min((i + pad) / s + 1u, n_out);
  return vec2<u32>(lo, max(hi, lo));
}

@compute @workgroup_size(64, 1, 1)
fn max_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= p.total) { return; }
  let ow = i % p.OW;
  let t = i / p.OW;
  let oh = t % p.OH;
  let base = (t / p.OH) * p.H * p.W;
  let win = window(oh, ow);
  // PyTorch starts at −inf with the first in-bounds element's index and takes strictly greater
  // values (the first max wins ties) and NaNs; starting at that first element gives the same
  // result (and WGSL has no −inf constant).
  var arg = win.h0 * p.W + win.w0;
  var best = x[base + arg];
  for (var ih = win.h0; ih < win.h1; ih++) {
    for (var iw = win.w0; iw < win.w1; iw++) {
      let j = ih * p.W + iw;
      let v = x[base + j];
      let take = (v > best) | is_nan(v);
      best = select(best, v, take);
      arg = select(arg, j, take);
    }
  }
  y[i] = best;
  argmax[i] = arg;
}

@compute @workgroup_size(64, 1, 1)
fn max_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= p.total) { return; }
  let iw = i % p.W;
  let t = i / p.W;
  let ih = t % p.H;
  let base = (t / p.H) * p.OH * p.OW;
  let me = ih * p.W + iw;
  let rows = covering(ih, p.ph, p.kh, p.sh, p.OH);
  let cols = covering(iw, p.pw, p.kw, p.sw, p.OW);
  var acc = 0.0;
  for (var oh = rows.x; oh < rows.y; oh++) {
    for (var ow = cols.x; ow < cols.y; ow++) {
      let j = base + oh * p.OW + ow;
      acc += select(0.0, dy[j], argmax_in[j] == me);
    }
  }
  dx[i] = acc;
}

@compute @workgroup_size(64, 1, 1)
fn avg_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= p.total) { return; }
  let ow = i % p.OW;
  let t = i / p.OW;
  let oh = t % p.OH;
  let base = (t / p.OH) * p.H * p.W;
  let win = window(oh, ow);
  var acc = 0.0;
  for (var ih = win.h0; ih < win.h1; ih++) {
    for (var iw = win.w0; iw < win.w1; iw++) { acc += x[base + ih * p.W + iw]; }
  }
  y[i] = acc / p.divisor;
}

@compute @workgroup_size(64, 1, 1)
fn avg_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= p.total) { return; }
  let iw = i % p.W;
  let t = i / p.W;
  let ih = t % p.H;
  let base = (t / p.H) * p.OH * p.OW;
  let rows = covering(ih, p.ph, p.kh, p.sh, p.OH);
  let cols = covering(iw, p.pw, p.kw, p.sw, p.OW);
  var acc = 0.0;
  for (var oh = rows.x; oh < rows.y; oh++) {
    for (var ow = cols.x; ow < cols.y; ow++) { acc += dy[base + oh * p.OW + ow] / p.divisor; }
  }
  dx[i] = acc;
}

// Max pool 2×2 stride 2, W % 4 == 0: one invocation per pair of adjacent outputs, reading a 2×4
// block as two vec4 (x4 index = element index / 4).
@compute @workgroup_size(64, 1, 1)
fn max_forward_2x2(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid); // output pair: OW/2 pairs per output row
  if (i >= p.total) { return; }
  let half = p.OW / 2u;
  let pair = i % half;
  let row = i / half; // plane·OH + oh
  let oh = row % p.OH;
  let top = (row / p.OH) * p.H * p.W + 2u * oh * p.W + 4u * pair; // element index of the block
  let a = x4[top / 4u];
  let b = x4[(top + p.W) / 4u];
  let j = 2u * oh * p.W + 4u * pair; // in-plane index of a.x
  // Window order a.x, a.y, b.x, b.y (and a.z, a.w, b.z, b.w): strict > keeps the first max.
  let j0 = vec2<u32>(j, j + 2u);
  var best = vec2<f32>(a.x, a.z);
  var arg = j0;
  var v = vec2<f32>(a.y, a.w);
  var take = (v > best) | nan2(v);
  best = select(best, v, take);
  arg = select(arg, j0 + 1u, take);
  v = vec2<f32>(b.x, b.z);
  take = (v > best) | nan2(v);
  best = select(best, v, take);
  arg = select(arg, j0 + p.W, take);
  v = vec2<f32>(b.y, b.w);
  take = (v > best) | nan2(v);
  best = select(best, v, take);
  arg = select(arg, j0 + p.W + 1u, take);
  y2[i] = best;
  argmax2[i] = arg;
}

// Backward of max_forward_2x2 (H even, so every dx element is in exactly one window): one
// invocation per pair of outputs writes its 2×4 block of dx.
@compute @workgroup_size(64, 1, 1)
fn max_backward_2x2(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= p.total) { return; }
  let half = p.OW / 2u;
  let pair = i % half;
  let row = i / half;
  let oh = row % p.OH;
  let top = (row / p.OH) * p.H * p.W + 2u * oh * p.W + 4u * pair;
  let j = 2u * oh * p.W + 4u * pair;
  let g = dy2[i];
  let am = argmax2_in[i];
  let zero = vec4<f32>(0.0);
  let ga = vec4<f32>(g.x, g.x, g.y, g.y);
  let ma = vec4<u32>(am.x, am.x, am.y, am.y);
  dx4[top / 4u] = select(zero, ga, ma == vec4<u32>(j, j + 1u, j + 2u, j + 3u));
  dx4[(top + p.W) / 4u] = select(zero, ga, ma == vec4<u32>(j, j + 1u, j + 2u, j + 3u) + p.W);
}

// Global average pool, one invocation per (n, c) plane. Four running sums (element j goes to sum
// j mod 4, a tail of H·W mod 4 to the first) break the chain of dependent additions and shorten
// each float32 sum to H·W/4 terms. On SwiftShader (2 busy cores, so roughly) that took 30–40 %
// less time than one running sum for 4×4 to 32×32 planes at batch 64 (a little more for 3×3), while
// a 64-lane workgroup per plane reduced through workgroup memory took 3–200× more on those shapes
// and was no faster even on four 256×256 planes.
@compute @workgroup_size(64, 1, 1)
fn global_avg_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= p.total) { return; }
  let hw = p.H * p.W;
  let base = i * hw;
  let end4 = base + (hw & ~3u);
  var acc = vec4<f32>(0.0);
  var j = base;
  for (; j < end4; j += 4u) { acc += vec4<f32>(x[j], x[j + 1u], x[j + 2u], x[j + 3u]); }
  for (; j < base + hw; j++) { acc.x += x[j]; }
  y[i] = ((acc.x + acc.y) + (acc.z + acc.w)) / p.divisor;
}

// dx = dy / (H·W) of its plane, one invocation per input element.
@compute @workgroup_size(64, 1, 1)
fn global_avg_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= p.total) { return; }
  dx[i] = dy[i / (p.H * p.W)] / p.divisor;
}
