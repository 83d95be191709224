// Grouped and depthwise 2-D convolution with an optional bias, PyTorch's nn.Conv2d(C, O, k,
// stride, padding, groups=G, bias): x [N, C, H, W], w [O, C/G, KH, KW] (OIHW), bias [O],
// y and dy [N, O, OH, OW], all f32, NCHW, zero padding, dilation 1. Output channel o is in group
// g = o / Og (Og = O/G) and reads the Cg = C/G input channels g·Cg .. g·Cg + Cg − 1:
//   y[n, o, oh, ow] = bias[o] + Σ_{cg, kh, kw} w[o, cg, kh, kw] · x[n, g·Cg + cg, oh·sh − ph + kh, ow·sw − pw + kw].
// Every pass is a gather (no atomics): the forward and the input gradient give each invocation 4
// neighbouring pixels of one row of ROWS channels (1, or 4 of one group), the weight
// gradient one weight summed over a slice of (n, oh) rows (partial sums, added by sum_partials in
// reduce.wgsl), the bias gradient one channel summed over a slice of samples. dw3x3_s1 / dw3x3_s2
// are the depthwise (Cg = 1) 3×3 forward at stride 1 / 2: a block of 4 (2) rows × 4 pixels of one
// channel in registers, each input row loaded once for the block. No workgroup memory or barriers
// (SwiftShader runs register-blocked kernels fastest); bounds checks use & and select(), never
// && / || (see src/shaders.ts).
//
// Defines: R4 / R1 (ROWS = 4 or 1: lines only in one build), BIAS / NOBIAS (add bias[o] to the
// forward's outputs, or not).
// ROWS: channels per invocation of forward/dgrad (1 or 4); BIAS: forward adds the bias.
#define ROWS: 1 | 4 = 1
#define BIAS: bool

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32, KW: u32,
  sh: u32, sw: u32, ph: u32, pw: u32,
  G: u32, Cg: u32, Og: u32,
  // invocations that do work; 4-pixel blocks per row (bx); row blocks per plane (by, dw3x3 only);
  // ROWS-channel blocks per group (rb)
  total: u32, bx: u32, by: u32, rb: u32,
  // weight and bias gradients: (n, oh) rows or samples per slice, values per slice
  rows_per_slice: u32, out_slice: u32,
  // bias_add / bias_grad: elements per channel plane
  plane: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dw: array<f32>;
@group(0) @binding(8) var<storage, read_write> db: array<f32>;

fn linear_id(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * 64u + lid.x;
}

// x at base + iw (4 columns), 0 where ok is false (the index is then 0, always in range).
fn ldx4(base: i32, iw: vec4i, ok: vec4<bool>) -> vec4f {
  let k = vec4u(select(vec4i(0), vec4i(base) + iw, ok));
  return select(vec4f(0.0), vec4f(x[k.x], x[k.y], x[k.z], x[k.w]), ok);
}
fn ldx(base: i32, iw: i32, ok: bool) -> f32 {
  return select(0.0, x[u32(select(0, base + iw, ok))], ok);
}
fn lddy4(base: i32, ow: vec4i, ok: vec4<bool>) -> vec4f {
  let k = vec4u(select(vec4i(0), vec4i(base) + ow, ok));
  return select(vec4f(0.0), vec4f(dy[k.x], dy[k.y], dy[k.z], dy[k.w]), ok);
}

// v plus output channel o's bias (BIAS build), or v.
fn with_bias(v: vec4f, o: u32) -> vec4f {
#if BIAS
  return v + vec4f(bias[o]);
#else
  return v;
#endif
}

// Stores the 4 pixels v at y[row + c0 ..] whose column c0 + j is inside the row of `width`.
fn put_y(v: vec4f, row: u32, c0: u32, width: u32, ok: bool) {
  if (ok & (c0 < width)) { y[row + c0] = v.x; }
  if (ok & (c0 + 1u < width)) { y[row + c0 + 1u] = v.y; }
  if (ok & (c0 + 2u < width)) { y[row + c0 + 2u] = v.z; }
  if (ok & (c0 + 3u < width)) { y[row + c0 + 3u] = v.w; }
}
fn put_dx(v: vec4f, row: u32, c0: u32, width: u32, ok: bool) {
  if (ok & (c0 < width)) { dx[row + c0] = v.x; }
  if (ok & (c0 + 1u < width)) { dx[row + c0 + 1u] = v.y; }
  if (ok & (c0 + 2u < width)) { dx[row + c0 + 2u] = v.z; }
  if (ok & (c0 + 3u < width)) { dx[row + c0 + 3u] = v.w; }
}

