/**
 * A model: a graph whose state lives on one GPU context, and an executor that runs it forward
 * (train or eval) and backward for a given input shape. The executor allocates every activation,
 * gradient and saved tensor once per input shape and reuses them step after step; a ReLU runs in
 * place when its input feeds nothing else, and a Flatten is a view. In evaluation a Conv2d applies
 * the BatchNorm2d and ReLU, or the residual Add, after it in its store, and a BatchNorm2d runs in
 * one pass with the ChannelSelection and/or ReLU after it (see evalFusions).
 */
import type { Context } from '../gpu/context.js';
import { Tensor, numel, shapeString } from '../gpu/tensor.js';
import { ShapeError, assertShape } from '../errors.js';
import { accumulate } from '../ops/elementwise.js';
import { Graph } from './graph.js';
import { predictImages, type PredictInput, type PredictOptions, type Prediction } from './predict.js';
import { labelMetaProblem } from './labels.js';
import { Add, BatchNorm2d, ChannelSelection, Conv2d, Flatten, ReLU, type Layer, type StateSlot } from './layers.js';

/** What a model is, as checkpoint metadata records it. */
export interface ModelMeta {
  arch: string;
  depth?: number;
  numClasses: number;
  inChannels: number;
  /** The reference's cfg (`'M'` for VGG pools). */
  cfg?: (number | 'M')[];
  dataset?: string;
  /**
   * Class names in label order (`classNames[i]` names class i), one per class; `model.predict`
   * returns them beside the class indices. Stored as the checkpoint metadata `class_names`.
   */
  classNames?: string[];
  /**
   * Per-channel mean of the [0, 1] pixels the model was trained on (one value per input channel),
   * which `model.predict` subtracts before dividing by {@link ModelMeta.std}; given with `std`.
   * Stored as the checkpoint metadata `mean`.
   */
  mean?: number[];
  /** Per-channel std of the training pixels (positive, one per input channel); given with `mean`. Stored as `std`. */
  std?: number[];
  /** Height = width of the input the reference architectures' builders sized the final pool for, when not 32. */
  inputSize?: number;
  /**
   * `'mask'`: pruned by masking (γ = β = 0 on the pruned channels, shapes unchanged); training
   * keeps every zero γ and its β at zero. Stored as the checkpoint metadata `pruning`.
   */
  pruning?: 'mask';
}

/** A state tensor as the state_dict names it. */
export interface NamedSlot {
  name: string;
  layer: Layer;
  slot: StateSlot;
}

/** Host-side values of a state dict: F32 tensors as Float32Array, I64 as bigint arrays. */
export type StateValues = Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>;

interface Plan {
  inputShape: number[];
  shapes: number[][];
  act: Tensor[];
  grad: (Tensor | null)[];
  saved: Tensor[][];
  /** Node ids whose forward is a no-op view (Flatten) or in place (ReLU). */
  view: boolean[];
  inPlace: boolean[];
  /** Input-gradient destination aliases: gradAlias[v] = true when grad[v] is the same buffer as its consumer's. */
  gradAlias: boolean[];
  owned: Tensor[];
  temps: Map<string, Tensor>;
}

/**
 * An evaluation-mode fusion: a chain of nodes, each after the first the only consumer of the one
 * before, that runs as one pass writing node `last`'s output, at the position named below:
 * - Conv2d → BatchNorm2d [→ ReLU] in the convolution's store (no ChannelSelection may follow the
 *   BatchNorm2d), at the Conv2d;
 * - Conv2d → Add in the convolution's store, the Add's other input as the residual, at the Add
 *   (the residual may be computed after the Conv2d);
 * - BatchNorm2d [→ ChannelSelection] [→ ReLU] in the BatchNorm2d's pass, at the BatchNorm2d.
 */
