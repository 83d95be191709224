/**
 * The typed modules a model graph is made of. A layer describes its shapes, owns its state slots
 * (parameters and buffers, named as PyTorch's state_dict names them) and runs its forward and
 * backward over the kernels in src/ops. Activations and per-run saved tensors belong to the
 * executor (src/nn/model.ts), so one layer description serves any batch size.
 */
import type { Context } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { assertShape } from '../errors.js';
import { shapeString } from '../gpu/tensor.js';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dOutputShape, type ConvBatchNormEpilogue } from '../ops/conv2d.js';
import { batchNormBackward, batchNormForwardEval, batchNormForwardTrain } from '../ops/batchnorm2d.js';
import { reluBackward, reluForward, add, relu6Forward, relu6Backward, dropoutForward, dropoutBackward } from '../ops/elementwise.js';
import { avgPool2dBackward, avgPool2dForward, globalAvgPool2dBackward, globalAvgPool2dForward, maxPool2dBackward, maxPool2dForward, pool2dOutputShape } from '../ops/pool2d.js';
import { conv2dBiasGrad, groupedConv2dBackwardInput, groupedConv2dBackwardWeight, groupedConv2dForward, groupedConv2dOutputShape } from '../ops/conv2d_grouped.js';
import { linearBackward, linearForward } from '../ops/linear.js';
import { channelSelectBackward, channelSelectForward, concatBackward, concatForward } from '../ops/channel.js';

/** The kinds of layer a graph can hold. */
export type LayerKind =
  | 'Input'
  | 'Conv2d'
  | 'BatchNorm2d'
  | 'ReLU'
  | 'ReLU6'
  | 'Dropout'
  | 'GlobalAvgPool2d'
  | 'MaxPool2d'
  | 'AvgPool2d'
  | 'Linear'
  | 'ChannelSelection'
  | 'Add'
  | 'Concat'
  | 'Flatten';

/**
 * One named tensor of a layer's state. `trainable` slots get a gradient and a momentum buffer;
 * the others are buffers (running statistics, the selection mask). `I64` slots live on the host
 * (BatchNorm's `num_batches_tracked`).
 */
export interface StateSlot {
  /** Local name: `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`, `indexes`. */
  readonly key: string;
  shape: number[];
  readonly dtype: 'F32' | 'I64';
  readonly trainable: boolean;
  /** Counts as a parameter in the reference's parameter count (selection `indexes` does). */
  readonly countsAsParameter: boolean;
  value: Tensor | null;
  grad: Tensor | null;
  momentum: Tensor | null;
}

function slot(key: string, shape: number[], trainable: boolean, dtype: 'F32' | 'I64' = 'F32', countsAsParameter = trainable): StateSlot {
  return { key, shape, dtype, trainable, countsAsParameter, value: null, grad: null, momentum: null };
}

/** Tensors a layer's forward saves for its backward, allocated per batch size by the executor. */
export interface SavedSpec {
  shape: number[];
  dtype: 'f32' | 'u32';
}

/**
 * A typed module of a model graph: its output shape, its state slots (named as PyTorch's
 * state_dict names them) and its forward and backward over the kernels in `ops`.
 *
 * @example
 * ```ts
 * import { models } from 'netslim';
 *
 * const { graph } = models.vggGraph({ depth: 11 });
 * for (const layer of graph.layers()) {
 *   console.log(layer.kind, layer.name, layer.state.map((s) => `${s.key} [${s.shape.join(', ')}]`).join(', '));
 * }
 * // Conv2d feature.0 weight [64, 3, 3, 3]
 * // BatchNorm2d feature.1 weight [64], bias [64], running_mean [64], running_var [64], num_batches_tracked []
 * // …
 * ```
 */
export abstract class Layer {
  abstract readonly kind: LayerKind;
  /** State slots in state_dict order. */
  readonly state: StateSlot[] = [];

