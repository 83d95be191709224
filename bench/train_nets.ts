/**
 * The networks of the training-step benchmark (bench/train.ts): their cfgs and nominal FLOPs, the
 * same network in @tensorflow/tfjs-layers (NHWC) with our initial weights copied in, and the
 * Conv2DBackpropFilter stand-in that tfjs-backend-wasm needs to train a conv net at all.
 */
import type * as TFL from '@tensorflow/tfjs';
import type { StateValues } from '../src/nn/model.js';
import { VGG_CFG, type VggCfg } from '../src/nn/models.js';
import { oihwToHwio, transpose2d } from './util.js';

export interface NetSpec {
  /** The --models name. */
  name: string;
  /** Printed description. */
  label: string;
  cfg: VggCfg;
  /** Batches run when --batches is not given. */
  defaultBatches: number[];
}

/** Input of every network: CIFAR-shaped. */
export const IN_CHANNELS = 3;
export const SIZE = 32;
export const NUM_CLASSES = 10;

const VGG16 = VGG_CFG[16]!;
export const NETS: readonly NetSpec[] = [
  { name: 'vgg16', label: 'VGG-16 (CIFAR cfg)', cfg: VGG16, defaultBatches: [16, 64] },
  {
    name: 'vgg16-quarter',
    label: 'VGG-16 at 1/4 width',
    cfg: VGG16.map((v) => (v === 'M' ? v : v / 4)),
    defaultBatches: [64],
  },
];

/**
 * Nominal FLOPs of one training step at batch `n`: 3 × the forward's multiply-adds × 2 (forward,
 * input gradient and weight gradient of every conv and of the linear layer). BatchNorm, ReLU,
 * pooling, the loss and SGD are memory-bound and not counted. Used to label and to scale the
 * peers' time estimates, not as a throughput claim.
 */
export function stepFlops(cfg: VggCfg, n: number): number {
  let c = IN_CHANNELS;
  let hw = SIZE;
  let fwd = 0;
  for (const v of cfg) {
    if (v === 'M') {
      hw /= 2;
      continue;
    }
    fwd += 2 * n * v * hw * hw * c * 9;
    c = v;
  }
  fwd += 2 * n * c * NUM_CLASSES;
  return 3 * fwd;
}

/** The tfjs-layers network: the layers in order (the first carries the input shape). */
export interface PeerNet {
  model: TFL.Sequential;
  layers: TFL.layers.Layer[];
  /** The trainable tf.Variables (conv kernels, BN γ/β, dense kernel/bias). */
  vars: TFL.Variable[];
}

/**
 * conv2d 3×3 same padding no bias → batchNormalization (momentum 0.9, ε 1e-5) → ReLU per cfg
 * number, maxPooling2d 2×2 per 'M', then averagePooling2d 2, flatten, dense. NHWC. The
 * initialisers are zeros: {@link copyWeights} overwrites every weight before use.
 */
export function buildPeerNet(tf: typeof TFL, cfg: VggCfg): PeerNet {
  const L = tf.layers;
  const layers: TFL.layers.Layer[] = [];
  const input = { inputShape: [SIZE, SIZE, IN_CHANNELS] };
  for (const v of cfg) {
    const first = layers.length === 0 ? input : {};
    if (v === 'M') {
      layers.push(L.maxPooling2d({ ...first, poolSize: 2, strides: 2 }));
    } else {
      layers.push(
        L.conv2d({ ...first, filters: v, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'zeros' }),
        L.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 }),
        L.reLU(),
      );
    }
  }
  layers.push(
    L.averagePooling2d({ poolSize: 2, strides: 2 }),
    L.flatten(),
    L.dense({ units: NUM_CLASSES, kernelInitializer: 'zeros', biasInitializer: 'zeros' }),
  );
  const model = tf.sequential({ layers });
  const vars = model.trainableWeights.map((w) => w.read() as TFL.Variable);
  return { model, layers, vars };
}

/**
 * Copies our model's state (PyTorch names and layouts: conv OIHW, linear [out, in]) into the peer
 * network (HWIO, dense [in, out]). The final feature map is 1×1, so flattening NHWC or NCHW gives
 * the same order. Running statistics are copied too.
 */
