/**
 * Network Slimming's pruning pass on GPU buffers (DESIGN.md §1 "Pruning"): |γ| of every
 * BatchNorm in module order → one global threshold sorted[floor(total·percent)] → keep |γ| >
 * threshold → per-layer masks and kept-index lists → a new, compact model whose tensors are
 * gathered from the old ones. Which tensor each mask constrains is derived from the graph, not
 * written per architecture: a convolution's input channels follow the BatchNorm that feeds it
 * (directly, or through ReLU, pooling or a channel selection), its output channels follow the
 * BatchNorm it feeds when that BatchNorm is shrunk; a BatchNorm followed by a channel selection
 * keeps its width (its pruned γ and β become ±0) and the selection's indexes become its mask.
 * Only the per-layer kept counts are read back (to size the new buffers).
 */
import type { Context } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { NetslimError } from '../errors.js';
import { channelSelectForward } from '../ops/channel.js';
import { Model } from '../nn/model.js';
import { BatchNorm2d, ChannelSelection, Conv2d, Linear, type Layer } from '../nn/layers.js';
import { graphFromMeta } from '../nn/models.js';
import type { Graph } from '../nn/graph.js';

/**
 * Pruning cannot be done as asked (e.g. `strict` and a layer would lose every channel).
 *
 * @example
 * ```ts
 * import { init, models, slim } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { cfg: [8, 'M', 16] }); // freshly initialised: every γ is 0.5
 * try {
 *   await slim.prune(model, 0.5, { strict: true }); // all γ tie at the threshold: every layer would be emptied
 * } catch (e) {
 *   if (e instanceof slim.PruneError) console.log(e.message);
 * }
 * ctx.destroy();
 * ```
 */
export class PruneError extends NetslimError {
  override name = 'PruneError';
}

export interface PruneOptions {
  /** Every BatchNorm keeps at least this many channels, its largest |γ| (default 1; 0 disables). */
  minChannels?: number;
  /** At most this fraction of a layer's channels is pruned (default 1: no limit). */
  maxLayerRatio?: number;
  /** Kept counts of shrunk layers are rounded up to a multiple of this (default 1). */
  roundTo?: number;
  /** Reproduce the reference: a layer that would keep no channel is an error, not a safeguard. */
  strict?: boolean;
  /** Input [C, H, W] for the FLOP count (default [inChannels, 32, 32]). */
  inputSize?: [number, number, number];
  /**
   * `'compact'` (default): a smaller model with the pruned channels removed. `'mask'`: a model of
   * the same shapes whose pruned channels have γ = β = 0 (and zero momentum); fine-tuning it
   * keeps them at zero (the model's meta says `pruning: 'mask'`), as the reference's mask
   * implementation does. The report's cfg and counts are those of the compact model either way.
   */
  mode?: 'compact' | 'mask';
  /**
   * Fold the constant output of every pruned channel (relu(β) after its BatchNorm and ReLU) into
   * the next layer: the running mean of the BatchNorm after the consuming convolution, or the
   * bias of the consuming linear layer (default false). It keeps the pruned model close to the
   * unpruned one before fine-tuning; exact away from the consuming convolution's zero padding.
   * Consumers whose output feeds neither (ResNet `conv3` into the residual sum, DenseNet convs
   * into a concatenation) are listed in `report.compensation.skipped`.
   */
  compensate?: boolean;
}

export interface LayerReport {
  /** The BatchNorm's state_dict prefix (`feature.1`, `layer1.0.bn2`). */
  name: string;
  before: number;
  after: number;
  /** Kept at full width with a channel selection after it (ResNet `bn1`, DenseNet BNs). */
  selected: boolean;
  /** What a safeguard changed, if anything (e.g. `min-channels: kept 1 instead of 0`). */
  safeguard?: string;
}

export interface PruneReport {
  percent: number;
  threshold: number;
  totalChannels: number;
  prunedChannels: number;
  layers: LayerReport[];
  paramsBefore: number;
  paramsAfter: number;
  flopsBefore: number;
  flopsAfter: number;
  /** Parameters and FLOPs of every layer with state, before and after. */
  layerCosts: { name: string; kind: string; paramsBefore: number; paramsAfter: number; flopsBefore: number; flopsAfter: number }[];
  cfg: (number | 'M')[];
  mode: 'compact' | 'mask';
  /** With `compensate`: the consumers whose next layer took the pruned channels' constant output. */
  compensation?: { folded: { from: string; through: string; into: string }[]; skipped: { from: string; through: string; reason: string }[] };
}