  /** @param name the PyTorch module path (`feature.0`, `layer1.0.conv1`); empty for functional ops. */
  constructor(public name: string) {}

  /**
   * The options that rebuild this layer (with its kind and name), as plain JSON: what a
   * checkpoint's graph records (src/nn/graph-spec.ts). Channel counts are read from the state, so
   * a compacted layer reports its new widths.
   */
  options(): Record<string, number | string | boolean> {
    return {};
  }

  /** Output shape for the shapes of the inputs; throws a ShapeError naming the layer when they do not fit. */
  abstract outputShape(inputs: readonly (readonly number[])[]): number[];

  /** Shapes of the tensors the forward saves for the backward. */
  savedSpecs(_inputs: readonly (readonly number[])[], _output: readonly number[]): SavedSpec[] {
    return [];
  }

  /** Whether the backward reads this layer's forward output (a following in-place op must not clobber it). */
  get backwardReadsOutput(): boolean {
    return false;
  }

  /** Records the forward pass into `out` (`train`: batch statistics; `saved` holds what the backward needs). */
  abstract forward(ctx: Context, inputs: readonly Tensor[], out: Tensor, train: boolean, saved: readonly Tensor[]): void;

  /**
   * Writes the gradients of the inputs into `dinputs` (null where none is needed) and of the
   * trainable slots into their `grad` tensors (overwriting).
   */
  abstract backward(ctx: Context, inputs: readonly Tensor[], out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[], saved: readonly Tensor[]): void;

  /** The state slot with local name `key` (`weight`, `running_var`, …); throws when the layer has none. */
  slot(key: string): StateSlot {
    const s = this.state.find((x) => x.key === key);
    if (!s) throw new Error(`${this.kind} ${this.name} has no state ${key}`);
    return s;
  }

  protected value(key: string): Tensor {
    const t = this.slot(key).value;
    if (!t) throw new Error(`${this.kind} ${this.name}: ${key} is not on the GPU (model not materialised)`);
    return t;
  }

  protected grad(key: string): Tensor {
    const t = this.slot(key).grad;
    if (!t) throw new Error(`${this.kind} ${this.name}: ${key} has no gradient buffer`);
    return t;
  }
}

function expectRank(layer: Layer, shape: readonly number[], rank: number): void {
  assertShape(shape.length === rank, () => `${layer.kind} ${layer.name || '(unnamed)'}: expected a rank-${rank} input, got ${shapeString(shape)}`);
}

function expectChannels(layer: Layer, shape: readonly number[], c: number): void {
  assertShape(shape[1] === c, () => `${layer.kind} ${layer.name || '(unnamed)'}: expected ${c} input channels, got ${shapeString(shape)}`);
}

/**
 * The graph's input placeholder.
 *
 * @example
 * ```ts
 * import { Graph, layers } from 'netslim';
 *
 * const g = new Graph(3);
 * const input = g.nodes[g.input]!.layer;
 * console.log(input instanceof layers.Input, input.outputShape([[8, 3, 32, 32]])); // true [8, 3, 32, 32]
 * ```
 */
export class Input extends Layer {
  readonly kind = 'Input';
  constructor(readonly channels: number) {
    super('');
  }
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    return [...inputs[0]!];
  }
  forward(): void {}
  backward(): void {}
}

/**
 * Shape of a {@link Conv2d}: channels, square kernel, stride (default 1), zero padding (default
 * 0), groups (default 1; `groups = inChannels = outChannels` is a depthwise convolution) and
 * whether it has a bias (default false).
 */
export interface Conv2dConfig {
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride?: number;
  padding?: number;
  groups?: number;
  bias?: boolean;
}

