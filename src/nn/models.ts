/**
 * The three networks of the Network Slimming paper, built as graphs with PyTorch's state_dict
 * names (Eric-mingjie/network-slimming `models/`): VGG, pre-activation bottleneck ResNet and
 * DenseNet (basic blocks, no compression). `cfg` gives the channel counts of a pruned model, read
 * exactly as the reference reads it. Initialisation follows the reference's scheme with netslim's
 * own seeded generator.
 */
import type { Context } from '../gpu/context.js';
import { ShapeError } from '../errors.js';
import { Graph } from './graph.js';
import { graphToSpec } from './graph-spec.js';
import { Add, AvgPool2d, BatchNorm2d, ChannelSelection, Concat, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU, ReLU6 } from './layers.js';
import { Model, type ModelMeta } from './model.js';
import { datasetLabelMeta, labelMetaProblem, pickLabelMeta } from './labels.js';
import { rng } from '../util/random.js';

/** A VGG cfg: conv widths, with `'M'` for each 2×2 max pool. */
export type VggCfg = (number | 'M')[];

/** The reference's default VGG cfgs. */
export const VGG_CFG: Record<number, VggCfg> = {
  11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512],
  13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512],
  16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512],
  19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512],
};

/** Options every model builder takes. */
export interface ModelOptions {
  /** Number of classes (10 for CIFAR-10 and Fashion-MNIST, 100 for CIFAR-100). */
  numClasses?: number;
  /** Input channels (3 for CIFAR, 1 for Fashion-MNIST). */
  inChannels?: number;
  /** Seed of the initialisation (default 1, as the reference's `--seed`). */
  seed?: number;
  /**
   * The dataset the model is for (`cifar10`, `cifar100`, `fashion-mnist`, `mnist`, …): recorded in
   * its meta, and when netslim knows the dataset, its class names (when it has `numClasses` of
   * them) and its per-channel mean/std (when it has `inChannels` channels) unless given below.
   */
  dataset?: string;
  /** Class names in label order, one per class (default: the dataset's, see `dataset`). */
  classNames?: string[];
  /** Per-channel mean of the [0, 1] input pixels, given with `std` (default: the dataset's, see `dataset`). */
  mean?: number[];
  /** Per-channel std of the [0, 1] input pixels, given with `mean`. */
  std?: number[];
  /**
   * Height = width of the images the model takes (default 32, the reference's CIFAR size): the
   * final average pool's window is sized so that it leaves one pixel (VGG: side / 2^pools; ResNet
   * and DenseNet: side / 4). Must divide evenly.
   */
  inputSize?: number;
}

/** The final pool's window for images of `side` after `factor`-fold downsampling, checked. */
function headPool(arch: string, side: number | undefined, factor: number): number {
  const s = side ?? 32;
  const k = s / factor;
  if (!(Number.isInteger(s) && s >= 1 && Number.isInteger(k) && k >= 1)) {
    throw new ShapeError(`${arch}: input size ${s} is not a multiple of ${factor} (the network downsamples ${factor}-fold before its final pool)`);
  }
  return k;
}

/**
 * Meta fields every builder records: the dataset, the input size, and the class names and
 * mean/std given or (for a dataset netslim knows) the dataset's, checked against the model.
 */
function commonMeta(opts: ModelOptions, arch: string, numClasses: number, inChannels: number): Pick<ModelMeta, 'dataset' | 'inputSize' | 'classNames' | 'mean' | 'std'> {
  const given = { classNames: opts.classNames, mean: opts.mean, std: opts.std };
  const bad = labelMetaProblem(given, numClasses, inChannels, (f) => f);
  if (bad) throw new ShapeError(`${arch}: ${bad}`);
  const known = datasetLabelMeta(opts.dataset, numClasses, inChannels);
  const labels = pickLabelMeta({ classNames: opts.classNames ?? known.classNames, ...(opts.mean ? { mean: opts.mean, std: opts.std } : { mean: known.mean, std: known.std }) });
  return { ...(opts.dataset ? { dataset: opts.dataset } : {}), ...labels, ...(opts.inputSize !== undefined && opts.inputSize !== 32 ? { inputSize: opts.inputSize } : {}) };
}

/** Options of {@link vgg} and {@link vggGraph}. */
export interface VggOptions extends ModelOptions {
  /** 11, 13, 16 or 19 (default 19, as the reference); ignored when `cfg` is given. */
  depth?: number;
  cfg?: VggCfg;
}

/** Options of {@link resnet} and {@link resnetGraph}. */
export interface ResnetOptions extends ModelOptions {
  /** 9n+2 (default 164). */
  depth?: number;
  /** 9n+1 entries: [bn1, bn2, bn3] kept counts per block, then the final bn. */
  cfg?: number[];
}

/** Options of {@link densenet} and {@link densenetGraph}. */
export interface DensenetOptions extends ModelOptions {
  /** 3n+4 (default 40). */
  depth?: number;
  growthRate?: number;
  /** 3n+3 entries, one per BatchNorm in module order (the input channels its conv keeps). */
  cfg?: number[];
}

