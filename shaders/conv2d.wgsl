// 2-D convolution without bias as implicit GEMMs; x [N, C, H, W], w [O, C, KH, KW] (PyTorch OIHW),
// y and dy [N, O, OH, OW], all f32. The forward and the input gradient share the conv_* kernels: a
// job computes out[n, r, pixel] = Σ_{q, i, j} weight(r, q, i, j) · in[n, q, row, col] (forward: r = o,
// q = c; dgrad: r = c, q = o, one job per stride phase, taps reversed). The wgrad_* kernels sum
// dy·x over a slice of (n, oh) rows into partials [slice, O·C·KH·KW]. Each regblock invocation keeps
// a block of outputs in registers; the forward saves nothing (the backward reads x, w and dy).

// Lines starting {{SG}} exist only in the subgroup build and {{NOSG}} lines only in the other (a
// module naming subgroup builtins cannot be created on a device without the feature). ROWS/RG8/RG12/RG16:
// output rows per lane, 4, 8 (RG8 on), 12 (RG8, RG12) or 16 (RG8, RG12, RG16); TN/P1/R2/R4: block shape of
// conv3x3_regblock; TAPS/TAP1: conv_regblock with tap loops, or for a single tap without them.
{{SG}}enable subgroups;

// One conv_* job (see ConvJob in src/ops/conv2d.ts): M output rows, Q input channels, TI×TJ taps;
// grid pixel (n, a, b) reads in row a·in_ys + row0 + i, column b·in_xs + col0 + j and writes out
// row out_y0 + a·out_ys, column out_x0 + b·out_xs; weight(r, q, i, j) = w[r·w_r + q·w_q + i·w_i +
// j·w_j + w_0]. A regblock dispatch computes rows from r_base on: a job whose M is not a multiple
// of 16 runs its last rows as further dispatches with 8 or 4 rows per lane (conv_tiled ignores it).
struct Conv {
  M: u32, Q: u32, TI: u32, TJ: u32,
  NB: u32, GA: u32, GB: u32,
  out_n: u32, out_c: u32, out_w: u32, out_y0: u32, out_x0: u32, out_ys: u32, out_xs: u32,
  in_n: u32, in_c: u32, in_h: u32, in_w: u32, in_ys: u32, in_xs: u32,
  row0: i32, col0: i32,
  w_r: u32, w_q: u32, w_i: i32, w_j: i32, w_0: u32,
  r_base: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// Evaluation epilogue of a forward job (lines {{BN}}, {{RELU}}, {{ADD}}), applied to the output
// at index i before the store, so the activation is written once: BatchNorm2d with its running
// statistics, y = (v − mean)·γ/√(var + eps) + β as batchNormForwardEval computes it, then ReLU,
// then the residual sum y + residual[i] (an Add fed by the convolution). The BatchNorm2d channel
// is the output row ({{BNROWS}} lines), or the grid pixel for per-pixel jobs ({{BNCOLS}}; the
// regblock conv_* kernels only).
@group(0) @binding(7) var<storage, read> bn_gamma: array<f32>;
@group(0) @binding(8) var<storage, read> bn_beta: array<f32>;
@group(0) @binding(9) var<storage, read> bn_mean: array<f32>;
@group(0) @binding(10) var<storage, read> bn_var: array<f32>;
@group(0) @binding(11) var<storage, read> residual: array<f32>;
// The BatchNorm2d coefficients (mean, γ/√(var + eps), β; identity without BN) of channels
// c0..c0+3 (clamped to n − 1), loaded once per block.
struct Epi { mean: vec4f, scale: vec4f, shift: vec4f }
fn epi_chans(c0: u32, n: u32) -> Epi {
  var e = Epi(vec4f(0.0), vec4f(1.0), vec4f(0.0));
{{BN}}  let r = min(vec4u(c0) + vec4u(0u, 1u, 2u, 3u), vec4u(n - 1u));
{{BN}}  e.mean = vec4f(bn_mean[r.x], bn_mean[r.y], bn_mean[r.z], bn_mean[r.w]);
{{BN}}  e.scale = vec4f(bn_gamma[r.x], bn_gamma[r.y], bn_gamma[r.z], bn_gamma[r.w]) / sqrt(vec4f(bn_var[r.x], bn_var[r.y], bn_var[r.z], bn_var[r.w]) + p.eps);
{{BN}}  e.shift = vec4f(bn_beta[r.x], bn_beta[r.y], bn_beta[r.z], bn_beta[r.w]);
  return e;
}
// the coefficients of output rows r0..r0+3 (the channels of a grid job)
fn epi_rows(r0: u32) -> Epi { return epi_chans(r0, p.M); }
// The coefficients of a conv_regblock block at rows r0.., pixels pix0..: per row, or (BNCOLS) per
// pixel, for the per-pixel jobs of small images, whose grid pixels are the channels (NB of them)
// and whose rows are the samples.
fn epi_block(r0: u32, pix0: u32) -> Epi {
{{BNROWS}}  return epi_rows(r0);
{{BNCOLS}}  return epi_chans(pix0, p.NB);
}
// The coefficients of row i of a block for its 4 pixels: that row's (cols[i], as `row`), or with
// BNCOLS the pixels' own.
fn pick(row: f32, cols: vec4f) -> vec4f {
{{BNROWS}}  return vec4f(row);
{{BNCOLS}}  return cols;
}
// v of an output row with BatchNorm2d coefficients (mean, scale, shift), stored at output index k
fn epilogue1(v: f32, mean: f32, scale: f32, shift: f32, k: u32) -> f32 {
  var o = v;
{{BN}}  o = (o - mean) * scale + shift;
{{RELU}}  o = max(o, 0.0);
{{ADD}}  o = o + residual[k];
  return o;
}
// v of row i, pixel j of a block with coefficients e (see epi_block), stored at output index k
fn epilogue(v: f32, e: Epi, i: u32, j: u32, k: u32) -> f32 {
{{BNROWS}}  let c = i;
{{BNCOLS}}  let c = j;
  return epilogue1(v, e.mean[c], e.scale[c], e.shift[c], k);
}
// Stores v (4 pixels of one output row, at k, k + s, k + 2s, k + 3s) through the epilogue with
// the pixels' coefficients. Every index is a constant: SwiftShader turns a dynamically indexed
// vector or matrix into memory accesses, which made the looped store cost as much as 40 input
// channels of a 1x1 convolution.
fn put4(v: vec4f, mean: vec4f, scale: vec4f, shift: vec4f, k: u32, s: u32) {
  y[k] = epilogue1(v.x, mean.x, scale.x, shift.x, k);
  y[k + s] = epilogue1(v.y, mean.y, scale.y, shift.y, k + s);
  y[k + 2u * s] = epilogue1(v.z, mean.z, scale.z, shift.z, k + 2u * s);
  y[k + 3u * s] = epilogue1(v.w, mean.w, scale.w, shift.w, k + 3u * s);
}
// Stores a whole 4-row x 4-pixel block (m[j][i]: pixel j, row i) at output index o (row step
// out_c, pixel step s) through the epilogue.
fn put4x4(m: mat4x4f, o: u32, s: u32, e: Epi) {
  let t = transpose(m);
  put4(t[0], pick(e.mean.x, e.mean), pick(e.scale.x, e.scale), pick(e.shift.x, e.shift), o, s);
  put4(t[1], pick(e.mean.y, e.mean), pick(e.scale.y, e.scale), pick(e.shift.y, e.shift), o + p.out_c, s);
  put4(t[2], pick(e.mean.z, e.mean), pick(e.scale.z, e.scale), pick(e.shift.z, e.shift), o + 2u * p.out_c, s);
  put4(t[3], pick(e.mean.w, e.mean), pick(e.scale.w, e.scale), pick(e.shift.w, e.shift), o + 3u * p.out_c, s);
}

// wgrad geometry; a slice is rows_per_slice (n, oh) rows and writes out_slice values.
struct Wgrad {
  N: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32, KW: u32,
  sh: u32, sw: u32, ph: u32, pw: u32,
  rows_per_slice: u32, out_slice: u32,
}
@group(0) @binding(4) var<uniform> g: Wgrad;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dw: array<f32>;

// --------------------------------------------------------------------------------- shared helpers

// x at a signed offset, 0 where the tap falls in the padding (the load may then read any element).
fn xld(i: i32, ok: bool) -> f32 { return select(0.0, x[u32(i)], ok); }
fn xld4(o: vec4i, ok: vec4<bool>) -> vec4f {
  return select(vec4f(0.0), vec4f(x[u32(o.x)], x[u32(o.y)], x[u32(o.z)], x[u32(o.w)]), ok);
}
// column j = a · b[j]: a rank-1 update of a 4x4 block (rows from a, columns from b)
fn outer(a: vec4f, b: vec4f) -> mat4x4f { return mat4x4f(a * b.x, a * b.y, a * b.z, a * b.w); }

// A weight shared by the 4 output rows of a row group: with subgroups, lane l loaded the weight of
// row (l & 3) and the four values are broadcast; without, each lane loads all four.
fn bc4(v: f32) -> vec4f {
{{SG}}  return vec4f(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u));
{{NOSG}}  return vec4f(v);
}
// weight(r0 + 0..3, …) at index i of row r0 (with subgroups, i is already this lane's row)
fn wld4(i: i32) -> vec4f {
{{SG}}  return bc4(w[u32(i)]);
{{NOSG}}  let r = i32(p.w_r);
{{NOSG}}  return vec4f(w[u32(i)], w[u32(i + r)], w[u32(i + 2 * r)], w[u32(i + 3 * r)]);
}