/**
 * 2-D convolution as PyTorch's nn.Conv2d: weight [out, in/groups, k, k], an optional bias,
 * grouped and depthwise (`groups = inChannels = outChannels`) convolutions. The reference models
 * use bias=False and groups 1, which run the dense conv2d kernels (src/ops/conv2d.ts); other
 * shapes run the grouped family (src/ops/conv2d_grouped.ts).
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * const conv = new layers.Conv2d('feature.0', { inChannels: 3, outChannels: 16, kernel: 3, padding: 1 });
 * console.log(conv.outputShape([[8, 3, 32, 32]]), conv.slot('weight').shape); // [8, 16, 32, 32] [16, 3, 3, 3]
 * const dw = new layers.Conv2d('dw', { inChannels: 16, outChannels: 16, kernel: 3, padding: 1, groups: 16, bias: true });
 * console.log(dw.depthwise, dw.slot('weight').shape); // true [16, 1, 3, 3]
 * ```
 */
export class Conv2d extends Layer {
  readonly kind = 'Conv2d';
  readonly stride: number;
  readonly padding: number;
  readonly groups: number;
  constructor(name: string, readonly config: Conv2dConfig) {
    super(name);
    this.stride = config.stride ?? 1;
    this.padding = config.padding ?? 0;
    this.groups = config.groups ?? 1;
    const g = this.groups;
    assertShape(
      Number.isInteger(g) && g >= 1 && config.inChannels % g === 0 && config.outChannels % g === 0,
      () => `Conv2d ${name}: groups ${g} must divide inChannels ${config.inChannels} and outChannels ${config.outChannels}`,
    );
    this.state.push(slot('weight', [config.outChannels, config.inChannels / g, config.kernel, config.kernel], true));
    if (config.bias) this.state.push(slot('bias', [config.outChannels], true));
  }
  override options(): Record<string, number | boolean> {
    return {
      inChannels: this.inChannels,
      outChannels: this.outChannels,
      kernel: this.config.kernel,
      stride: this.stride,
      padding: this.padding,
      ...(this.groups !== 1 ? { groups: this.groups } : {}),
      ...(this.hasBias ? { bias: true } : {}),
    };
  }
  /** Input channels (the weight's second dimension times the groups). */
  get inChannels(): number {
    return this.slot('weight').shape[1]! * this.groups;
  }
  /** Output channels (the weight's first dimension). */
  get outChannels(): number {
    return this.slot('weight').shape[0]!;
  }
  /** Whether the layer has a bias. */
  get hasBias(): boolean {
    return this.state.length > 1;
  }
  /** One filter per channel: groups = inChannels = outChannels > 1. */
  get depthwise(): boolean {
    return this.groups > 1 && this.groups === this.inChannels && this.groups === this.outChannels;
  }
  /** Runs the dense kernels with their evaluation epilogues (groups 1, no bias): what evaluation fusions need. */
  get dense(): boolean {
    return this.groups === 1 && !this.hasBias;
  }
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    const x = inputs[0]!;
    expectRank(this, x, 4);
    expectChannels(this, x, this.inChannels);
    return this.groups === 1
      ? conv2dOutputShape(x, this.slot('weight').shape, { stride: this.stride, padding: this.padding })
      : groupedConv2dOutputShape(x, this.slot('weight').shape, { stride: this.stride, padding: this.padding, groups: this.groups });
  }
  forward(ctx: Context, inputs: readonly Tensor[], out: Tensor): void {
    if (this.dense) conv2dForward(ctx, inputs[0]!, this.value('weight'), { stride: this.stride, padding: this.padding }, out);
    else groupedConv2dForward(ctx, inputs[0]!, this.value('weight'), this.hasBias ? this.value('bias') : null, { stride: this.stride, padding: this.padding, groups: this.groups }, out);
  }
  /**
   * Evaluation forward with what follows it in the graph applied before the store: a BatchNorm2d
   * (running statistics) and/or a ReLU, or the residual sum of an Add it feeds; `out` is what the
   * layers give one by one, in one pass. Dense convolutions only (see `dense`).
   */
  forwardEvalFused(ctx: Context, x: Tensor, out: Tensor, then: { batchNorm?: BatchNorm2d; relu?: boolean; residual?: Tensor }): void {
    const batchNorm = then.batchNorm?.evalParameters();
    conv2dForward(ctx, x, this.value('weight'), { stride: this.stride, padding: this.padding, batchNorm, relu: then.relu, residual: then.residual }, out);
  }
  backward(ctx: Context, inputs: readonly Tensor[], _out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[]): void {
    const x = inputs[0]!;
    const dx = dinputs[0];
    if (this.hasBias) conv2dBiasGrad(ctx, dout, this.grad('bias'));
    if (this.groups === 1) {
      const opts = { stride: this.stride, padding: this.padding };
      conv2dBackwardWeight(ctx, x, dout, this.slot('weight').shape, opts, this.grad('weight'));
      if (dx) conv2dBackwardInput(ctx, dout, this.value('weight'), x.shape, opts, dx);
      return;
    }
    const opts = { stride: this.stride, padding: this.padding, groups: this.groups };
    groupedConv2dBackwardWeight(ctx, x, dout, this.slot('weight').shape, opts, this.grad('weight'));
    if (dx) groupedConv2dBackwardInput(ctx, dout, this.value('weight'), x.shape, opts, dx);
  }
}