function positiveInts(name: string, cfg: readonly (number | 'M')[]): void {
  for (const v of cfg) {
    if (v !== 'M' && !(Number.isInteger(v) && v > 0)) throw new ShapeError(`${name}: cfg entry ${JSON.stringify(v)} is not a positive channel count`);
  }
}

/**
 * VGG graph: [conv3×3 → BN → ReLU | maxpool 2×2] per cfg entry, avgpool 2, flatten, linear.
 *
 * @example
 * ```ts
 * import { models } from 'netslim';
 *
 * const { graph, meta } = models.vggGraph({ depth: 16, inChannels: 1 });
 * console.log(meta.cfg, graph.shapes([1, 1, 32, 32]).at(-1)); // [64, 64, 'M', …, 512] [1, 10]
 * ```
 */
export function vggGraph(opts: VggOptions = {}): { graph: Graph; meta: ModelMeta } {
  const depth = opts.depth ?? 19;
  const cfg = opts.cfg ?? VGG_CFG[depth];
  if (!cfg) throw new ShapeError(`vgg: depth ${depth} is not one of 11, 13, 16, 19 (or pass a cfg)`);
  positiveInts('vgg', cfg);
  const last = [...cfg].reverse().find((v): v is number => v !== 'M');
  if (last === undefined) throw new ShapeError('vgg: cfg has no conv layer');
  const inChannels = opts.inChannels ?? 3;
  const numClasses = opts.numClasses ?? 10;
  const g = new Graph(inChannels);
  let cur = g.input;
  let c = inChannels;
  let i = 0;
  for (const v of cfg) {
    if (v === 'M') {
      cur = g.add(new MaxPool2d(`feature.${i}`, { kernel: 2, stride: 2 }), cur);
      i += 1;
    } else {
      cur = g.chain(
        cur,
        new Conv2d(`feature.${i}`, { inChannels: c, outChannels: v, kernel: 3, padding: 1 }),
        new BatchNorm2d(`feature.${i + 1}`, v),
        new ReLU(`feature.${i + 2}`),
      );
      c = v;
      i += 3;
    }
  }
  // The reference's forward applies nn.AvgPool2d(2) functionally: it has no state_dict entry.
  // The reference's AvgPool2d(2) at 32×32 (with four max pools, a 2×2 map); with an input size,
  // a window that pools what the max pools leave to one pixel.
  const window = opts.inputSize === undefined ? 2 : headPool('vgg', opts.inputSize, 2 ** cfg.filter((v) => v === 'M').length);
  g.chain(cur, new AvgPool2d('', { kernel: window }), new Flatten(''), new Linear('classifier', last, numClasses));
  return { graph: g, meta: { arch: 'vgg', depth, numClasses, inChannels, cfg: [...cfg], ...commonMeta(opts, 'vgg', numClasses, inChannels) } };
}

/**
 * The reference's default ResNet cfg for depth 9n+2.
 *
 * @example
 * ```ts
 * import { models } from 'netslim';
 *
 * console.log(models.defaultResnetCfg(11)); // [16, 16, 16, 64, 32, 32, 128, 64, 64, 256]
 * ```
 */
export function defaultResnetCfg(depth: number): number[] {
  const n = (depth - 2) / 9;
  const cfg: number[] = [];
  const stages: [number, number][] = [
    [16, 16],
    [64, 32],
    [128, 64],
  ];
  stages.forEach(([first, planes], s) => {
    cfg.push(first, planes, planes);
    const expanded = planes * 4;
    for (let b = 1; b < n; b++) cfg.push(expanded, planes, planes);
    void s;
  });
  cfg.push(256);
  return cfg;
}

/**
 * Pre-activation bottleneck ResNet (depth 9n+2) as the reference's `preresnet.py`.
 *
 * @example
 * ```ts
 * import { models } from 'netslim';
 *
 * const { graph, meta } = models.resnetGraph({ depth: 20, numClasses: 100 });
 * console.log(meta.cfg?.length, graph.layers().length, graph.shapes([1, 3, 32, 32]).at(-1)); // 19 … [1, 100]
 * ```
 */