// ------------------------------------------------------------------------- forward (generic)

// Invocation i: pixels ow0..ow0+3 of output row oh, channels o0..o0+ROWS−1 of group g, sample n
// (i = ((n·G·rb + g·rb + block)·OH + oh)·bx + ow0/4). Rows past the group's Og read the group's
// last channel's weights and are not stored. Sums run over (cg, kh, kw) in that order.
@compute @workgroup_size(64, 1, 1)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= p.total) { return; }
  let ow0 = (i % p.bx) * 4u;
  var t = i / p.bx;
  let oh = t % p.OH;
  t = t / p.OH;
  let blk = t % (p.G * p.rb);
  let n = t / (p.G * p.rb);
  let g = blk / p.rb;
#if ROWS == 1
  let rr = blk % p.rb;
#else
  let rr = (blk % p.rb) * 4u;
#endif
  let o0 = g * p.Og + rr;
  let taps = p.KH * p.KW;
  let wrow = p.Cg * taps;
  let last = g * p.Og + p.Og - 1u;
  let wb0 = min(o0, last) * wrow;
#if ROWS == 4
  let wb1 = min(o0 + 1u, last) * wrow;
  let wb2 = min(o0 + 2u, last) * wrow;
  let wb3 = min(o0 + 3u, last) * wrow;
#endif
  var a0 = vec4f(0.0);
#if ROWS == 4
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
#endif
  let iW = i32(p.W);
  let cols = vec4i(vec4u(ow0) + vec4u(0u, 1u, 2u, 3u)) * i32(p.sw) - i32(p.pw);
  for (var cg = 0u; cg < p.Cg; cg++) {
    let plane = i32((n * p.C + g * p.Cg + cg) * p.H * p.W);
    for (var kh = 0u; kh < p.KH; kh++) {
      let ih = i32(oh * p.sh + kh) - i32(p.ph);
      let rok = vec4<bool>((ih >= 0) & (ih < i32(p.H)));
      let base = plane + ih * iW;
      for (var kw = 0u; kw < p.KW; kw++) {
        let c = cols + vec4i(i32(kw));
        let xv = ldx4(base, c, rok & (c >= vec4i(0)) & (c < vec4i(iW)));
        let k = cg * taps + kh * p.KW + kw;
        a0 = a0 + w[wb0 + k] * xv;
#if ROWS == 4
        a1 = a1 + w[wb1 + k] * xv;
        a2 = a2 + w[wb2 + k] * xv;
        a3 = a3 + w[wb3 + k] * xv;
#endif
      }
    }
  }
  let plane_o = p.OH * p.OW;
  let row = ((n * p.O + o0) * p.OH + oh) * p.OW;
  put_y(with_bias(a0, min(o0, last)), row, ow0, p.OW, true);
#if ROWS == 4
  put_y(with_bias(a1, min(o0 + 1u, last)), row + plane_o, ow0, p.OW, rr + 1u < p.Og);
  put_y(with_bias(a2, min(o0 + 2u, last)), row + 2u * plane_o, ow0, p.OW, rr + 2u < p.Og);
  put_y(with_bias(a3, min(o0 + 3u, last)), row + 3u * plane_o, ow0, p.OW, rr + 3u < p.Og);
#endif
}

// ------------------------------------------------------------------ forward, depthwise 3×3

// One input row of a block: the values under kernel columns 0, 1 and 2 of its 4 output pixels.
struct Taps { a: vec4f, b: vec4f, c: vec4f }

// Stride 1: input columns iw0 .. iw0 + 5, each loaded once.
fn taps_s1(plane: i32, ih: i32, iw0: i32) -> Taps {
  let iW = i32(p.W);
  let rok = (ih >= 0) & (ih < i32(p.H));
  let base = plane + ih * iW;
  let c = vec4i(iw0) + vec4i(0, 1, 2, 3);
  let lo = ldx4(base, c, vec4<bool>(rok) & (c >= vec4i(0)) & (c < vec4i(iW)));
  let v4 = ldx(base, iw0 + 4, rok & (iw0 + 4 >= 0) & (iw0 + 4 < iW));
  let v5 = ldx(base, iw0 + 5, rok & (iw0 + 5 >= 0) & (iw0 + 5 < iW));
  return Taps(lo, vec4f(lo.yzw, v4), vec4f(lo.zw, v4, v5));
}

