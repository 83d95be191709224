// Forward and input-gradient convolution jobs, regblock kernels: conv_regblock (any taps and
// strides), conv1x1_vec4 (1x1 stride 1 in 4-pixel vectors) and conv3x3_regblock (3x3 stride 1).
// ROWS: output rows per lane (4, 8, 12 or 16); WG: lanes per workgroup; TN: block width of
// conv3x3_regblock (4: 4x4 outputs; 8: 2x8); TAP1: conv_regblock for a single tap, without the
// tap loops. The evaluation epilogue's switches come from conv2d_epilogue.wgsl.
#include "conv2d_subgroups.wgsl"
#include "conv2d_common.wgsl"
#include "conv2d_epilogue.wgsl"
#define ROWS: 4 | 8 | 12 | 16 = 16
#define WG: 4 | 16 = 16
#define TN: 4 | 8 = 8
#define TAP1: bool

// weight(r0 + 0..3, …) at index i of row r0 (with subgroups, i is already this lane's row)
fn wld4(i: i32) -> vec4f {
#if SG
  return bc4(w[u32(i)]);
#else
  let r = i32(p.w_r);
  return vec4f(w[u32(i)], w[u32(i + r)], w[u32(i + 2 * r)], w[u32(i + 3 * r)]);
#endif
}

// ------------------------------------------------------------------- forward and dgrad (regblock)
//
// Helper functions take and return whole accumulator structs instead of looping over arrays:
// SwiftShader keeps dynamically indexed arrays in memory (a gather per access), and every value
// carried around a loop costs it a merge per iteration, so loops are few and long.

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
#if !PERPIX
  let e1 = e0;
#else
  let e1 = epi_block(r0, pix0 + 4u);
#endif
  store_block(m.p0, pix0, r0, npix, e0); store_block(m.p1, pix0 + 4u, r0, npix, e1);
}

