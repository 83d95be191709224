import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/errors.js';
import { softmaxCrossEntropy } from '../src/ops/cross_entropy.js';
import { useContext, f32 } from './util/gpu.js';
import { numericGrad, pick } from './util/gradcheck.js';
import { integers, normal } from './util/random.js';
import { TOL, expectClose } from './util/tolerance.js';
import { crossEntropyLossRef, crossEntropyRef } from './reference/cross_entropy.js';

const getCtx = useContext();

/** Runs the op and reads all three results back. */
async function run(logitsV: Float32Array, labelsV: Uint32Array | Int32Array, batch: number, classes: number) {
  const ctx = getCtx();
  const logits = f32(ctx, [batch, classes], logitsV);
  const labels = ctx.tensor([batch], labelsV, labelsV instanceof Int32Array ? 'i32' : 'u32', 'labels');
  const r = softmaxCrossEntropy(ctx, logits, labels);
  const out = {
    loss: (await ctx.readF32(r.loss))[0]!,
    dlogits: await ctx.readF32(r.dlogits),
    correct: (await ctx.read(r.correct))[0]!,
  };
  expect(r.correct.dtype).toBe('u32');
  for (const t of [logits, labels, r.loss, r.dlogits, r.correct]) t.destroy();
  return out;
}

// The loss and dlogits are forward computations (exp, log, one sum over N); the loss sums N row
// losses, well within TOL.forward's budget for N ≤ 5000.
describe('softmax cross-entropy', () => {
  // [N, K]: one sample, one class, non-multiples of the 64-sample workgroup, several workgroups,
  // and more than 64 partials so `finish` loops.
  const SHAPES: [number, number][] = [
    [1, 10],
    [5, 1],
    [7, 3],
    [200, 10],
    [130, 100],
    [4480, 10],
  ];
  for (const [batch, classes] of SHAPES) {
    it(`loss, dlogits and correct vs float64, N=${batch} K=${classes}`, async () => {
      const seed = batch * 7 + classes;
      const logitsV = normal(batch * classes, seed, 3);
      const labelsV = integers(batch, classes, seed + 1);
      const ref = crossEntropyRef(logitsV, labelsV, batch, classes);
      const got = await run(logitsV, labelsV, batch, classes);
      expectClose([got.loss], [ref.loss], TOL.forward, 'loss');
      expectClose(got.dlogits, ref.dlogits, TOL.forward, 'dlogits');
      expect(got.correct).toBe(ref.correct);
    });
  }

  it('is stable for large logits and takes i32 labels', async () => {
    const batch = 33, classes = 12;
    const base = normal(batch * classes, 5, 3);
    // Whole rows shifted by ±1000 or 100: exp without the max subtracted would overflow or underflow to 0.
    const shifts = [1000, -1000, 100];
    const shifted = Float32Array.from(base, (v, i) => v + shifts[Math.floor(i / classes) % 3]!);
    const labelsV = Int32Array.from(integers(batch, classes, 6));
    const ref = crossEntropyRef(shifted, labelsV, batch, classes);
    expect(Number.isFinite(ref.loss)).toBe(true);
    const got = await run(shifted, labelsV, batch, classes);
    expectClose([got.loss], [ref.loss], TOL.forward, 'loss');
    expectClose(got.dlogits, ref.dlogits, TOL.forward, 'dlogits');
    expect(got.correct).toBe(ref.correct);
  });

  it('counts argmax ties as the lowest index', async () => {
    const batch = 90, classes = 4;
    // Small integers give many tied maxima; labels cover every class.
    const logitsV = Float32Array.from(integers(batch * classes, 3, 8));
    const labelsV = integers(batch, classes, 9);
    let tiedHits = 0;
    for (let n = 0; n < batch; n++) {
      const row = Array.from(logitsV.subarray(n * classes, (n + 1) * classes));
      const m = Math.max(...row);
      const tied = row.flatMap((v, k) => (v === m ? [k] : []));
      if (tied.length > 1 && tied.slice(1).includes(labelsV[n]!)) tiedHits++;
    }
    expect(tiedHits).toBeGreaterThan(0); // a tied non-first max that equals the label must not count
    const ref = crossEntropyRef(logitsV, labelsV, batch, classes);
    const got = await run(logitsV, labelsV, batch, classes);
    expect(got.correct).toBe(ref.correct);
    expectClose([got.loss], [ref.loss], TOL.forward, 'loss');
  });

  it('clamps labels outside [0, K) to K − 1', async () => {
    const batch = 6, classes = 5;
    const logitsV = normal(batch * classes, 10, 2);
    const labelsV = Int32Array.from([0, 5, 4, -1, 99, 2]);
    const clamped = Int32Array.from(labelsV, (l) => (l < 0 || l >= classes ? classes - 1 : l));
    const ref = crossEntropyRef(logitsV, clamped, batch, classes);
    const got = await run(logitsV, labelsV, batch, classes);
    expectClose([got.loss], [ref.loss], TOL.forward, 'loss');
    expectClose(got.dlogits, ref.dlogits, TOL.forward, 'dlogits');
    expect(got.correct).toBe(ref.correct);
  });

  it('reference dlogits match finite differences of the reference loss', () => {
    for (const [batch, classes, seed] of [[3, 4, 20], [1, 7, 21], [5, 2, 22]] as const) {
      const logitsV = normal(batch * classes, seed, 2);
      const labelsV = integers(batch, classes, seed + 1);
      const ref = crossEntropyRef(logitsV, labelsV, batch, classes);
      const num = numericGrad((z) => [crossEntropyLossRef(z, labelsV, batch, classes)], logitsV, [1]);
      expectClose(num.values, pick(ref.dlogits, num.indices), TOL.finiteDiff, `dlogits vs finite differences N=${batch} K=${classes}`);
    }
  });

  it('writes into given outputs, overwriting (not accumulating) loss and correct', async () => {
    const ctx = getCtx();
    const batch = 70, classes = 10;
    const logitsV = normal(batch * classes, 30, 3);
    const labelsV = integers(batch, classes, 31);
    const logits = f32(ctx, [batch, classes], logitsV);
    const labels = ctx.tensor([batch], labelsV, 'u32');
    const loss = f32(ctx, [1], [42]), dlogits = ctx.tensor([batch, classes]), correct = ctx.tensor([1], [1000], 'u32');
    for (let rep = 0; rep < 2; rep++) {
      const r = softmaxCrossEntropy(ctx, logits, labels, { loss, dlogits, correct });
      expect(r.loss).toBe(loss);
      expect(r.dlogits).toBe(dlogits);
      expect(r.correct).toBe(correct);
    }
    const ref = crossEntropyRef(logitsV, labelsV, batch, classes);
    expectClose(await ctx.readF32(loss), [ref.loss], TOL.forward, 'loss');
    expectClose(await ctx.readF32(dlogits), ref.dlogits, TOL.forward, 'dlogits');
    expect((await ctx.read(correct))[0]).toBe(ref.correct);
    for (const t of [logits, labels, loss, dlogits, correct]) t.destroy();
  });

  it('rejects labels of the wrong length with a ShapeError', () => {
    const ctx = getCtx();
    const logits = ctx.tensor([4, 10]), labels = ctx.tensor([5], undefined, 'u32'), flt = ctx.tensor([4]);
    expect(() => softmaxCrossEntropy(ctx, logits, labels)).toThrow(ShapeError);
    expect(() => softmaxCrossEntropy(ctx, logits, labels)).toThrow('softmaxCrossEntropy: labels [5] should be [4] for logits [4, 10]');
    expect(() => softmaxCrossEntropy(ctx, logits, flt)).toThrow('softmaxCrossEntropy: labels have dtype f32, expected u32 or i32');
    for (const t of [logits, labels, flt]) t.destroy();
  });
});