// Stride 2: input columns iw0 .. iw0 + 8, each loaded once.
fn taps_s2(plane: i32, ih: i32, iw0: i32) -> Taps {
  let iW = i32(p.W);
  let rok = vec4<bool>((ih >= 0) & (ih < i32(p.H)));
  let base = plane + ih * iW;
  let ce = vec4i(iw0) + vec4i(0, 2, 4, 6);
  let co = ce + vec4i(1);
  let ev = ldx4(base, ce, rok & (ce >= vec4i(0)) & (ce < vec4i(iW)));
  let od = ldx4(base, co, rok & (co >= vec4i(0)) & (co < vec4i(iW)));
  let v8 = ldx(base, iw0 + 8, rok.x & (iw0 + 8 >= 0) & (iw0 + 8 < iW));
  return Taps(ev, od, vec4f(ev.yzw, v8));
}

// acc plus one kernel row's three taps, added in kernel-column order (as `forward` adds them).
fn acc3(acc: vec4f, t: Taps, k: vec3f) -> vec4f {
  return ((acc + k.x * t.a) + k.y * t.b) + k.z * t.c;
}

// Where a dw3x3 block is: its channel o's input plane, its first output row and pixel, and o.
struct Block { plane: i32, oh0: u32, ow0: u32, o: u32, n: u32, ok: bool }

fn dw_block(i: u32, rows: u32) -> Block {
  let ow0 = (i % p.bx) * 4u;
  let t = i / p.bx;
  let oh0 = (t % p.by) * rows;
  let no = t / p.by;
  let o = no % p.O;
  let n = no / p.O;
  let c = o / p.Og;
  return Block(i32((n * p.C + c) * p.H * p.W), oh0, ow0, o, n, i < p.total);
}

fn kernel_row(o: u32, kh: u32) -> vec3f {
  let k = o * 9u + kh * 3u;
  return vec3f(w[k], w[k + 1u], w[k + 2u]);
}

// Depthwise 3×3, stride 1: 4 output rows × 4 pixels of one channel; input rows ih0 .. ih0 + 5.
@compute @workgroup_size(64, 1, 1)
fn dw3x3_s1(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = dw_block(linear_id(wid, nwg, lid), 4u);
  if (!b.ok) { return; }
  let k0 = kernel_row(b.o, 0u);
  let k1 = kernel_row(b.o, 1u);
  let k2 = kernel_row(b.o, 2u);
  let ih0 = i32(b.oh0) - i32(p.ph);
  let iw0 = i32(b.ow0) - i32(p.pw);
  let z = vec4f(0.0);
  let t0 = taps_s1(b.plane, ih0, iw0);
  var a0 = acc3(z, t0, k0);
  let t1 = taps_s1(b.plane, ih0 + 1, iw0);
  a0 = acc3(a0, t1, k1);
  var a1 = acc3(z, t1, k0);
  let t2 = taps_s1(b.plane, ih0 + 2, iw0);
  a0 = acc3(a0, t2, k2);
  a1 = acc3(a1, t2, k1);
  var a2 = acc3(z, t2, k0);
  let t3 = taps_s1(b.plane, ih0 + 3, iw0);
  a1 = acc3(a1, t3, k2);
  a2 = acc3(a2, t3, k1);
  var a3 = acc3(z, t3, k0);
  let t4 = taps_s1(b.plane, ih0 + 4, iw0);
  a2 = acc3(a2, t4, k2);
  a3 = acc3(a3, t4, k1);
  let t5 = taps_s1(b.plane, ih0 + 5, iw0);
  a3 = acc3(a3, t5, k2);
  let row = ((b.n * p.O + b.o) * p.OH + b.oh0) * p.OW;
  put_y(with_bias(a0, b.o), row, b.ow0, p.OW, true);
  put_y(with_bias(a1, b.o), row + p.OW, b.ow0, p.OW, b.oh0 + 1u < p.OH);
  put_y(with_bias(a2, b.o), row + 2u * p.OW, b.ow0, p.OW, b.oh0 + 2u < p.OH);
  put_y(with_bias(a3, b.o), row + 3u * p.OW, b.ow0, p.OW, b.oh0 + 3u < p.OH);
}

