/**
 * The benchmark cases: VGG-16 CIFAR layer shapes for each op and pass, with our implementation
 * (src/ops, NCHW / OIHW) and the tfjs peers' (NHWC / HWIO, tfjs's native layout) on the same
 * seeded data. Every runner returns its outputs in our layouts so they can be compared.
 */
import type * as TF from '@tensorflow/tfjs-core';
import type { Context, Tensor } from '../src/core.js';
import { batchNormBackward, batchNormForwardTrain } from '../src/ops/batchnorm2d.js';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, type Conv2dOptions } from '../src/ops/conv2d.js';
import { groupedConv2dForward, type GroupedConv2dOptions } from '../src/ops/conv2d_grouped.js';
import { reluBackward, reluForward } from '../src/ops/elementwise.js';
import { linearBackward, linearForward } from '../src/ops/linear.js';
import { maxPool2dBackward, maxPool2dForward, type Pool2dOptions } from '../src/ops/pool2d.js';
import { hwioToOihw, nchwToNhwc, nhwcToNchw, numel, oihwToHwio, transpose2d, uniform } from './util.js';

export type Op = 'conv' | 'dwconv' | 'bn' | 'pool' | 'linear' | 'relu';
export type Pass = 'forward' | 'dgrad' | 'wgrad' | 'backward';
export type PeerName = 'webgpu' | 'wasm';
export type Outputs = Record<string, Float32Array>;

/** Our side of a case: inputs and outputs live on the GPU; `run` only records. */
export interface OursRunner {
  /** Records one pass into the context (no submit). */
  run(): void;
  /** Our outputs after the last run, as host arrays. */
  read(): Promise<Outputs>;
  dispose(): void;
}

/** A peer's side of a case: inputs are tfjs tensors on the current backend. */
export interface PeerRunner {
  /** Runs one pass (inside tf.tidy) and returns the output tensors; the caller disposes them. */
  run(): TF.Tensor[];
  /** The outputs of one run converted to our layouts. */
  read(outs: TF.Tensor[]): Promise<Outputs>;
  /** Input tensors, for upload before timing and disposal after. */
  inputs: TF.Tensor[];
}

export interface Case {
  op: Op;
  pass: Pass;
  /** Shapes in our layouts, e.g. `x[64,3,32,32] w[64,3,3,3]`. */
  shape: string;
  /** Nominal floating-point operations of one pass (see README for the memory-bound ops). */
  flops: number;
  /** Builds our runner. */
  ours(ctx: Context, variant: ConvVariant | undefined): Promise<OursRunner>;
  /** Builds a peer's runner on the current tfjs backend. */
  peer(tf: typeof TF, peer: PeerName): PeerRunner;
  /** What the peer runs, for the output and the JSON. */
  peerImpl(peer: PeerName): string;
  /** Releases the cached host data. */
  release(): void;
}

/** Our conv kernels, as `--variant` forces them. */
export type ConvVariant = NonNullable<Conv2dOptions['variant']>;

// ------------------------------------------------------------------ helpers

const s = (shape: readonly number[]) => `[${shape.join(',')}]`;

/** Host data made on first use and kept until `release()`. */
function lazy<T>(make: () => T): { get: () => T; release: () => void } {
  let v: T | undefined;
  return { get: () => (v ??= make()), release: () => (v = undefined) };
}

async function readAll(ctx: Context, ts: Record<string, Tensor>): Promise<Outputs> {
  const out: Outputs = {};
  for (const [k, t] of Object.entries(ts)) out[k] = await ctx.readF32(t);
  return out;
}

function destroyAll(ts: readonly (Tensor | undefined)[]): void {
  for (const t of ts) t?.destroy();
}

