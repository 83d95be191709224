import { describe, expect, it } from 'vitest';
import { augmentBatch, augmentParams, pcgHash, uploadImages, type AugmentOptions } from '../src/ops/augment.js';
import { CIFAR10_MEAN, CIFAR10_STD } from '../src/data/datasets.js';
import type { Context } from '../src/core.js';
import { useContext } from './util/gpu.js';
import { integers, rng } from './util/random.js';
import { TOL, expectClose } from './util/tolerance.js';

const getCtx = useContext();

// An independent PCG hash in BigInt arithmetic (the kernel and augmentParams use u32 wrap-around).
const M = 0xffffffffn;
function pcgRef(v: number): number {
  const state = (BigInt(v >>> 0) * 747796405n + 2891336453n) & M;
  const word = (((state >> ((state >> 28n) + 4n)) ^ state) * 277803737n) & M;
  return Number((word >> 22n) ^ word);
}
function paramsRef(seed: number, step: number, b: number, pad: number): { ox: number; oy: number; flip: boolean } {
  const u = (x: number): number => x % 2 ** 32;
  const key = pcgRef(u(pcgRef(u(pcgRef(seed) + step)) + b));
  const span = 2 * pad + 1;
  return { ox: pcgRef(u(key + 1)) % span, oy: pcgRef(u(key + 2)) % span, flip: pcgRef(u(key + 3)) >= 2 ** 31 };
}

/** torchvision's float32 chain: pad → crop → flip → ToTensor (x/255) → Normalize ((x − m)/s). */
function reference(images: Uint8Array, indices: Uint32Array, o: AugmentOptions): Float32Array {
  const { channels: C, height: H, width: W, pad } = o;
  const out = new Float32Array(indices.length * C * H * W);
  const f = Math.fround;
  indices.forEach((s, b) => {
    const r = paramsRef(o.seed, o.step, b, pad);
    const ox = o.crop ? r.ox : pad;
    const oy = o.crop ? r.oy : pad;
    const flip = o.flip && r.flip;
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const sy = y + oy - pad;
          const sx = (flip ? W - 1 - x : x) + ox - pad;
          const inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
          const byte = inside ? images[((s * C + c) * H + sy) * W + sx]! : 0;
          const v = f(byte / 255);
          out[((b * C + c) * H + y) * W + x] = f(f(v - f(o.mean[c]!)) / f(o.std[c]!));
        }
      }
    }
  });
  return out;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

/** Number of elements that differ in their bits (reported, not asserted: division may differ by an ulp). */
function ulpDiffs(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let d = 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) d++;
  return d;
}

async function runBatch(ctx: Context, bytes: Uint8Array, idx: Uint32Array, o: AugmentOptions): Promise<Float32Array> {
  const images = uploadImages(ctx, bytes);
  const indices = ctx.tensor([idx.length], idx, 'u32', 'indices');
  const out = augmentBatch(ctx, images, indices, o);
  const y = await ctx.readF32(out);
  for (const t of [images, indices, out]) t.destroy();
  return y;
}

const cifar = (over: Partial<AugmentOptions> = {}): AugmentOptions => ({
  channels: 3, height: 32, width: 32, pad: 4, crop: true, flip: true, seed: 1234, step: 0,
  mean: CIFAR10_MEAN, std: CIFAR10_STD, ...over,
});