// ------------------------------------------------------------------- forward and dgrad (regblock)
//
// Helper functions take and return whole accumulator structs instead of looping over arrays:
// SwiftShader keeps dynamically indexed arrays in memory (a gather per access), and every value
// carried around a loop costs it a merge per iteration, so loops are few and long.

// Grid pixel pi of a job: input offset of its sample, first input row and column of its taps.
struct Pix { base: i32, row: i32, col: i32 }
fn pixel(pi: u32) -> Pix {
  let per_n = p.GA * p.GB;
  let n = pi / per_n;
  let rem = pi - n * per_n;
  let a = rem / p.GB;
  let b = rem - a * p.GB;
  return Pix(i32(n * p.in_n), i32(a * p.in_ys) + p.row0, i32(b * p.in_xs) + p.col0);
}
// output index of grid pixel pi, output row r
fn out_index(pi: u32, r: u32) -> u32 {
  let per_n = p.GA * p.GB;
  let n = pi / per_n;
  let rem = pi - n * per_n;
  let a = rem / p.GB;
  let b = rem - a * p.GB;
  return n * p.out_n + r * p.out_c + (p.out_y0 + a * p.out_ys) * p.out_w + p.out_x0 + b * p.out_xs;
}
// stores m[j][i] to output row r0 + i of grid pixel pix0 + j, inside the job
fn store_block(m: mat4x4f, pix0: u32, r0: u32, npix: u32, e: Epi) {
  // the usual case: 4 rows inside the job, 4 pixels in one grid row (or, for a grid of one pixel
  // per sample, in consecutive samples)
  let one = p.GA * p.GB == 1u;
  if ((r0 + 3u < p.M) & (pix0 + 3u < npix) & (one | (pix0 % p.GB + 3u < p.GB))) {
    put4x4(m, out_index(pix0, r0), select(p.out_xs, p.out_n, one), e);
    return;
  }
  for (var j = 0u; j < 4u; j++) {
    if (pix0 + j < npix) {
      let o = out_index(pix0 + j, r0);
      for (var i = 0u; i < 4u; i++) {
        if (r0 + i < p.M) { let k = o + i * p.out_c; y[k] = epilogue(m[j][i], e, i, j, k); }
      }
    }
  }
}

// Four pixels of a conv_regblock invocation: input offset of the sample, first input row and column.
struct PixG { base: vec4i, row: vec4i, col: vec4i }
fn pixel4(pi: u32, last: u32) -> PixG {
  let a = pixel(min(pi, last)); let b = pixel(min(pi + 1u, last));
  let c = pixel(min(pi + 2u, last)); let d = pixel(min(pi + 3u, last));
  return PixG(vec4i(a.base, b.base, c.base, d.base), vec4i(a.row, b.row, c.row, d.row), vec4i(a.col, b.col, c.col, d.col));
}
// Input offsets (channel 0) and validity of tap (i, j) for four pixels.
struct Tap { off: vec4i, ok: vec4<bool> }
fn tap4(px: PixG, i: u32, j: u32) -> Tap {
  let r = px.row + vec4i(i32(i));
  let c = px.col + vec4i(i32(j));
  return Tap(px.base + r * i32(p.in_w) + c, (vec4u(r) < vec4u(p.in_h)) & (vec4u(c) < vec4u(p.in_w)));
}
// Outputs of 4 rows x 8 pixels; pg holds pixels 4g..4g+3.
struct Acc8 { p0: mat4x4f, p1: mat4x4f }
fn outer8(acc: Acc8, w4: vec4f, x0: vec4f, x1: vec4f) -> Acc8 {
  return Acc8(acc.p0 + outer(w4, x0), acc.p1 + outer(w4, x1));
}
fn store_block8(m: Acc8, pix0: u32, r0: u32, npix: u32) {
  let e0 = epi_block(r0, pix0);
{{BNROWS}}  let e1 = e0;
{{BNCOLS}}  let e1 = epi_block(r0, pix0 + 4u);
  store_block(m.p0, pix0, r0, npix, e0); store_block(m.p1, pix0 + 4u, r0, npix, e1);
}