async function f32(t: TF.Tensor): Promise<Float32Array> {
  const d = await t.data();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

// ------------------------------------------------------------------ conv 3×3, stride 1, pad 1

export function convCase(N: number, Ci: number, Co: number, H: number, pass: 'forward' | 'dgrad' | 'wgrad'): Case {
  const xShape = [N, Ci, H, H];
  const wShape = [Co, Ci, 3, 3];
  const yShape = [N, Co, H, H];
  const opts: Conv2dOptions = { stride: 1, padding: 1 };
  const bound = 1 / Math.sqrt(Ci * 9);
  const data = lazy(() => ({
    x: uniform(numel(xShape), 11),
    w: uniform(numel(wShape), 12, -bound, bound),
    dy: uniform(numel(yShape), 13),
  }));
  const nhwc = lazy(() => ({
    x: nchwToNhwc(data.get().x, xShape),
    w: oihwToHwio(data.get().w, wShape),
    dy: nchwToNhwc(data.get().dy, yShape),
  }));
  const tfx = (sh: readonly number[]) => [sh[0]!, sh[2]!, sh[3]!, sh[1]!] as [number, number, number, number];
  const fShape: [number, number, number, number] = [3, 3, Ci, Co];
  return {
    op: 'conv',
    pass,
    shape: `x${s(xShape)} w${s(wShape)}`,
    flops: 2 * N * Co * H * H * Ci * 9,
    async ours(ctx, variant) {
      const o: Conv2dOptions = variant ? { ...opts, variant } : opts;
      const d = data.get();
      if (pass === 'forward') {
        const x = ctx.tensor(xShape, d.x, 'f32', 'bench.x');
        const w = ctx.tensor(wShape, d.w, 'f32', 'bench.w');
        const y = ctx.tensor(yShape, undefined, 'f32', 'bench.y');
        return { run: () => void conv2dForward(ctx, x, w, o, y), read: () => readAll(ctx, { y }), dispose: () => destroyAll([x, w, y]) };
      }
      if (pass === 'dgrad') {
        const dy = ctx.tensor(yShape, d.dy, 'f32', 'bench.dy');
        const w = ctx.tensor(wShape, d.w, 'f32', 'bench.w');
        const dx = ctx.tensor(xShape, undefined, 'f32', 'bench.dx');
        return {
          run: () => void conv2dBackwardInput(ctx, dy, w, xShape, o, dx),
          read: () => readAll(ctx, { dx }),
          dispose: () => destroyAll([dy, w, dx]),
        };
      }
      const x = ctx.tensor(xShape, d.x, 'f32', 'bench.x');
      const dy = ctx.tensor(yShape, d.dy, 'f32', 'bench.dy');
      const dw = ctx.tensor(wShape, undefined, 'f32', 'bench.dw');
      return {
        run: () => void conv2dBackwardWeight(ctx, x, dy, wShape, o, dw),
        read: () => readAll(ctx, { dw }),
        dispose: () => destroyAll([x, dy, dw]),
      };
    },
    peer(tf, peer) {
      const h = nhwc.get();
      if (pass === 'forward') {
        const x = tf.tensor4d(h.x, tfx(xShape));
        const w = tf.tensor4d(h.w, fShape);
        return {
          inputs: [x, w],
          run: () => [tf.conv2d(x, w, 1, 1, 'NHWC')],
          read: async ([y]) => ({ y: nhwcToNchw(await f32(y!), yShape) }),
        };
      }
      if (pass === 'dgrad') {
        const dy = tf.tensor4d(h.dy, tfx(yShape));
        const w = tf.tensor4d(h.w, fShape);
        return {
          inputs: [dy, w],
          run: () => [tf.conv2dTranspose(dy, w, tfx(xShape), 1, 1)],
          read: async ([dx]) => ({ dx: nhwcToNchw(await f32(dx!), xShape) }),
        };
      }
      const x = tf.tensor4d(h.x, tfx(xShape));
      const dy = tf.tensor4d(h.dy, tfx(yShape));
      const read = async ([dw]: TF.Tensor[]) => ({ dw: hwioToOihw(await f32(dw!), wShape) });
      if (peer === 'webgpu') {
        const attrs = { strides: [1, 1], pad: 1, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: fShape };
        return {
          inputs: [x, dy],
          run: () => [tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as TF.NamedAttrMap) as TF.Tensor],
          read,
        };
      }
      // tfjs-backend-wasm has no Conv2DBackpropFilter: im2col from its own kernels (PadV2, Slice,
      // Concat), then one MatMul: dW[(kh,kw,ci), co] = patchesᵀ · dy. Transposing the patches
      // explicitly and multiplying untransposed is ~2.5× faster on wasm than matMul(transposeA).
      // (Checked at 64→64 @32: 0.9 s against 2.5 s for transposeA or nine per-tap matMuls.)
      return {
        inputs: [x, dy],
        run: () => [
          tf.tidy(() => {
            const xp = tf.pad(x, [
              [0, 0],
              [1, 1],
              [1, 1],
              [0, 0],
            ]);
            const cols: TF.Tensor4D[] = [];
            for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) cols.push(tf.slice(xp, [0, kh, kw, 0], [N, H, H, Ci]));
            const patches = tf.reshape(tf.concat(cols, 3), [N * H * H, 9 * Ci]);
            return tf.reshape(tf.matMul(tf.transpose(patches), tf.reshape(dy, [N * H * H, Co])), fShape);
          }),
        ],
        read,
      };
    },
    peerImpl(peer) {
      if (pass === 'forward') return 'tf.conv2d NHWC (Conv2D kernel)';
      if (pass === 'dgrad') return 'tf.conv2dTranspose NHWC (Conv2DBackpropInput kernel)';
      return peer === 'webgpu'
        ? "runKernel('Conv2DBackpropFilter') NHWC"
        : 'STAND-IN: im2col (pad, 9 slices, concat), transpose, one matMul; tfjs-wasm has no Conv2DBackpropFilter';
    },
    release() {
      data.release();
      nhwc.release();
    },
  };
}