describe('augment', () => {
  it('the kernel hash in JavaScript matches an independent BigInt PCG', () => {
    for (const v of [0, 1, 2, 12345, 0x7fffffff, 0x80000000, 0xffffffff]) expect(pcgHash(v)).toBe(pcgRef(v));
    for (let b = 0; b < 200; b++) {
      const seed = (b * 2654435761) >>> 0;
      expect(augmentParams(seed, 0xfffffff0 + (b % 32), b, 4)).toEqual(paramsRef(seed, 0xfffffff0 + (b % 32), b, 4));
    }
  });

  it('CIFAR training batch (pad 4, crop, flip) matches the float32 torchvision chain', async () => {
    const ctx = getCtx();
    const N = 20, B = 32;
    const bytes = randomBytes(N * 3072, 7);
    const idx = integers(B, N, 8); // repeats included
    for (const step of [0, 1, 0xffffffff]) {
      const o = cifar({ step });
      const y = await runBatch(ctx, bytes, idx, o);
      const ref = reference(bytes, idx, o);
      expectClose(y, ref, TOL.forward, `cifar batch step ${step}`);
      // WGSL does not require correctly rounded division (2.5 ulp): SwiftShader's x/255 differs
      // from the correctly rounded float32 quotient in the last bit for about half of the 256
      // byte values, and (v − mean) cancels near the mean, so ~35 % of elements differ in bits
      // (max abs err measured 7.2e-7 on outputs up to 2.7): TOL.forward, not bit equality.
    }
    // the batch really was augmented: some samples cropped off-centre, some flipped
    const ps = Array.from({ length: B }, (_, b) => augmentParams(1234, 0, b, 4));
    expect(ps.some((p) => p.flip) && ps.some((p) => !p.flip)).toBe(true);
    expect(ps.some((p) => p.ox !== 4 || p.oy !== 4)).toBe(true);
  });

  it('different steps and seeds give different crops; the same (seed, step) the same batch', async () => {
    const ctx = getCtx();
    const bytes = randomBytes(4 * 3072, 9);
    const idx = Uint32Array.from([0, 1, 2, 3, 0, 1, 2, 3]);
    const a = await runBatch(ctx, bytes, idx, cifar({ step: 5 }));
    const a2 = await runBatch(ctx, bytes, idx, cifar({ step: 5 }));
    const b = await runBatch(ctx, bytes, idx, cifar({ step: 6 }));
    const c = await runBatch(ctx, bytes, idx, cifar({ step: 5, seed: 1235 }));
    expect(ulpDiffs(a, a2)).toBe(0);
    const per = 3072;
    const differing = (u: Float32Array, v: Float32Array): number => {
      let k = 0;
      for (let s = 0; s < idx.length; s++) if (ulpDiffs(u.subarray(s * per, (s + 1) * per), v.subarray(s * per, (s + 1) * per)) > 0) k++;
      return k;
    };
    expect(differing(a, b)).toBeGreaterThanOrEqual(6);
    expect(differing(a, c)).toBeGreaterThanOrEqual(6);
    // positions 0 and 4 hold the same image but get their own crops
    expect(ulpDiffs(a.subarray(0, per), a.subarray(4 * per, 5 * per))).toBeGreaterThan(0);
    expectClose(b, reference(bytes, idx, cifar({ step: 6 })), TOL.forward, 'step 6');
  });

  it('test mode (pad 0, no crop, no flip) only normalises; crop off with pad 4 is the identity too', async () => {
    const ctx = getCtx();
    const N = 3;
    const bytes = randomBytes(N * 3072, 11);
    bytes[0] = 0;
    bytes[1] = 255;
    const idx = Uint32Array.from([2, 0, 1]);
    const plain = Float32Array.from({ length: idx.length * 3072 }, (_, i) => {
      const b = Math.floor(i / 3072), c = Math.floor((i % 3072) / 1024);
      const f = Math.fround;
      return f(f(f(bytes[idx[b]! * 3072 + (i % 3072)]! / 255) - f(CIFAR10_MEAN[c]!)) / f(CIFAR10_STD[c]!));
    });
    const t = await runBatch(ctx, bytes, idx, cifar({ pad: 0, crop: false, flip: false }));
    expectClose(t, plain, TOL.forward, 'test mode');
    const centre = await runBatch(ctx, bytes, idx, cifar({ pad: 4, crop: false, flip: false }));
    expectClose(centre, plain, TOL.forward, 'centre crop');
    // sample 1 is image 0, whose first two pixels are 0 and 255
    expect(t[3072]).toBeCloseTo((0 - 0.4914) / 0.2023, 5);
    expect(t[3073]).toBeCloseTo((1 - 0.4914) / 0.2023, 5);
    // flip only: each row mirrored
    const fl = await runBatch(ctx, bytes, idx, cifar({ pad: 0, crop: false, flip: true }));
    expectClose(fl, reference(bytes, idx, cifar({ pad: 0, crop: false, flip: true })), TOL.forward, 'flip only');
  });

  it('single-channel images whose byte size is not a multiple of 4, from an unaligned view', async () => {
    const ctx = getCtx();
    const N = 3, H = 5, W = 7; // 105 bytes
    const backing = randomBytes(N * H * W + 1, 13);
    const bytes = backing.subarray(1); // byteOffset 1
    expect(bytes.length % 4).not.toBe(0);
    const idx = Uint32Array.from([2, 2, 1, 0, 2]); // the last sample ends in the partial last word
    const o: AugmentOptions = { channels: 1, height: H, width: W, pad: 2, crop: true, flip: true, seed: 99, step: 3, mean: [0.286], std: [0.353] };
    const y = await runBatch(ctx, bytes, idx, o);
    expectClose(y, reference(bytes, idx, o), TOL.forward, '1-channel 5x7');
  });

  it('offsets are uniform over 0..2·pad and flips have probability 1/2 (decoded from GPU output)', async () => {
    const ctx = getCtx();
    // One 9×9 image with distinct bytes 1..81: with pad 4 every crop keeps at least a 5×5 block
    // of it, from which the crop offsets and the flip can be read back.
    const H = 9, pad = 4, B = 2048, steps = 2;
    const bytes = Uint8Array.from({ length: H * H }, (_, i) => i + 1);
    const idx = new Uint32Array(B);
    const o = (step: number): AugmentOptions => ({ channels: 1, height: H, width: H, pad, crop: true, flip: true, seed: 2024, step, mean: [0], std: [1] });
    const ox = new Array<number>(9).fill(0), oy = new Array<number>(9).fill(0);
    let flips = 0;
    for (let step = 0; step < steps; step++) {
      const y = await runBatch(ctx, bytes, idx, o(step));
      for (let b = 0; b < B; b++) {
        const img = y.subarray(b * H * H, (b + 1) * H * H);
        const px: { yo: number; xo: number; sy: number; sx: number }[] = [];
        img.forEach((v, i) => {
          const byte = Math.round(v * 255);
          if (byte > 0) px.push({ yo: Math.floor(i / H), xo: i % H, sy: Math.floor((byte - 1) / H), sx: (byte - 1) % H });
        });
        expect(px.length).toBeGreaterThanOrEqual(25);
        const [p0, p1] = [px[0]!, px.find((q) => q.yo === px[0]!.yo && q.xo !== px[0]!.xo)!];
        const flip = (p1.sx - p0.sx) * (p1.xo - p0.xo) < 0;
        const dy = p0.sy - p0.yo + pad;
        const dx = p0.sx - (flip ? H - 1 - p0.xo : p0.xo) + pad;
        expect({ ox: dx, oy: dy, flip }).toEqual(augmentParams(2024, step, b, pad));
        ox[dx]!++;
        oy[dy]!++;
        if (flip) flips++;
      }
    }
    const total = B * steps;
    const chi2 = (h: number[]): number => h.reduce((s, k) => s + (k - total / 9) ** 2 / (total / 9), 0);
    // χ² with 8 degrees of freedom: P(χ² > 26.1) = 0.001
    expect(chi2(ox), `ox histogram ${ox}`).toBeLessThan(26.1);
    expect(chi2(oy), `oy histogram ${oy}`).toBeLessThan(26.1);
    // flips ~ Binomial(total, 1/2): sd = 32 for 4096; allow 4 sd
    expect(Math.abs(flips - total / 2)).toBeLessThan(4 * Math.sqrt(total) / 2);
  });

  it('an index past the images gives NaN for that sample only', async () => {
    const ctx = getCtx();
    const bytes = randomBytes(2 * 3072, 17);
    const y = await runBatch(ctx, bytes, Uint32Array.from([1, 2]), cifar());
    expect(y.subarray(0, 3072).every(Number.isFinite)).toBe(true);
    expect(y.subarray(3072).every(Number.isNaN)).toBe(true);
    // `samples` limits the valid indices below what the buffer holds
    const z = await runBatch(ctx, bytes, Uint32Array.from([0, 1]), cifar({ samples: 1 }));
    expect(z.subarray(0, 3072).every(Number.isFinite) && z.subarray(3072).every(Number.isNaN)).toBe(true);
  });

  it('rejects bad arguments naming them', () => {
    const ctx = getCtx();
    const images = uploadImages(ctx, new Uint8Array(3072));
    const idx = ctx.tensor([2], [0, 0], 'u32');
    expect(() => augmentBatch(ctx, images, idx, cifar({ mean: [0.5] }))).toThrow('mean (1) and std (3) need 3 entries');
    expect(() => augmentBatch(ctx, images, idx, cifar({ channels: 5 }))).toThrow('5 channels; the kernel normalises at most 4');
    expect(() => augmentBatch(ctx, images, idx, cifar({ pad: -1 }))).toThrow('pad -1');
    expect(() => augmentBatch(ctx, images, idx, cifar({ step: -1 }))).toThrow('must be u32');
    expect(() => augmentBatch(ctx, idx.reshape([1, 2]), idx, cifar())).toThrow('images should be a 1-D u32 tensor');
    expect(() => augmentBatch(ctx, images, idx, cifar({ samples: 2 }))).toThrow('samples 2 but images hold 1 samples of 3072 bytes');
    const out = ctx.tensor([2, 3, 32, 31]);
    expect(() => augmentBatch(ctx, images, idx, cifar(), out)).toThrow('out f32 [2, 3, 32, 31] should be f32 [2, 3, 32, 32]');
    for (const t of [images, idx, out]) t.destroy();
  });
});
