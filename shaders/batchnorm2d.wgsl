// BatchNorm2d on NCHW x [N, C, H, W] with per-channel vectors [C]. A channel's M = N·H·W values
// are N runs of H·W, read as V (vec4 when H·W % 4 == 0, else f32). Each channel is cut into S
// interleaved slices: invocation (c, s) owns its vectors q ≡ s (mod S), so neighbouring invocations
// read neighbouring vectors, and it walks them with a division-free cursor. Reductions are per
// invocation (no barriers: on SwiftShader one costs 10–50 µs per workgroup), then a per-channel
// finalise pass merges the S partials. The training forward saves mean and invstd = 1/√(var_b + eps).

struct Params {
  C: u32,          // channels
  S: u32,          // slices per channel
  hw: u32,         // H·W in V units (one run)
  m: u32,          // N·hw: one channel in V units
  step_r: u32,     // S = step_n·hw + step_r: how a cursor's offset in its run advances
  step_idx: u32,   // step_n·C·hw + step_r: how its flat index advances
  wrap_idx: u32,   // (C − 1)·hw: extra flat-index jump when the offset wraps into the next run
  count: f32,      // M
  eps: f32,
  momentum: f32,
}

// W: floats per V, the vector the elementwise passes load (4 where every run of a channel is a
// whole number of vec4s); GATHER: forward_eval reads its channels through `indices`.
#define W: 1 | 4
#define GATHER: bool
#if W == 4
alias V = vec4<f32>;
#else
alias V = f32;
#endif
const W = {{W}}u; // floats per V

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> dy: array<V>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read> mean_in: array<f32>; // saved mean, or running mean (eval)
@group(0) @binding(6) var<storage, read> stat_in: array<f32>; // saved invstd, or running var (eval)
@group(0) @binding(7) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(8) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(9) var<storage, read_write> save_mean: array<f32>;
@group(0) @binding(10) var<storage, read_write> save_invstd: array<f32>;
@group(0) @binding(11) var<storage, read_write> out: array<V>;              // y, or dx
@group(0) @binding(12) var<storage, read_write> partials: array<vec2<f32>>; // [C·S]
@group(0) @binding(13) var<storage, read> partials_in: array<vec2<f32>>;
@group(0) @binding(14) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(15) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(16) var<storage, read_write> coef: array<vec4<f32>>;     // [C], finalise → apply
@group(0) @binding(17) var<storage, read> coef_in: array<vec4<f32>>;

// forward_eval: K output channels from C input channels, runs = N·K runs of hw vectors, each cut
// into `chunks` chunks of `chunk` vectors; relu ≠ 0 applies max(·, 0).
struct EvalParams { C: u32, K: u32, hw: u32, runs: u32, chunk: u32, chunks: u32, relu: u32, eps: f32 }
@group(0) @binding(18) var<uniform> ep: EvalParams;
@group(0) @binding(19) var<storage, read> indices: array<u32>;

fn hsum(v: V) -> f32 {
#if W == 4
  return (v.x + v.y) + (v.z + v.w);
#else
  return v;
#endif
}

fn linear_id(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * 64u + lid.x;
}

// Position q (V units) within channel c: offset r in the run of batch item n, at flat index idx.
struct Cursor { q: u32, r: u32, idx: u32 }

fn cursor(c: u32, q: u32) -> Cursor {
  let n = q / p.hw;
  let r = q - n * p.hw;
  return Cursor(q, r, (n * p.C + c) * p.hw + r);
}

fn advance(k: Cursor) -> Cursor {
  let r = k.r + p.step_r;
  let wrap = r >= p.hw; // at most one wrap: both terms are < hw
  return Cursor(k.q + p.S, select(r, r - p.hw, wrap), k.idx + p.step_idx + select(0u, p.wrap_idx, wrap));
}

// Floats in slice s: W·⌈(m − s)/S⌉.
fn slice_count(s: u32) -> f32 {
  return f32((p.m - s + p.S - 1u) / p.S * W);
}

// Saves mean/invstd of channel c and updates its running statistics; returns invstd.
fn finish_stats(c: u32, mean: f32, m2: f32) -> f32 {
  let invstd = 1.0 / sqrt(m2 / p.count + p.eps);
  save_mean[c] = mean;
  save_invstd[c] = invstd;
  // Unbiased variance var_b·M/(M − 1) = M2/(M − 1); the host rejects M = 1.
  running_mean[c] = (1.0 - p.momentum) * running_mean[c] + p.momentum * mean;
  running_var[c] = (1.0 - p.momentum) * running_var[c] + p.momentum * (m2 / (p.count - 1.0));
  return invstd;
}

// Training forward, pass 1 of 3: (mean, M2) of slice s of channel c in one sweep: Welford's
// update per vector component, then the components merged (they have equal counts).
@compute @workgroup_size(64, 1, 1)
fn forward_partials(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = linear_id(wid, nwg, lid);
  if (t >= p.C * p.S) { return; }
  let c = t / p.S;
  var n = 0.0;
  var mean = V(0.0);
  var m2 = V(0.0);
  for (var k = cursor(c, t - c * p.S); k.q < p.m; k = advance(k)) {
    let v = x[k.idx];
    n += 1.0;
    let d = v - mean;
    mean += d * (1.0 / n);
    m2 += d * (v - mean);
  }
  let mt = hsum(mean) / f32(W);
  let dm = mean - V(mt);
  partials[t] = vec2<f32>(mt, hsum(m2) + n * hsum(dm * dm));
}