const SHADER = 'slim.wgsl';

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * The BatchNorm whose channels reach `id`'s input through channel-preserving layers, or null;
 * with the channel selection on the way (if any) and whether a ReLU is on the way.
 */
function feedingBatchNorm(model: Model, id: number): { bn: number; select: ChannelSelection | null; relu: boolean } | null {
  const g = model.graph;
  let cur = g.nodes[id]!.inputs[0];
  let select: ChannelSelection | null = null;
  let relu = false;
  while (cur !== undefined && cur > 0) {
    const l = g.nodes[cur]!.layer;
    if (l instanceof BatchNorm2d) return { bn: cur, select, relu };
    if (l instanceof ChannelSelection) select = l;
    else if (l.kind === 'ReLU') relu = true;
    else if (!['MaxPool2d', 'AvgPool2d', 'Flatten'].includes(l.kind)) return null;
    cur = g.nodes[cur]!.inputs[0];
  }
  return null;
}

/** Whether a selection drops channels already (a model pruned before): its consumers see fewer than the BatchNorm's channels. */
function narrowed(select: ChannelSelection | null): select is ChannelSelection {
  return select !== null && select.keptCount < select.channels;
}

/** Parameters and FLOPs of one layer with state (FLOPs: 2 × multiply-adds, convolutions and linear layers only). */
export interface LayerCost {
  name: string;
  kind: string;
  params: number;
  flops: number;
}

/**
 * Per-layer parameters and FLOPs for one input image of size `inputSize` ([C, H, W]).
 *
 * @example
 * ```ts
 * import { models, slim } from 'netslim';
 *
 * const { graph } = models.vggGraph({ depth: 11 });
 * for (const c of slim.layerCosts(graph, [3, 32, 32])) console.log(c.name, c.kind, c.params, c.flops);
 * ```
 */
export function layerCosts(graph: Graph, inputSize: [number, number, number]): LayerCost[] {
  const shapes = graph.shapes([1, ...inputSize]);
  const out: LayerCost[] = [];
  for (const n of graph.nodes) {
    const l = n.layer;
    const params = l.state.reduce((a, s) => a + (s.countsAsParameter ? s.shape.reduce((x, y) => x * y, 1) : 0), 0);
    let macs = 0;
    if (l instanceof Conv2d) {
      const [o, i, kh, kw] = l.slot('weight').shape as [number, number, number, number];
      const y = shapes[n.id]!;
      macs = o * y[2]! * y[3]! * i * kh * kw;
    } else if (l instanceof Linear) {
      macs = l.inFeatures * l.outFeatures;
    }
    if (params > 0 || macs > 0) out.push({ name: l.name, kind: l.kind, params, flops: 2 * macs });
  }
  return out;
}

/**
 * FLOPs (2 × multiply-adds of convolutions and linear layers) of one input image.
 *
 * @example
 * ```ts
 * import { models, slim } from 'netslim';
 *
 * console.log(slim.countFlops(models.vggGraph({ depth: 19 }).graph, [3, 32, 32]).toExponential(3)); // 7.963e+8
 * ```
 */
export function countFlops(graph: Graph, inputSize: [number, number, number]): number {
  return layerCosts(graph, inputSize).reduce((a, c) => a + c.flops, 0);
}

/**
 * Prunes `percent` of all BatchNorm channels (global threshold over |γ|) and returns a new,
 * compact model with the report; the original model is left unchanged.
 *
 * @example
 * ```ts
 * import { init, models, slim } from 'netslim/node';
 *
 * const ctx = await init();
 * // In practice: a model trained with sparsity (Trainer option `sparsity`), or loadModel(ctx, bytes). A fresh
 * // one has every γ = 0.5: they all tie at the threshold, so each layer keeps just its `minChannels`.
 * const model = models.vgg(ctx, { depth: 11 });
 * const { model: small, report } = await slim.prune(model, 0.5, { minChannels: 4 });
 * console.log(report.cfg, report.paramsBefore, '→', report.paramsAfter, report.flopsBefore, '→', report.flopsAfter);
 * console.log(slim.formatPruneTable(report));
 * await ctx.sync(); // let queued GPU work finish before destroy()
 * small.destroy();
 * model.destroy(); // the original was left unchanged until here
 * ctx.destroy();
 * ```
 */