// Any taps and strides: 8 consecutive grid pixels (in any rows) x ROWS (16, 12, 8 or 4) output rows
// per lane. Taps outer, input channels inner, so the inner loop only steps offsets. (16 pixels per lane measured no faster on SwiftShader.)
@compute @workgroup_size({{WG}}, 1, 1)
fn conv_regblock(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u
#if SG
, @builtin(subgroup_invocation_id) sg_lane: u32
#endif
) {
#if !SG
  let sg_lane = 0u;
#endif
  let npix = p.NB * p.GA * p.GB;
  let pix0 = ((wid.x + wid.z * nwg.x) * {{WG}}u + lid.x) * 8u;
  let r0 = p.r_base + wid.y * {{ROWS}}u;
  let last = npix - 1u;
  let G0 = pixel4(pix0, last); let G1 = pixel4(pix0 + 4u, last);
  let in_c = vec4i(i32(p.in_c));
  let w_r4 = 4 * i32(p.w_r);
#if SG
  let wrow = i32((r0 + (sg_lane & 3u)) * p.w_r + p.w_0);
#else
  let wrow = i32(r0 * p.w_r + p.w_0);
#endif
  var A: Acc8; var B: Acc8; var C: Acc8; var D: Acc8;
#if !TAP1
  for (var i = 0u; i < p.TI; i++) {
#else
  { let i = 0u;
#endif
#if !TAP1
    for (var j = 0u; j < p.TJ; j++) {
#else
    { let j = 0u;
#endif
      let T0 = tap4(G0, i, j); let T1 = tap4(G1, i, j);
      var o0 = T0.off; var o1 = T1.off;
      var wi = wrow + i32(i) * p.w_i + i32(j) * p.w_j;
      for (var q = 0u; q < p.Q; q++) {
        let X0 = xld4(o0, T0.ok); let X1 = xld4(o1, T1.ok);
        A = outer8(A, wld4(wi), X0, X1);
#if ROWS >= 8
        B = outer8(B, wld4(wi + w_r4), X0, X1);
#endif
#if ROWS >= 12
        C = outer8(C, wld4(wi + 2 * w_r4), X0, X1);
#endif
#if ROWS == 16
        D = outer8(D, wld4(wi + 3 * w_r4), X0, X1);
#endif
        o0 += in_c; o1 += in_c;
        wi += i32(p.w_q);
      }
    }
  }
  store_block8(A, pix0, r0, npix);
#if ROWS >= 8
  store_block8(B, pix0, r0 + 4u, npix);
#endif
#if ROWS >= 12
  store_block8(C, pix0, r0 + 8u, npix);
#endif
#if ROWS == 16
  store_block8(D, pix0, r0 + 12u, npix);
#endif
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
#if BN
  o = (o - mean) * scale + shift;
#endif
#if RELU
  o = max(o, vec4f(0.0));
#endif
#if ADD
  o = o + residual4[k];
#endif
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
#if SG
, @builtin(subgroup_invocation_id) sg_lane: u32
#endif
) {
#if !SG
  let sg_lane = 0u;
#endif
  let npix = p.NB * p.GA * p.GB;
  let pix0 = ((wid.x + wid.z * nwg.x) * {{WG}}u + lid.x) * 8u;
  let r0 = p.r_base + wid.y * {{ROWS}}u;
  // vector indices of the two input vectors (the second clamped into the tensor when past its end)
  var i0 = vec_index(min(pix0, npix - 4u), p.in_n);
  var i1 = vec_index(min(pix0 + 4u, npix - 4u), p.in_n);
  let step = p.in_c / 4u;
  let w_r4 = 4 * i32(p.w_r);
#if SG
  var wi = i32((r0 + (sg_lane & 3u)) * p.w_r + p.w_0);
#else
  var wi = i32(r0 * p.w_r + p.w_0);
#endif
  var A: Acc8; var B: Acc8; var C: Acc8; var D: Acc8;
  for (var q = 0u; q < p.Q; q++) {
    let X0 = x4[i0]; let X1 = x4[i1];
    A = outer8(A, wld4(wi), X0, X1);
#if ROWS >= 8
    B = outer8(B, wld4(wi + w_r4), X0, X1);
#endif
#if ROWS >= 12
    C = outer8(C, wld4(wi + 2 * w_r4), X0, X1);
#endif
#if ROWS == 16
    D = outer8(D, wld4(wi + 3 * w_r4), X0, X1);
#endif
    i0 += step; i1 += step;
    wi += i32(p.w_q);
  }
  if (pix0 >= npix) { return; }
  let cs = p.out_c / 4u;
  store_v4x8(A, pix0, r0, npix, cs);
#if ROWS >= 8
  store_v4x8(B, pix0, r0 + 4u, npix, cs);
#endif
#if ROWS >= 12
  store_v4x8(C, pix0, r0 + 8u, npix, cs);
#endif
#if ROWS == 16
  store_v4x8(D, pix0, r0 + 12u, npix, cs);
#endif
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
#if TN == 8
  let x6 = xld(o + 6, r & (u32(iw + 6) < in_w)); let x7 = xld(o + 7, r & (u32(iw + 7) < in_w));
  let x8 = xld(o + 8, r & (u32(iw + 8) < in_w)); let x9 = xld(o + 9, r & (u32(iw + 9) < in_w));
  win.p1 = mat4x3f(vec3f(x4, x5, x6), vec3f(x5, x6, x7), vec3f(x6, x7, x8), vec3f(x7, x8, x9));
#endif
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
#if SG
, @builtin(subgroup_invocation_id) sg_lane: u32
#endif
) {
#if !SG
  let sg_lane = 0u;
#endif
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
#if SG
  var wo = i32((r0 + (sg_lane & 3u)) * p.w_r + p.w_0);
#else
  var wo = i32(r0 * p.w_r + p.w_0);
#endif
  let w_r4 = 4 * i32(p.w_r);
  var A: Acc; var B: Acc; var C: Acc; var D: Acc;
  for (var q = 0u; q < p.Q; q++) {
    let X0 = xrow(xo, k0, iw0); let X1 = xrow(xo + in_w, k1, iw0);
    let X2 = xrow(xo + 2 * in_w, k2, iw0); let X3 = xrow(xo + 3 * in_w, k3, iw0);
#if TN == 8
    A = acc2x8(A, wrows(wo), X0, X1, X2, X3);
#endif
#if TN == 8 && ROWS >= 8
    B = acc2x8(B, wrows(wo + w_r4), X0, X1, X2, X3);
#endif
#if TN == 8 && ROWS >= 12
    C = acc2x8(C, wrows(wo + 2 * w_r4), X0, X1, X2, X3);
#endif
#if TN == 8 && ROWS == 16
    D = acc2x8(D, wrows(wo + 3 * w_r4), X0, X1, X2, X3);
#endif
#if TN == 4
    let X4 = xrow(xo + 4 * in_w, k4, iw0); let X5 = xrow(xo + 5 * in_w, k5, iw0);
    A = acc4x4(A, wrows(wo), X0, X1, X2, X3, X4, X5);
#endif
#if TN == 4 && ROWS >= 8
    B = acc4x4(B, wrows(wo + w_r4), X0, X1, X2, X3, X4, X5);
#endif
#if TN == 4 && ROWS >= 12
    C = acc4x4(C, wrows(wo + 2 * w_r4), X0, X1, X2, X3, X4, X5);
#endif
#if TN == 4 && ROWS == 16
    D = acc4x4(D, wrows(wo + 3 * w_r4), X0, X1, X2, X3, X4, X5);
#endif
    xo += i32(p.in_c);
    wo += i32(p.w_q);
  }
  if (bi < blocks) {
    store_rows(A, n, a0, b0, r0);
#if ROWS >= 8
    store_rows(B, n, a0, b0, r0 + 4u);
#endif
#if ROWS >= 12
    store_rows(C, n, a0, b0, r0 + 8u);
#endif
#if ROWS == 16
    store_rows(D, n, a0, b0, r0 + 12u);
#endif
  }
}

fn store_rows(m: Acc, n: u32, a: u32, b: u32, r0: u32) {
  let e = epi_rows(r0);
#if TN == 8
  store_row(m.p0, n, a, b, r0, e); store_row(m.p1, n, a, b + 4u, r0, e);
  if (a + 1u < p.GA) { store_row(m.p2, n, a + 1u, b, r0, e); store_row(m.p3, n, a + 1u, b + 4u, r0, e); }
#else
  store_row(m.p0, n, a, b, r0, e);
  if (a + 1u < p.GA) { store_row(m.p1, n, a + 1u, b, r0, e); }
  if (a + 2u < p.GA) { store_row(m.p2, n, a + 2u, b, r0, e); }
  if (a + 3u < p.GA) { store_row(m.p3, n, a + 3u, b, r0, e); }
#endif
}

