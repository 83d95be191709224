// Split-K reduction: partial is [slices, n] row-major (slice s of a split reduction wrote its
// sums to partial[s·n .. s·n + n)); out[i] = Σ_s partial[s·n + i], summed in slice order.
// One invocation per output element, 256 per workgroup, linear workgroup index folded into x·y
// by the host. Nothing is saved; any op that splits a long reduction into slices can use it.

struct Params { n: u32, slices: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn sum_partials(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid.x;
  if (i >= p.n) { return; }
  var s = 0.0;
  var k = i;
  for (var sl = 0u; sl < p.slices; sl++) {
    s += partial[k];
    k += p.n;
  }
  out[i] = s;
}