export async function prune(model: Model, percent: number, options: PruneOptions = {}): Promise<{ model: Model; report: PruneReport }> {
  if (!(typeof percent === 'number' && percent >= 0 && percent < 1)) throw new PruneError(`prune: percent ${percent} is outside [0, 1)`);
  const ctx = model.ctx;
  const g = model.graph;
  const bnIds = g.nodes.filter((n) => n.layer instanceof BatchNorm2d).map((n) => n.id);
  if (!bnIds.length) throw new PruneError(`prune: the ${model.meta.arch} model has no BatchNorm2d to rank`);
  const consumers = g.consumers();
  const selected = bnIds.map((id) => consumers[id]!.some((c) => g.nodes[c.node]!.layer instanceof ChannelSelection));
  const sizes = bnIds.map((id) => (g.nodes[id]!.layer as BatchNorm2d).channels);
  const offsets = new Uint32Array(bnIds.length + 1);
  sizes.forEach((c, i) => (offsets[i + 1] = offsets[i]! + c));
  const total = offsets[bnIds.length]!;
  const padded = nextPow2(total);
  const k = Math.floor(total * percent); // in double, as the reference (90·0.7 → 62)

  const tmp: Tensor[] = [];
  const t = (shape: number[], dtype: 'f32' | 'u32' = 'f32', data?: ArrayLike<number>) => {
    const x = ctx.tensor(shape, data, dtype, 'prune');
    tmp.push(x);
    return x;
  };
  try {
    const scores = t([total]);
    const sorted = t([padded]);
    const mask = t([total]);
    const off = t([offsets.length], 'u32', offsets);
    const counts = t([bnIds.length], 'u32');
    const kept = t([total], 'u32');
    bnIds.forEach((id, i) => ctx.copy((g.nodes[id]!.layer as BatchNorm2d).slot('weight').value!, scores, sizes[i]! * 4, 0, offsets[i]! * 4));
    const uni = (n: number, kk: number, j = 0) => ({ n, k: kk, j, layers: bnIds.length, flags: 0 });
    const run = (entry: string, bindings: Record<string, Tensor>, u: Record<string, number>, threads: number, wg: number) => {
      const kern = ctx.kernel({ shader: SHADER, entry });
      ctx.dispatchFlat(kern, bindings, u, Math.ceil(threads / wg));
    };
    run('abs_and_pad', { scores, sorted }, uni(total, padded), padded, 256);
    for (let kk = 2; kk <= padded; kk *= 2) {
      for (let j = kk / 2; j >= 1; j /= 2) run('bitonic_stage', { sorted }, uni(padded, kk, j), padded, 256);
    }
    run('threshold_mask', { scores, sorted, mask }, uni(total, k), total, 256);
    run('count_kept', { mask, offsets: off, counts }, uni(total, k), bnIds.length, 64);
    const th = t([1]);
    ctx.copy(sorted, th, 4, k * 4, 0);
    const raw = (await ctx.read(counts)) as Uint32Array;
    const threshold = (await ctx.readF32(th))[0]!;

    // Safeguards, decided on the host from the counts alone.
    const min = options.minChannels ?? 1;
    const maxRatio = options.maxLayerRatio ?? 1;
    const roundTo = options.roundTo ?? 1;
    const wanted = new Uint32Array(bnIds.length);
    const layers: LayerReport[] = [];
    bnIds.forEach((id, i) => {
      const c = sizes[i]!;
      const name = g.nodes[id]!.layer.name;
      let w = raw[i]!;
      const notes: string[] = [];
      if (w === 0 && options.strict) {
        throw new PruneError(`prune: threshold ${threshold} removes all ${c} channels of ${name} (strict mode; the reference would build an empty layer)`);
      }
      if (w < Math.min(min, c)) {
        notes.push(`min-channels: kept ${Math.min(min, c)} instead of ${w}`);
        w = Math.min(min, c);
      }
      const floor = Math.ceil(c * (1 - maxRatio));
      if (w < floor) {
        notes.push(`max-layer-ratio: kept ${floor} instead of ${w}`);
        w = floor;
      }
      if (roundTo > 1 && !selected[i] && w % roundTo !== 0) {
        const r = Math.min(c, Math.ceil(w / roundTo) * roundTo);
        notes.push(`round-to ${roundTo}: kept ${r} instead of ${w}`);
        w = r;
      }
      wanted[i] = w;
      layers.push({ name, before: c, after: w, selected: selected[i]!, ...(notes.length ? { safeguard: notes.join('; ') } : {}) });
    });
    const want = t([bnIds.length], 'u32', wanted);
    run('keep_largest', { scores, mask, offsets: off, counts, wanted: want }, uni(total, k), bnIds.length, 64);
    run('kept_indices', { mask, offsets: off, kept }, uni(total, k), bnIds.length, 64);

    // Per-BatchNorm masks and index lists as their own tensors (kernels bind whole buffers).
    const bnMask = new Map<number, Tensor>();
    const bnKept = new Map<number, Tensor>();
    bnIds.forEach((id, i) => {
      const m = t([sizes[i]!]);
      ctx.copy(mask, m, sizes[i]! * 4, offsets[i]! * 4, 0);
      bnMask.set(id, m);
      const ix = t([wanted[i]!], 'u32');
      ctx.copy(kept, ix, wanted[i]! * 4, offsets[i]! * 4, 0);
      bnKept.set(id, ix);
    });

    // The compact model's cfg, as the reference writes it.
    const keptOf = (name: string) => layers.find((l) => l.name === name)!.after;
    const cfg = newCfg(model, (id) => wanted[bnIds.indexOf(id)]!, keptOf);
    const mode = options.mode ?? 'compact';
    if (mode !== 'compact' && mode !== 'mask') throw new PruneError(`prune: mode ${String(mode)} is neither 'compact' nor 'mask'`);
    const compactGraph = graphFromMeta({ ...model.meta, cfg }).graph;
    let out: Model;
    let compensation: PruneReport['compensation'];
    if (mode === 'mask') {
      out = cloneModel(model, { ...model.meta, pruning: 'mask' });
      // The compact graph only serves the counts: give its selections their kept widths.
      for (const n of compactGraph.nodes) {
        if (n.layer instanceof ChannelSelection) {
          n.layer.mask = null;
          n.layer.keptCount = keptOf(compactGraph.nodes[n.inputs[0]!]!.layer.name);
        }
      }
    } else {
      const meta = { ...model.meta, cfg };
      delete meta.pruning;
      out = new Model(ctx, compactGraph, meta);
    }
    try {
      if (mode === 'mask') maskInPlace(out, bnIds, bnMask);
      else compact(model, out, bnIds, selected, bnMask, bnKept, t);
      if (options.compensate) compensation = compensate(model, out, mode, selected, bnIds, bnMask, bnKept, t);
    } catch (e) {
      out.destroy();
      throw e;
    }
    await ctx.sync();
    const inputSize = options.inputSize ?? [model.meta.inChannels, 32, 32];
    const before = layerCosts(model.graph, inputSize);
    const afterCosts = layerCosts(compactGraph, inputSize);
    const after = new Map(afterCosts.map((c) => [`${c.kind}:${c.name}`, c]));
    const report: PruneReport = {
      percent,
      threshold,
      totalChannels: total,
      prunedChannels: total - layers.reduce((s, l) => s + l.after, 0),
      layers,
      paramsBefore: model.parameterCount(),
      paramsAfter: afterCosts.reduce((a, c) => a + c.params, 0),
      flopsBefore: countFlops(model.graph, inputSize),
      flopsAfter: countFlops(compactGraph, inputSize),
      layerCosts: before.map((b) => {
        const a = after.get(`${b.kind}:${b.name}`)!;
        return { name: b.name, kind: b.kind, paramsBefore: b.params, paramsAfter: a.params, flopsBefore: b.flops, flopsAfter: a.flops };
      }),
      cfg,
      mode,
      ...(compensation ? { compensation } : {}),
    };
    return { model: out, report };
  } finally {
    ctx.flush();
    for (const x of tmp) x.destroy();
  }
}

