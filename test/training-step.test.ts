// A whole training step over the kernels — conv → BN → ReLU → max-pool → linear → cross-entropy,
// backward, SGD with the BN sparsity term — repeated: the number of live GPU buffers stays
// constant after the first step (no leak), and the loss on a fixed batch goes down.
import { describe, expect, it } from 'vitest';
import type { Context, Tensor } from '../src/core.js';
import { reluBackward, reluForward } from '../src/ops/elementwise.js';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward } from '../src/ops/conv2d.js';
import { batchNormBackward, batchNormForwardTrain } from '../src/ops/batchnorm2d.js';
import { maxPool2dBackward, maxPool2dForward } from '../src/ops/pool2d.js';
import { linearBackward, linearForward } from '../src/ops/linear.js';
import { softmaxCrossEntropy } from '../src/ops/cross_entropy.js';
import { sgdStep } from '../src/ops/sgd.js';
import { useContext, f32 } from './util/gpu.js';
import { integers, normal, uniform } from './util/random.js';

const getCtx = useContext();

function makeNet(ctx: Context) {
  const N = 4, C = 3, H = 8, W = 8, O = 6, K = 5;
  const p = {
    w: f32(ctx, [O, C, 3, 3], normal(O * C * 9, 1, Math.sqrt(2 / (9 * O)))),
    gamma: f32(ctx, [O], new Float32Array(O).fill(0.5)),
    beta: f32(ctx, [O], new Float32Array(O)),
    fcW: f32(ctx, [K, O * 4 * 4], normal(K * O * 16, 2, 0.1)),
    fcB: f32(ctx, [K], new Float32Array(K)),
  };
  const buffers = {
    rm: f32(ctx, [O], new Float32Array(O)),
    rv: f32(ctx, [O], new Float32Array(O).fill(1)),
  };
  const mom = Object.fromEntries(Object.entries(p).map(([k, t]) => [k, ctx.tensor(t.shape, undefined, 'f32', `${k}.momentum`)])) as Record<keyof typeof p, Tensor>;
  const x = f32(ctx, [N, C, H, W], uniform(N * C * H * W, 3));
  const labels = ctx.tensor([N], integers(N, K, 4), 'u32', 'labels');
  return { N, C, H, W, O, K, p, buffers, mom, x, labels };
}

describe('training step', () => {
  it('does not grow the number of live GPU buffers over repeated steps, and lowers the loss', async () => {
    const ctx = getCtx();
    const net = makeNet(ctx);
    const { p, mom, x, labels } = net;
    const losses: number[] = [];
    const live: number[] = [];
    for (let step = 0; step < 6; step++) {
      const temps: Tensor[] = [];
      const keep = <T extends Tensor>(t: T): T => (temps.push(t), t);
      const y1 = keep(conv2dForward(ctx, x, p.w, { padding: 1 }));
      const bn = batchNormForwardTrain(ctx, y1, p.gamma, p.beta, net.buffers.rm, net.buffers.rv);
      temps.push(bn.y, bn.saveMean, bn.saveInvStd);
      reluForward(ctx, bn.y, bn.y);
      const mp = maxPool2dForward(ctx, bn.y, { kernel: 2 });
      temps.push(mp.y, mp.argmax);
      const flat = mp.y.reshape([net.N, net.O * 16]);
      const logits = keep(linearForward(ctx, flat, p.fcW, p.fcB));
      const ce = softmaxCrossEntropy(ctx, logits, labels);
      temps.push(ce.loss, ce.dlogits, ce.correct);
      const fc = linearBackward(ctx, flat, p.fcW, ce.dlogits);
      temps.push(fc.dx!, fc.dw, fc.db!);
      const dmp = keep(maxPool2dBackward(ctx, fc.dx!.reshape(mp.y.shape), mp.argmax, bn.y.shape, { kernel: 2 }));
      reluBackward(ctx, bn.y, dmp, dmp);
      const dbn = batchNormBackward(ctx, y1, dmp, p.gamma, bn.saveMean, bn.saveInvStd);
      temps.push(dbn.dx, dbn.dgamma, dbn.dbeta);
      const dw = keep(conv2dBackwardWeight(ctx, x, dbn.dx, p.w.shape, { padding: 1 }));
      const dxIn = keep(conv2dBackwardInput(ctx, dbn.dx, p.w, x.shape, { padding: 1 }));
      const opts = { lr: 0.05, momentum: 0.9, weightDecay: 1e-4, firstStep: step === 0 };
      sgdStep(ctx, p.w, dw, mom.w, opts);
      sgdStep(ctx, p.gamma, dbn.dgamma, mom.gamma, { ...opts, sparsity: 1e-4 });
      sgdStep(ctx, p.beta, dbn.dbeta, mom.beta, opts);
      sgdStep(ctx, p.fcW, fc.dw, mom.fcW, opts);
      sgdStep(ctx, p.fcB, fc.db!, mom.fcB, opts);
      losses.push((await ctx.readF32(ce.loss))[0]!);
      expect(dxIn.shape).toEqual(x.shape);
      for (const t of temps) t.destroy();
      await ctx.sync();
      live.push(ctx.liveBuffers);
    }
    // Step 1 differs from the rest only by SGD's first-step uniforms (momentum buffer = d), so the
    // content-keyed uniform cache holds one more set from step 2 on; after that nothing may grow.
    expect(live.slice(2).every((n) => n === live[1]), `live buffers per step: ${live.join(', ')}`).toBe(true);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]!, `losses: ${losses.join(', ')}`).toBeLessThan(losses[0]!);
  });
});