// ------------------------------------------------------------------ depthwise conv 3×3, pad 1

/**
 * Depthwise 3×3 convolution, padding 1, no bias (groups = C = O, weight [C, 1, 3, 3]), forward
 * only: ours runs src/ops/conv2d_grouped.ts (its dw3x3_s1 / dw3x3_s2 kernels), the peers
 * tf.depthwiseConv2d with the filter [3, 3, C, 1] (channel multiplier 1).
 */
export function dwconvCase(N: number, C: number, H: number, stride: 1 | 2): Case {
  const OH = Math.floor((H + 2 - 3) / stride) + 1;
  const xShape = [N, C, H, H];
  const wShape = [C, 1, 3, 3];
  const yShape = [N, C, OH, OH];
  const opts: GroupedConv2dOptions = { stride, padding: 1, groups: C };
  const data = lazy(() => ({ x: uniform(numel(xShape), 61), w: uniform(numel(wShape), 62, -1 / 3, 1 / 3) }));
  // OIHW [C, 1, 3, 3] → HWIO [3, 3, 1, C], the same order as tfjs's depthwise filter [3, 3, C, 1]
  const nhwc = lazy(() => ({ x: nchwToNhwc(data.get().x, xShape), w: oihwToHwio(data.get().w, wShape) }));
  return {
    op: 'dwconv',
    pass: 'forward',
    shape: `x${s(xShape)} w${s(wShape)}${stride === 2 ? ' s2' : ''}`,
    flops: 2 * N * C * OH * OH * 9,
    async ours(ctx) {
      const d = data.get();
      const x = ctx.tensor(xShape, d.x, 'f32', 'bench.x');
      const w = ctx.tensor(wShape, d.w, 'f32', 'bench.w');
      const y = ctx.tensor(yShape, undefined, 'f32', 'bench.y');
      return { run: () => void groupedConv2dForward(ctx, x, w, null, opts, y), read: () => readAll(ctx, { y }), dispose: () => destroyAll([x, w, y]) };
    },
    peer(tf) {
      const h = nhwc.get();
      const x = tf.tensor4d(h.x, [N, H, H, C]);
      const w = tf.tensor4d(h.w, [3, 3, C, 1]);
      return {
        inputs: [x, w],
        run: () => [tf.depthwiseConv2d(x, w, stride, 1, 'NHWC')],
        read: async ([y]) => ({ y: nhwcToNchw(await f32(y!), yShape) }),
      };
    },
    peerImpl() {
      return 'tf.depthwiseConv2d NHWC, filter [3,3,C,1] (DepthwiseConv2dNative kernel)';
    },
    release() {
      data.release();
      nhwc.release();
    },
  };
}