/** The reference's cfg of the pruned model. */
function newCfg(model: Model, keptById: (id: number) => number, _keptOf: (name: string) => number): (number | 'M')[] {
  const g = model.graph;
  const bnId = (name: string) => g.nodes.find((n) => n.layer.name === name)!.id;
  const meta = model.meta;
  if (meta.arch === 'vgg') {
    let i = 0;
    return (meta.cfg ?? []).map((v) => {
      if (v === 'M') {
        i += 1;
        return 'M';
      }
      const kept = keptById(bnId(`feature.${i + 1}`));
      i += 3;
      return kept;
    });
  }
  if (meta.arch === 'resnet') {
    const n = ((meta.depth ?? 164) - 2) / 9;
    const cfg: number[] = [];
    for (let s = 1; s <= 3; s++) {
      for (let b = 0; b < n; b++) {
        for (const bn of ['bn1', 'bn2', 'bn3']) cfg.push(keptById(bnId(`layer${s}.${b}.${bn}`)));
      }
    }
    cfg.push(keptById(bnId('bn')));
    return cfg;
  }
  if (meta.arch === 'densenet') {
    return g.nodes.filter((n) => n.layer instanceof BatchNorm2d).map((n) => keptById(n.id));
  }
  throw new PruneError(`prune: no cfg rule for arch ${meta.arch}`);
}