interface EvalFusion {
  /** The first node of the chain (a Conv2d or a BatchNorm2d). */
  head: number;
  /** The Add's other input, for Conv2d → Add. */
  residual: number | null;
  batchNorm: BatchNorm2d | null;
  select: ChannelSelection | null;
  relu: boolean;
  last: number;
}

/** The evaluation fusions of a graph, by the node where each runs, and the nodes they absorb (skipped where they stand). */
function evalFusions(g: Graph): { at: Map<number, EvalFusion>; absorbed: Set<number> } {
  const consumers = g.consumers();
  const only = (id: number | null): number | null => (id !== null && consumers[id]!.length === 1 ? consumers[id]![0]!.node : null);
  const layerAt = (id: number | null): Layer | null => (id === null ? null : g.nodes[id]!.layer);
  const at = new Map<number, EvalFusion>();
  const absorbed = new Set<number>();
  const take = (f: EvalFusion, id: number): void => {
    f.last = id;
    absorbed.add(id);
  };
  for (const node of g.nodes) {
    if (absorbed.has(node.id)) continue;
    const f: EvalFusion = { head: node.id, residual: null, batchNorm: null, select: null, relu: false, last: node.id };
    if (node.layer instanceof Add) {
      const slot = node.inputs.findIndex((i) => layerAt(i) instanceof Conv2d && (layerAt(i) as Conv2d).dense && only(i) === node.id && !at.has(i));
      if (slot < 0) continue;
      f.head = node.inputs[slot]!;
      f.residual = node.inputs[1 - slot]!;
      absorbed.add(f.head);
      f.last = node.id;
      at.set(node.id, f);
      continue;
    }
    if (node.layer instanceof Conv2d) {
      if (!node.layer.dense) continue;
      const bn = only(node.id);
      const afterBn = only(bn);
      if (!(layerAt(bn) instanceof BatchNorm2d) || layerAt(afterBn) instanceof ChannelSelection) continue;
      f.batchNorm = layerAt(bn) as BatchNorm2d;
      take(f, bn!);
      if (layerAt(afterBn) instanceof ReLU) {
        f.relu = true;
        take(f, afterBn!);
      }
    } else if (node.layer instanceof BatchNorm2d) {
      let next = only(node.id);
      if (layerAt(next) instanceof ChannelSelection) {
        f.select = layerAt(next) as ChannelSelection;
        take(f, next!);
        next = only(next);
      }
      if (layerAt(next) instanceof ReLU) {
        f.relu = true;
        take(f, next!);
      }
    }
    if (f.last !== node.id) at.set(node.id, f);
  }
  return { at, absorbed };
}

/**
 * A graph with its state on one GPU context, and the executor that runs it forward (train or
 * eval) and backward. Build one with `models.vgg`/`resnet`/`densenet` or `loadModel`.
 *
 * @example
 * ```ts
 * import { init, models } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { cfg: [8, 'M', 16, 'M', 16], numClasses: 3 });
 * const x = ctx.tensor([4, 3, 8, 8], new Float32Array(4 * 3 * 64).fill(0.5));
 * const logits = await ctx.readF32(model.forward(x, false)); // [4, 3], running statistics
 * const state = await model.stateDict(); // PyTorch names: feature.0.weight, feature.1.running_var, …
 * console.log(logits.length, model.parameterCount(), [...state.keys()].slice(0, 3));
 * model.destroy();
 * ctx.destroy();
 * ```
 */
export class Model {
  /** Plans by input shape (a training batch, a smaller last batch, an evaluation batch). */
  #plans = new Map<string, Plan>();
  #fusions: ReturnType<typeof evalFusions> | null = null;
  #destroyed = false;
  /**
   * In evaluation, run Conv2d → BatchNorm2d → ReLU and Conv2d → Add in the convolution's pass and
   * a BatchNorm2d with the ChannelSelection and/or ReLU after it in one pass (default true; the
   * result is bit for bit the same, so `false` only serves comparisons and profiling).
   */
  evalFusion = true;