/**
 * BatchNorm2d (eps 1e-5, momentum 0.1); `numBatchesTracked` counts training forwards.
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * const bn = new layers.BatchNorm2d('feature.1', 16);
 * console.log(bn.channels, bn.eps, bn.momentum, bn.state.map((s) => s.key));
 * // 16 0.00001 0.1 ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
 * ```
 */
export class BatchNorm2d extends Layer {
  readonly kind = 'BatchNorm2d';
  numBatchesTracked = 0;
  constructor(
    name: string,
    channels: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super(name);
    this.state.push(
      slot('weight', [channels], true),
      slot('bias', [channels], true),
      slot('running_mean', [channels], false),
      slot('running_var', [channels], false),
      slot('num_batches_tracked', [], false, 'I64'),
    );
  }
  override options(): Record<string, number> {
    return { channels: this.channels, eps: this.eps, momentum: this.momentum };
  }
  /** Number of channels normalised (the length of γ). */
  get channels(): number {
    return this.slot('weight').shape[0]!;
  }
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    const x = inputs[0]!;
    expectRank(this, x, 4);
    expectChannels(this, x, this.channels);
    return [...x];
  }
  override savedSpecs(): SavedSpec[] {
    return [
      { shape: [this.channels], dtype: 'f32' },
      { shape: [this.channels], dtype: 'f32' },
    ];
  }
  forward(ctx: Context, inputs: readonly Tensor[], out: Tensor, train: boolean, saved: readonly Tensor[]): void {
    const args = [ctx, inputs[0]!, this.value('weight'), this.value('bias'), this.value('running_mean'), this.value('running_var')] as const;
    if (train) {
      batchNormForwardTrain(...args, { eps: this.eps, momentum: this.momentum }, { y: out, saveMean: saved[0]!, saveInvStd: saved[1]! });
      this.numBatchesTracked++;
    } else {
      this.forwardEvalFused(ctx, inputs[0]!, out, { relu: false });
    }
  }
  /**
   * Evaluation forward fused with the layers that follow it in the graph: a channel selection
   * (`indices`, its kept-channel list) and/or a ReLU, in one pass that writes `out` [N, K, H, W].
   */
  forwardEvalFused(ctx: Context, x: Tensor, out: Tensor, then: { indices?: Tensor; relu: boolean }): void {
    const b = this.evalParameters();
    batchNormForwardEval(ctx, x, b.gamma, b.beta, b.runningMean, b.runningVar, { eps: b.eps, ...then }, out);
  }
  /** γ, β, the running statistics and eps: what an evaluation epilogue of the convolution before it needs. */
  evalParameters(): ConvBatchNormEpilogue {
    return { gamma: this.value('weight'), beta: this.value('bias'), runningMean: this.value('running_mean'), runningVar: this.value('running_var'), eps: this.eps };
  }
  backward(ctx: Context, inputs: readonly Tensor[], _out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[], saved: readonly Tensor[]): void {
    // The kernel always computes dx; a BN whose input needs no gradient does not occur in our models.
    const dx = dinputs[0] ?? ctx.tensor(inputs[0]!.shape, undefined, 'f32', `${this.name}.dx (unused)`);
    batchNormBackward(ctx, inputs[0]!, dout, this.value('weight'), saved[0]!, saved[1]!, {
      dx,
      dgamma: this.grad('weight'),
      dbeta: this.grad('bias'),
    });
    if (!dinputs[0]) {
      ctx.flush();
      dx.destroy();
    }
  }
}