/** Fills the compact model's tensors from the original's with gathers (bit-exact copies). */
function compact(
  src: Model,
  dst: Model,
  bnIds: number[],
  selected: boolean[],
  bnMask: Map<number, Tensor>,
  bnKept: Map<number, Tensor>,
  t: (shape: number[], dtype?: 'f32' | 'u32', data?: ArrayLike<number>) => Tensor,
): void {
  const ctx: Context = src.ctx;
  const g = src.graph;
  const consumers = g.consumers();
  const isSelectedBn = new Map(bnIds.map((id, i) => [id, selected[i]!]));
  const dstLayer = new Map<string, Layer>(dst.graph.layers().filter((l) => l.name).map((l) => [`${l.kind}:${l.name}`, l]));
  const counterpart = (l: Layer): Layer => {
    const d = dstLayer.get(`${l.kind}:${l.name}`);
    if (!d) throw new PruneError(`prune: the compact graph has no ${l.kind} ${l.name}`);
    return d;
  };
  /** The kept channels of a feeding BatchNorm as positions in its consumer's input. */
  const inputIndex = (feeder: NonNullable<ReturnType<typeof feedingBatchNorm>>): Tensor => {
    const idx = bnKept.get(feeder.bn)!;
    return narrowed(feeder.select) ? selectionPositions(ctx, feeder.select, idx, t) : idx;
  };
  /** dst = src gathered along dim 1 of the view [a, c, b, 1] by `idx` (or copied when idx is null). */
  const gather = (from: Tensor, to: Tensor, a: number, c: number, b: number, idx: Tensor | null): void => {
    if (!idx) return void ctx.copy(from, to, from.size * 4);
    channelSelectForward(ctx, from.reshape([a, c, b, 1]), idx, to.reshape([a, idx.size, b, 1]));
  };
  for (const node of g.nodes) {
    const l = node.layer;
    if (l instanceof Conv2d) {
      const d = counterpart(l) as Conv2d;
      const [o, i, kh, kw] = l.slot('weight').shape as [number, number, number, number];
      const feeder = feedingBatchNorm(src, node.id);
      const inIdx = feeder ? inputIndex(feeder) : null;
      const next = consumers[node.id]!;
      const outBn = next.length === 1 && g.nodes[next[0]!.node]!.layer instanceof BatchNorm2d && !isSelectedBn.get(next[0]!.node) ? next[0]!.node : null;
      const outIdx = outBn !== null ? bnKept.get(outBn)! : null;
      for (const key of ['value', 'momentum'] as const) {
        const from = l.slot('weight')[key]!;
        const to = d.slot('weight')[key]!;
        if (outIdx && inIdx) {
          const mid = t([outIdx.size, i, kh, kw]);
          gather(from, mid, 1, o, i * kh * kw, outIdx);
          gather(mid, to, outIdx.size, i, kh * kw, inIdx);
        } else if (outIdx) gather(from, to, 1, o, i * kh * kw, outIdx);
        else gather(from, to, o, i, kh * kw, inIdx);
      }
    } else if (l instanceof BatchNorm2d) {
      const d = counterpart(l) as BatchNorm2d;
      const idx = isSelectedBn.get(node.id) ? null : bnKept.get(node.id)!;
      for (const key of ['weight', 'bias', 'running_mean', 'running_var']) {
        for (const part of ['value', 'momentum'] as const) {
          const from = l.slot(key)[part];
          const to = d.slot(key)[part];
          if (!from || !to) continue;
          gather(from, to, 1, l.channels, 1, idx);
        }
      }
      if (!idx) {
        // Kept at full width: the pruned channels' γ and β become ±0 (the masked model).
        const k = ctx.kernel({ shader: SHADER, entry: 'multiply_mask' });
        for (const key of ['weight', 'bias']) {
          ctx.dispatchFlat(k, { scores: d.slot(key).value!, mask: bnMask.get(node.id)! }, { n: l.channels, k: 0, j: 0, layers: 0, flags: 0 }, Math.ceil(l.channels / 256));
        }
      }
      d.numBatchesTracked = 0;
    } else if (l instanceof ChannelSelection) {
      const d = counterpart(l) as ChannelSelection;
      const bn = node.inputs[0]!;
      const m = bnMask.get(bn);
      const ix = bnKept.get(bn);
      if (!m || !ix) throw new PruneError(`prune: channel selection ${l.name} does not follow a BatchNorm`);
      // indexes (the state-dict mask) and the gather list of the compact model's selection, on the GPU.
      ctx.copy(m, d.slot('indexes').value!, m.size * 4);
      d.setKept(ctx.tensor([ix.size], undefined, 'u32', `${d.name}.kept`), ix.size);
      ctx.copy(ix, d.kept!, ix.size * 4);
    } else if (l instanceof Linear) {
      const d = counterpart(l) as Linear;
      const feeder = feedingBatchNorm(src, node.id);
      const idx = feeder ? inputIndex(feeder) : null;
      // Flattened [C, h, w] features: gather whole channel blocks of h·w columns.
      const c = feeder ? (narrowed(feeder.select) ? feeder.select.keptCount : (g.nodes[feeder.bn]!.layer as BatchNorm2d).channels) : l.inFeatures;
      for (const part of ['value', 'momentum'] as const) {
        gather(l.slot('weight')[part]!, d.slot('weight')[part]!, l.outFeatures, c, l.inFeatures / c, idx);
        ctx.copy(l.slot('bias')[part]!, d.slot('bias')[part]!, l.outFeatures * 4);
      }
    }
  }
}