// ------------------------------------------------------------------ BatchNorm2d (training)

const MOMENTUM = 0.1;
const EPS = 1e-5;

export function bnCase(N: number, C: number, H: number, pass: 'forward' | 'backward'): Case {
  const xShape = [N, C, H, H];
  const M = N * H * H;
  const data = lazy(() => {
    const x = uniform(numel(xShape), 21, -2, 2);
    // Saved statistics for the backward, as the training forward would give them.
    const mean = new Float32Array(C);
    const invstd = new Float32Array(C);
    const hw = H * H;
    for (let c = 0; c < C; c++) {
      let s1 = 0;
      for (let n = 0; n < N; n++) for (let p = 0; p < hw; p++) s1 += x[(n * C + c) * hw + p]!;
      const m = s1 / M;
      let s2 = 0;
      for (let n = 0; n < N; n++) for (let p = 0; p < hw; p++) s2 += (x[(n * C + c) * hw + p]! - m) ** 2;
      mean[c] = m;
      invstd[c] = 1 / Math.sqrt(s2 / M + EPS);
    }
    return { x, mean, invstd, gamma: uniform(C, 22, 0.5, 1.5), beta: uniform(C, 23, -0.5, 0.5), dy: uniform(numel(xShape), 24) };
  });
  const nhwc = lazy(() => ({ x: nchwToNhwc(data.get().x, xShape), dy: nchwToNhwc(data.get().dy, xShape) }));
  const x4: [number, number, number, number] = [N, H, H, C];
  return {
    op: 'bn',
    pass,
    shape: `x${s(xShape)}`,
    flops: (pass === 'forward' ? 6 : 9) * numel(xShape),
    async ours(ctx) {
      const d = data.get();
      const x = ctx.tensor(xShape, d.x, 'f32', 'bench.x');
      const gamma = ctx.tensor([C], d.gamma, 'f32', 'bench.gamma');
      if (pass === 'forward') {
        const beta = ctx.tensor([C], d.beta, 'f32', 'bench.beta');
        const rm = ctx.tensor([C], new Float32Array(C), 'f32', 'bench.runningMean');
        const rv = ctx.tensor([C], new Float32Array(C).fill(1), 'f32', 'bench.runningVar');
        const out = {
          y: ctx.tensor(xShape, undefined, 'f32', 'bench.y'),
          saveMean: ctx.tensor([C], undefined, 'f32', 'bench.saveMean'),
          saveInvStd: ctx.tensor([C], undefined, 'f32', 'bench.saveInvStd'),
        };
        return {
          run: () => void batchNormForwardTrain(ctx, x, gamma, beta, rm, rv, { momentum: MOMENTUM, eps: EPS }, out),
          read: () => readAll(ctx, { y: out.y, mean: out.saveMean }),
          dispose: () => destroyAll([x, gamma, beta, rm, rv, out.y, out.saveMean, out.saveInvStd]),
        };
      }
      const dy = ctx.tensor(xShape, d.dy, 'f32', 'bench.dy');
      const mean = ctx.tensor([C], d.mean, 'f32', 'bench.saveMean');
      const invstd = ctx.tensor([C], d.invstd, 'f32', 'bench.saveInvStd');
      const out = {
        dx: ctx.tensor(xShape, undefined, 'f32', 'bench.dx'),
        dgamma: ctx.tensor([C], undefined, 'f32', 'bench.dgamma'),
        dbeta: ctx.tensor([C], undefined, 'f32', 'bench.dbeta'),
      };
      return {
        run: () => void batchNormBackward(ctx, x, dy, gamma, mean, invstd, out),
        read: () => readAll(ctx, out),
        dispose: () => destroyAll([x, gamma, dy, mean, invstd, out.dx, out.dgamma, out.dbeta]),
      };
    },
    peer(tf) {
      const d = data.get();
      const h = nhwc.get();
      const x = tf.tensor4d(h.x, x4);
      const gamma = tf.tensor1d(d.gamma);
      if (pass === 'forward') {
        const beta = tf.tensor1d(d.beta);
        const rm = tf.zeros([C]) as TF.Tensor1D;
        const rv = tf.ones([C]) as TF.Tensor1D;
        return {
          inputs: [x, gamma, beta, rm, rv],
          run: () =>
            tf.tidy(() => {
              const { mean, variance } = tf.moments(x, [0, 1, 2]);
              const y = tf.batchNorm(x, mean as TF.Tensor1D, variance as TF.Tensor1D, beta, gamma, EPS);
              // Running statistics as PyTorch keeps them (unbiased variance).
              const newRm = tf.add(tf.mul(rm, 1 - MOMENTUM), tf.mul(mean, MOMENTUM));
              const newRv = tf.add(tf.mul(rv, 1 - MOMENTUM), tf.mul(variance, (MOMENTUM * M) / (M - 1)));
              return [y, mean, newRm, newRv];
            }),
          read: async ([y, mean]) => ({ y: nhwcToNchw(await f32(y!), xShape), mean: await f32(mean!) }),
        };
      }
      const dy = tf.tensor4d(h.dy, x4);
      const mean = tf.tensor1d(d.mean);
      const invstd = tf.tensor1d(d.invstd);
      return {
        inputs: [x, gamma, dy, mean, invstd],
        run: () =>
          tf.tidy(() => {
            const xhat = tf.mul(tf.sub(x, mean), invstd);
            const dbeta = tf.sum(dy, [0, 1, 2]);
            const dgamma = tf.sum(tf.mul(dy, xhat), [0, 1, 2]);
            const k = tf.div(tf.mul(gamma, invstd), M);
            const dx = tf.mul(k, tf.sub(tf.sub(tf.mul(dy, M), dbeta), tf.mul(xhat, dgamma)));
            return [dx, dgamma, dbeta];
          }),
        read: async ([dx, dgamma, dbeta]) => ({ dx: nhwcToNchw(await f32(dx!), xShape), dgamma: await f32(dgamma!), dbeta: await f32(dbeta!) }),
      };
    },
    peerImpl() {
      return pass === 'forward'
        ? 'tf.moments + tf.batchNorm (FusedBatchNorm) + running-stat update, NHWC'
        : 'analytic BN backward from tfjs ops (sub/mul/sum over N,H,W), NHWC; tfjs-core registers no gradients';
    },
    release() {
      data.release();
      nhwc.release();
    },
  };
}

