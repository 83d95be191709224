// Softmax cross-entropy, mean over the batch: logits [N, K] row-major, labels [N] u32 (i32 bit
// patterns bind as is; a label ≥ K, or negative, is clamped to K − 1). `rows`: one invocation per
// sample computes the row max (argmax, lowest index on ties), Σ exp(z − max), its loss
// log Σ − (z_label − max) and dlogits = (softmax − onehot)/N, then a workgroup tree-sums losses and
// hits into one partial; `finish` sums the partials into loss (÷N) and correct. The forward writes
// the backward (dlogits) itself; nothing else is saved.

struct Params { batch: u32, classes: u32, partials: u32 }
struct Partial { loss: f32, hits: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<Partial>;
@group(0) @binding(5) var<storage, read_write> loss: array<f32>;
@group(0) @binding(6) var<storage, read_write> correct: array<u32>;

const WG = 64u;
var<workgroup> wl: array<f32, 64>;
var<workgroup> wh: array<u32, 64>;

// Tree sum of wl/wh into element 0; every invocation of the workgroup must call it.
fn workgroup_sum(l: u32) {
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (l < s) {
      wl[l] += wl[l + s];
      wh[l] += wh[l + s];
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(64, 1, 1)
fn rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  // Workgroup-uniform, so returning before the barriers is allowed (the fold's overshoot).
  if (g >= p.partials) { return; }
  let n = g * WG + lid.x;
  var row_loss = 0.0;
  var hit = 0u;
  if (n < p.batch) {
    let k_count = p.classes;
    let base = n * k_count;
    let label = min(labels[n], k_count - 1u);
    var m = logits[base];
    var arg = 0u;
    for (var k = 1u; k < k_count; k++) {
      let z = logits[base + k];
      let bigger = z > m;  // strict: ties keep the lowest index
      arg = select(arg, k, bigger);
      m = select(m, z, bigger);
    }
    var s = 0.0;
    for (var k = 0u; k < k_count; k++) {
      let e = exp(logits[base + k] - m);
      dlogits[base + k] = e;
      s += e;
    }
    let inv_s = 1.0 / s;
    let batch = f32(p.batch);
    for (var k = 0u; k < k_count; k++) {
      let onehot = select(0.0, 1.0, k == label);
      dlogits[base + k] = (dlogits[base + k] * inv_s - onehot) / batch;
    }
    row_loss = log(s) - (logits[base + label] - m);
    hit = select(0u, 1u, arg == label);
  }
  wl[lid.x] = row_loss;
  wh[lid.x] = hit;
  workgroup_sum(lid.x);
  if (lid.x == 0u) { partial[g] = Partial(wl[0], wh[0]); }
}

// One workgroup: loss[0] = Σ partial losses / N, correct[0] = Σ partial hits.
@compute @workgroup_size(64, 1, 1)
fn finish(@builtin(local_invocation_id) lid: vec3u) {
  var l = 0.0;
  var h = 0u;
  for (var i = lid.x; i < p.partials; i += WG) {
    l += partial[i].loss;
    h += partial[i].hits;
  }
  wl[lid.x] = l;
  wh[lid.x] = h;
  workgroup_sum(lid.x);
  if (lid.x == 0u) {
    loss[0] = wl[0] / f32(p.batch);
    correct[0] = wh[0];
  }
}
