// Helpers of the slimming pass. The pass decides on the host which channels go (from |γ| read back
// once) and gathers every tensor on the GPU with the channel kernels; these entries serve the rest:
// `multiply_rows` zeroes pruned channels in place (γ and β of a BatchNorm, a convolution's output
// rows), `compensate` folds the constant output of pruned channels into the next layer.

struct RowsParams { n: u32, row: u32 }
struct CompensateParams { outputs: u32, inputs: u32, taps: u32, flags: u32 }

@group(0) @binding(0) var<uniform> rows: RowsParams;
@group(0) @binding(1) var<uniform> comp: CompensateParams;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;          // 0/1 per row (multiply_rows) or per input (compensate)
@group(0) @binding(4) var<storage, read> weight: array<f32>;        // compensate: the consumer's weight [O, I, K]
@group(0) @binding(5) var<storage, read> beta: array<f32>;          // compensate: β of the feeding BatchNorm at each input [I]
@group(0) @binding(6) var<storage, read> kept: array<u32>;          // compensate: the original output row of each adjusted entry
@group(0) @binding(7) var<storage, read_write> adjusted: array<f32>; // compensate: running mean or bias to adjust

// x[i] *= mask[i / row] over rows.n elements: x seen as [n / row, row] rows, each kept or zeroed.
@compute @workgroup_size(256, 1, 1)
fn multiply_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid.x;
  if (i >= rows.n) { return; }
  x[i] = x[i] * mask[i / rows.row];
}

// Bias compensation: a pruned input i (mask[i] = 0) carries the constant β[i] (relu(β[i]) when
// flags & 2), which the consumer turns into Σ_k weight[o, i, k] · that value on every output o
// (exact away from zero padding). adjusted[j] += that sum over the pruned inputs for output
// o = kept[j] (subtracted when flags & 1: a BatchNorm's running mean).
@compute @workgroup_size(64, 1, 1)
fn compensate(@builtin(global_invocation_id) g: vec3u) {
  let j = g.x;
  if (j >= comp.outputs) { return; }
  let o = kept[j];
  var acc = 0.0;
  for (var i = 0u; i < comp.inputs; i++) {
    if (mask[i] == 0.0) {
      var b = beta[i];
      if ((comp.flags & 2u) != 0u) { b = max(b, 0.0); }
      var s = 0.0;
      let base = (o * comp.inputs + i) * comp.taps;
      for (var k = 0u; k < comp.taps; k++) { s += weight[base + k]; }
      acc += b * s;
    }
  }
  adjusted[j] = adjusted[j] + select(acc, -acc, (comp.flags & 1u) != 0u);
}
