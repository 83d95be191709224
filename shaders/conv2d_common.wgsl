// The part every conv2d_* kernel file includes: the job and wgrad geometries with their bindings,
// and the loads they share.
//
// 2-D convolution without bias as implicit GEMMs; x [N, C, H, W], w [O, C, KH, KW] (PyTorch OIHW),
// y and dy [N, O, OH, OW], all f32. The forward and the input gradient share the conv_* kernels: a
// job computes out[n, r, pixel] = Σ_{q, i, j} weight(r, q, i, j) · in[n, q, row, col] (forward: r = o,
// q = c; dgrad: r = c, q = o, one job per stride phase, taps reversed). The wgrad_* kernels sum
// dy·x over a slice of (n, oh) rows into partials [slice, O·C·KH·KW]. Each regblock invocation keeps
// a block of outputs in registers; the forward saves nothing (the backward reads x, w and dy).

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
// dy at i, 0 where !ok
fn dyld(i: u32, ok: bool) -> f32 { return select(0.0, dy[i], ok); }

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