/**
 * ReLU; the executor runs it in place when its input has no other consumer.
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * console.log(new layers.ReLU('feature.2').outputShape([[8, 16, 32, 32]])); // [8, 16, 32, 32]
 * ```
 */
export class ReLU extends Layer {
  readonly kind = 'ReLU';
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    return [...inputs[0]!];
  }
  override get backwardReadsOutput(): boolean {
    return true;
  }
  forward(ctx: Context, inputs: readonly Tensor[], out: Tensor): void {
    reluForward(ctx, inputs[0]!, out);
  }
  backward(ctx: Context, _inputs: readonly Tensor[], out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[]): void {
    const dx = dinputs[0];
    if (dx) reluBackward(ctx, out, dout, dx);
  }
}

/** Window, stride (default: the window) and padding (default 0) of a pooling layer. */
export interface PoolConfig {
  kernel: number;
  stride?: number;
  padding?: number;
}

/**
 * Max pooling (floor mode; the first maximum of a window wins ties, as PyTorch).
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * const pool = new layers.MaxPool2d('feature.3', { kernel: 2, stride: 2 });
 * console.log(pool.outputShape([[8, 16, 32, 32]])); // [8, 16, 16, 16]
 * ```
 */
export class MaxPool2d extends Layer {
  readonly kind = 'MaxPool2d';
  constructor(
    name: string,
    readonly config: PoolConfig,
  ) {
    super(name);
  }
  override options(): Record<string, number> {
    return { kernel: this.config.kernel, stride: this.config.stride ?? this.config.kernel, padding: this.config.padding ?? 0 };
  }
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    expectRank(this, inputs[0]!, 4);
    return pool2dOutputShape(inputs[0]!, this.config);
  }
  override savedSpecs(_inputs: readonly (readonly number[])[], output: readonly number[]): SavedSpec[] {
    return [{ shape: [...output], dtype: 'u32' }];
  }
  forward(ctx: Context, inputs: readonly Tensor[], out: Tensor, _train: boolean, saved: readonly Tensor[]): void {
    maxPool2dForward(ctx, inputs[0]!, this.config, { y: out, argmax: saved[0]! });
  }
  backward(ctx: Context, inputs: readonly Tensor[], _out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[], saved: readonly Tensor[]): void {
    const dx = dinputs[0];
    if (dx) maxPool2dBackward(ctx, dout, saved[0]!, inputs[0]!.shape, this.config, dx);
  }
}

/**
 * Average pooling with count_include_pad (PyTorch's default).
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * console.log(new layers.AvgPool2d('', { kernel: 8 }).outputShape([[8, 64, 8, 8]])); // [8, 64, 1, 1]
 * ```
 */
export class AvgPool2d extends Layer {
  readonly kind = 'AvgPool2d';
  constructor(
    name: string,
    readonly config: PoolConfig,
  ) {
    super(name);
  }
  override options(): Record<string, number> {
    return { kernel: this.config.kernel, stride: this.config.stride ?? this.config.kernel, padding: this.config.padding ?? 0 };
  }
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    expectRank(this, inputs[0]!, 4);
    return pool2dOutputShape(inputs[0]!, this.config);
  }
  forward(ctx: Context, inputs: readonly Tensor[], out: Tensor): void {
    avgPool2dForward(ctx, inputs[0]!, this.config, out);
  }
  backward(ctx: Context, inputs: readonly Tensor[], _out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[]): void {
    const dx = dinputs[0];
    if (dx) avgPool2dBackward(ctx, dout, inputs[0]!.shape, this.config, dx);
  }
}

