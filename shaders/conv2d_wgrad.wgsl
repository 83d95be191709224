// Weight-gradient regblock kernels: wgrad3x3_regblock (3x3, column stride 1) and wgrad_regblock
// (any kernel and stride), each writing one K slice's partial dw.
#include "conv2d_subgroups.wgsl"
#include "conv2d_common.wgsl"

// Lanes share the output channels and differ in dw columns, so dy is what subgroups broadcast.
// dy of the 4 output channels of a row group at one pixel (channel stride ohw)
fn dy4(i: u32, ok: bool, ohw: u32) -> vec4f {
#if SG
  return bc4(dyld(i, ok));
#else
  return vec4f(dyld(i, ok), dyld(i + ohw, ok), dyld(i + 2u * ohw, ok), dyld(i + 3u * ohw, ok));
#endif
}

// 3x3 taps, column stride 1: two input channels c0 = 2·lane, c1 = c0 + 1 per lane (each dy value
// loaded serves both), 16 output channels, all 9 taps; the K slice is a range of (n, oh) rows,
// walked 4 output columns at a time with a 3x6 input window per channel.
@compute @workgroup_size(4, 1, 1)
fn wgrad3x3_regblock(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u
#if SG
, @builtin(subgroup_invocation_id) sg_lane: u32
#endif
) {
#if !SG
  let sg_lane = 0u;
#endif
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
#if SG
  let lane_o = o0 + (sg_lane & 3u);
#else
  let lane_o = o0;
#endif
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
#if SG
, @builtin(subgroup_invocation_id) sg_lane: u32
#endif
) {
#if !SG
  let sg_lane = 0u;
#endif
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
#if SG
  let lane_o = o0 + (sg_lane & 3u);
#else
  let lane_o = o0;
#endif
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