  constructor(
    readonly ctx: Context,
    readonly graph: Graph,
    readonly meta: ModelMeta,
  ) {
    const bad = labelMetaProblem(meta, meta.numClasses, graph.inChannels, (f) => `meta.${f}`);
    if (bad) throw new ShapeError(`${meta.arch}: ${bad}`);
    for (const { slot, name } of this.namedSlots()) {
      if (slot.dtype !== 'F32') continue;
      slot.value = ctx.tensor(slot.shape, undefined, 'f32', name);
      if (slot.trainable) {
        slot.grad = ctx.tensor(slot.shape, undefined, 'f32', `${name}.grad`);
        slot.momentum = ctx.tensor(slot.shape, undefined, 'f32', `${name}.momentum`);
      }
    }
    for (const l of graph.layers()) if (l instanceof ChannelSelection) this.#uploadSelection(l);
  }

  /** Every state tensor with its state_dict name (`feature.1.running_var`), in module order. */
  namedSlots(): NamedSlot[] {
    const out: NamedSlot[] = [];
    for (const layer of this.graph.layers()) {
      for (const slot of layer.state) out.push({ name: layer.name ? `${layer.name}.${slot.key}` : slot.key, layer, slot });
    }
    return out;
  }

  /** Trainable slots in module order. */
  parameters(): NamedSlot[] {
    return this.namedSlots().filter((s) => s.slot.trainable);
  }

  /** BatchNorm2d layers in module order (what Network Slimming ranks). */
  batchNorms(): BatchNorm2d[] {
    return this.graph.layers().filter((l): l is BatchNorm2d => l instanceof BatchNorm2d);
  }

  /** Number of parameters as the reference counts them (selection `indexes` included). */
  parameterCount(): number {
    return this.namedSlots().reduce((n, s) => n + (s.slot.countsAsParameter ? numel(s.slot.shape) : 0), 0);
  }

