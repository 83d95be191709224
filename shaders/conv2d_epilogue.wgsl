// The evaluation epilogue of the forward kernels (conv2d_forward.wgsl, conv2d_tiled.wgsl).
// BN: BatchNorm2d with its running statistics; RELU: then ReLU; ADD: then a residual sum;
// PERPIX: the BatchNorm2d channel is the grid pixel (per-pixel jobs of small images), not the
// output row.
#define BN: bool
#define RELU: bool
#define ADD: bool
#define PERPIX: bool

// Evaluation epilogue of a forward job (BN, RELU, ADD), applied to the output
// at index i before the store, so the activation is written once: BatchNorm2d with its running
// statistics, y = (v − mean)·γ/√(var + eps) + β as batchNormForwardEval computes it, then ReLU,
// then the residual sum y + residual[i] (an Add fed by the convolution). The BatchNorm2d channel
// is the output row, or the grid pixel for per-pixel jobs (PERPIX; the
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
#if BN
  let r = min(vec4u(c0) + vec4u(0u, 1u, 2u, 3u), vec4u(n - 1u));
  e.mean = vec4f(bn_mean[r.x], bn_mean[r.y], bn_mean[r.z], bn_mean[r.w]);
  e.scale = vec4f(bn_gamma[r.x], bn_gamma[r.y], bn_gamma[r.z], bn_gamma[r.w]) / sqrt(vec4f(bn_var[r.x], bn_var[r.y], bn_var[r.z], bn_var[r.w]) + p.eps);
  e.shift = vec4f(bn_beta[r.x], bn_beta[r.y], bn_beta[r.z], bn_beta[r.w]);
#endif
  return e;
}
// the coefficients of output rows r0..r0+3 (the channels of a grid job)
fn epi_rows(r0: u32) -> Epi { return epi_chans(r0, p.M); }
// The coefficients of a conv_regblock block at rows r0.., pixels pix0..: per row, or (BNCOLS) per
// pixel, for the per-pixel jobs of small images, whose grid pixels are the channels (NB of them)
// and whose rows are the samples.
fn epi_block(r0: u32, pix0: u32) -> Epi {
#if !PERPIX
  return epi_rows(r0);
#else
  return epi_chans(pix0, p.NB);
#endif
}
// The coefficients of row i of a block for its 4 pixels: that row's (cols[i], as `row`), or with
// BNCOLS the pixels' own.
fn pick(row: f32, cols: vec4f) -> vec4f {
#if !PERPIX
  return vec4f(row);
#else
  return cols;
#endif
}
// v of an output row with BatchNorm2d coefficients (mean, scale, shift), stored at output index k
fn epilogue1(v: f32, mean: f32, scale: f32, shift: f32, k: u32) -> f32 {
  var o = v;
#if BN
  o = (o - mean) * scale + shift;
#endif
#if RELU
  o = max(o, 0.0);
#endif
#if ADD
  o = o + residual[k];
#endif
  return o;
}
// v of row i, pixel j of a block with coefficients e (see epi_block), stored at output index k
fn epilogue(v: f32, e: Epi, i: u32, j: u32, k: u32) -> f32 {
#if !PERPIX
  let c = i;
#else
  let c = j;
#endif
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