// Pass 2 of 3, one invocation per channel: Chan et al.'s pairwise merge of the slices' (mean, M2),
// bookkeeping, and the channel's (mean, scale, shift) for the apply pass.
@compute @workgroup_size(64, 1, 1)
fn forward_finalize(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = linear_id(wid, nwg, lid);
  if (c >= p.C) { return; }
  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var s = 0u; s < p.S; s++) {
    let ps = partials_in[c * p.S + s];
    let nb = slice_count(s);
    let delta = ps.x - mean;
    let nn = n + nb;
    mean += delta * (nb / nn);
    m2 += ps.y + delta * delta * (n * (nb / nn));
    n = nn;
  }
  let invstd = finish_stats(c, mean, m2);
  coef[c] = vec4<f32>(mean, invstd * gamma[c], beta[c], 0.0);
}

// Pass 3 of 3: y = (x − mean)·scale + shift over slice s of channel c.
@compute @workgroup_size(64, 1, 1)
fn forward_apply(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = linear_id(wid, nwg, lid);
  if (t >= p.C * p.S) { return; }
  let c = t / p.S;
  let k3 = coef_in[c];
  for (var k = cursor(c, t - c * p.S); k.q < p.m; k = advance(k)) {
    out[k.idx] = (x[k.idx] - V(k3.x)) * k3.y + V(k3.z);
  }
}

// Evaluation forward with the running mean/variance (mean_in/stat_in), fused with what follows a
// BatchNorm2d in the graph: y[n, j] = relu?(bn_c(x[n, c])) over y [N, K, H·W], where c =
// indices[j] with GATHER (a channel selection; an index ≥ C gives 0) or c = j. Invocation t owns
// a chunk of one output run (n, j), so the channel's coefficients are computed once per chunk.
@compute @workgroup_size(64, 1, 1)
fn forward_eval(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = linear_id(wid, nwg, lid);
  let run = t / ep.chunks;
  if (run >= ep.runs) { return; }
  let begin = (t - run * ep.chunks) * ep.chunk;
  let end = min(begin + ep.chunk, ep.hw);
  let n = run / ep.K;
  let j = run - n * ep.K;
  var c = j;
#if GATHER
  c = indices[j];
#endif
  let out0 = run * ep.hw;
  if (c >= ep.C) {
    for (var q = begin; q < end; q++) { out[out0 + q] = V(0.0); }
    return;
  }
  let mean = mean_in[c];
  let scale = gamma[c] / sqrt(stat_in[c] + ep.eps);
  let shift = beta[c];
  let in0 = (n * ep.C + c) * ep.hw;
  for (var q = begin; q < end; q++) {
    let v = (x[in0 + q] - V(mean)) * scale + V(shift);
    out[out0 + q] = select(v, max(v, V(0.0)), ep.relu != 0u);
  }
}

// Backward, pass 1 of 3: (Σdy, Σdy·(x − mean)) over slice s of channel c (mean_in: saved mean).
@compute @workgroup_size(64, 1, 1)
fn backward_partials(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = linear_id(wid, nwg, lid);
  if (t >= p.C * p.S) { return; }
  let c = t / p.S;
  let mean = mean_in[c];
  var sdy = V(0.0);
  var sdyx = V(0.0);
  for (var k = cursor(c, t - c * p.S); k.q < p.m; k = advance(k)) {
    let g = dy[k.idx];
    sdy += g;
    sdyx += g * (x[k.idx] - V(mean));
  }
  partials[t] = vec2<f32>(hsum(sdy), hsum(sdyx));
}

// Pass 2 of 3, one invocation per channel: dβ = Σdy, dγ = invstd·Σdy·(x − mean), and the dx
// coefficients: dx = γ·invstd·(dy − dβ/M − x̂·dγ/M) = k.y·(dy − k.z − (x − k.x)·k.w).
@compute @workgroup_size(64, 1, 1)
fn backward_finalize(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = linear_id(wid, nwg, lid);
  if (c >= p.C) { return; }
  var sums = vec2<f32>(0.0);
  for (var s = 0u; s < p.S; s++) { sums += partials_in[c * p.S + s]; }
  let invstd = stat_in[c];
  let dg = sums.y * invstd;
  dbeta[c] = sums.x;
  dgamma[c] = dg;
  coef[c] = vec4<f32>(mean_in[c], gamma[c] * invstd, sums.x / p.count, invstd * dg / p.count);
}

// Pass 3 of 3: dx over slice s of channel c.
@compute @workgroup_size(64, 1, 1)
fn backward_apply(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = linear_id(wid, nwg, lid);
  if (t >= p.C * p.S) { return; }
  let c = t / p.S;
  let k4 = coef_in[c];
  for (var k = cursor(c, t - c * p.S); k.q < p.m; k = advance(k)) {
    out[k.idx] = k4.y * (dy[k.idx] - V(k4.z) - (x[k.idx] - V(k4.x)) * k4.w);
  }
}