  #uploadSelection(l: ChannelSelection): void {
    const idx = l.keptIndices();
    l.setKept(this.ctx.tensor([idx.length], idx, 'u32', `${l.name}.kept`), idx.length);
    const mask = l.slot('indexes').value;
    if (mask) this.ctx.device.queue.writeBuffer(mask.buffer, 0, l.mask);
  }

  // ------------------------------------------------------------------ state dict

  /** Copies every state tensor to the host (F32 as Float32Array, num_batches_tracked as BigInt64Array). */
  async stateDict(): Promise<StateValues> {
    const out: StateValues = new Map();
    for (const { name, layer, slot } of this.namedSlots()) {
      if (slot.dtype === 'I64') {
        const n = layer instanceof BatchNorm2d ? layer.numBatchesTracked : 0;
        out.set(name, { shape: [...slot.shape], data: BigInt64Array.of(BigInt(n)) });
      } else {
        out.set(name, { shape: [...slot.shape], data: await this.ctx.readF32(slot.value!) });
      }
    }
    return out;
  }

  /**
   * Replaces every state tensor. All names must be present with the model's shapes and no other
   * names may appear (PyTorch's strict load); everything is checked before anything is written.
   * `source` names the file in error messages.
   */
  loadStateDict(values: StateValues, source = 'state dict'): void {
    const slots = this.namedSlots();
    const known = new Set(slots.map((s) => s.name));
    const missing = slots.filter((s) => !values.has(s.name)).map((s) => s.name);
    if (missing.length) throw new ShapeError(`${source}: missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
    const extra = [...values.keys()].filter((k) => !known.has(k));
    if (extra.length) throw new ShapeError(`${source}: unexpected ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ` and ${extra.length - 5} more` : ''} for a ${this.meta.arch} model`);
    for (const { name, slot } of slots) {
      const v = values.get(name)!;
      const same = v.shape.length === slot.shape.length && v.shape.every((d, i) => d === slot.shape[i]);
      assertShape(same, () => `${source}: ${name} has shape ${shapeString(v.shape)}, the model expects ${shapeString(slot.shape)}`);
      const wantI64 = slot.dtype === 'I64';
      assertShape(wantI64 === v.data instanceof BigInt64Array, () => `${source}: ${name} should be ${slot.dtype}`);
    }
    for (const { name, layer, slot } of slots) {
      const v = values.get(name)!;
      if (slot.dtype === 'I64') {
        if (layer instanceof BatchNorm2d) layer.numBatchesTracked = Number((v.data as BigInt64Array)[0] ?? 0n);
        continue;
      }
      const data = v.data as Float32Array;
      if (data.length) this.ctx.device.queue.writeBuffer(slot.value!.buffer, 0, data);
      if (layer instanceof ChannelSelection) {
        layer.setMask(Float32Array.from(data));
        assertShape(layer.keptCount > 0, () => `${source}: ${name} keeps no channel`);
        this.#uploadSelection(layer);
        this.#dropPlan();
      }
    }
  }

  // ------------------------------------------------------------------ execution

  #dropPlan(key?: string): void {
    const keys = key === undefined ? [...this.#plans.keys()] : [key];
    if (!keys.length) return;
    this.ctx.flush();
    for (const k of keys) {
      const p = this.#plans.get(k);
      if (!p) continue;
      for (const t of p.owned) t.destroy();
      for (const t of p.temps.values()) t.destroy();
      this.#plans.delete(k);
    }
  }

  /** Releases the activations of every input shape seen so far (they are rebuilt on the next run). */
  releaseActivations(): void {
    this.#dropPlan();
  }

  #planFor(inputShape: readonly number[]): Plan {
    const key = inputShape.join('x');
    const p = this.#plans.get(key);
    if (p) return p;
    // Keep at most three shapes (train batch, last batch, evaluation batch): drop the oldest.
    if (this.#plans.size >= 3) this.#dropPlan(this.#plans.keys().next().value);
    assertShape(
      inputShape.length === 4 && inputShape[1] === this.graph.inChannels,
      () => `${this.meta.arch}: input ${shapeString(inputShape)} should be [N, ${this.graph.inChannels}, H, W]`,
    );
    const g = this.graph;
    const shapes = g.shapes(inputShape);
    const consumers = g.consumers();
    const n = g.nodes.length;
    const plan: Plan = {
      inputShape: [...inputShape],
      shapes,
      act: new Array(n),
      grad: new Array(n).fill(null),
      saved: new Array(n).fill([]),
      view: new Array(n).fill(false),
      inPlace: new Array(n).fill(false),
      gradAlias: new Array(n).fill(false),
      owned: [],
      temps: new Map(),
    };
    const own = (shape: number[], label: string, dtype: 'f32' | 'u32' = 'f32'): Tensor => {
      const t = this.ctx.tensor(shape, undefined, dtype, label);
      plan.owned.push(t);
      return t;
    };
    for (const node of g.nodes) {
      const id = node.id;
      const layer = node.layer;
      if (id === 0) continue; // the caller's input tensor is bound per run
      const src = node.inputs[0]!;
      const single = consumers[src]!.length === 1 && src !== 0;
      const producer = g.nodes[src]!.layer;
      if (layer instanceof Flatten) {
        plan.view[id] = true;
      } else if (layer instanceof ReLU && single && !producer.backwardReadsOutput && !plan.view[src]) {
        plan.inPlace[id] = true;
      } else {
        plan.act[id] = own(shapes[id]!, `${layer.name || layer.kind}.out`);
      }
      plan.saved[id] = layer.savedSpecs(node.inputs.map((i) => shapes[i]!), shapes[id]!).map((s) => own(s.shape, `${layer.name}.saved`, s.dtype));
    }
    // Gradients, from the output back: a view or in-place op shares its gradient buffer with its
    // input when that input feeds nothing else.
    for (let id = n - 1; id >= 1; id--) {
      if (plan.grad[id] === null) plan.grad[id] = own(shapes[id]!, `${g.nodes[id]!.layer.name || g.nodes[id]!.layer.kind}.grad`);
      const node = g.nodes[id]!;
      const src = node.inputs[0]!;
      if ((plan.view[id] || plan.inPlace[id]) && src !== 0 && consumers[src]!.length === 1) {
        // Same object when the shape is the same (an in-place ReLU's backward must see dx === dy).
        const same = shapes[src]!.every((d, i) => d === shapes[id]![i]) && shapes[src]!.length === shapes[id]!.length;
        plan.grad[src] = same ? plan.grad[id]! : plan.grad[id]!.reshape(shapes[src]!);
        plan.gradAlias[src] = true;
      }
    }
    this.#plans.set(key, plan);
    return plan;
  }

  #act(plan: Plan, id: number, input: Tensor): Tensor {
    if (id === 0) return input;
    if (plan.view[id]) return this.#act(plan, this.graph.nodes[id]!.inputs[0]!, input).reshape(plan.shapes[id]!);
    if (plan.inPlace[id]) return this.#act(plan, this.graph.nodes[id]!.inputs[0]!, input);
    return plan.act[id]!;
  }

  /**
   * Classifies raw images: `images` holds N images of the model's input size in NCHW order (bytes
   * 0–255, or floats in [0, 1]), or is one browser image — an `ImageData` (RGBA; grey for a
   * 1-channel model, as luminance 0.299 R + 0.587 G + 0.114 B) or an `ImageBitmap` (read through
   * an `OffscreenCanvas` of its size) — or an array of such images as a batch. Browser images must
   * have the model's input size (a ShapeError names both sizes). They are normalised with the
   * model's `meta.mean` / `meta.std` when it has them, else as its dataset was in training
   * (`meta.dataset`, when netslim knows it), unless `options.normalize` says otherwise; run in
   * evaluation mode; and the `topK` most probable classes of each come back on the host with their
   * softmax probabilities, and with their names (`labels`) when the model has `meta.classNames`.
   *
   * @example
   * ```ts
   * import { init, models } from 'netslim/node';
   *
   * const ctx = await init();
   * const model = models.vgg(ctx, { depth: 11, dataset: 'cifar10' }); // CIFAR-10's names and mean/std
   * const pixels = new Uint8Array(2 * 3 * 32 * 32).fill(128); // two 3×32×32 images
   * const [first] = await model.predict(pixels, { topK: 3 });
   * console.log(first!.classes, first!.probabilities, first!.labels); // e.g. [4, 7, 1] [0.12, 0.11, 0.10] ['deer', 'horse', 'automobile']
   * // In a page: await model.predict(await createImageBitmap(img)), or an array of ImageData.
   * ctx.destroy();
   * ```
   */
  predict(images: PredictInput, options: PredictOptions = {}): Promise<Prediction[]> {
    this.#checkAlive();
    return predictImages(this, images, options);
  }

  /**
   * Records the forward pass and returns the output (logits) tensor, which stays valid until the
   * next forward with another input shape. `train` uses batch statistics and updates the running ones.
   */
  forward(x: Tensor, train: boolean): Tensor {
    this.#checkAlive();
    const plan = this.#planFor(x.shape);
    const fusions = train || !this.evalFusion ? null : (this.#fusions ??= evalFusions(this.graph));
    for (const node of this.graph.nodes) {
      if (node.id === 0 || plan.view[node.id] || fusions?.absorbed.has(node.id)) continue;
      const f = fusions?.at.get(node.id);
      const head = f && this.graph.nodes[f.head]!;
      if (f && head!.layer instanceof Conv2d) {
        head!.layer.forwardEvalFused(this.ctx, this.#act(plan, head!.inputs[0]!, x), this.#act(plan, f.last, x), {
          batchNorm: f.batchNorm ?? undefined,
          relu: f.relu,
          residual: f.residual === null ? undefined : this.#act(plan, f.residual, x),
        });
      } else if (f) {
        const input = this.#act(plan, node.inputs[0]!, x);
        (node.layer as BatchNorm2d).forwardEvalFused(this.ctx, input, this.#act(plan, f.last, x), { indices: f.select?.indices(), relu: f.relu });
      } else {
        const inputs = node.inputs.map((i) => this.#act(plan, i, x));
        node.layer.forward(this.ctx, inputs, this.#act(plan, node.id, x), train, plan.saved[node.id]!);
      }
    }
    return this.#act(plan, this.graph.output, x);
  }

  /** The buffer the loss writes ∂loss/∂output into before `backward()`. */
  outputGrad(x: Tensor): Tensor {
    return this.#planFor(x.shape).grad[this.graph.output]!;
  }

  /**
   * Records the backward pass of the last `forward(x, true)`: every trainable slot's `grad` is
   * overwritten. `outputGrad(x)` must hold ∂loss/∂output.
   */
  backward(x: Tensor): void {
    this.#checkAlive();
    const plan = this.#planFor(x.shape);
    const g = this.graph;
    const written = new Array<boolean>(g.nodes.length).fill(false);
    for (let id = g.nodes.length - 1; id >= 1; id--) {
      const node = g.nodes[id]!;
      const dout = plan.grad[id]!;
      if (plan.view[id]) {
        // Flatten: the gradient is the same numbers in the input's shape.
        const src = node.inputs[0]!;
        if (src !== 0 && !plan.gradAlias[src]) this.#deliver(plan, written, src, 0, id, (dst) => this.ctx.copy(dout, dst));
        continue;
      }
      const dests: (Tensor | null)[] = [];
      const pending: { src: number; tmp: Tensor }[] = [];
      node.inputs.forEach((src, slot) => {
        if (src === 0) return void dests.push(null);
        if (plan.gradAlias[src] && (plan.inPlace[id] || plan.view[id])) return void dests.push(plan.grad[src]!);
        if (!written[src]) {
          written[src] = true;
          return void dests.push(plan.grad[src]!);
        }
        const tmp = this.#temp(plan, plan.shapes[src]!, slot);
        pending.push({ src, tmp });
        dests.push(tmp);
      });
      const inputs = node.inputs.map((i) => this.#act(plan, i, x));
      node.layer.backward(this.ctx, inputs, this.#act(plan, id, x), dout, dests, plan.saved[id]!);
      for (const { src, tmp } of pending) accumulate(this.ctx, plan.grad[src]!, tmp);
    }
  }

  #deliver(plan: Plan, written: boolean[], src: number, slot: number, _id: number, write: (dst: Tensor) => void): void {
    if (!written[src]) {
      written[src] = true;
      write(plan.grad[src]!);
    } else {
      const tmp = this.#temp(plan, plan.shapes[src]!, slot);
      write(tmp);
      accumulate(this.ctx, plan.grad[src]!, tmp);
    }
  }

  #temp(plan: Plan, shape: number[], slot: number): Tensor {
    const key = `${shape.join('x')}:${slot}`;
    let t = plan.temps.get(key);
    if (!t) plan.temps.set(key, (t = this.ctx.tensor(shape, undefined, 'f32', 'grad.accumulate')));
    return t;
  }

  #checkAlive(): void {
    if (this.#destroyed) throw new Error(`${this.meta.arch}: model was destroyed`);
  }

  /** Releases every GPU buffer of the model. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#dropPlan();
    this.ctx.flush();
    for (const { slot } of this.namedSlots()) {
      for (const t of [slot.value, slot.grad, slot.momentum]) t?.destroy();
      slot.value = slot.grad = slot.momentum = null;
    }
    for (const l of this.graph.layers()) if (l instanceof ChannelSelection) l.kept?.destroy();
    this.#destroyed = true;
  }
}