// Depthwise 3×3, stride 2: 2 output rows × 4 pixels of one channel; input rows ih0 .. ih0 + 4.
@compute @workgroup_size(64, 1, 1)
fn dw3x3_s2(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = dw_block(linear_id(wid, nwg, lid), 2u);
  if (!b.ok) { return; }
  let k0 = kernel_row(b.o, 0u);
  let k1 = kernel_row(b.o, 1u);
  let k2 = kernel_row(b.o, 2u);
  let ih0 = i32(2u * b.oh0) - i32(p.ph);
  let iw0 = i32(2u * b.ow0) - i32(p.pw);
  let z = vec4f(0.0);
  var a0 = acc3(z, taps_s2(b.plane, ih0, iw0), k0);
  a0 = acc3(a0, taps_s2(b.plane, ih0 + 1, iw0), k1);
  let t2 = taps_s2(b.plane, ih0 + 2, iw0);
  a0 = acc3(a0, t2, k2);
  var a1 = acc3(z, t2, k0);
  a1 = acc3(a1, taps_s2(b.plane, ih0 + 3, iw0), k1);
  a1 = acc3(a1, taps_s2(b.plane, ih0 + 4, iw0), k2);
  let row = ((b.n * p.O + b.o) * p.OH + b.oh0) * p.OW;
  put_y(with_bias(a0, b.o), row, b.ow0, p.OW, true);
  put_y(with_bias(a1, b.o), row + p.OW, b.ow0, p.OW, b.oh0 + 1u < p.OH);
}

// --------------------------------------------------------------------------- input gradient

// dx[n, c, ih, iw] = Σ_{og, kh, kw} w[g·Og + og, c − g·Cg, kh, kw] · dy[n, g·Og + og, oh, ow] over
// the taps with ih + ph − kh = oh·sh and iw + pw − kw = ow·sw inside dy. Invocation i: pixels
// iw0..iw0+3 of input row ih, channels c0..c0+ROWS−1 of group g (layout as `forward`, over
// x's shape); rows past Cg read the group's last channel's weights and are not stored.
@compute @workgroup_size(64, 1, 1)
fn dgrad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= p.total) { return; }
  let iw0 = (i % p.bx) * 4u;
  var t = i / p.bx;
  let ih = t % p.H;
  t = t / p.H;
  let blk = t % (p.G * p.rb);
  let n = t / (p.G * p.rb);
  let g = blk / p.rb;
#if ROWS == 1
  let rr = blk % p.rb;
#else
  let rr = (blk % p.rb) * 4u;
#endif
  let taps = p.KH * p.KW;
  let lastc = p.Cg - 1u;
  let wc0 = min(rr, lastc) * taps;
#if ROWS == 4
  let wc1 = min(rr + 1u, lastc) * taps;
  let wc2 = min(rr + 2u, lastc) * taps;
  let wc3 = min(rr + 3u, lastc) * taps;
#endif
  var a0 = vec4f(0.0);
#if ROWS == 4
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
#endif
  let ish = i32(p.sh);
  let isw = vec4i(i32(p.sw));
  let iOW = vec4i(i32(p.OW));
  // iw + pw for the 4 pixels
  let cols = vec4i(vec4u(iw0) + vec4u(0u, 1u, 2u, 3u)) + i32(p.pw);
  for (var og = 0u; og < p.Og; og++) {
    let o = g * p.Og + og;
    let plane = i32((n * p.O + o) * p.OH * p.OW);
    let wo = o * p.Cg * taps;
    for (var kh = 0u; kh < p.KH; kh++) {
      let th = i32(ih + p.ph) - i32(kh);
      let oh = th / ish;
      let rok = vec4<bool>((th >= 0) & (th % ish == 0) & (oh < i32(p.OH)));
      let base = plane + oh * i32(p.OW);
      for (var kw = 0u; kw < p.KW; kw++) {
        let tw = cols - vec4i(i32(kw));
        let ow = tw / isw;
        let dv = lddy4(base, ow, rok & (tw >= vec4i(0)) & (tw % isw == vec4i(0)) & (ow < iOW));
        let k = wo + kh * p.KW + kw;
        a0 = a0 + w[k + wc0] * dv;
#if ROWS == 4
        a1 = a1 + w[k + wc1] * dv;
        a2 = a2 + w[k + wc2] * dv;
        a3 = a3 + w[k + wc3] * dv;
#endif
      }
    }
  }
  let plane_x = p.H * p.W;
  let row = ((n * p.C + g * p.Cg + rr) * p.H + ih) * p.W;
  put_dx(a0, row, iw0, p.W, true);