export function resnetGraph(opts: ResnetOptions = {}): { graph: Graph; meta: ModelMeta } {
  const depth = opts.depth ?? 164;
  if (!(Number.isInteger(depth) && depth >= 11 && (depth - 2) % 9 === 0)) throw new ShapeError(`resnet: depth ${depth} is not 9n+2 (e.g. 20, 164)`);
  const n = (depth - 2) / 9;
  const cfg = opts.cfg ?? defaultResnetCfg(depth);
  if (cfg.length !== 9 * n + 1) throw new ShapeError(`resnet: cfg has ${cfg.length} entries; depth ${depth} needs 9·${n}+1 = ${9 * n + 1}`);
  positiveInts('resnet', cfg);
  const inChannels = opts.inChannels ?? 3;
  const numClasses = opts.numClasses ?? 10;
  const g = new Graph(inChannels);
  let cur = g.add(new Conv2d('conv1', { inChannels, outChannels: 16, kernel: 3, padding: 1 }), g.input);
  let inplanes = 16;
  [16, 32, 64].forEach((planes, s) => {
    const stride = s === 0 ? 1 : 2;
    for (let b = 0; b < n; b++) {
      const name = `layer${s + 1}.${b}`;
      const [c0, c1, c2] = cfg.slice(3 * (s * n + b), 3 * (s * n + b) + 3) as [number, number, number];
      const st = b === 0 ? stride : 1;
      const x = cur;
      const h = g.chain(
        x,
        new BatchNorm2d(`${name}.bn1`, inplanes),
        new ChannelSelection(`${name}.select`, inplanes),
        new ReLU(`${name}.relu`),
        new Conv2d(`${name}.conv1`, { inChannels: c0, outChannels: c1, kernel: 1 }),
        new BatchNorm2d(`${name}.bn2`, c1),
        new ReLU(`${name}.relu`),
        new Conv2d(`${name}.conv2`, { inChannels: c1, outChannels: c2, kernel: 3, stride: st, padding: 1 }),
        new BatchNorm2d(`${name}.bn3`, c2),
        new ReLU(`${name}.relu`),
        new Conv2d(`${name}.conv3`, { inChannels: c2, outChannels: planes * 4, kernel: 1 }),
      );
      const needsDownsample = b === 0 && (st !== 1 || inplanes !== planes * 4);
      const residual = needsDownsample
        ? g.add(new Conv2d(`${name}.downsample.0`, { inChannels: inplanes, outChannels: planes * 4, kernel: 1, stride: st }), x)
        : x;
      cur = g.add(new Add(`${name}.add`), h, residual);
      inplanes = planes * 4;
    }
  });
  g.chain(
    cur,
    new BatchNorm2d('bn', inplanes),
    new ChannelSelection('select', inplanes),
    new ReLU('relu'),
    new AvgPool2d('avgpool', { kernel: headPool('resnet', opts.inputSize, 4) }),
    new Flatten(''),
    new Linear('fc', cfg[cfg.length - 1]!, numClasses),
  );
  return { graph: g, meta: { arch: 'resnet', depth, numClasses, inChannels, cfg: [...cfg], ...commonMeta(opts, 'resnet', numClasses, inChannels) } };
}

/**
 * The reference's default DenseNet cfg (3n+3 entries).
 *
 * @example
 * ```ts
 * import { models } from 'netslim';
 *
 * console.log(models.defaultDensenetCfg(10)); // [24, 36, 48, 48, 60, 72, 72, 84, 96]
 * ```
 */
export function defaultDensenetCfg(depth: number, growthRate = 12): number[] {
  const n = (depth - 4) / 3;
  const cfg: number[] = [];
  let start = growthRate * 2;
  for (let b = 0; b < 3; b++) {
    for (let i = 0; i <= n; i++) cfg.push(start + growthRate * i);
    start += growthRate * n;
  }
  return cfg;
}

/**
 * DenseNet (depth 3n+4, basic blocks, no compression, no dropout) as the reference's `densenet.py`.
 *
 * @example
 * ```ts
 * import { models } from 'netslim';
 *
 * const { graph } = models.densenetGraph({ depth: 40 });
 * console.log(graph.layers().filter((l) => l.kind === 'BatchNorm2d').length); // 39
 * ```
 */
export function densenetGraph(opts: DensenetOptions = {}): { graph: Graph; meta: ModelMeta } {
  const depth = opts.depth ?? 40;
  if (!(Number.isInteger(depth) && depth >= 7 && (depth - 4) % 3 === 0)) throw new ShapeError(`densenet: depth ${depth} is not 3n+4 (e.g. 40)`);
  const n = (depth - 4) / 3;
  const growth = opts.growthRate ?? 12;
  const cfg = opts.cfg ?? defaultDensenetCfg(depth, growth);
  if (cfg.length !== 3 * n + 3) throw new ShapeError(`densenet: cfg has ${cfg.length} entries; depth ${depth} needs 3·${n}+3 = ${3 * n + 3}`);
  positiveInts('densenet', cfg);
  const inChannels = opts.inChannels ?? 3;
  const numClasses = opts.numClasses ?? 10;
  const g = new Graph(inChannels);
  let inplanes = growth * 2;
  let cur = g.add(new Conv2d('conv1', { inChannels, outChannels: inplanes, kernel: 3, padding: 1 }), g.input);
  for (let b = 0; b < 3; b++) {
    for (let i = 0; i < n; i++) {
      const name = `dense${b + 1}.${i}`;
      const h = g.chain(
        cur,
        new BatchNorm2d(`${name}.bn1`, inplanes),
        new ChannelSelection(`${name}.select`, inplanes),
        new ReLU(`${name}.relu`),
        new Conv2d(`${name}.conv1`, { inChannels: cfg[b * (n + 1) + i]!, outChannels: growth, kernel: 3, padding: 1 }),
      );
      cur = g.add(new Concat(`${name}.cat`), cur, h);
      inplanes += growth;
    }
    if (b < 2) {
      const name = `trans${b + 1}`;
      cur = g.chain(
        cur,
        new BatchNorm2d(`${name}.bn1`, inplanes),
        new ChannelSelection(`${name}.select`, inplanes),
        new ReLU(`${name}.relu`),
        new Conv2d(`${name}.conv1`, { inChannels: cfg[b * (n + 1) + n]!, outChannels: inplanes, kernel: 1 }),
        new AvgPool2d('', { kernel: 2 }),
      );
    }
  }
  g.chain(
    cur,
    new BatchNorm2d('bn', inplanes),
    new ChannelSelection('select', inplanes),
    new ReLU('relu'),
    new AvgPool2d('avgpool', { kernel: headPool('densenet', opts.inputSize, 4) }),
    new Flatten(''),
    new Linear('fc', cfg[cfg.length - 1]!, numClasses),
  );
  return { graph: g, meta: { arch: 'densenet', depth, numClasses, inChannels, cfg: [...cfg], ...commonMeta(opts, 'densenet', numClasses, inChannels) } };
}