// ------------------------------------------------------------------ max pool 2×2, stride 2

export function poolCase(N: number, C: number, H: number, pass: 'forward' | 'backward'): Case {
  const xShape = [N, C, H, H];
  const yShape = [N, C, H / 2, H / 2];
  const data = lazy(() => ({ x: uniform(numel(xShape), 31), dy: uniform(numel(yShape), 32) }));
  const nhwc = lazy(() => ({ x: nchwToNhwc(data.get().x, xShape), dy: nchwToNhwc(data.get().dy, yShape) }));
  const opts: Pool2dOptions = { kernel: 2 };
  return {
    op: 'pool',
    pass,
    shape: `x${s(xShape)}`,
    flops: numel(xShape),
    async ours(ctx) {
      const d = data.get();
      const x = ctx.tensor(xShape, d.x, 'f32', 'bench.x');
      if (pass === 'forward') {
        const out = { y: ctx.tensor(yShape, undefined, 'f32', 'bench.y'), argmax: ctx.tensor(yShape, undefined, 'u32', 'bench.argmax') };
        return {
          run: () => void maxPool2dForward(ctx, x, opts, out),
          read: () => readAll(ctx, { y: out.y }),
          dispose: () => destroyAll([x, out.y, out.argmax]),
        };
      }
      const fwd = maxPool2dForward(ctx, x, opts);
      const dy = ctx.tensor(yShape, d.dy, 'f32', 'bench.dy');
      const dx = ctx.tensor(xShape, undefined, 'f32', 'bench.dx');
      return {
        run: () => void maxPool2dBackward(ctx, dy, fwd.argmax, xShape, opts, dx),
        read: () => readAll(ctx, { dx }),
        dispose: () => destroyAll([x, fwd.y, fwd.argmax, dy, dx]),
      };
    },
    peer(tf, peer) {
      const h = nhwc.get();
      const x = tf.tensor4d(h.x, [N, H, H, C]);
      if (pass === 'forward') {
        return {
          inputs: [x],
          run: () => [tf.maxPool(x, 2, 2, 'valid')],
          read: async ([y]) => ({ y: nhwcToNchw(await f32(y!), yShape) }),
        };
      }
      const y = tf.maxPool(x, 2, 2, 'valid');
      const dy = tf.tensor4d(h.dy, [N, H / 2, H / 2, C]);
      const read = async ([dx]: TF.Tensor[]) => ({ dx: nhwcToNchw(await f32(dx!), xShape) });
      if (peer === 'wasm') {
        // tfjs-backend-wasm 4.22's MaxPoolGrad (and MaxPoolWithArgmax) drop the gradient of every
        // window whose values are all negative (~6 % of windows here; checked against a JS
        // reference), so the wasm peer routes dy with its own kernels instead:
        // dx = where(x == up(y), up(dy), 0), up = nearest-neighbour ×2 (ResizeNearestNeighbor).
        return {
          inputs: [x, y, dy],
          run: () => {
            const up = (t: TF.Tensor4D) => tf.image.resizeNearestNeighbor(t, [H, H]);
            return [tf.where(tf.equal(x, up(y)), up(dy), tf.zerosLike(x))];
          },
          read,
        };
      }
      const attrs = { filterSize: 2, strides: 2, pad: 'valid', dimRoundingMode: undefined };
      return {
        inputs: [x, y, dy],
        run: () => [tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, attrs as unknown as TF.NamedAttrMap) as TF.Tensor],
        read,
      };
    },
    peerImpl(peer) {
      if (pass === 'forward') return 'tf.maxPool 2×2/2 NHWC (MaxPool kernel; no argmax output)';
      return peer === 'wasm'
        ? 'STAND-IN: where(x == up(y), up(dy), 0) with ResizeNearestNeighbor; tfjs-wasm MaxPoolGrad is wrong (drops all-negative windows)'
        : "runKernel('MaxPoolGrad') from x, y, dy NHWC";
    },
    release() {
      data.release();
      nhwc.release();
    },
  };
}