// Any taps and strides: 8 consecutive grid pixels (in any rows) x ROWS (16, 12, 8 or 4) output rows
// per lane. Taps outer, input channels inner, so the inner loop only steps offsets. (16 pixels per lane measured no faster on SwiftShader.)
@compute @workgroup_size({{WG}}, 1, 1)
fn conv_regblock(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u
{{SG}}, @builtin(subgroup_invocation_id) sg_lane: u32
) {
{{NOSG}}  let sg_lane = 0u;
  let npix = p.NB * p.GA * p.GB;
  let pix0 = ((wid.x + wid.z * nwg.x) * {{WG}}u + lid.x) * 8u;
  let r0 = p.r_base + wid.y * {{ROWS}}u;
  let last = npix - 1u;
  let G0 = pixel4(pix0, last); let G1 = pixel4(pix0 + 4u, last);
  let in_c = vec4i(i32(p.in_c));
  let w_r4 = 4 * i32(p.w_r);
{{SG}}  let wrow = i32((r0 + (sg_lane & 3u)) * p.w_r + p.w_0);
{{NOSG}}  let wrow = i32(r0 * p.w_r + p.w_0);
  var A: Acc8; var B: Acc8; var C: Acc8; var D: Acc8;
{{TAPS}}  for (var i = 0u; i < p.TI; i++) {
{{TAP1}}  { let i = 0u;
{{TAPS}}    for (var j = 0u; j < p.TJ; j++) {
{{TAP1}}    { let j = 0u;
      let T0 = tap4(G0, i, j); let T1 = tap4(G1, i, j);
      var o0 = T0.off; var o1 = T1.off;
      var wi = wrow + i32(i) * p.w_i + i32(j) * p.w_j;
      for (var q = 0u; q < p.Q; q++) {
        let X0 = xld4(o0, T0.ok); let X1 = xld4(o1, T1.ok);
        A = outer8(A, wld4(wi), X0, X1);
{{RG8}}        B = outer8(B, wld4(wi + w_r4), X0, X1);
{{RG12}}        C = outer8(C, wld4(wi + 2 * w_r4), X0, X1);
{{RG16}}        D = outer8(D, wld4(wi + 3 * w_r4), X0, X1);
        o0 += in_c; o1 += in_c;
        wi += i32(p.w_q);
      }
    }
  }
  store_block8(A, pix0, r0, npix);
{{RG8}}  store_block8(B, pix0, r0 + 4u, npix);
{{RG12}}  store_block8(C, pix0, r0 + 8u, npix);
{{RG16}}  store_block8(D, pix0, r0 + 12u, npix);
}

// ------------------------------------------------------------ 1x1, stride 1, in 4-pixel vectors
//
// A 1x1 stride-1 unpadded job whose images have a multiple of 4 pixels reads and writes whole
// 4-pixel vectors: the same buffers bound as arrays of vec4f (x4, y4, residual4). SwiftShader runs
// each scalar load or store of a lane as its own bounds-checked access, and at few input channels
// those accesses, not the products, were the time of a 1x1 layer (ResNet's last conv of a block
// writes 4× as many channels as it reads). Same products in the same order as conv_regblock, so
// the results are bit for bit the same.
@group(0) @binding(12) var<storage, read> x4: array<vec4f>;
@group(0) @binding(13) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(14) var<storage, read> residual4: array<vec4f>;

// the epilogue of 4 pixels of one output row, stored at vector index k
fn epilogue_v4(v: vec4f, mean: f32, scale: f32, shift: f32, k: u32) -> vec4f {
  var o = v;
{{BN}}  o = (o - mean) * scale + shift;
{{RELU}}  o = max(o, vec4f(0.0));
{{ADD}}  o = o + residual4[k];
  return o;
}
// stores 4 rows x 4 pixels (m[j][i]: pixel j, row i) at vector index k of row r0 (row step cs)
fn put_v4(m: mat4x4f, k: u32, cs: u32, r0: u32, e: Epi) {
  let t = transpose(m);
  if (r0 + 3u < p.M) {
    y4[k] = epilogue_v4(t[0], e.mean.x, e.scale.x, e.shift.x, k);
    y4[k + cs] = epilogue_v4(t[1], e.mean.y, e.scale.y, e.shift.y, k + cs);
    y4[k + 2u * cs] = epilogue_v4(t[2], e.mean.z, e.scale.z, e.shift.z, k + 2u * cs);
    y4[k + 3u * cs] = epilogue_v4(t[3], e.mean.w, e.scale.w, e.shift.w, k + 3u * cs);
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    if (r0 + i < p.M) { let ki = k + i * cs; y4[ki] = epilogue_v4(t[i], e.mean[i], e.scale[i], e.shift[i], ki); }
  }
}
// vector index of the 4 pixels from grid pixel pi (a multiple of 4) in row 0 of a tensor with
// sample stride n_stride
fn vec_index(pi: u32, n_stride: u32) -> u32 {
  let plane = p.GA * p.GB;
  let n = pi / plane;
  return (n * n_stride + pi - n * plane) / 4u;
}
fn store_v4x8(m: Acc8, pix0: u32, r0: u32, npix: u32, cs: u32) {
  let e = epi_rows(r0);
  put_v4(m.p0, vec_index(pix0, p.out_n) + r0 * cs, cs, r0, e);
  if (pix0 + 4u < npix) { put_v4(m.p1, vec_index(pix0 + 4u, p.out_n) + r0 * cs, cs, r0, e); }
}

// 8 consecutive pixels (two vectors, each inside one sample) x ROWS output rows per lane.
@compute @workgroup_size({{WG}}, 1, 1)
fn conv1x1_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u
{{SG}}, @builtin(subgroup_invocation_id) sg_lane: u32
) {
{{NOSG}}  let sg_lane = 0u;
  let npix = p.NB * p.GA * p.GB;
  let pix0 = ((wid.x + wid.z * nwg.x) * {{WG}}u + lid.x) * 8u;
  let r0 = p.r_base + wid.y * {{ROWS}}u;
  // vector indices of the two input vectors (the second clamped into the tensor when past its end)
  var i0 = vec_index(min(pix0, npix - 4u), p.in_n);
  var i1 = vec_index(min(pix0 + 4u, npix - 4u), p.in_n);
  let step = p.in_c / 4u;
  let w_r4 = 4 * i32(p.w_r);
{{SG}}  var wi = i32((r0 + (sg_lane & 3u)) * p.w_r + p.w_0);
{{NOSG}}  var wi = i32(r0 * p.w_r + p.w_0);
  var A: Acc8; var B: Acc8; var C: Acc8; var D: Acc8;
  for (var q = 0u; q < p.Q; q++) {
    let X0 = x4[i0]; let X1 = x4[i1];
    A = outer8(A, wld4(wi), X0, X1);
{{RG8}}    B = outer8(B, wld4(wi + w_r4), X0, X1);
{{RG12}}    C = outer8(C, wld4(wi + 2 * w_r4), X0, X1);
{{RG16}}    D = outer8(D, wld4(wi + 3 * w_r4), X0, X1);
    i0 += step; i1 += step;
    wi += i32(p.w_q);
  }
  if (pix0 >= npix) { return; }
  let cs = p.out_c / 4u;
  store_v4x8(A, pix0, r0, npix, cs);
{{RG8}}  store_v4x8(B, pix0, r0 + 4u, npix, cs);
{{RG12}}  store_v4x8(C, pix0, r0 + 8u, npix, cs);
{{RG16}}  store_v4x8(D, pix0, r0 + 12u, npix, cs);
}

// weights of 4 output rows x 3 window columns starting at weight index wk (column step w_j)
fn wmat3(wk: i32) -> mat3x4f {
  return mat3x4f(wld4(wk), wld4(wk + p.w_j), wld4(wk + 2 * p.w_j));
}

// One input row's window for TN (4 or 8) consecutive output columns: pg[u][t] = x[o + 4g + u + t]
// for column 4g + u and tap t (p1 only when TN = 8).
struct Win { p0: mat4x3f, p1: mat4x3f }
fn xrow(o: i32, r: bool, iw: i32) -> Win {
  let in_w = p.in_w;
  var win: Win;
  let x0 = xld(o, r & (u32(iw) < in_w)); let x1 = xld(o + 1, r & (u32(iw + 1) < in_w));
  let x2 = xld(o + 2, r & (u32(iw + 2) < in_w)); let x3 = xld(o + 3, r & (u32(iw + 3) < in_w));
  let x4 = xld(o + 4, r & (u32(iw + 4) < in_w)); let x5 = xld(o + 5, r & (u32(iw + 5) < in_w));
  win.p0 = mat4x3f(vec3f(x0, x1, x2), vec3f(x1, x2, x3), vec3f(x2, x3, x4), vec3f(x3, x4, x5));
{{P1}}  let x6 = xld(o + 6, r & (u32(iw + 6) < in_w)); let x7 = xld(o + 7, r & (u32(iw + 7) < in_w));
{{P1}}  let x8 = xld(o + 8, r & (u32(iw + 8) < in_w)); let x9 = xld(o + 9, r & (u32(iw + 9) < in_w));
{{P1}}  win.p1 = mat4x3f(vec3f(x4, x5, x6), vec3f(x5, x6, x7), vec3f(x6, x7, x8), vec3f(x7, x8, x9));
  return win;
}

// Outputs of 4 output rows x 16 pixels of conv3x3_regblock: for TN = 8, p0/p1 are columns 0..3/4..7
// of grid row 0 and p2/p3 those of row 1; for TN = 4, pr is grid row r.
struct Acc { p0: mat4x4f, p1: mat4x4f, p2: mat4x4f, p3: mat4x4f }

// stores 4 rows x 4 consecutive grid columns of grid row (n, a); column j of m = grid column b + j
fn store_row(m: mat4x4f, n: u32, a: u32, b: u32, r0: u32, e: Epi) {
  let o = n * p.out_n + r0 * p.out_c + (p.out_y0 + a * p.out_ys) * p.out_w + p.out_x0 + b * p.out_xs;
  if ((r0 + 3u < p.M) & (b + 3u < p.GB)) {
    put4x4(m, o, p.out_xs, e);
    return;
  }
  for (var j = 0u; j < 4u; j++) {
    if (b + j < p.GB) {
      for (var i = 0u; i < 4u; i++) {
        if (r0 + i < p.M) { let k = o + j * p.out_xs + i * p.out_c; y[k] = epilogue(m[j][i], e, i, j, k); }
      }
    }
  }
}

// Weights of one input channel for one group of 4 output rows: kernel rows kh = 0, 1, 2.
struct W3 { k0: mat3x4f, k1: mat3x4f, k2: mat3x4f }
fn wrows(wk: i32) -> W3 { return W3(wmat3(wk), wmat3(wk + p.w_i), wmat3(wk + 2 * p.w_i)); }

// acc += the 3x3 taps of one input channel for a block of 2 output rows x 8 columns (p0, p1: row
// 0; p2, p3: row 1) from the windows of input rows 0..3.
fn acc2x8(acc: Acc, w: W3, X0: Win, X1: Win, X2: Win, X3: Win) -> Acc {
  var r = acc;
  r.p0 += w.k0 * X0.p0 + w.k1 * X1.p0 + w.k2 * X2.p0;
  r.p1 += w.k0 * X0.p1 + w.k1 * X1.p1 + w.k2 * X2.p1;
  r.p2 += w.k0 * X1.p0 + w.k1 * X2.p0 + w.k2 * X3.p0;
  r.p3 += w.k0 * X1.p1 + w.k1 * X2.p1 + w.k2 * X3.p1;
  return r;
}
// the same for 4 output rows x 4 columns (pr: row r) from the windows of input rows 0..5
fn acc4x4(acc: Acc, w: W3, X0: Win, X1: Win, X2: Win, X3: Win, X4: Win, X5: Win) -> Acc {
  var r = acc;
  r.p0 += w.k0 * X0.p0 + w.k1 * X1.p0 + w.k2 * X2.p0;
  r.p1 += w.k0 * X1.p0 + w.k1 * X2.p0 + w.k2 * X3.p0;
  r.p2 += w.k0 * X2.p0 + w.k1 * X3.p0 + w.k2 * X4.p0;
  r.p3 += w.k0 * X3.p0 + w.k1 * X4.p0 + w.k2 * X5.p0;
  return r;
}

// 3x3 taps stepping one input row and column per grid pixel (stride 1): a lane covers 2 grid rows
// x 8 columns (TN = 8) or 4 x 4 (TN = 4), so neighbouring pixels share input windows (a 4x10 or 6x6
// patch per input channel) and each weight serves 16 pixels; ROWS (16, 12, 8 or 4) output rows.
@compute @workgroup_size({{WG}}, 1, 1)
fn conv3x3_regblock(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u
{{SG}}, @builtin(subgroup_invocation_id) sg_lane: u32
) {
{{NOSG}}  let sg_lane = 0u;
  let RB = 16u / {{TN}}u;
  let nb = (p.GB + {{TN}}u - 1u) / {{TN}}u;
  let na = (p.GA + RB - 1u) / RB;
  let blocks = p.NB * na * nb;
  let bi = (wid.x + wid.z * nwg.x) * {{WG}}u + lid.x;
  let blk = min(bi, blocks - 1u);
  let grow = blk / nb;
  let b0 = (blk - grow * nb) * {{TN}}u;
  let n = grow / na;
  let a0 = (grow - n * na) * RB;
  let r0 = p.r_base + wid.y * {{ROWS}}u;
  let ih0 = i32(a0) + p.row0;
  let iw0 = i32(b0) + p.col0;
  let in_w = i32(p.in_w);
  var xo = i32(n * p.in_n) + ih0 * in_w + iw0;
  let k0 = u32(ih0) < p.in_h; let k1 = u32(ih0 + 1) < p.in_h; let k2 = u32(ih0 + 2) < p.in_h;
  let k3 = u32(ih0 + 3) < p.in_h; let k4 = u32(ih0 + 4) < p.in_h; let k5 = u32(ih0 + 5) < p.in_h;
{{SG}}  var wo = i32((r0 + (sg_lane & 3u)) * p.w_r + p.w_0);
{{NOSG}}  var wo = i32(r0 * p.w_r + p.w_0);
  let w_r4 = 4 * i32(p.w_r);
  var A: Acc; var B: Acc; var C: Acc; var D: Acc;
  for (var q = 0u; q < p.Q; q++) {
    let X0 = xrow(xo, k0, iw0); let X1 = xrow(xo + in_w, k1, iw0);
    let X2 = xrow(xo + 2 * in_w, k2, iw0); let X3 = xrow(xo + 3 * in_w, k3, iw0);
{{R2}}    A = acc2x8(A, wrows(wo), X0, X1, X2, X3);
{{R2}}{{RG8}}    B = acc2x8(B, wrows(wo + w_r4), X0, X1, X2, X3);
{{R2}}{{RG12}}    C = acc2x8(C, wrows(wo + 2 * w_r4), X0, X1, X2, X3);
{{R2}}{{RG16}}    D = acc2x8(D, wrows(wo + 3 * w_r4), X0, X1, X2, X3);
{{R4}}    let X4 = xrow(xo + 4 * in_w, k4, iw0); let X5 = xrow(xo + 5 * in_w, k5, iw0);
{{R4}}    A = acc4x4(A, wrows(wo), X0, X1, X2, X3, X4, X5);
{{R4}}{{RG8}}    B = acc4x4(B, wrows(wo + w_r4), X0, X1, X2, X3, X4, X5);
{{R4}}{{RG12}}    C = acc4x4(C, wrows(wo + 2 * w_r4), X0, X1, X2, X3, X4, X5);
{{R4}}{{RG16}}    D = acc4x4(D, wrows(wo + 3 * w_r4), X0, X1, X2, X3, X4, X5);
    xo += i32(p.in_c);
    wo += i32(p.w_q);
  }
  if (bi < blocks) {
    store_rows(A, n, a0, b0, r0);
{{RG8}}    store_rows(B, n, a0, b0, r0 + 4u);
{{RG12}}    store_rows(C, n, a0, b0, r0 + 8u);
{{RG16}}    store_rows(D, n, a0, b0, r0 + 12u);
  }
}

fn store_rows(m: Acc, n: u32, a: u32, b: u32, r0: u32) {
  let e = epi_rows(r0);
{{R2}}  store_row(m.p0, n, a, b, r0, e); store_row(m.p1, n, a, b + 4u, r0, e);
{{R2}}  if (a + 1u < p.GA) { store_row(m.p2, n, a + 1u, b, r0, e); store_row(m.p3, n, a + 1u, b + 4u, r0, e); }
{{R4}}  store_row(m.p0, n, a, b, r0, e);
{{R4}}  if (a + 1u < p.GA) { store_row(m.p1, n, a + 1u, b, r0, e); }
{{R4}}  if (a + 2u < p.GA) { store_row(m.p2, n, a + 2u, b, r0, e); }
{{R4}}  if (a + 3u < p.GA) { store_row(m.p3, n, a + 3u, b, r0, e); }
}

// ---------------------------------------------------------------------------------- wgrad (regblock)

// Lanes share the output channels and differ in dw columns, so dy is what subgroups broadcast.
fn dyld(i: u32, ok: bool) -> f32 { return select(0.0, dy[i], ok); }
// dy of the 4 output channels of a row group at one pixel (channel stride ohw)
fn dy4(i: u32, ok: bool, ohw: u32) -> vec4f {
{{SG}}  return bc4(dyld(i, ok));
{{NOSG}}  return vec4f(dyld(i, ok), dyld(i + ohw, ok), dyld(i + 2u * ohw, ok), dyld(i + 3u * ohw, ok));
}

// 3x3 taps, column stride 1: two input channels c0 = 2·lane, c1 = c0 + 1 per lane (each dy value
// loaded serves both), 16 output channels, all 9 taps; the K slice is a range of (n, oh) rows,
// walked 4 output columns at a time with a 3x6 input window per channel.
@compute @workgroup_size(4, 1, 1)
fn wgrad3x3_regblock(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u
{{SG}}, @builtin(subgroup_invocation_id) sg_lane: u32
) {
{{NOSG}}  let sg_lane = 0u;
  let ci = (wid.x * 4u + lid.x) * 2u;
  let c = min(ci, g.C - 1u);
  let o0 = wid.y * 16u;
  let rows = g.N * g.OH;
  let row_begin = wid.z * g.rows_per_slice;
  let row_end = min(row_begin + g.rows_per_slice, rows);
  let OHW = g.OH * g.OW;
  let HW = g.H * g.W;
  let Wi = i32(g.W);
  // the second channel's offset from the first (0 when c0 is the last channel: computed, not stored)
  let c1 = i32(select(0u, HW, ci + 1u < g.C));
{{SG}}  let lane_o = o0 + (sg_lane & 3u);
{{NOSG}}  let lane_o = o0;
  let grp = 4u * OHW;
  var P: WTaps; var Q: WTaps;
  // One flat loop over the 4-column chunks of the slice's rows (a nested row/column loop costs
  // SwiftShader a merge of every accumulator per row, as much as two chunks of work).
  let per_row = (g.OW + 3u) / 4u;
  let chunks = (row_end - min(row_begin, row_end)) * per_row;
  var n = row_begin / g.OH;
  var oh = row_begin - n * g.OH;
  var ow0 = 0u;
  for (var k = 0u; k < chunks; k++) {
    let ih0 = i32(oh * g.sh) - i32(g.ph);
    let rk0 = u32(ih0) < g.H; let rk1 = u32(ih0 + 1) < g.H; let rk2 = u32(ih0 + 2) < g.H;
    let iw0 = i32(ow0) - i32(g.pw);
    let k0 = u32(iw0) < g.W; let k1 = u32(iw0 + 1) < g.W; let k2 = u32(iw0 + 2) < g.W;
    let k3 = u32(iw0 + 3) < g.W; let k4 = u32(iw0 + 4) < g.W; let k5 = u32(iw0 + 5) < g.W;
    let xo = i32(n * g.C * HW + c * HW) + ih0 * Wi + iw0;
    let X = XWin(xwin(xo, rk0, k0, k1, k2, k3, k4, k5), xwin(xo + Wi, rk1, k0, k1, k2, k3, k4, k5), xwin(xo + 2 * Wi, rk2, k0, k1, k2, k3, k4, k5));
    let xp = xo + c1;
    let Y = XWin(xwin(xp, rk0, k0, k1, k2, k3, k4, k5), xwin(xp + Wi, rk1, k0, k1, k2, k3, k4, k5), xwin(xp + 2 * Wi, rk2, k0, k1, k2, k3, k4, k5));
    let m1 = ow0 + 1u < g.OW; let m2 = ow0 + 2u < g.OW; let m3 = ow0 + 3u < g.OW;
    let d = (n * g.O + lane_o) * OHW + oh * g.OW + ow0;
    let DA = mat4x4f(dy4(d, true, OHW), dy4(d + 1u, m1, OHW), dy4(d + 2u, m2, OHW), dy4(d + 3u, m3, OHW));
    let e = d + grp;
    let DB = mat4x4f(dy4(e, true, OHW), dy4(e + 1u, m1, OHW), dy4(e + 2u, m2, OHW), dy4(e + 3u, m3, OHW));
    let f = e + grp;
    let DC = mat4x4f(dy4(f, true, OHW), dy4(f + 1u, m1, OHW), dy4(f + 2u, m2, OHW), dy4(f + 3u, m3, OHW));
    let h = f + grp;
    let DD = mat4x4f(dy4(h, true, OHW), dy4(h + 1u, m1, OHW), dy4(h + 2u, m2, OHW), dy4(h + 3u, m3, OHW));
    P = wtaps(P, X, DA, DB, DC, DD);
    Q = wtaps(Q, Y, DA, DB, DC, DD);
    // next chunk: step along the row, wrapping to the next row and sample
    ow0 += 4u;
    let wrap = ow0 >= g.OW;
    ow0 = select(ow0, 0u, wrap);
    oh += u32(wrap);
    let wrap_n = oh >= g.OH;
    oh = select(oh, 0u, wrap_n);
    n += u32(wrap_n);
  }
  let base = wid.z * g.out_slice;
  if (ci < g.C) { store_wtaps(P, base + c * 9u, o0); }
  if (ci + 1u < g.C) { store_wtaps(Q, base + (c + 1u) * 9u, o0); }
}

// dw of one input channel for 16 output channels (row groups a..d of 4): kernel rows 0..2 each
struct WTaps { a0: mat3x4f, a1: mat3x4f, a2: mat3x4f, b0: mat3x4f, b1: mat3x4f, b2: mat3x4f,
               c0: mat3x4f, c1: mat3x4f, c2: mat3x4f, d0: mat3x4f, d1: mat3x4f, d2: mat3x4f }
// input windows of one channel, input rows 0..2 of the taps
struct XWin { r0: mat3x4f, r1: mat3x4f, r2: mat3x4f }
// acc += dy (4 output channels x 4 columns per row group) times the windows
fn wtaps(acc: WTaps, X: XWin, DA: mat4x4f, DB: mat4x4f, DC: mat4x4f, DD: mat4x4f) -> WTaps {
  var r = acc;
  r.a0 += DA * X.r0; r.a1 += DA * X.r1; r.a2 += DA * X.r2;
  r.b0 += DB * X.r0; r.b1 += DB * X.r1; r.b2 += DB * X.r2;
  r.c0 += DC * X.r0; r.c1 += DC * X.r1; r.c2 += DC * X.r2;
  r.d0 += DD * X.r0; r.d1 += DD * X.r1; r.d2 += DD * X.r2;
  return r;
}
fn store_wtaps(t: WTaps, base: u32, o0: u32) {
  store_taps(t.a0, t.a1, t.a2, base, o0);
  store_taps(t.b0, t.b1, t.b2, base, o0 + 4u);
  store_taps(t.c0, t.c1, t.c2, base, o0 + 8u);
  store_taps(t.d0, t.d1, t.d2, base, o0 + 12u);
}

// window of one input row: column kw of the result holds x[o + kw + t] for t = 0..3
fn xwin(o: i32, r: bool, k0: bool, k1: bool, k2: bool, k3: bool, k4: bool, k5: bool) -> mat3x4f {
  let x0 = xld(o, r & k0); let x1 = xld(o + 1, r & k1); let x2 = xld(o + 2, r & k2);
  let x3 = xld(o + 3, r & k3); let x4 = xld(o + 4, r & k4); let x5 = xld(o + 5, r & k5);
  return mat3x4f(vec4f(x0, x1, x2, x3), vec4f(x1, x2, x3, x4), vec4f(x2, x3, x4, x5));
}

// m_kh[kw][i] is dw of output channel o + i, tap (kh, kw), at base + o·C·9
fn store_taps(m0: mat3x4f, m1: mat3x4f, m2: mat3x4f, base: u32, o: u32) {
  let oc = g.C * 9u;
  for (var i = 0u; i < 4u; i++) {
    if (o + i < g.O) {
      let b = base + (o + i) * oc;
      for (var kw = 0u; kw < 3u; kw++) {
        dw[b + kw] = m0[kw][i];
        dw[b + 3u + kw] = m1[kw][i];
        dw[b + 6u + kw] = m2[kw][i];
      }
    }
  }
}

// dw of 16 output channels (row groups a..d of 4) x 8 columns (halves 0, 1)
struct WAcc { a0: mat4x4f, a1: mat4x4f, b0: mat4x4f, b1: mat4x4f, c0: mat4x4f, c1: mat4x4f, d0: mat4x4f, d1: mat4x4f }

// What an invocation of wgrad_regblock knows about its 8 columns: the input offset of column j
// within a sample at output pixel (0, 0), and its tap offsets (kh − ph, kw − pw).
struct Cols { offA: vec4i, offB: vec4i, rowA: vec4i, rowB: vec4i, colA: vec4i, colB: vec4i }

// acc += dy[n, o, oh, ow] · x[n, c, oh·sh + kh − ph, ow·sw + kw − pw] for the invocation's
// columns; nothing when !valid (a pixel past the end of the slice).
fn wg_pixel(acc: WAcc, k: Cols, n: u32, oh: u32, ow: u32, valid: bool, lane_o: u32) -> WAcc {
  let ih = i32(oh * g.sh);
  let iw = i32(ow * g.sw);
  let xn = i32(n * g.C * g.H * g.W) + ih * i32(g.W) + iw;
  let okA = (vec4u(k.rowA + vec4i(ih)) < vec4u(g.H)) & (vec4u(k.colA + vec4i(iw)) < vec4u(g.W)) & vec4<bool>(valid);
  let okB = (vec4u(k.rowB + vec4i(ih)) < vec4u(g.H)) & (vec4u(k.colB + vec4i(iw)) < vec4u(g.W)) & vec4<bool>(valid);
  let XA = xld4(vec4i(xn) + k.offA, okA);
  let XB = xld4(vec4i(xn) + k.offB, okB);
  let OHW = g.OH * g.OW;
  let d = (n * g.O + lane_o) * OHW + oh * g.OW + ow;
  let grp = 4u * OHW;
  let Da = dy4(d, valid, OHW); let Db = dy4(d + grp, valid, OHW);
  let Dc = dy4(d + 2u * grp, valid, OHW); let Dd = dy4(d + 3u * grp, valid, OHW);
  var r = acc;
  r.a0 += outer(Da, XA); r.a1 += outer(Da, XB);
  r.b0 += outer(Db, XA); r.b1 += outer(Db, XB);
  r.c0 += outer(Dc, XA); r.c1 += outer(Dc, XB);
  r.d0 += outer(Dd, XA); r.d1 += outer(Dd, XB);
  return r;
}

// Any kernel and stride: 8 consecutive columns j = (c, kh, kw) of dw viewed as [O, C·KH·KW] per
// lane, 16 output channels; the K slice is a range of (n, oh) rows walked as one flat loop over
// its pixels, two per iteration (SwiftShader pays per iteration for every accumulator).
@compute @workgroup_size(4, 1, 1)
fn wgrad_regblock(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u
{{SG}}, @builtin(subgroup_invocation_id) sg_lane: u32
) {
{{NOSG}}  let sg_lane = 0u;
  let KK = g.KH * g.KW;
  let J = g.C * KK;
  let j0 = (wid.x * 4u + lid.x) * 8u;
  let o0 = wid.y * 16u;
  let rows = g.N * g.OH;
  let row_begin = min(wid.z * g.rows_per_slice, rows);
  let row_end = min(row_begin + g.rows_per_slice, rows);
  let HW = g.H * g.W;
  var k: Cols;
  let jA = min(vec4u(j0) + vec4u(0u, 1u, 2u, 3u), vec4u(J - 1u));
  let cA = jA / KK; let tA = jA - cA * KK; let khA = tA / g.KW; let kwA = tA - khA * g.KW;
  k.rowA = vec4i(khA) - vec4i(i32(g.ph));
  k.colA = vec4i(kwA) - vec4i(i32(g.pw));
  k.offA = vec4i(cA * HW) + k.rowA * i32(g.W) + k.colA;
  let jB = min(vec4u(j0 + 4u) + vec4u(0u, 1u, 2u, 3u), vec4u(J - 1u));
  let cB = jB / KK; let tB = jB - cB * KK; let khB = tB / g.KW; let kwB = tB - khB * g.KW;
  k.rowB = vec4i(khB) - vec4i(i32(g.ph));
  k.colB = vec4i(kwB) - vec4i(i32(g.pw));
  k.offB = vec4i(cB * HW) + k.rowB * i32(g.W) + k.colB;
{{SG}}  let lane_o = o0 + (sg_lane & 3u);
{{NOSG}}  let lane_o = o0;
  var acc: WAcc;
  let total = (row_end - row_begin) * g.OW;
  var n = row_begin / g.OH;
  var oh = row_begin - n * g.OH;
  var ow = 0u;
  for (var i = 0u; i < total; i += 2u) {
    acc = wg_pixel(acc, k, n, oh, ow, true, lane_o);
    ow += 1u;
    let wrap = ow >= g.OW; ow = select(ow, 0u, wrap); oh += u32(wrap);
    let wrap_n = oh >= g.OH; oh = select(oh, 0u, wrap_n); n += u32(wrap_n);
    acc = wg_pixel(acc, k, n, oh, ow, i + 1u < total, lane_o);
    ow += 1u;
    let wrap2 = ow >= g.OW; ow = select(ow, 0u, wrap2); oh += u32(wrap2);
    let wrap2_n = oh >= g.OH; oh = select(oh, 0u, wrap2_n); n += u32(wrap2_n);
  }
  let base = wid.z * g.out_slice;
  store_cols(acc.a0, base, o0, j0, J); store_cols(acc.a1, base, o0, j0 + 4u, J);
  store_cols(acc.b0, base, o0 + 4u, j0, J); store_cols(acc.b1, base, o0 + 4u, j0 + 4u, J);
  store_cols(acc.c0, base, o0 + 8u, j0, J); store_cols(acc.c1, base, o0 + 8u, j0 + 4u, J);
  store_cols(acc.d0, base, o0 + 12u, j0, J); store_cols(acc.d1, base, o0 + 12u, j0 + 4u, J);
}

// m[jj][i] is dw[o + i, column j + jj] of dw viewed as [O, J]
fn store_cols(m: mat4x4f, base: u32, o: u32, j: u32, J: u32) {
  for (var i = 0u; i < 4u; i++) {
    if (o + i < g.O) {
      for (var jj = 0u; jj < 4u; jj++) {
        if (j + jj < J) { dw[base + (o + i) * J + j + jj] = m[jj][i]; }
      }
    }
  }
}

// ------------------------------------------------------------------------------------ tiled GEMMs

// 64x64 output tile per workgroup of 16x16 invocations, each 4x4 outputs strided by 16 (rows
// ty + 16v, columns tx + 16u); the reduction walks 16 at a time through workgroup memory.
var<workgroup> tileA: array<f32, 1024>; // [k][m]: 16 x 64
var<workgroup> tileB: array<f32, 1024>; // [k][n]: 16 x 64

fn tile_fma(acc: mat4x4f, tx: u32, ty: u32) -> mat4x4f {
  var r = acc;
  for (var kk = 0u; kk < 16u; kk++) {
    let a = vec4f(tileA[kk * 64u + ty], tileA[kk * 64u + ty + 16u], tileA[kk * 64u + ty + 32u], tileA[kk * 64u + ty + 48u]);
    let b = vec4f(tileB[kk * 64u + tx], tileB[kk * 64u + tx + 16u], tileB[kk * 64u + tx + 32u], tileB[kk * 64u + tx + 48u]);
    r += outer(a, b);
  }
  return r;
}

// Forward or dgrad job: out[pixel, r] = Σ_k weight(r, k) · in(k, pixel), k = (q, i, j).
@compute @workgroup_size(16, 16, 1)
fn conv_tiled(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let npix = p.NB * p.GA * p.GB;
  let pix_tile = (wid.x + wid.z * nwg.x) * 64u;
  let r_tile = wid.y * 64u;
  let taps = p.TI * p.TJ;
  let K = p.Q * taps;
  // A loads: column k = li % 16 of the tile, rows li / 16 + 16e
  let a_k = li % 16u;
  let a_r = r_tile + li / 16u;
  // B loads: pixel li % 64 of the tile (decoded once), rows k = li / 64 + 4e
  let b_pix = pix_tile + li % 64u;
  let P = pixel(min(b_pix, npix - 1u));
  let b_ok = b_pix < npix;
  let b_k = li / 64u;
  var acc = mat4x4f();
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    {
      let k = k0 + a_k;
      let q = k / taps; let t = k - q * taps; let i = t / p.TJ; let j = t - i * p.TJ;
      let wk = i32(q * p.w_q + p.w_0) + i32(i) * p.w_i + i32(j) * p.w_j;
      for (var e = 0u; e < 4u; e++) {
        let r = a_r + 16u * e;
        let ok = (k < K) & (r < p.M);
        tileA[a_k * 64u + li / 16u + 16u * e] = select(0.0, w[u32(wk + i32(r * p.w_r))], ok);
      }
    }
    for (var e = 0u; e < 4u; e++) {
      let kl = b_k + 4u * e;
      let k = k0 + kl;
      let q = k / taps; let t = k - q * taps; let i = t / p.TJ; let j = t - i * p.TJ;
      let row = P.row + i32(i); let col = P.col + i32(j);
      let ok = b_ok & (k < K) & (u32(row) < p.in_h) & (u32(col) < p.in_w);
      tileB[kl * 64u + li % 64u] = xld(P.base + i32(q * p.in_c) + row * i32(p.in_w) + col, ok);
    }
    workgroupBarrier();
    acc = tile_fma(acc, lid.x, lid.y);
    workgroupBarrier();
  }
  for (var v = 0u; v < 4u; v++) {
    let r = r_tile + lid.y + 16u * v;
    for (var u = 0u; u < 4u; u++) {
      let pi = pix_tile + lid.x + 16u * u;
      if ((r < p.M) & (pi < npix)) { let k = out_index(pi, r); y[k] = epilogue(acc[u][v], epi_rows(r), 0u, 0u, k); }
    }
  }
}