/** Positions of the channels `idx` (BatchNorm channel numbers) in the output of `select`. */
function selectionPositions(ctx: Context, select: ChannelSelection, idx: Tensor, t: (shape: number[], dtype?: 'f32' | 'u32') => Tensor): Tensor {
  const pos = t([idx.size], 'u32');
  const k = ctx.kernel({ shader: SHADER, entry: 'selection_positions' });
  ctx.dispatchFlat(k, { kept: idx, selection: select.slot('indexes').value!, positions: pos }, { n: idx.size, k: 0, j: 0, layers: 0, flags: 0 }, Math.ceil(idx.size / 64));
  return pos;
}

/**
 * A model of the same graph and meta (or `meta`), every state tensor, momentum and selection copied on the GPU.
 *
 * @example
 * ```ts
 * import { init, models, slim } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { cfg: [8, 'M', 16] });
 * const copy = slim.cloneModel(model); // independent GPU state: training one leaves the other as it was
 * console.log(copy.meta.cfg, copy.parameterCount() === model.parameterCount()); // [8, 'M', 16] true
 * await ctx.sync(); // let queued GPU work finish before destroy()
 * ctx.destroy();
 * ```
 */
export function cloneModel(src: Model, meta = src.meta): Model {
  const ctx = src.ctx;
  const out = new Model(ctx, graphFromMeta(meta).graph, meta);
  try {
    const dst = new Map(out.namedSlots().map((s) => [s.name, s]));
    for (const { name, layer, slot } of src.namedSlots()) {
      const d = dst.get(name);
      if (!d || d.slot.shape.join() !== slot.shape.join()) throw new PruneError(`clone: ${name} has no counterpart of shape [${slot.shape.join(', ')}]`);
      if (layer instanceof BatchNorm2d) (d.layer as BatchNorm2d).numBatchesTracked = layer.numBatchesTracked;
      for (const part of ['value', 'momentum'] as const) {
        const from = slot[part];
        const to = d.slot[part];
        if (from && to && from.size) ctx.copy(from, to, from.size * 4);
      }
      if (layer instanceof ChannelSelection && slot.key === 'indexes') {
        const dl = d.layer as ChannelSelection;
        dl.mask = layer.mask ? Float32Array.from(layer.mask) : null;
        const kept = ctx.tensor([layer.keptCount], undefined, 'u32', `${dl.name}.kept`);
        if (layer.keptCount) ctx.copy(layer.kept!, kept, layer.keptCount * 4);
        dl.setKept(kept, layer.keptCount);
      }
    }
  } catch (e) {
    out.destroy();
    throw e;
  }
  return out;
}