#if ROWS == 4
  put_dx(a1, row + plane_x, iw0, p.W, rr + 1u < p.Cg);
  put_dx(a2, row + 2u * plane_x, iw0, p.W, rr + 2u < p.Cg);
  put_dx(a3, row + 3u * plane_x, iw0, p.W, rr + 3u < p.Cg);
#endif
}

// -------------------------------------------------------------------------- weight gradient

// Invocation i = slice·out_slice + e: dw element e = ((o·Cg + cg)·KH + kh)·KW + kw summed over the
// slice's (n, oh) rows [slice·rows_per_slice, +rows_per_slice) ∩ [0, N·OH), 4 output pixels at a
// time, into dw[i] (the partial sums of the slices, or dw itself with one slice).
@compute @workgroup_size(64, 1, 1)
fn wgrad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= p.total) { return; }
  let e = i % p.out_slice;
  let slice = i / p.out_slice;
  let kw = e % p.KW;
  var t = e / p.KW;
  let kh = t % p.KH;
  t = t / p.KH;
  let cg = t % p.Cg;
  let o = t / p.Cg;
  let c = (o / p.Og) * p.Cg + cg;
  let r_begin = slice * p.rows_per_slice;
  let r_end = min(r_begin + p.rows_per_slice, p.N * p.OH);
  let iW = vec4i(i32(p.W));
  let lane = vec4u(0u, 1u, 2u, 3u);
  var acc = vec4f(0.0);
  for (var r = r_begin; r < r_end; r++) {
    let n = r / p.OH;
    let oh = r % p.OH;
    let ih = i32(oh * p.sh + kh) - i32(p.ph);
    if ((ih < 0) | (ih >= i32(p.H))) { continue; }
    let xb = i32((n * p.C + c) * p.H * p.W) + ih * i32(p.W);
    let yb = i32(((n * p.O + o) * p.OH + oh) * p.OW);
    for (var ow0 = 0u; ow0 < p.OW; ow0 += 4u) {
      let ow = vec4u(ow0) + lane;
      let owok = ow < vec4u(p.OW);
      let iw = vec4i(ow) * i32(p.sw) + i32(kw) - i32(p.pw);
      let dv = lddy4(yb, vec4i(ow), owok);
      let xv = ldx4(xb, iw, owok & (iw >= vec4i(0)) & (iw < iW));
      acc = acc + dv * xv;
    }
  }
  dw[i] = (acc.x + acc.y) + (acc.z + acc.w);
}

// ---------------------------------------------------------------------------------- bias

// y[i] += bias[channel of i] in place, y [N, O, plane] (any NC… tensor), one element per invocation.
@compute @workgroup_size(64, 1, 1)
fn bias_add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= p.total) { return; }
  y[i] = y[i] + bias[(i / p.plane) % p.O];
}

// Invocation i = slice·O + o: Σ dy[n, o, ·] over the slice's samples [slice·rows_per_slice,
// +rows_per_slice) ∩ [0, N), 4 values at a time, into db[i] (partial sums, or db with one slice).
@compute @workgroup_size(64, 1, 1)
fn bias_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= p.total) { return; }
  let o = i % p.O;
  let slice = i / p.O;
  let n_begin = slice * p.rows_per_slice;
  let n_end = min(n_begin + p.rows_per_slice, p.N);
  let lane = vec4u(0u, 1u, 2u, 3u);
  var acc = vec4f(0.0);
  for (var n = n_begin; n < n_end; n++) {
    let base = i32((n * p.O + o) * p.plane);
    for (var j = 0u; j < p.plane; j += 4u) {
      let q = vec4u(j) + lane;
      acc = acc + lddy4(base, vec4i(q), q < vec4u(p.plane));
    }
  }
  db[i] = (acc.x + acc.y) + (acc.z + acc.w);
}