// wgrad: dw[o, j] (j = (c, kh, kw)) = Σ_pixels dy[n, o, oh, ow] · x[n, c, oh·sh + kh − ph,
// ow·sw + kw − pw] over the pixels of slice wid.z (a range of (n, oh) rows).
@compute @workgroup_size(16, 16, 1)
fn wgrad_tiled(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let KK = g.KH * g.KW;
  let J = g.C * KK;
  let j_tile = wid.x * 64u;
  let o_tile = wid.y * 64u;
  let rows = g.N * g.OH;
  let row_begin = min(wid.z * g.rows_per_slice, rows);
  let row_end = min(row_begin + g.rows_per_slice, rows);
  let pix_begin = row_begin * g.OW;
  let pix_end = row_end * g.OW;
  let OHW = g.OH * g.OW;
  let HW = g.H * g.W;
  // A loads (dy): pixel li % 16, output channels li / 16 + 16e
  let a_k = li % 16u;
  let a_o = o_tile + li / 16u;
  // B loads (x): column j = li % 64 (decoded once), pixels li / 64 + 4e
  let jb = j_tile + li % 64u;
  let jc = min(jb, J - 1u);
  let c = jc / KK; let t = jc - c * KK; let kh = t / g.KW; let kw = t - kh * g.KW;
  let b_k = li / 64u;
  var acc = mat4x4f();
  for (var k0 = pix_begin; k0 < pix_end; k0 += 16u) {
    {
      let pi = k0 + a_k;
      let n = pi / OHW; let rem = pi - n * OHW;
      for (var e = 0u; e < 4u; e++) {
        let o = a_o + 16u * e;
        let ok = (pi < pix_end) & (o < g.O);
        tileA[a_k * 64u + li / 16u + 16u * e] = dyld((n * g.O + o) * OHW + rem, ok);
      }
    }
    for (var e = 0u; e < 4u; e++) {
      let kl = b_k + 4u * e;
      let pi = k0 + kl;
      let n = pi / OHW; let rem = pi - n * OHW; let oh = rem / g.OW; let ow = rem - oh * g.OW;
      let ih = i32(oh * g.sh + kh) - i32(g.ph);
      let iw = i32(ow * g.sw + kw) - i32(g.pw);
      let ok = (pi < pix_end) & (jb < J) & (u32(ih) < g.H) & (u32(iw) < g.W);
      tileB[kl * 64u + li % 64u] = xld(i32(n * g.C * HW + c * HW) + ih * i32(g.W) + iw, ok);
    }
    workgroupBarrier();
    acc = tile_fma(acc, lid.x, lid.y);
    workgroupBarrier();
  }
  let base = wid.z * g.out_slice;
  for (var v = 0u; v < 4u; v++) {
    let o = o_tile + lid.y + 16u * v;
    for (var u = 0u; u < 4u; u++) {
      let j = j_tile + lid.x + 16u * u;
      if ((o < g.O) & (j < J)) { dw[base + o * J + j] = acc[u][v]; }
    }
  }
}
