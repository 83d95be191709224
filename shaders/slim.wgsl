// Network Slimming's channel selection on GPU buffers. `scores` holds |γ| of every BatchNorm in
// module order (total = Σ channels); `sorted` is a power-of-two copy padded with +inf that the
// bitonic network sorts ascending; the threshold is sorted[k]; `mask` (f32 0/1) keeps |γ| > threshold.
// Per-layer passes (one invocation per layer, ranges given by `offsets`) count kept channels, add
// the largest remaining channels where a safeguard asks for more, and write each layer's kept
// channel indices in order. Only the per-layer counts go back to the host.
// Two helpers serve the compaction and bias compensation: `selection_positions` maps kept channel
// indices through an existing channel selection, `compensate` folds the constant output of pruned
// channels into the next layer.

struct Params { n: u32, k: u32, j: u32, layers: u32, flags: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> sorted: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;
@group(0) @binding(4) var<storage, read> offsets: array<u32>;    // layers + 1 entries
@group(0) @binding(5) var<storage, read_write> counts: array<u32>; // kept per layer
@group(0) @binding(6) var<storage, read> wanted: array<u32>;     // required kept count per layer
@group(0) @binding(7) var<storage, read_write> kept: array<u32>;   // kept indices, layer ranges as offsets
@group(0) @binding(8) var<storage, read> weight: array<f32>;       // compensate: the consumer's weight [O, I, K]
@group(0) @binding(9) var<storage, read> beta: array<f32>;         // compensate: the feeding BatchNorm's β [I]
@group(0) @binding(10) var<storage, read_write> adjusted: array<f32>; // compensate: running mean or bias to adjust
@group(0) @binding(11) var<storage, read> selection: array<f32>;   // selection_positions: a selection's 0/1 indexes
@group(0) @binding(12) var<storage, read_write> positions: array<u32>;

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

// positions[j] = number of non-zero selection entries before channel kept[j], for j < p.n: the
// position of channel kept[j] in the output of that selection.
@compute @workgroup_size(64, 1, 1)
fn selection_positions(@builtin(global_invocation_id) g: vec3u) {
  let j = g.x;
  if (j >= p.n) { return; }
  var c = 0u;
  for (var i = 0u; i < kept[j]; i++) {
    c += select(0u, 1u, selection[i] != 0.0);
  }
  positions[j] = c;
}

// Bias compensation: a pruned channel i (mask[i] = 0) of the feeding BatchNorm emits the constant
// β[i] (relu(β[i]) when flags & 2), which the consumer sees as Σ_k weight[o, i, k] · that value
// on every output o (exact away from zero padding). adjusted[j] += that sum over the pruned
// channels for output o = kept[j] (subtracted when flags & 1: a BatchNorm's running mean).
// p.n = outputs to adjust, p.k = I (inputs), p.j = K (taps per input).
@compute @workgroup_size(64, 1, 1)
fn compensate(@builtin(global_invocation_id) g: vec3u) {
  let j = g.x;
  if (j >= p.n) { return; }
  let o = kept[j];
  var acc = 0.0;
  for (var i = 0u; i < p.k; i++) {
    if (mask[i] == 0.0) {
      var b = beta[i];
      if ((p.flags & 2u) != 0u) { b = max(b, 0.0); }
      var s = 0.0;
      let base = (o * p.k + i) * p.j;
      for (var k = 0u; k < p.j; k++) { s += weight[base + k]; }
      acc += b * s;
    }
  }
  adjusted[j] = adjusted[j] + select(acc, -acc, (p.flags & 1u) != 0u);
}