/**
 * Fully connected layer with bias, PyTorch layout (weight [out, in]).
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * const fc = new layers.Linear('classifier', 512, 10);
 * console.log(fc.outputShape([[8, 512]]), fc.slot('weight').shape, fc.slot('bias').shape); // [8, 10] [10, 512] [10]
 * ```
 */
export class Linear extends Layer {
  readonly kind = 'Linear';
  constructor(name: string, inFeatures: number, outFeatures: number) {
    super(name);
    this.state.push(slot('weight', [outFeatures, inFeatures], true), slot('bias', [outFeatures], true));
  }
  override options(): Record<string, number> {
    return { inFeatures: this.inFeatures, outFeatures: this.outFeatures };
  }
  /** Input features (the weight's second dimension). */
  get inFeatures(): number {
    return this.slot('weight').shape[1]!;
  }
  /** Output features (the weight's first dimension). */
  get outFeatures(): number {
    return this.slot('weight').shape[0]!;
  }
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    const x = inputs[0]!;
    expectRank(this, x, 2);
    assertShape(x[1] === this.inFeatures, () => `Linear ${this.name}: expects ${this.inFeatures} input features, got ${shapeString(x)}`);
    return [x[0]!, this.outFeatures];
  }
  forward(ctx: Context, inputs: readonly Tensor[], out: Tensor): void {
    linearForward(ctx, inputs[0]!, this.value('weight'), this.value('bias'), out);
  }
  backward(ctx: Context, inputs: readonly Tensor[], _out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[]): void {
    const dx = dinputs[0];
    linearBackward(ctx, inputs[0]!, this.value('weight'), dout, { inputGrad: dx !== null }, {
      ...(dx ? { dx } : {}),
      dw: this.grad('weight'),
      db: this.grad('bias'),
    });
  }
}

/**
 * The reference's `channel_selection`: keeps the channels whose `indexes` entry is 1, in order
 * (a gather). `indexes` is a float 0/1 mask in the state dict (a never-trained parameter there);
 * the kernel uses the list of kept channel indices, derived whenever the mask is set.
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * const select = new layers.ChannelSelection('layer1.0.select', 4);
 * select.setMask(new Float32Array([1, 0, 1, 1]));
 * console.log(select.keptIndices(), select.outputShape([[2, 4, 8, 8]])); // Uint32Array [0, 2, 3] [2, 3, 8, 8]
 * ```
 */