// ------------------------------------------------------------------------------ torchvision-style networks

/** Options of {@link resnet18Graph}. */
export interface Resnet18Options extends ModelOptions {
  /** Channels of the stem and the first stage (default 64, torchvision's; the stages double it). */
  width?: number;
  /** Blocks per stage (default [2, 2, 2, 2]: ResNet-18). */
  blocks?: number[];
}

/**
 * A CIFAR ResNet-18 as torchvision writes ResNet (post-activation BasicBlocks, a 1×1 conv + BN
 * downsample where the shape changes, global average pooling, a biased fc) with a 3×3 stride-1
 * stem and no max pool, as CIFAR variants do; torchvision's state_dict names. Any input size.
 *
 * @example
 * ```ts
 * import { models } from 'netslim';
 *
 * const { graph } = models.resnet18Graph({ width: 16 });
 * console.log(graph.shapes([2, 3, 32, 32]).at(-1)); // [2, 10]
 * ```
 */
export function resnet18Graph(opts: Resnet18Options = {}): { graph: Graph; meta: ModelMeta } {
  const width = opts.width ?? 64;
  const blocks = opts.blocks ?? [2, 2, 2, 2];
  if (!(Number.isInteger(width) && width >= 1)) throw new ShapeError(`resnet18: width ${width} is not a positive integer`);
  if (!blocks.length || !blocks.every((b) => Number.isInteger(b) && b >= 1)) throw new ShapeError(`resnet18: blocks ${JSON.stringify(blocks)} are not positive integers`);
  const inChannels = opts.inChannels ?? 3;
  const numClasses = opts.numClasses ?? 10;
  const g = new Graph(inChannels);
  let x = g.chain(g.input, new Conv2d('conv1', { inChannels, outChannels: width, kernel: 3, padding: 1 }), new BatchNorm2d('bn1', width), new ReLU('relu'));
  let cin = width;
  blocks.forEach((n, s) => {
    const planes = width * 2 ** s;
    for (let b = 0; b < n; b++) {
      const name = `layer${s + 1}.${b}`;
      const stride = b === 0 && s > 0 ? 2 : 1;
      const h = g.chain(
        x,
        new Conv2d(`${name}.conv1`, { inChannels: cin, outChannels: planes, kernel: 3, stride, padding: 1 }),
        new BatchNorm2d(`${name}.bn1`, planes),
        new ReLU(`${name}.relu`),
        new Conv2d(`${name}.conv2`, { inChannels: planes, outChannels: planes, kernel: 3, padding: 1 }),
        new BatchNorm2d(`${name}.bn2`, planes),
      );
      const skip =
        stride !== 1 || cin !== planes
          ? g.chain(x, new Conv2d(`${name}.downsample.0`, { inChannels: cin, outChannels: planes, kernel: 1, stride }), new BatchNorm2d(`${name}.downsample.1`, planes))
          : x;
      x = g.chain(g.add(new Add(`${name}.add`), h, skip), new ReLU(`${name}.relu`));
      cin = planes;
    }
  });
  g.chain(x, new GlobalAvgPool2d('avgpool'), new Flatten(''), new Linear('fc', cin, numClasses));
  return { graph: g, meta: { arch: 'custom', numClasses, inChannels, ...commonMeta(opts, 'custom', numClasses, inChannels) } };
}

/** torchvision's rounding of channel counts: to the nearest multiple of `d`, never below 90 % of `v`. */
function makeDivisible(v: number, d = 8): number {
  const r = Math.max(d, Math.floor((v + d / 2) / d) * d);
  return r < 0.9 * v ? r + d : r;
}