/** Mask mode: γ, β and their momentum of every BatchNorm multiplied by its keep mask, in place. */
function maskInPlace(model: Model, bnIds: number[], bnMask: Map<number, Tensor>): void {
  const ctx = model.ctx;
  const k = ctx.kernel({ shader: SHADER, entry: 'multiply_mask' });
  for (const id of bnIds) {
    const l = model.graph.nodes[id]!.layer as BatchNorm2d;
    for (const key of ['weight', 'bias']) {
      for (const part of ['value', 'momentum'] as const) {
        const x = l.slot(key)[part];
        if (x) ctx.dispatchFlat(k, { scores: x, mask: bnMask.get(id)! }, { n: l.channels, k: 0, j: 0, layers: 0, flags: 0 }, Math.ceil(l.channels / 256));
      }
    }
  }
}

/**
 * Bias compensation (see PruneOptions.compensate): for every convolution or linear layer fed by
 * a BatchNorm with pruned channels, the sum over those channels of act(β)·Σ weight taps goes into
 * the running mean of the BatchNorm after the convolution (subtracted) or the linear bias (added),
 * in the output model. Weights and β are the original model's; everything stays on the GPU.
 */
function compensate(
  src: Model,
  dst: Model,
  mode: 'compact' | 'mask',
  selected: boolean[],
  bnIds: number[],
  bnMask: Map<number, Tensor>,
  bnKept: Map<number, Tensor>,
  t: (shape: number[], dtype?: 'f32' | 'u32', data?: ArrayLike<number>) => Tensor,
): NonNullable<PruneReport['compensation']> {
  const ctx = src.ctx;
  const g = src.graph;
  const consumers = g.consumers();
  const dstByName = new Map(dst.namedSlots().map((s) => [s.name, s.slot]));
  const isSelected = new Map(bnIds.map((id, i) => [id, selected[i]!]));
  const kern = ctx.kernel({ shader: SHADER, entry: 'compensate' });
  const folded: { from: string; through: string; into: string }[] = [];
  const skipped: { from: string; through: string; reason: string }[] = [];
  for (const node of g.nodes) {
    const l = node.layer;
    if (!(l instanceof Conv2d || l instanceof Linear)) continue;
    const feeder = feedingBatchNorm(src, node.id);
    if (!feeder) continue;
    const bn = g.nodes[feeder.bn]!.layer as BatchNorm2d;
    let mask = bnMask.get(feeder.bn)!;
    let beta = bn.slot('bias').value!;
    if (narrowed(feeder.select)) {
      // The consumer sees the selection's kept channels only: take their β and mask.
      const s = feeder.select;
      const b = t([s.keptCount]);
      const m = t([s.keptCount]);
      channelSelectForward(ctx, beta.reshape([1, bn.channels, 1, 1]), s.kept!, b.reshape([1, s.keptCount, 1, 1]));
      channelSelectForward(ctx, mask.reshape([1, bn.channels, 1, 1]), s.kept!, m.reshape([1, s.keptCount, 1, 1]));
      beta = b;
      mask = m;
    }
    const w = l.slot('weight');
    const [outputs, inputs] = [w.shape[0]!, mask.size];
    const taps = w.shape.slice(1).reduce((a, b) => a * b, 1) / inputs;
    let target: Tensor;
    let idx: Tensor;
    let subtract: boolean;
    let into: string;
    if (l instanceof Linear) {
      target = dstByName.get(`${l.name}.bias`)!.value!;
      idx = t([outputs], 'u32', Array.from({ length: outputs }, (_, i) => i));
      subtract = false;
      into = `${l.name}.bias`;
    } else {
      const next = consumers[node.id]!;
      const nb = next.length === 1 ? g.nodes[next[0]!.node]! : null;
      if (!nb || !(nb.layer instanceof BatchNorm2d)) {
        const what = next.map((c) => g.nodes[c.node]!.layer.kind).join(', ');
        skipped.push({ from: bn.name, through: l.name, reason: `its output feeds ${what || 'nothing'}, not a BatchNorm` });
        continue;
      }
      const shrunk = mode === 'compact' && !isSelected.get(nb.id);
      idx = shrunk ? bnKept.get(nb.id)! : t([outputs], 'u32', Array.from({ length: outputs }, (_, i) => i));
      target = dstByName.get(`${nb.layer.name}.running_mean`)!.value!;
      subtract = true;
      into = `${nb.layer.name}.running_mean`;
    }
    ctx.dispatchFlat(
      kern,
      { weight: w.value!, beta, mask, kept: idx, adjusted: target },
      { n: idx.size, k: inputs, j: taps, layers: 0, flags: (subtract ? 1 : 0) | (feeder.relu ? 2 : 0) },
      Math.ceil(idx.size / 64),
    );
    folded.push({ from: bn.name, through: l.name, into });
  }
  return { folded, skipped };
}

