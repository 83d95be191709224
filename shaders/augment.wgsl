// The GPU input pipeline: builds a normalised float batch [B, C, H, W] from uint8 images in one
// dispatch, as torchvision's RandomCrop(H, padding=pad) → RandomHorizontalFlip → ToTensor →
// Normalize(mean, std) would (the reference writes Pad(4) → RandomCrop(32), the same thing).
//
// Images: the dataset's uint8 NCHW bytes packed four to a u32 word, little-endian (byte k of the
// dataset is bits 8·(k%4)… of word k/4), as WGSL lays out u32 in memory; sample s occupies bytes
// [s·C·H·W, (s+1)·C·H·W).
//
// Randomness (reproducible, no state): a key per batch position b,
//   key = pcg(pcg(pcg(seed) + step) + b)          (u32 wrap-around arithmetic)
// with pcg the 32-bit PCG hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020);
//   ox   = pcg(key + 1) % (2·pad + 1)    crop column offset in the padded image
//   oy   = pcg(key + 2) % (2·pad + 1)    crop row offset
//   flip = pcg(key + 3) >> 31            1: mirror the crop horizontally (probability 1/2)
// Without `crop` the offsets are `pad` (the centre: the image itself); without `flip` no mirror.
// src/ops/augment.ts exports the same hash in JavaScript (augmentParams).
//
// Output element (b, c, y, x): xs = flip ? W−1−x : x; the padded image's pixel (y+oy, xs+ox) is
// the source pixel (y+oy−pad, xs+ox−pad), zero outside; value (byte/255 − mean[c]) / std[c],
// computed in that order as torchvision does in float32. An index past the images gives NaN.

struct Params {
  n: u32,        // B·C·H·W output elements
  c: u32,
  h: u32,
  w: u32,
  samples: u32,  // whole samples in the images buffer
  pad: u32,
  crop: u32,
  flip: u32,
  seed: u32,
  step: u32,
  mean0: f32, mean1: f32, mean2: f32, mean3: f32,
  std0: f32, std1: f32, std2: f32, std3: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn pick(c: u32, a: f32, b: f32, d: f32, e: f32) -> f32 {
  return select(select(select(a, b, c == 1u), d, c == 2u), e, c == 3u);
}

@compute @workgroup_size(256, 1, 1)
fn augment(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid.x;
  if (i >= p.n) { return; }
  let hw = p.h * p.w;
  let chw = p.c * hw;
  let b = i / chw;
  let r = i - b * chw;
  let c = r / hw;
  let q = r - c * hw;
  let y = q / p.w;
  let x = q - y * p.w;

  let key = pcg(pcg(pcg(p.seed) + p.step) + b);
  let span = 2u * p.pad + 1u;
  let ox = select(p.pad, pcg(key + 1u) % span, p.crop != 0u);
  let oy = select(p.pad, pcg(key + 2u) % span, p.crop != 0u);
  let mirror = (p.flip != 0u) & ((pcg(key + 3u) >> 31u) == 1u);
  let xs = select(x, p.w - 1u - x, mirror);

  // Source coordinates as signed values: the padded border lies outside the image.
  let sy = i32(y + oy) - i32(p.pad);
  let sx = i32(xs + ox) - i32(p.pad);
  let inside = (sy >= 0) & (sy < i32(p.h)) & (sx >= 0) & (sx < i32(p.w));
  let s = indices[b];
  let valid = s < p.samples;
  // Clamp the address so an outside pixel or a bad index never reads out of range.
  let k = select(0u, s * chw + c * hw + u32(sy) * p.w + u32(sx), inside & valid);
  let byte = (images[k >> 2u] >> ((k & 3u) * 8u)) & 255u;
  let v = select(0.0, f32(byte), inside) / 255.0;
  let value = (v - pick(c, p.mean0, p.mean1, p.mean2, p.mean3)) / pick(c, p.std0, p.std1, p.std2, p.std3);
  // A quiet NaN from a runtime bit pattern (a constant NaN is a WGSL compile error).
  let nan = bitcast<f32>(0x7fc00000u | (s & 0u));
  out[i] = select(nan, value, valid);
}