/** Options of {@link mobilenetV2Graph}. */
export interface MobilenetV2Options extends ModelOptions {
  /** Width multiplier (default 1). */
  width?: number;
  /** Inverted-residual settings [t, c, n, s] (default torchvision's, with stride 1 in the second row for 32×32 inputs). */
  settings?: [number, number, number, number][];
  /** Dropout before the classifier (default 0.2). */
  dropout?: number;
}

/** torchvision's MobileNetV2 settings with the CIFAR change (the second row's stride 2 → 1). */
export const MOBILENET_V2_CIFAR: [number, number, number, number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 1],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/**
 * A CIFAR MobileNetV2 as torchvision writes it (inverted residuals: 1×1 expansion, depthwise 3×3,
 * ReLU6, linear 1×1 projection, residual where the shape allows; a 1×1 conv to 1280·max(1,
 * width); global pooling, dropout, linear) with a stride-1 stem; torchvision's state_dict names
 * (`features.1.conv.0.0.weight`, `classifier.1.weight`). Any input size.
 *
 * @example
 * ```ts
 * import { layers, models } from 'netslim';
 *
 * const { graph } = models.mobilenetV2Graph({ width: 0.25 });
 * console.log(graph.layers().filter((l) => l instanceof layers.Conv2d && l.depthwise).length); // 17 depthwise convolutions
 * ```
 */
export function mobilenetV2Graph(opts: MobilenetV2Options = {}): { graph: Graph; meta: ModelMeta } {
  const width = opts.width ?? 1;
  if (!(width > 0)) throw new ShapeError(`mobilenetV2: width ${width} is not positive`);
  const settings = opts.settings ?? MOBILENET_V2_CIFAR;
  const inChannels = opts.inChannels ?? 3;
  const numClasses = opts.numClasses ?? 10;
  const g = new Graph(inChannels);
  let cin = makeDivisible(32 * width);
  let x = g.chain(g.input, new Conv2d('features.0.0', { inChannels, outChannels: cin, kernel: 3, padding: 1 }), new BatchNorm2d('features.0.1', cin), new ReLU6(''));
  let i = 1;
  for (const [t, c, n, s] of settings) {
    const cout = makeDivisible(c * width);
    for (let b = 0; b < n; b++) {
      const stride = b === 0 ? s : 1;
      const name = `features.${i++}.conv`;
      const hidden = Math.round(cin * t);
      let h = x;
      let k = 0;
      if (t !== 1) {
        h = g.chain(h, new Conv2d(`${name}.${k}.0`, { inChannels: cin, outChannels: hidden, kernel: 1 }), new BatchNorm2d(`${name}.${k}.1`, hidden), new ReLU6(''));
        k++;
      }
      h = g.chain(
        h,
        new Conv2d(`${name}.${k}.0`, { inChannels: hidden, outChannels: hidden, kernel: 3, stride, padding: 1, groups: hidden }),
        new BatchNorm2d(`${name}.${k}.1`, hidden),
        new ReLU6(''),
        new Conv2d(`${name}.${k + 1}`, { inChannels: hidden, outChannels: cout, kernel: 1 }),
        new BatchNorm2d(`${name}.${k + 2}`, cout),
      );
      x = stride === 1 && cin === cout ? g.add(new Add(''), h, x) : h;
      cin = cout;
    }
  }
  const last = makeDivisible(1280 * Math.max(1, width));
  x = g.chain(x, new Conv2d(`features.${i}.0`, { inChannels: cin, outChannels: last, kernel: 1 }), new BatchNorm2d(`features.${i}.1`, last), new ReLU6(''));
  g.chain(x, new GlobalAvgPool2d(''), new Flatten(''), new Dropout('classifier.0', opts.dropout ?? 0.2, opts.seed ?? 1), new Linear('classifier.1', last, numClasses));
  return { graph: g, meta: { arch: 'custom', numClasses, inChannels, ...commonMeta(opts, 'custom', numClasses, inChannels) } };
}

// ------------------------------------------------------------------------------ initialisation