// ------------------------------------------------------------------ linear

export function linearCase(N: number, In: number, Out: number, pass: 'forward' | 'backward'): Case {
  const data = lazy(() => ({
    x: uniform(N * In, 41),
    w: uniform(Out * In, 42, -1 / Math.sqrt(In), 1 / Math.sqrt(In)),
    b: uniform(Out, 43),
    dy: uniform(N * Out, 44),
  }));
  return {
    op: 'linear',
    pass,
    shape: `x[${N},${In}] w[${Out},${In}]`,
    flops: (pass === 'forward' ? 2 : 4) * N * In * Out + N * Out,
    async ours(ctx) {
      const d = data.get();
      const x = ctx.tensor([N, In], d.x, 'f32', 'bench.x');
      const w = ctx.tensor([Out, In], d.w, 'f32', 'bench.w');
      if (pass === 'forward') {
        const b = ctx.tensor([Out], d.b, 'f32', 'bench.b');
        const y = ctx.tensor([N, Out], undefined, 'f32', 'bench.y');
        return { run: () => void linearForward(ctx, x, w, b, y), read: () => readAll(ctx, { y }), dispose: () => destroyAll([x, w, b, y]) };
      }
      const dy = ctx.tensor([N, Out], d.dy, 'f32', 'bench.dy');
      const out = {
        dx: ctx.tensor([N, In], undefined, 'f32', 'bench.dx'),
        dw: ctx.tensor([Out, In], undefined, 'f32', 'bench.dw'),
        db: ctx.tensor([Out], undefined, 'f32', 'bench.db'),
      };
      return {
        run: () => void linearBackward(ctx, x, w, dy, {}, out),
        read: () => readAll(ctx, out),
        dispose: () => destroyAll([x, w, dy, out.dx, out.dw, out.db]),
      };
    },
    peer(tf) {
      // tfjs keeps dense kernels as [in, out] (tf.layers.dense), so the peers get wᵀ; it also avoids
      // tfjs-backend-wasm 4.22's _FusedMatMul, which adds the bias wrongly with transposeB = true.
      const d = data.get();
      const x = tf.tensor2d(d.x, [N, In]);
      const wt = tf.tensor2d(transpose2d(d.w, Out, In), [In, Out]);
      if (pass === 'forward') {
        const b = tf.tensor1d(d.b);
        return {
          inputs: [x, wt, b],
          run: () => [tf.fused.matMul({ a: x, b: wt, bias: b })],
          read: async ([y]) => ({ y: await f32(y!) }),
        };
      }
      const dy = tf.tensor2d(d.dy, [N, Out]);
      return {
        inputs: [x, wt, dy],
        run: () => [tf.matMul(dy, wt, false, true), tf.matMul(x, dy, true, false), tf.sum(dy, 0)],
        read: async ([dx, dwt, db]) => ({ dx: await f32(dx!), dw: transpose2d(await f32(dwt!), In, Out), db: await f32(db!) }),
      };
    },
    peerImpl() {
      return pass === 'forward'
        ? 'tf.fused.matMul(x, W[in,out], bias) (_FusedMatMul)'
        : 'dx = matMul(dy, Wᵀ), dW = matMul(xᵀ, dy), db = sum(dy, 0); W stored [in,out] as tfjs does';
    },
    release: () => data.release(),
  };
}

