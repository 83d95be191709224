// Tiled GEMM forms of the convolution jobs (conv_tiled, with the evaluation epilogue) and of the
// weight gradient (wgrad_tiled): the `tiled` variant, for GPUs with fast workgroup memory.
#include "conv2d_common.wgsl"
#include "conv2d_epilogue.wgsl"

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