function normals(n: number, std: number, r: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(r(), 1e-300);
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/**
 * The reference's initialisation: conv weights ~ N(0, √(2 / (k·k·out))), BN γ = 0.5, β = 0,
 * running mean 0 and variance 1; VGG's linear ~ N(0, 0.01) with zero bias; ResNet's and
 * DenseNet's linear keep PyTorch's default U(−1/√in, 1/√in) for weight and bias.
 *
 * @example
 * ```ts
 * import { init, models } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { cfg: [8, 'M', 16] });
 * models.initialize(model, 42); // draw the weights again from another seed
 * await ctx.sync(); // let queued GPU work finish before destroy()
 * ctx.destroy();
 * ```
 */
export function initialize(model: Model, seed = 1): void {
  const r = rng(seed);
  const write = (t: { buffer: GPUBuffer } | null, data: Float32Array): void => {
    if (t && data.length) model.ctx.device.queue.writeBuffer(t.buffer, 0, data);
  };
  for (const layer of model.graph.layers()) {
    if (layer instanceof Conv2d) {
      const [o, , kh, kw] = layer.slot('weight').shape as [number, number, number, number];
      const w = layer.slot('weight');
      write(w.value, normals(w.shape.reduce((a, b) => a * b, 1), Math.sqrt(2 / (kh * kw * o)), r));
    } else if (layer instanceof BatchNorm2d) {
      const c = layer.channels;
      write(layer.slot('weight').value, new Float32Array(c).fill(0.5));
      write(layer.slot('bias').value, new Float32Array(c));
      write(layer.slot('running_mean').value, new Float32Array(c));
      write(layer.slot('running_var').value, new Float32Array(c).fill(1));
      layer.numBatchesTracked = 0;
    } else if (layer instanceof Linear) {
      const w = layer.slot('weight');
      const n = layer.inFeatures * layer.outFeatures;
      if (model.meta.arch === 'vgg') {
        write(w.value, normals(n, 0.01, r));
        write(layer.slot('bias').value, new Float32Array(layer.outFeatures));
      } else {
        const bound = 1 / Math.sqrt(layer.inFeatures);
        write(w.value, Float32Array.from({ length: n }, () => (2 * r() - 1) * bound));
        write(layer.slot('bias').value, Float32Array.from({ length: layer.outFeatures }, () => (2 * r() - 1) * bound));
      }
    }
  }
  // Momentum buffers start empty: the optimizer's first step overwrites them.
}

/** A model of a built graph on `ctx`, initialised from `seed`. */
function initialised(ctx: Context, built: { graph: Graph; meta: ModelMeta }, seed?: number): Model {
  const m = new Model(ctx, built.graph, built.meta);
  initialize(m, seed);
  return m;
}

/**
 * A VGG on `ctx`, initialised.
 *
 * @example
 * ```ts
 * import { init, models } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { depth: 16, inChannels: 1, numClasses: 10, dataset: 'fashion-mnist' });
 * console.log(model.parameterCount()); // 14722890
 * await ctx.sync(); // let queued GPU work finish before destroy()
 * ctx.destroy();
 * ```
 */
export function vgg(ctx: Context, opts: VggOptions = {}): Model {
  return initialised(ctx, vggGraph(opts), opts.seed);
}

/**
 * A pre-activation ResNet on `ctx`, initialised.
 *
 * @example
 * ```ts
 * import { init, models } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.resnet(ctx, { depth: 20, numClasses: 10 });
 * const x = ctx.tensor([2, 3, 32, 32], new Float32Array(2 * 3 * 32 * 32).fill(0.1));
 * console.log(await ctx.readF32(model.forward(x, false))); // 20 logits
 * ctx.destroy();
 * ```
 */
export function resnet(ctx: Context, opts: ResnetOptions = {}): Model {
  return initialised(ctx, resnetGraph(opts), opts.seed);
}

/**
 * A DenseNet on `ctx`, initialised.
 *
 * @example
 * ```ts
 * import { init, models } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.densenet(ctx, { depth: 10, growthRate: 12, numClasses: 10 });
 * console.log(model.meta.cfg, model.parameterCount());
 * await ctx.sync(); // let queued GPU work finish before destroy()
 * ctx.destroy();
 * ```
 */
export function densenet(ctx: Context, opts: DensenetOptions = {}): Model {
  return initialised(ctx, densenetGraph(opts), opts.seed);
}

/**
 * A torchvision-style ResNet-18 for small images (see {@link resnet18Graph}) on `ctx`, initialised.
 *
 * @example
 * ```ts
 * import { init, models } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.resnet18(ctx, { width: 8, numClasses: 10, seed: 3 });
 * console.log(model.parameterCount()); // 176402 at width 8 (11173962 at the default 64)
 * await ctx.sync(); // let queued GPU work finish before destroy()
 * ctx.destroy();
 * ```
 */
export function resnet18(ctx: Context, opts: Resnet18Options = {}): Model {
  return initialised(ctx, resnet18Graph(opts), opts.seed);
}

/**
 * A CIFAR MobileNetV2 (see {@link mobilenetV2Graph}) on `ctx`, initialised.
 *
 * @example
 * ```ts
 * import { init, models } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.mobilenetV2(ctx, { width: 0.25, numClasses: 10 });
 * const x = ctx.tensor([1, 3, 32, 32], new Float32Array(3 * 32 * 32).fill(0.1));
 * console.log(await ctx.readF32(model.forward(x, false))); // 10 logits
 * ctx.destroy();
 * ```
 */
export function mobilenetV2(ctx: Context, opts: MobilenetV2Options = {}): Model {
  return initialised(ctx, mobilenetV2Graph(opts), opts.seed);
}

/**
 * The graph for checkpoint metadata (arch, depth, cfg, classes, input channels).
 *
 * @example
 * ```ts
 * import { models } from 'netslim';
 *
 * const { graph } = models.graphFromMeta({ arch: 'vgg', numClasses: 10, inChannels: 3, cfg: [8, 'M', 16, 'M', 16] });
 * console.log(graph.shapes([1, 3, 8, 8]).at(-1)); // [1, 10]: two pools take 8×8 to the 2×2 the average pool needs
 * ```
 */
export function graphFromMeta(meta: ModelMeta): { graph: Graph; meta: ModelMeta } {
  const common = { numClasses: meta.numClasses, inChannels: meta.inChannels, ...(meta.dataset ? { dataset: meta.dataset } : {}), ...pickLabelMeta(meta), ...(meta.inputSize !== undefined ? { inputSize: meta.inputSize } : {}) };
  switch (meta.arch) {
    case 'vgg':
      return vggGraph({ ...common, ...(meta.depth !== undefined ? { depth: meta.depth } : {}), ...(meta.cfg ? { cfg: meta.cfg } : {}) });
    case 'resnet':
      return resnetGraph({ ...common, ...(meta.depth !== undefined ? { depth: meta.depth } : {}), ...(meta.cfg ? { cfg: meta.cfg as number[] } : {}) });
    case 'densenet':
      return densenetGraph({ ...common, ...(meta.depth !== undefined ? { depth: meta.depth } : {}), ...(meta.cfg ? { cfg: meta.cfg as number[] } : {}) });
    default:
      throw new ShapeError(`unknown arch ${JSON.stringify(meta.arch)} (expected vgg, resnet or densenet)`);
  }
}

// ------------------------------------------------------------------------------ cfg of a graph

/** Reads each reference architecture's cfg back from a graph of it (the inverse of its builder). */
const CFG_OF: Record<string, (g: Graph) => (number | 'M')[]> = {
  vgg: (g) => g.layers().flatMap((l): (number | 'M')[] => (l instanceof Conv2d ? [l.outChannels] : l instanceof MaxPool2d ? ['M'] : [])),
  resnet: (g) => {
    const byName = new Map(g.layers().map((l) => [l.name, l]));
    const cfg: number[] = [];
    for (const l of g.layers()) {
      if (!(l instanceof Conv2d) || !/^layer\d+\.\d+\.conv1$/.test(l.name)) continue;
      const conv2 = byName.get(l.name.replace(/conv1$/, 'conv2'));
      cfg.push(l.inChannels, l.outChannels, conv2 instanceof Conv2d ? conv2.outChannels : NaN);
    }
    const fc = byName.get('fc');
    cfg.push(fc instanceof Linear ? fc.inFeatures : NaN);
    return cfg;
  },
  densenet: (g) => {
    const cfg: number[] = g.layers().flatMap((l) => (l instanceof Conv2d && l.name !== 'conv1' ? [l.inChannels] : []));
    const fc = g.layers().find((l) => l.name === 'fc');
    cfg.push(fc instanceof Linear ? fc.inFeatures : NaN);
    return cfg;
  },
};

/**
 * The metadata of `graph` given what it came from: a reference architecture keeps its arch,
 * depth and the cfg read back from the graph when the architecture's builder, given that cfg,
 * makes exactly this graph (as after the reference's pruning); otherwise (a pruned residual
 * stream, a custom graph) the arch is `'custom'` and only the graph describes the model.
 *
 * @example
 * ```ts
 * import { models } from 'netslim';
 *
 * const { graph, meta } = models.vggGraph({ cfg: [8, 'M', 16] });
 * console.log(models.describeGraph(meta, graph).cfg); // [8, 'M', 16]
 * ```
 */
export function describeGraph(meta: ModelMeta, graph: Graph): ModelMeta {
  const common: ModelMeta = { arch: 'custom', numClasses: meta.numClasses, inChannels: graph.inChannels, ...(meta.dataset ? { dataset: meta.dataset } : {}), ...pickLabelMeta(meta), ...(meta.pruning ? { pruning: meta.pruning } : {}) };
  if (meta.inputSize !== undefined) common.inputSize = meta.inputSize;
  const cfgOf = Object.hasOwn(CFG_OF, meta.arch) ? CFG_OF[meta.arch] : undefined;
  if (!cfgOf) return common;
  const cfg = cfgOf(graph);
  const candidate: ModelMeta = { ...common, arch: meta.arch, ...(meta.depth !== undefined ? { depth: meta.depth } : {}), cfg };
  try {
    const rebuilt = graphFromMeta(candidate).graph;
    if (JSON.stringify(graphToSpec(rebuilt)) === JSON.stringify(graphToSpec(graph))) return candidate;
  } catch {
    // Not expressible as this architecture's cfg: a custom graph.
  }
  return common;
}

// ------------------------------------------------------------------------------ files without a graph

/** A checkpoint's tensors as the inference rules see them; `shape` throws where a tensor is missing. */
export interface TensorShapes {
  /** Whether the state dict holds `key`. */
  has(key: string): boolean;
  /** Every key of the state dict. */
  keys(): string[];
  /** The shape of `key`; throws (naming the file and the tensor) where it is missing. */
  shape(key: string): number[];
}

function blockCount(t: TensorShapes, prefix: string): number {
  let n = 0;
  while (t.has(`${prefix}.${n}.bn1.weight`)) n++;
  return n;
}

/** How each reference architecture is recognised from its state_dict names, and its meta read off the shapes. */
const INFER: { arch: string; signature: string; depthInferred: boolean; infer: (t: TensorShapes) => ModelMeta | null }[] = [
  {
    arch: 'vgg',
    signature: 'feature.0.weight + classifier.weight (vgg)',
    depthInferred: false,
    infer: (t) => {
      if (!(t.has('feature.0.weight') && t.has('classifier.weight'))) return null;
      const cfg: VggCfg = [];
      const maxIndex = Math.max(...t.keys().filter((k) => k.startsWith('feature.')).map((k) => Number(k.split('.')[1])));
      let i = 0;
      while (i <= maxIndex) {
        const w = t.has(`feature.${i}.weight`) ? t.shape(`feature.${i}.weight`) : null;
        if (w && w.length === 4) {
          cfg.push(w[0]!);
          i += 3;
        } else {
          cfg.push('M');
          i += 1;
        }
      }
      // A trailing max-pool leaves no tensor; the reference cfgs never end in one.
      const convs = cfg.filter((v) => v !== 'M').length;
      const std = Object.entries(VGG_CFG).find(([, c]) => JSON.stringify(c) === JSON.stringify(cfg));
      return { arch: 'vgg', depth: std ? Number(std[0]) : convs + 3, numClasses: t.shape('classifier.weight')[0]!, inChannels: t.shape('feature.0.weight')[1]!, cfg };
    },
  },
  {
    arch: 'resnet',
    signature: 'layer1.0.bn1.weight (resnet)',
    depthInferred: true,
    infer: (t) => {
      if (!t.has('layer1.0.bn1.weight')) return null;
      const n = blockCount(t, 'layer1');
      const cfg: number[] = [];
      for (let s = 1; s <= 3; s++) {
        for (let b = 0; b < n; b++) {
          const c1 = t.shape(`layer${s}.${b}.conv1.weight`);
          cfg.push(c1[1]!, c1[0]!, t.shape(`layer${s}.${b}.conv2.weight`)[0]!);
        }
      }
      cfg.push(t.shape('fc.weight')[1]!);
      return { arch: 'resnet', depth: 9 * n + 2, numClasses: t.shape('fc.weight')[0]!, inChannels: t.shape('conv1.weight')[1]!, cfg };
    },
  },
  {
    arch: 'densenet',
    signature: 'dense1.0.bn1.weight (densenet)',
    depthInferred: true,
    infer: (t) => {
      if (!t.has('dense1.0.bn1.weight')) return null;
      const n = blockCount(t, 'dense1');
      const cfg: number[] = [];
      for (let b = 1; b <= 3; b++) {
        for (let i = 0; i < n; i++) cfg.push(t.shape(`dense${b}.${i}.conv1.weight`)[1]!);
        cfg.push(b < 3 ? t.shape(`trans${b}.conv1.weight`)[1]! : t.shape('fc.weight')[1]!);
      }
      return { arch: 'densenet', depth: 3 * n + 4, numClasses: t.shape('fc.weight')[0]!, inChannels: t.shape('conv1.weight')[1]!, cfg };
    },
  },
];

/** What marks each reference architecture's state dict, for error messages. */
export const ARCH_SIGNATURES = INFER.map((r) => r.signature).join(', ');

/**
 * The reference architecture a state dict without graph metadata (e.g. written by PyTorch's
 * `save_file(model.state_dict())`) is, with depth, cfg, classes and input channels read off its
 * tensor shapes; null when its names match none.
 *
 * @example
 * ```ts
 * import { models } from 'netslim';
 *
 * const { graph } = models.vggGraph({ cfg: [8, 'M', 16] });
 * const shapes = new Map<string, number[]>(graph.layers().flatMap((l) => l.state.map((s): [string, number[]] => [`${l.name}.${s.key}`, s.shape])));
 * const meta = models.inferArchMeta({ has: (k) => shapes.has(k), keys: () => [...shapes.keys()], shape: (k) => shapes.get(k)! });
 * console.log(meta?.arch, meta?.cfg); // vgg [8, 'M', 16]
 * ```
 */
export function inferArchMeta(t: TensorShapes): ModelMeta | null {
  for (const r of INFER) {
    const m = r.infer(t);
    if (m) return m;
  }
  return null;
}

/**
 * Whether an architecture's depth follows from its tensors (ResNet, DenseNet) or only names a
 * starting cfg (VGG, whose pruned cfg keeps the depth it was built with).
 *
 * @example
 * ```ts
 * import { models } from 'netslim';
 *
 * console.log(models.archInfersDepth('resnet'), models.archInfersDepth('vgg')); // true false
 * ```
 */
export function archInfersDepth(arch: string): boolean {
  return INFER.find((r) => r.arch === arch)?.depthInferred ?? false;
}
