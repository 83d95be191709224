import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/errors.js';
import { channelSelectBackward, channelSelectForward, concatBackward, concatForward } from '../src/ops/channel.js';
import { useContext, f32 } from './util/gpu.js';
import { rng, uniform } from './util/random.js';
import { expectBitExact } from './util/tolerance.js';
import { channelSelectBackwardRef, channelSelectRef, concatBackwardRef, concatRef } from './reference/channel.js';

const getCtx = useContext();

const size = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

/** k distinct channels of c, in a random order (seeded). */
function keptChannels(c: number, k: number, seed: number): Uint32Array {
  const r = rng(seed);
  const all = Array.from({ length: c }, (_, i) => i);
  for (let i = c - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return Uint32Array.from(all.slice(0, k));
}

// Channel ops only move values, so results must be bit-identical to the reference.
describe('channel concat', () => {
  const CASES: number[][][] = [
    [[2, 3, 5, 7], [2, 1, 5, 7], [2, 4, 5, 7]],
    [[1, 1, 1, 1], [1, 2, 1, 1]],
    [[3, 2], [3, 5]], // rank 2: [N, C]
    [[4, 17, 6, 6], [4, 30, 6, 6]], // several workgroups per piece
  ];
  for (const shapes of CASES) {
    it(`forward and backward, ${shapes.map((s) => `[${s.join(',')}]`).join(' + ')}`, async () => {
      const ctx = getCtx();
      const data = shapes.map((s, i) => uniform(size(s), 100 + i));
      const inputs = shapes.map((s, i) => f32(ctx, s, data[i]!));
      const y = concatForward(ctx, inputs);
      const ref = concatRef(data, shapes);
      expect(y.shape).toEqual([shapes[0]![0], shapes.reduce((a, s) => a + s[1]!, 0), ...shapes[0]!.slice(2)]);
      expectBitExact(await ctx.readF32(y), ref, 'concat y');
      const gv = uniform(y.size, 200);
      const dy = f32(ctx, y.shape as number[], gv);
      const dxs = concatBackward(ctx, dy, shapes);
      const refs = concatBackwardRef(gv, shapes);
      for (let i = 0; i < shapes.length; i++) {
        expect(dxs[i]!.shape).toEqual(shapes[i]);
        expectBitExact(await ctx.readF32(dxs[i]!), refs[i]!, `concat dx[${i}]`);
      }
      for (const t of [...inputs, y, dy, ...dxs]) t.destroy();
    });
  }

  it('writes into given outputs', async () => {
    const ctx = getCtx();
    const shapes = [[2, 3, 4, 4], [2, 2, 4, 4]];
    const data = shapes.map((s, i) => uniform(size(s), 300 + i));
    const inputs = shapes.map((s, i) => f32(ctx, s, data[i]!));
    const out = ctx.tensor([2, 5, 4, 4]);
    expect(concatForward(ctx, inputs, out)).toBe(out);
    expectBitExact(await ctx.readF32(out), concatRef(data, shapes), 'concat into out');
    const outs = shapes.map((s) => ctx.tensor(s));
    const got = concatBackward(ctx, out, shapes, outs);
    expect(got[0]).toBe(outs[0]);
    expect(got[1]).toBe(outs[1]);
    for (let i = 0; i < 2; i++) expectBitExact(await ctx.readF32(outs[i]!), data[i]!, `round trip ${i}`);
    for (const t of [...inputs, out, ...outs]) t.destroy();
  });

  it('rejects inputs that differ outside dim 1 with a ShapeError naming both', () => {
    const ctx = getCtx();
    const a = ctx.tensor([2, 3, 4, 4]), b = ctx.tensor([2, 3, 5, 4]);
    expect(() => concatForward(ctx, [a, b])).toThrow(ShapeError);
    expect(() => concatForward(ctx, [a, b])).toThrow('concatForward: input 1 [2, 3, 5, 4] does not match input 0 [2, 3, 4, 4] outside dim 1');
    a.destroy();
    b.destroy();
  });
});

describe('channel selection', () => {
  // [x shape, kept count, seed]
  const CASES: [number[], number, number][] = [
    [[2, 6, 3, 5], 3, 1],
    [[4, 6, 3, 3], 1, 2], // one channel
    [[2, 6, 3, 3], 6, 3], // all channels, permuted
    [[1, 1, 2, 2], 1, 4], // batch 1, one channel in
    [[3, 37, 9, 9], 20, 5], // several workgroups
    [[5, 8], 5, 6], // rank 2
  ];
  for (const [shape, k, seed] of CASES) {
    it(`gather and scatter, x [${shape.join(',')}], keep ${k}`, async () => {
      const ctx = getCtx();
      const idx = keptChannels(shape[1]!, k, seed);
      const xv = uniform(size(shape), seed + 10);
      const x = f32(ctx, shape, xv);
      const indices = ctx.tensor([k], idx, 'u32', 'indices');
      const y = channelSelectForward(ctx, x, indices);
      expect(y.shape).toEqual([shape[0], k, ...shape.slice(2)]);
      expectBitExact(await ctx.readF32(y), channelSelectRef(xv, shape, idx), 'select y');
      const gv = uniform(y.size, seed + 20);
      const dy = f32(ctx, y.shape as number[], gv);
      // dx starts as garbage: the backward must zero the dropped channels itself.
      const dx = f32(ctx, shape, new Float32Array(size(shape)).fill(7));
      expect(channelSelectBackward(ctx, dy, indices, shape, dx)).toBe(dx);
      expectBitExact(await ctx.readF32(dx), channelSelectBackwardRef(gv, shape, idx), 'select dx');
      for (const t of [x, indices, y, dy, dx]) t.destroy();
    });
  }

  it('identity indices reproduce x; the allocated dx equals the scatter', async () => {
    const ctx = getCtx();
    const shape = [2, 4, 3, 3];
    const xv = uniform(size(shape), 40);
    const x = f32(ctx, shape, xv);
    const idx = Uint32Array.from([0, 1, 2, 3]);
    const indices = ctx.tensor([4], idx, 'u32');
    const y = channelSelectForward(ctx, x, indices);
    expectBitExact(await ctx.readF32(y), xv, 'identity selection');
    const dx = channelSelectBackward(ctx, y, indices, shape);
    expectBitExact(await ctx.readF32(dx), xv, 'identity scatter');
    for (const t of [x, indices, y, dx]) t.destroy();
  });

  it('rejects a dy that does not match the kept count', () => {
    const ctx = getCtx();
    const dy = ctx.tensor([2, 3, 4, 4]);
    const indices = ctx.tensor([2], [0, 1], 'u32');
    expect(() => channelSelectBackward(ctx, dy, indices, [2, 5, 4, 4])).toThrow('channelSelectBackward: dy [2, 3, 4, 4] should be [2, 2, 4, 4]');
    dy.destroy();
    indices.destroy();
  });
});