// ------------------------------------------------------------------ ReLU (harness self-test: src/ops/elementwise.ts)

export function reluCase(N: number, C: number, H: number, pass: 'forward' | 'backward'): Case {
  const xShape = [N, C, H, H];
  const data = lazy(() => {
    const x = uniform(numel(xShape), 51);
    return { x, y: x.map((v) => Math.max(v, 0)), dy: uniform(numel(xShape), 52) };
  });
  return {
    op: 'relu',
    pass,
    shape: `x${s(xShape)}`,
    flops: numel(xShape),
    async ours(ctx) {
      const d = data.get();
      if (pass === 'forward') {
        const x = ctx.tensor(xShape, d.x, 'f32', 'bench.x');
        const y = ctx.tensor(xShape, undefined, 'f32', 'bench.y');
        return { run: () => void reluForward(ctx, x, y), read: () => readAll(ctx, { y }), dispose: () => destroyAll([x, y]) };
      }
      const y = ctx.tensor(xShape, d.y, 'f32', 'bench.y');
      const dy = ctx.tensor(xShape, d.dy, 'f32', 'bench.dy');
      const dx = ctx.tensor(xShape, undefined, 'f32', 'bench.dx');
      return { run: () => void reluBackward(ctx, y, dy, dx), read: () => readAll(ctx, { dx }), dispose: () => destroyAll([y, dy, dx]) };
    },
    peer(tf) {
      // Element-wise: the layout does not matter, so the NCHW arrays are used as they are.
      const d = data.get();
      if (pass === 'forward') {
        const x = tf.tensor(d.x, xShape);
        return { inputs: [x], run: () => [tf.relu(x)], read: async ([y]) => ({ y: await f32(y!) }) };
      }
      const y = tf.tensor(d.y, xShape);
      const dy = tf.tensor(d.dy, xShape);
      return { inputs: [y, dy], run: () => [tf.tidy(() => tf.mul(dy, tf.step(y)))], read: async ([dx]) => ({ dx: await f32(dx!) }) };
    },
    peerImpl() {
      return pass === 'forward' ? 'tf.relu' : 'dy * step(y) (what tfjs relu gradient does)';
    },
    release: () => data.release(),
  };
}