export interface IterativePruneOptions extends PruneOptions {
  /** Number of prune → fine-tune rounds. */
  rounds: number;
  /** Fine-tunes the round's pruned model in place (e.g. a few epochs of `Trainer.fit`). */
  fineTune?: (model: Model, round: number, report: PruneReport) => Promise<void> | void;
}

/**
 * Iterative pruning: `rounds` times, prune `percent` of the channels the model still has, then
 * `fineTune` the result. Channels an earlier round already removed (kept at zero behind a
 * channel selection, or zeroed in mask mode) are not counted again: each round's global
 * threshold is taken at (z + percent·(total − z)) / total, z being those channels. The
 * intermediate models are destroyed; `model` is left as it is.
 *
 * @example
 * ```ts
 * import { init, models, slim, datasetFromTensors, Trainer } from 'netslim/node';
 *
 * const ctx = await init();
 * const data = datasetFromTensors(Float32Array.from({ length: 32 * 64 }, Math.random), [32, 1, 8, 8], Int32Array.from({ length: 32 }, (_, i) => i % 2));
 * const model = models.vgg(ctx, { cfg: [8, 'M', 16, 'M', 16], inChannels: 1, numClasses: 2 });
 * const { model: small, reports } = await slim.pruneIterative(model, 0.3, {
 *   rounds: 2,
 *   inputSize: [1, 8, 8],
 *   fineTune: async (m) => {
 *     const trainer = new Trainer(m, data, null, { epochs: 1, batchSize: 16, lr: 0.01 });
 *     await trainer.fit();
 *     trainer.destroy();
 *   },
 * });
 * console.log(reports.map((r) => r.cfg), small.parameterCount());
 * await ctx.sync(); // let queued GPU work finish before destroy()
 * ctx.destroy();
 * ```
 */
export async function pruneIterative(model: Model, percent: number, options: IterativePruneOptions): Promise<{ model: Model; reports: PruneReport[] }> {
  if (!(Number.isInteger(options.rounds) && options.rounds >= 1)) throw new PruneError(`pruneIterative: rounds ${options.rounds} must be a positive integer`);
  if (!(typeof percent === 'number' && percent >= 0 && percent < 1)) throw new PruneError(`pruneIterative: percent ${percent} is outside [0, 1)`);
  const reports: PruneReport[] = [];
  let current = model;
  try {
    for (let r = 0; r < options.rounds; r++) {
      const total = current.batchNorms().reduce((a, b) => a + b.channels, 0);
      const last = reports[reports.length - 1];
      const zeroed =
        last?.mode === 'mask'
          ? last.prunedChannels
          : current.graph.layers().reduce((a, l) => a + (l instanceof ChannelSelection ? l.channels - l.keptCount : 0), 0);
      const effective = (zeroed + percent * (total - zeroed)) / total;
      const { model: next, report } = await prune(current, Math.min(effective, 1 - 1e-12), options);
      if (current !== model) current.destroy();
      current = next;
      reports.push(report);
      await options.fineTune?.(current, r, report);
    }
  } catch (e) {
    if (current !== model) current.destroy();
    throw e;
  }
  return { model: current, reports };
}
