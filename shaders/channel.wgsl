// Channel ops on NCHW tensors seen per sample as [C, S], S = H·W (any trailing dims). Concat:
// insert_slice copies one input [N, Cp, S] into the output [N, Ctot, S] at a channel offset and
// its backward extract_slice copies that window out of dy. Selection (Network Slimming's
// channel_selection): y[n, j] = x[n, idx[j]], a gather; its backward zero-fills dx and scatters dy
// into the kept channels (indices unique). One invocation per element of the smaller tensor; nothing is saved.

// Concat: `piece` = Cp·S, `whole` = Ctot·S, `offset` = first channel · S; n = N·piece.
struct SliceParams { n: u32, piece: u32, whole: u32, offset: u32 }
// Selection: n = elements iterated, `spatial` = S, `kept` = k, `channels` = C of x.
struct SelectParams { n: u32, spatial: u32, kept: u32, channels: u32 }

@group(0) @binding(0) var<uniform> sp: SliceParams;
@group(0) @binding(1) var<uniform> gp: SelectParams;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> indices: array<u32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

fn flat_index(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * 256u + lid.x;
}

// Index into the whole tensor of element i of the slice.
fn whole_index(i: u32) -> u32 {
  let n = i / sp.piece;
  return n * sp.whole + sp.offset + (i - n * sp.piece);
}

// dst (whole) ← src (piece)
@compute @workgroup_size(256, 1, 1)
fn insert_slice(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= sp.n) { return; }
  dst[whole_index(i)] = src[i];
}

// dst (piece) ← src (whole)
@compute @workgroup_size(256, 1, 1)
fn extract_slice(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= sp.n) { return; }
  dst[i] = src[whole_index(i)];
}

// Element i of the selected tensor [N, k, S]: (offset of sample n in x, kept slot j, s).
fn selected_parts(i: u32) -> vec3u {
  let per_sample = gp.kept * gp.spatial;
  let n = i / per_sample;
  let r = i - n * per_sample;
  let j = r / gp.spatial;
  return vec3u(n * gp.channels * gp.spatial, j, r - j * gp.spatial);
}

// dst [N, k, S] ← src [N, C, S] gathered by indices; an index ≥ C gives 0.
@compute @workgroup_size(256, 1, 1)
fn select_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= gp.n) { return; }
  let q = selected_parts(i);
  let c = indices[q.y];
  let v = src[q.x + min(c, gp.channels - 1u) * gp.spatial + q.z];
  dst[i] = select(0.0, v, c < gp.channels);
}

// dst = 0 over gp.n elements (the dx that select_scatter then fills).
@compute @workgroup_size(256, 1, 1)
fn zero_fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= gp.n) { return; }
  dst[i] = 0.0;
}

// dst [N, C, S] at kept channels ← src (dy) [N, k, S]; an index ≥ C is dropped.
@compute @workgroup_size(256, 1, 1)
fn select_scatter(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat_index(wid, nwg, lid);
  if (i >= gp.n) { return; }
  let q = selected_parts(i);
  let c = indices[q.y];
  if (c >= gp.channels) { return; }
  dst[q.x + c * gp.spatial + q.z] = src[i];
}