// ------------------------------------------------------------------ the VGG-16 CIFAR shapes

/** conv 3×3 pad 1 layers: [Cin, Cout, H]. */
export const CONV_LAYERS: readonly [number, number, number][] = [
  [3, 64, 32],
  [64, 64, 32],
  [128, 128, 16],
  [256, 256, 8],
  [512, 512, 4],
  [512, 512, 2],
];
/** Depthwise 3×3 pad 1 layers [C, H, stride] on the same activations (MobileNet-style blocks). */
export const DWCONV_LAYERS: readonly [number, number, 1 | 2][] = [
  [64, 32, 1],
  [64, 32, 2],
  [128, 16, 1],
  [256, 8, 1],
  [512, 4, 1],
  [512, 2, 1],
];
/** Activations [C, H] that BatchNorm, ReLU and max pooling see. */
export const ACTIVATIONS: readonly [number, number][] = [
  [64, 32],
  [128, 16],
  [256, 8],
  [512, 4],
  [512, 2],
];

export const ALL_OPS: readonly Op[] = ['conv', 'dwconv', 'bn', 'pool', 'linear', 'relu'];
export const DEFAULT_OPS: readonly Op[] = ['conv', 'dwconv', 'bn', 'pool', 'linear'];

/** The cases for `ops` at batch N; `quick` keeps one small shape per op. */
export function buildCases(ops: readonly Op[], N: number, quick: boolean): Case[] {
  const cases: Case[] = [];
  const conv = quick ? [CONV_LAYERS[0]!] : CONV_LAYERS;
  const acts = quick ? [ACTIVATIONS[4]!] : ACTIVATIONS;
  const dw = quick ? [DWCONV_LAYERS[3]!] : DWCONV_LAYERS;
  for (const op of ops) {
    if (op === 'conv') for (const [ci, co, h] of conv) for (const p of ['forward', 'dgrad', 'wgrad'] as const) cases.push(convCase(N, ci, co, h, p));
    if (op === 'dwconv') for (const [c, h, st] of dw) cases.push(dwconvCase(N, c, h, st));
    if (op === 'bn') for (const [c, h] of acts) for (const p of ['forward', 'backward'] as const) cases.push(bnCase(N, c, h, p));
    if (op === 'pool') for (const [c, h] of acts) for (const p of ['forward', 'backward'] as const) cases.push(poolCase(N, c, h, p));
    if (op === 'linear') for (const p of ['forward', 'backward'] as const) cases.push(linearCase(N, 512, 10, p));
    if (op === 'relu') for (const [c, h] of acts) for (const p of ['forward', 'backward'] as const) cases.push(reluCase(N, c, h, p));
  }
  return cases;
}