export class ChannelSelection extends Layer {
  readonly kind = 'ChannelSelection';
  /** The mask (0/1 per input channel), on the host as well: the pruning pass reads it to follow channels. */
  mask: Float32Array;
  /** Number of kept channels (the width of the output). */
  keptCount: number;
  /** u32 list of kept channels on the GPU. */
  kept: Tensor | null = null;
  readonly channels: number;
  constructor(name: string, channels: number) {
    super(name);
    this.channels = channels;
    this.mask = new Float32Array(channels).fill(1);
    this.keptCount = channels;
    this.state.push(slot('indexes', [channels], false, 'F32', true));
  }
  override options(): Record<string, number> {
    return { channels: this.channels };
  }
  /** Sets the mask from the host; the caller uploads `keptIndices()`. */
  setMask(mask: Float32Array): void {
    this.mask = mask;
    let k = 0;
    for (const v of mask) if (v !== 0) k++;
    this.keptCount = k;
  }
  /** Takes a kept-index list that lives on the GPU (e.g. computed by the slimming pass). */
  setKept(kept: Tensor, count: number): void {
    if (this.kept !== kept) this.kept?.destroy();
    this.kept = kept;
    this.keptCount = count;
  }
  /** The kept channels (mask entries that are not 0), in order. */
  keptIndices(): Uint32Array {
    let k = 0;
    for (const v of this.mask) if (v !== 0) k++;
    const out = new Uint32Array(k);
    let j = 0;
    for (let i = 0; i < this.mask.length; i++) if (this.mask[i] !== 0) out[j++] = i;
    return out;
  }
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    const x = inputs[0]!;
    expectRank(this, x, 4);
    expectChannels(this, x, this.channels);
    assertShape(this.keptCount > 0, () => `ChannelSelection ${this.name}: the mask keeps no channel`);
    return [x[0]!, this.keptCount, x[2]!, x[3]!];
  }
  /** The kept-channel list on the GPU (u32 [keptCount]). */
  indices(): Tensor {
    if (!this.kept) throw new Error(`ChannelSelection ${this.name}: indices not on the GPU (model not materialised)`);
    return this.kept;
  }
  forward(ctx: Context, inputs: readonly Tensor[], out: Tensor): void {
    channelSelectForward(ctx, inputs[0]!, this.indices(), out);
  }
  backward(ctx: Context, inputs: readonly Tensor[], _out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[]): void {
    const dx = dinputs[0];
    if (dx) channelSelectBackward(ctx, dout, this.indices(), inputs[0]!.shape, dx);
  }
}

/**
 * Residual sum of two equal-shaped inputs.
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * console.log(new layers.Add('').outputShape([[2, 64, 8, 8], [2, 64, 8, 8]])); // [2, 64, 8, 8]
 * ```
 */
export class Add extends Layer {
  readonly kind = 'Add';
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    const [a, b] = inputs as [number[], number[]];
    assertShape(
      inputs.length === 2 && a.length === b.length && a.every((d, i) => d === b[i]),
      () => `Add ${this.name}: inputs ${inputs.map((s) => shapeString(s)).join(' and ')} differ`,
    );
    return [...a];
  }
  forward(ctx: Context, inputs: readonly Tensor[], out: Tensor): void {
    add(ctx, inputs[0]!, inputs[1]!, out);
  }
  backward(ctx: Context, _inputs: readonly Tensor[], _out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[]): void {
    for (const d of dinputs) if (d) ctx.copy(dout, d);
  }
}

/**
 * Concatenation along channels (DenseNet's `torch.cat((x, out), 1)`).
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * console.log(new layers.Concat('').outputShape([[2, 24, 32, 32], [2, 12, 32, 32]])); // [2, 36, 32, 32]
 * ```
 */
export class Concat extends Layer {
  readonly kind = 'Concat';
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    const first = inputs[0]!;
    for (const s of inputs) {
      assertShape(
        s.length === 4 && s[0] === first[0] && s[2] === first[2] && s[3] === first[3],
        () => `Concat ${this.name}: inputs ${inputs.map((x) => shapeString(x)).join(', ')} differ outside dim 1`,
      );
    }
    return [first[0]!, inputs.reduce((c, s) => c + s[1]!, 0), first[2]!, first[3]!];
  }
  forward(ctx: Context, inputs: readonly Tensor[], out: Tensor): void {
    concatForward(ctx, inputs, out);
  }
  backward(ctx: Context, inputs: readonly Tensor[], _out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[]): void {
    // concatBackward slices into every output; inputs that need no gradient get a scratch tensor.
    const temps: Tensor[] = [];
    const outs = dinputs.map((d, i) => d ?? (temps.push(ctx.tensor(inputs[i]!.shape)), temps[temps.length - 1]!));
    concatBackward(ctx, dout, inputs.map((t) => t.shape), outs);
    if (temps.length) {
      ctx.flush();
      for (const t of temps) t.destroy();
    }
  }
}

/**
 * [N, C, H, W] → [N, C·H·W] (a view: no kernel runs).
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * console.log(new layers.Flatten('').outputShape([[8, 512, 1, 1]])); // [8, 512]
 * ```
 */