export function copyWeights(tf: typeof TFL, net: PeerNet, cfg: VggCfg, state: StateValues): void {
  const get = (name: string) => {
    const v = state.get(name);
    if (!v || !(v.data instanceof Float32Array)) throw new Error(`copyWeights: our state has no f32 ${name}`);
    return v as { shape: number[]; data: Float32Array };
  };
  let li = 0; // peer layer index
  let fi = 0; // our feature.<i> index
  for (const v of cfg) {
    if (v === 'M') {
      li++;
      fi++;
      continue;
    }
    const conv = net.layers[li++]!;
    const w = get(`feature.${fi}.weight`);
    conv.setWeights([tf.tensor4d(oihwToHwio(w.data, w.shape), [3, 3, w.shape[1]!, w.shape[0]!])]);
    const bn = net.layers[li++]!;
    const names = bn.weights.map((x) => x.originalName.split('/').pop()!.replace(/_\d+$/, ''));
    const byName: Record<string, string> = { gamma: 'weight', beta: 'bias', moving_mean: 'running_mean', moving_variance: 'running_var' };
    bn.setWeights(
      names.map((n) => {
        const ours = byName[n];
        if (!ours) throw new Error(`copyWeights: unexpected BatchNormalization weight ${n}`);
        return tf.tensor1d(get(`feature.${fi + 1}.${ours}`).data);
      }),
    );
    li++; // ReLU
    fi += 3;
  }
  li += 2; // averagePooling2d, flatten
  const dense = net.layers[li]!;
  const w = get('classifier.weight');
  const [out, inF] = w.shape as [number, number];
  dense.setWeights([tf.tensor2d(transpose2d(w.data, out, inF), [inF, out]), tf.tensor1d(get('classifier.bias').data)]);
}

/** One training step's loss function: forward in training mode, softmax cross-entropy (mean). */
export function peerLoss(tf: typeof TFL, net: PeerNet, x: TFL.Tensor4D, y: TFL.Tensor2D): () => TFL.Scalar {
  return () => {
    let h: TFL.Tensor = x;
    for (const l of net.layers) h = l.apply(h, { training: true }) as TFL.Tensor;
    return tf.losses.softmaxCrossEntropy(y, h) as TFL.Scalar;
  };
}

export const WASM_WGRAD_NOTE =
  'STAND-IN: tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel, so tf.grad of a conv fails there; ' +
  'the benchmark registers one for the wasm backend built from its own kernels: im2col (PadV2, 9 Slices, Concat), Transpose, one MatMul';

let wasmWgradRegistered = false;

/**
 * Registers Conv2DBackpropFilter for the wasm backend (stride 1, dilation 1, NHWC): dW[kh,kw,ci,co]
 * = Σ patches · dy with the patches gathered by slicing the padded input. Ops called inside a kernel
 * are not recorded on the gradient tape (the engine records only at kernel depth 0).
 */
export function registerWasmConv2dBackpropFilter(tf: typeof TFL): void {
  if (wasmWgradRegistered || tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  wasmWgradRegistered = true;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const x = inputs.x as TFL.Tensor4D;
      const dy = inputs.dy as TFL.Tensor4D;
      const a = attrs as unknown as { strides: number | [number, number]; pad: 'same' | 'valid' | number | number[]; dataFormat: string; filterShape: [number, number, number, number] };
      const strides = typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides;
      if (a.dataFormat !== 'NHWC' || strides[0] !== 1 || strides[1] !== 1) {
        throw new Error(`wasm Conv2DBackpropFilter stand-in: only NHWC stride 1 (got ${a.dataFormat}, strides ${strides})`);
      }
      const [KH, KW, CI, CO] = a.filterShape;
      const [N, H, W, C] = x.shape;
      const [, OH, OW] = dy.shape;
      if (C !== CI || dy.shape[3] !== CO) throw new Error('wasm Conv2DBackpropFilter stand-in: shape mismatch');
      let top = 0;
      let left = 0;
      if (a.pad === 'same') {
        top = Math.floor(Math.max(OH - 1 + KH - H, 0) / 2);
        left = Math.floor(Math.max(OW - 1 + KW - W, 0) / 2);
      } else if (typeof a.pad === 'number') {
        top = left = a.pad;
      } else if (a.pad !== 'valid') {
        throw new Error(`wasm Conv2DBackpropFilter stand-in: pad ${JSON.stringify(a.pad)} not supported`);
      }
      const bottom = Math.max(OH - 1 + KH - H - top, 0);
      const right = Math.max(OW - 1 + KW - W - left, 0);
      return tf.tidy(() => {
        const xp = tf.pad(x, [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ]);
        const cols: TFL.Tensor4D[] = [];
        for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) cols.push(tf.slice(xp, [0, kh, kw, 0], [N, OH, OW, C]));
        const patches = tf.reshape(cols.length === 1 ? cols[0]! : tf.concat(cols, 3), [N * OH * OW, KH * KW * C]);
        // An explicit transpose then a plain matMul is ~2.5× faster on wasm than matMul(transposeA).
        return tf.reshape(tf.matMul(tf.transpose(patches), tf.reshape(dy, [N * OH * OW, CO])), [KH, KW, CI, CO]);
      }) as unknown as TFL.TensorInfo;
    },
  });
}
