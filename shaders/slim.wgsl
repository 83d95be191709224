// Network Slimming's channel selection on GPU buffers. `scores` holds |γ| of every BatchNorm in
// module order (total = Σ channels); `sorted` is a power-of-two copy padded with +inf that the
// bitonic network sorts ascending; the threshold is sorted[k]; `mask` (f32 0/1) keeps |γ| > threshold.
// Per-layer passes (one invocation per layer, ranges given by `offsets`) count kept channels, add
// the largest remaining channels where a safeguard asks for more, and write each layer's kept
// channel indices in order. Only the per-layer counts go back to the host.

struct Params { n: u32, k: u32, j: u32, layers: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> sorted: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;
@group(0) @binding(4) var<storage, read> offsets: array<u32>;    // layers + 1 entries
@group(0) @binding(5) var<storage, read_write> counts: array<u32>; // kept per layer
@group(0) @binding(6) var<storage, read> wanted: array<u32>;     // required kept count per layer
@group(0) @binding(7) var<storage, read_write> kept: array<u32>;   // kept indices, layer ranges as offsets

fn flat(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * 256u + lid.x;
}

// scores[i] = |scores[i]|; sorted[i] = scores[i] for i < n, +inf-like padding up to p.k (a power of two).
@compute @workgroup_size(256, 1, 1)
fn abs_and_pad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= p.k) { return; }
  if (i < p.n) {
    let a = abs(scores[i]);
    scores[i] = a;
    sorted[i] = a;
  } else {
    sorted[i] = 3.0e38;
  }
}

// One compare-exchange stage (k = block size, j = distance) of a bitonic sort over p.n elements
// (a power of two): ascending overall.
@compute @workgroup_size(256, 1, 1)
fn bitonic_stage(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= p.n) { return; }
  let l = i ^ p.j;
  if (l <= i) { return; }
  let a = sorted[i];
  let b = sorted[l];
  let ascending = (i & p.k) == 0u;
  let swap = select((b > a), (a > b), ascending); // descending blocks swap when a < b
  if (swap) {
    sorted[i] = b;
    sorted[l] = a;
  }
}

// mask[i] = 1 where scores[i] > sorted[p.k] (strict: the k-th value and its ties are pruned).
@compute @workgroup_size(256, 1, 1)
fn threshold_mask(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= p.n) { return; }
  mask[i] = select(0.0, 1.0, scores[i] > sorted[p.k]);
}

// counts[l] = number of kept channels of layer l.
@compute @workgroup_size(64, 1, 1)
fn count_kept(@builtin(global_invocation_id) g: vec3u) {
  let l = g.x;
  if (l >= p.layers) { return; }
  var c = 0u;
  for (var i = offsets[l]; i < offsets[l + 1u]; i++) {
    c += select(0u, 1u, mask[i] != 0.0);
  }
  counts[l] = c;
}

// Keeps more channels where a safeguard asks: while layer l keeps fewer than wanted[l], keep the
// pruned channel with the largest |γ| (the lowest index among equals). Then counts[l] = kept.
@compute @workgroup_size(64, 1, 1)
fn keep_largest(@builtin(global_invocation_id) g: vec3u) {
  let l = g.x;
  if (l >= p.layers) { return; }
  let lo = offsets[l];
  let hi = offsets[l + 1u];
  var c = counts[l];
  loop {
    if (c >= wanted[l]) { break; }
    var best = hi;
    var bestScore = -1.0;
    for (var i = lo; i < hi; i++) {
      let better = (mask[i] == 0.0) & (scores[i] > bestScore);
      best = select(best, i, better);
      bestScore = select(bestScore, scores[i], better);
    }
    if (best == hi) { break; }
    mask[best] = 1.0;
    c += 1u;
  }
  counts[l] = c;
}

// kept[offsets[l] + m] = index (within layer l) of its m-th kept channel, in channel order.
@compute @workgroup_size(64, 1, 1)
fn kept_indices(@builtin(global_invocation_id) g: vec3u) {
  let l = g.x;
  if (l >= p.layers) { return; }
  let lo = offsets[l];
  var m = lo;
  for (var i = lo; i < offsets[l + 1u]; i++) {
    if (mask[i] != 0.0) {
      kept[m] = i - lo;
      m += 1u;
    }
  }
}

// scores[i] = scores[i] · mask[i] over p.n elements (γ and β of a BatchNorm kept at full width).
@compute @workgroup_size(256, 1, 1)
fn multiply_mask(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= p.n) { return; }
  scores[i] = scores[i] * mask[i];
}