export class Flatten extends Layer {
  readonly kind = 'Flatten';
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    const x = inputs[0]!;
    return [x[0]!, x.slice(1).reduce((a, b) => a * b, 1)];
  }
  forward(): void {}
  backward(): void {}
}

/**
 * min(max(x, 0), 6) (MobileNet's activation); the gradient passes where 0 < x < 6, as PyTorch's.
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * console.log(new layers.ReLU6('').outputShape([[8, 16, 4, 4]])); // [8, 16, 4, 4]
 * ```
 */
export class ReLU6 extends Layer {
  readonly kind = 'ReLU6';
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    return [...inputs[0]!];
  }
  override get backwardReadsOutput(): boolean {
    return true;
  }
  forward(ctx: Context, inputs: readonly Tensor[], out: Tensor): void {
    relu6Forward(ctx, inputs[0]!, out);
  }
  backward(ctx: Context, _inputs: readonly Tensor[], out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[]): void {
    const dx = dinputs[0];
    if (dx) relu6Backward(ctx, out, dout, dx);
  }
}

/**
 * Dropout with probability `p`: in training each element is zeroed with probability p and the
 * rest scaled by 1/(1 − p), the mask drawn from a seed that advances every training forward (so a
 * run is reproducible); identity in evaluation.
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * const drop = new layers.Dropout('classifier.0', 0.2);
 * console.log(drop.p, drop.outputShape([[8, 512]])); // 0.2 [8, 512]
 * ```
 */
export class Dropout extends Layer {
  readonly kind = 'Dropout';
  /** The seed of the next training forward's mask. */
  seed: number;
  #used = 0;
  constructor(
    name: string,
    readonly p: number,
    seed = 1,
  ) {
    super(name);
    assertShape(typeof p === 'number' && p >= 0 && p < 1, () => `Dropout ${name}: p ${p} is outside [0, 1)`);
    this.seed = seed >>> 0;
  }
  override options(): Record<string, number> {
    return { p: this.p };
  }
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    return [...inputs[0]!];
  }
  forward(ctx: Context, inputs: readonly Tensor[], out: Tensor, train: boolean): void {
    if (!train || this.p === 0) {
      ctx.copy(inputs[0]!, out, inputs[0]!.size * 4);
      return;
    }
    this.#used = this.seed;
    this.seed = (this.seed + 0x9e3779b9) >>> 0;
    dropoutForward(ctx, inputs[0]!, { p: this.p, seed: this.#used }, out);
  }
  backward(ctx: Context, _inputs: readonly Tensor[], _out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[]): void {
    const dx = dinputs[0];
    if (dx) dropoutBackward(ctx, dout, { p: this.p, seed: this.#used }, dx);
  }
}

/**
 * Global average pooling (PyTorch's AdaptiveAvgPool2d(1)): [N, C, H, W] → [N, C, 1, 1] for any
 * H and W, so a model ending in it takes any input size.
 *
 * @example
 * ```ts
 * import { layers } from 'netslim';
 *
 * console.log(new layers.GlobalAvgPool2d('avgpool').outputShape([[8, 64, 7, 5]])); // [8, 64, 1, 1]
 * ```
 */
export class GlobalAvgPool2d extends Layer {
  readonly kind = 'GlobalAvgPool2d';
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    const x = inputs[0]!;
    expectRank(this, x, 4);
    return [x[0]!, x[1]!, 1, 1];
  }
  forward(ctx: Context, inputs: readonly Tensor[], out: Tensor): void {
    globalAvgPool2dForward(ctx, inputs[0]!, out);
  }
  backward(ctx: Context, inputs: readonly Tensor[], _out: Tensor, dout: Tensor, dinputs: readonly (Tensor | null)[]): void {
    const dx = dinputs[0];
    if (dx) globalAvgPool2dBackward(ctx, dout, inputs[0]!.shape, dx);
  }
}
