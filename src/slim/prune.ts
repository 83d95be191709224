/**
 * Network Slimming's pruning pass, derived from the graph (docs/architecture.md §4), in named
 * steps:
 *   scores     — |γ| of every BatchNorm in module order, gathered on the GPU and read back once;
 *   threshold  — which channel units go (src/slim/channels.ts: free channels, coupled groups);
 *   safeguards — minChannels, maxLayerRatio, roundTo, strict, per BatchNorm;
 *   masks      — the kept positions of every tensor's channels;
 *   compact graph — the original graph with every layer at its kept widths;
 *   gathers    — every tensor of the new model gathered from the old one on the GPU.
 * Nothing here knows an architecture: the reference archs' cfg is read back from the compact graph
 * by src/nn/models.ts.
 */
import type { Context } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { channelSelectForward } from '../ops/channel.js';
import { compensatePruned, multiplyRows } from '../ops/slim.js';
import { Model, type ModelMeta } from '../nn/model.js';
import { BatchNorm2d, ChannelSelection, Conv2d, Linear } from '../nn/layers.js';
import { describeGraph } from '../nn/models.js';
import { graphFromSpec, graphToSpec } from '../nn/graph-spec.js';
import type { Graph } from '../nn/graph.js';
import { aliveAtoms, analyseChannels, decide, unreadUnits, type ChannelGraph } from './channels.js';
import { PruneError } from './errors.js';

export { PruneError };

export interface PruneOptions {
  /** Every BatchNorm keeps at least this many channels, its largest |γ| (default 1; 0 disables). */
  minChannels?: number;
  /** At most this fraction of a layer's channels is pruned (default 1: no limit). */
  maxLayerRatio?: number;
  /** Kept counts of shrunk layers are rounded up to a multiple of this (default 1). */
  roundTo?: number;
  /** Reproduce the reference: a layer that would keep no channel is an error, not a safeguard. */
  strict?: boolean;
  /** Input [C, H, W] for the FLOP count (default the model's: [inChannels, inputSize, inputSize], inputSize 32 when the metadata has none). */
  inputSize?: [number, number, number];
  /**
   * `'compact'` (default): a smaller model with the pruned channels removed. `'mask'`: a model of
   * the same shapes whose pruned channels have γ = β = 0 (and zero momentum); fine-tuning it
   * keeps them at zero (the model's meta says `pruning: 'mask'`), as the reference's mask
   * implementation does. The report's cfg and counts are those of the compact model either way.
   */
  mode?: 'compact' | 'mask';
  /**
   * Channels tied across BatchNorms (an Add's inputs and output, a Concat read by several
   * BatchNorms): `'keep'` (default) never removes them and thresholds the free channels at
   * sorted[floor(total·percent)] over every |γ| — the reference, bit for bit; `'prune'` scores each
   * group by reducing the |γ| of its BatchNorms (`groupImportance`), ranks groups and free channels
   * together (`percent` of them go) and removes a group's channel from every tensor at once.
   */
  coupled?: 'keep' | 'prune';
  /** How `coupled: 'prune'` scores a group from its BatchNorms' |γ| (default `'mean'`, on the scale of one γ). */
  groupImportance?: 'mean' | 'sum' | 'max';
  /** Layers (by name) whose channels are never removed (the classifier's outputs never are). */
  ignore?: string[];
  /**
   * Rank channels by |γ| / c^a instead of |γ| (a this exponent; default 0: |γ| alone, the
   * reference). c is the FLOPs one channel costs in the unpruned model — its slice of every
   * convolution and linear layer that makes or reads it — over the mean of all ranked channels.
   * With a FLOPs target, 1 spends the budget on the cheap channels of small feature maps instead
   * of emptying those layers first; the report's threshold is then on the scores.
   */
  costExponent?: number;
  /**
   * Fold the constant output of every pruned channel (relu(β) after its BatchNorm and ReLU) into
   * the next layer: the running mean of the BatchNorm after the consuming convolution, or the
   * bias of the consuming linear layer (default false). It keeps the pruned model close to the
   * unpruned one before fine-tuning; exact away from the consuming convolution's zero padding.
   * Consumers whose output feeds neither (ResNet `conv3` into the residual sum, DenseNet convs
   * into a concatenation) are listed in `report.compensation.skipped`. `coupled: 'keep'` only.
   */
  compensate?: boolean;
}

/**
 * What to prune: a fraction of the ranked channels, or the fraction of FLOPs and/or parameters to
 * leave at most (with both, the smallest prune that meets both).
 */
export type PruneAmount = number | { flops: number; params?: number } | { flops?: number; params: number };

/** The checked goals of a target amount, FLOPs first. */
function targetGoals(amount: Exclude<PruneAmount, number>): ['flops' | 'params', number][] {
  const goals: ['flops' | 'params', number][] = [];
  const bad = () => new PruneError(`prune: target ${JSON.stringify(amount)} should be { flops: F }, { params: F } or both, with each F in (0, 1], the fraction to leave`);
  if (typeof amount !== 'object' || amount === null) throw bad();
  for (const k of Object.keys(amount)) if (k !== 'flops' && k !== 'params') throw bad();
  for (const k of ['flops', 'params'] as const) {
    const g = amount[k];
    if (g === undefined) continue;
    if (!(typeof g === 'number' && g > 0 && g <= 1)) throw bad();
    goals.push([k, g]);
  }
  if (!goals.length) throw bad();
  return goals;
}

export interface LayerReport {
  /** The BatchNorm's state_dict prefix (`feature.1`, `layer1.0.bn2`). */
  name: string;
  before: number;
  /** Channels its consumers still see (through its selection, if one follows it). */
  after: number;
  /** Masked through a channel selection after it (ResNet `bn1`, DenseNet BNs). */
  selected: boolean;
  /** What a safeguard changed, if anything (e.g. `min-channels: kept 1 instead of 0`). */
  safeguard?: string;
}

export interface PruneReport {
  /** The fraction of ranked channels the threshold was taken at (found by search for a target). */
  percent: number;
  /** The target asked for, and what was reached (fractions of the original left). */
  target?: { flops?: number; params?: number; reached: { flops: number; params: number } };
  /** The threshold on the ranked scores (|γ|, or |γ| / c^a with `costExponent`): channels scoring ≤ it go. */
  threshold: number;
  /** The exponent of the cost in the ranking (PruneOptions.costExponent; 0: |γ| alone). */
  costExponent: number;
  /**
   * The largest |γ| removed and the median |γ| kept (over every BatchNorm channel; 0 when none
   * is removed or kept): a removed |γ| near the kept ones means the γ were not sparse yet.
   */
  gammaSeparation: { removedMax: number; keptMedian: number };
  coupled: 'keep' | 'prune';
  totalChannels: number;
  prunedChannels: number;
  layers: LayerReport[];
  paramsBefore: number;
  paramsAfter: number;
  flopsBefore: number;
  flopsAfter: number;
  /** Parameters and FLOPs of every layer with state, before and after. */
  layerCosts: { name: string; kind: string; paramsBefore: number; paramsAfter: number; flopsBefore: number; flopsAfter: number }[];
  /** The reference's cfg of the compact model; absent when the compact model is no reference architecture. */
  cfg?: (number | 'M')[];
  mode: 'compact' | 'mask';
  /** With `compensate`: the consumers whose next layer took the pruned channels' constant output. */
  compensation?: { folded: { from: string; through: string; into: string }[]; skipped: { from: string; through: string; reason: string }[] };
}

/** Parameters and FLOPs of one layer with state (FLOPs: 2 × multiply-adds, convolutions and linear layers only). */
export interface LayerCost {
  name: string;
  kind: string;
  params: number;
  flops: number;
}

/** Multiply-adds of one layer for one image (`out`: its output shape): convolutions and linear layers, 0 for the rest. */
function layerMacs(l: Graph['nodes'][number]['layer'], out: readonly number[]): number {
  if (l instanceof Conv2d) {
    const [o, i, kh, kw] = l.slot('weight').shape as [number, number, number, number];
    return o * out[2]! * out[3]! * i * kh * kw;
  }
  return l instanceof Linear ? l.inFeatures * l.outFeatures : 0;
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
    const macs = layerMacs(n.layer, shapes[n.id]!);
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

/** The decisions of one prune: which atoms live, the threshold, the per-BatchNorm report lines. */
interface Selection {
  cg: ChannelGraph;
  removed: Uint8Array;
  alive: Uint8Array;
  threshold: number;
  percent: number;
  /** How many scores the threshold was taken over. */
  rankedCount: number;
  layers: LayerReport[];
  /** Per node: positions of its output channels that stay (null: all of them). */
  keptPos: (Uint32Array | null)[];
  /** Per BatchNorm (in cg.bnIds order): 0/1 over its channels, what its masked γ and β keep. */
  bnMasks: Float32Array[];
}

function checkOptions(options: PruneOptions): void {
  const mode = options.mode ?? 'compact';
  if (mode !== 'compact' && mode !== 'mask') throw new PruneError(`prune: mode ${String(mode)} is neither 'compact' nor 'mask'`);
  const coupled = options.coupled ?? 'keep';
  if (coupled !== 'keep' && coupled !== 'prune') throw new PruneError(`prune: coupled ${String(coupled)} is neither 'keep' nor 'prune'`);
  const gi = options.groupImportance ?? 'mean';
  if (!['mean', 'sum', 'max'].includes(gi)) throw new PruneError(`prune: groupImportance ${String(gi)} is not 'mean', 'sum' or 'max'`);
  const a = options.costExponent ?? 0;
  if (!(typeof a === 'number' && Number.isFinite(a) && a >= 0)) throw new PruneError(`prune: costExponent ${String(a)} must be a finite number ≥ 0`);
  if (options.compensate && coupled === 'prune') throw new PruneError("prune: compensate works with coupled 'keep' only (a removed group has no constant output to fold)");
}

/** Step 1, scores: |γ| of every BatchNorm in module order, gathered into one GPU buffer and read back once. */
async function readAbsGamma(model: Model, cg: ChannelGraph): Promise<Float32Array> {
  const ctx = model.ctx;
  if (!cg.total) return new Float32Array(0);
  const all = ctx.tensor([cg.total], undefined, 'f32', 'prune.gammas');
  try {
    cg.bnIds.forEach((id, b) => {
      const bn = model.graph.nodes[id]!.layer as BatchNorm2d;
      ctx.copy(bn.slot('weight').value!, all, bn.channels * 4, 0, cg.bnOffset[b]! * 4);
    });
    const g = await ctx.readF32(all);
    return g.map(Math.abs);
  } finally {
    ctx.flush();
    all.destroy();
  }
}

/** Steps 2–4, threshold, safeguards and masks, on the host from |γ| (no tensor is built). */
function select(cg: ChannelGraph, absGamma: Float32Array, percent: number, options: PruneOptions): Selection {
  const coupled = options.coupled ?? 'keep';
  const d = decide(cg, absGamma, { coupled, groupImportance: options.groupImportance ?? 'mean', percent });
  const removed = d.removed;
  const g = cg.graph;
  let alive = aliveAtoms(cg, removed);
  const posAlive = (i: number): boolean => {
    const dv = cg.posDerivedAtom[i]!;
    return dv === -2 ? false : dv >= 0 ? alive[dv] === 1 : alive[cg.posAtom[i]!] === 1;
  };
  // Safeguards, BatchNorm by BatchNorm in module order.
  const min = options.minChannels ?? 1;
  const maxRatio = options.maxLayerRatio ?? 1;
  const roundTo = options.roundTo ?? 1;
  const layers: LayerReport[] = [];
  cg.bnIds.forEach((id, b) => {
    const bn = g.nodes[id]!.layer as BatchNorm2d;
    const c = bn.channels;
    const lo = cg.bnOffset[b]!;
    const selected = cg.selectionAfter[b] !== null;
    const count = () => {
      let k = 0;
      for (let p = 0; p < c; p++) if (posAlive(lo + p)) k++;
      return k;
    };
    const raw = count();
    if (raw === 0 && options.strict) {
      throw new PruneError(`prune: threshold ${d.threshold} removes all ${c} channels of ${bn.name} (strict mode; the reference would build an empty layer)`);
    }
    let w = raw;
    const notes: string[] = [];
    if (w < Math.min(min, c)) {
      notes.push(`min-channels: kept ${Math.min(min, c)} instead of ${w}`);
      w = Math.min(min, c);
    }
    const floor = Math.ceil(c * (1 - maxRatio));
    if (w < floor) {
      notes.push(`max-layer-ratio: kept ${floor} instead of ${w}`);
      w = floor;
    }
    if (roundTo > 1 && !selected && w % roundTo !== 0) {
      const r = Math.min(c, Math.ceil(w / roundTo) * roundTo);
      notes.push(`round-to ${roundTo}: kept ${r} instead of ${w}`);
      w = r;
    }
    // Keep the removed channels with the largest |γ| (the lowest index among equals) until w are kept.
    for (let k = raw; k < w; ) {
      let best = -1;
      for (let p = 0; p < c; p++) {
        const i = lo + p;
        if (!posAlive(i) && cg.derivedUnit[i] !== -2 && (best < 0 || absGamma[i]! > absGamma[lo + best]!)) best = p;
      }
      if (best < 0) break;
      const i = lo + best;
      removed[cg.underUnit[i]!] = 0;
      if (cg.derivedUnit[i]! >= 0) removed[cg.derivedUnit[i]!] = 0;
      alive = aliveAtoms(cg, removed);
      k = count();
    }
    layers.push({ name: bn.name, before: c, after: count(), selected, ...(notes.length ? { safeguard: notes.join('; ') } : {}) });
  });
  if (coupled === 'prune') {
    // Channels no layer reads any more (every selection reading them drops them) go from their producers too.
    for (const u of unreadUnits(cg, removed)) removed[u] = 1;
    alive = aliveAtoms(cg, removed);
  }
  const keptPos = cg.chans.map((ch) => {
    let all = true;
    for (const a of ch) if (!alive[a]) all = false;
    if (all) return null;
    const out: number[] = [];
    ch.forEach((a, p) => {
      if (alive[a]) out.push(p);
    });
    return Uint32Array.from(out);
  });
  const bnMasks = cg.bnIds.map((id, b) => {
    const c = (g.nodes[id]!.layer as BatchNorm2d).channels;
    return Float32Array.from({ length: c }, (_, p) => (posAlive(cg.bnOffset[b]! + p) && alive[cg.posAtom[cg.bnOffset[b]! + p]!] ? 1 : 0));
  });
  // The report's counts after the dead-channel pass.
  for (const [b, l] of layers.entries()) {
    let k = 0;
    for (let p = 0; p < l.before; p++) if (posAlive(cg.bnOffset[b]! + p)) k++;
    l.after = k;
  }
  return { cg, removed, alive, threshold: d.threshold, percent, rankedCount: d.rankedCount, layers, keptPos, bnMasks };
}

/** Step 5, the compact graph: every layer rebuilt at its kept widths; selections get their new masks. */
function compactGraph(sel: Selection): Graph {
  const { cg, keptPos } = sel;
  const g = cg.graph;
  const width = (id: number) => keptPos[id]?.length ?? cg.chans[id]!.length;
  const out = graphFromSpec(graphToSpec(g), (node, id) => {
    const x = node.inputs[0]!;
    switch (node.kind) {
      case 'Conv2d':
        // A depthwise convolution keeps one group per channel.
        return { ...node.options, inChannels: width(x), outChannels: width(id), ...(depthwise(node.options) ? { groups: width(id) } : {}) };
      case 'BatchNorm2d':
      case 'ChannelSelection':
        return { ...node.options, channels: width(x) };
      case 'Linear':
        return { ...node.options, inFeatures: width(x) * cg.hw[id]! };
      default:
        return node.options;
    }
  });
  for (const n of out.nodes) {
    if (n.layer instanceof ChannelSelection) n.layer.setMask(selectionMask(sel, n.id));
  }
  return out;
}

function depthwise(o: Record<string, unknown>): boolean {
  const g = (o.groups as number | undefined) ?? 1;
  return g > 1 && g === o.inChannels && g === o.outChannels;
}

/** The new `indexes` of the selection at node `id`: over its input's kept channels, 1 where its own atom lives. */
function selectionMask(sel: Selection, id: number): Float32Array {
  const { cg, alive, keptPos } = sel;
  const x = cg.graph.nodes[id]!.inputs[0]!;
  const inAtoms = cg.chans[x]!;
  const outAtoms = cg.chans[id]!;
  const picked = new Map<number, number>(); // input atom → this selection's atom picking it
  for (const a of outAtoms) picked.set(cg.derivedFrom[a]!, a);
  const positions = keptPos[x] ?? Uint32Array.from(inAtoms, (_, p) => p);
  return Float32Array.from(positions, (p) => {
    const d = picked.get(inAtoms[p]!);
    return d !== undefined && alive[d] ? 1 : 0;
  });
}

/** A selection with its compact graph, that graph's metadata and the report. */
interface Planned {
  sel: Selection;
  compact: Graph;
  meta: ModelMeta;
  report: PruneReport;
}

function inputSizeOf(model: Model, options: PruneOptions): [number, number, number] {
  const side = model.meta.inputSize ?? 32;
  return options.inputSize ?? [model.meta.inChannels, side, side];
}

/**
 * Per unit: the FLOPs one of its channels costs — for every convolution and linear layer, its
 * FLOPs over its output channels go to each output channel's unit and its FLOPs over its input
 * channels to each input channel's unit (once per layer: a depthwise convolution's channel is one
 * unit in and out).
 */
function unitFlops(cg: ChannelGraph, inputSize: [number, number, number]): Float64Array {
  const g = cg.graph;
  const shapes = g.shapes([1, ...inputSize]);
  const cost = new Float64Array(cg.units);
  for (const n of g.nodes) {
    if (!(n.layer instanceof Conv2d || n.layer instanceof Linear)) continue;
    const macs = layerMacs(n.layer, shapes[n.id]!);
    const seen = new Set<number>();
    for (const atoms of [cg.chans[n.id]!, cg.chans[n.inputs[0]!]!]) {
      for (const a of atoms) {
        const u = cg.unitOf[a]!;
        if (seen.has(u)) continue;
        seen.add(u);
        cost[u] += (2 * macs) / atoms.length;
      }
    }
  }
  return cost;
}

/** |γ| / c^a per flat γ position, c the cost of the unit it governs over the mean of those units (see PruneOptions.costExponent). */
function costScaled(cg: ChannelGraph, absGamma: Float32Array, a: number, inputSize: [number, number, number]): Float32Array {
  const cost = unitFlops(cg, inputSize);
  const unitAt = (i: number) => (cg.derivedUnit[i]! >= 0 ? cg.derivedUnit[i]! : cg.underUnit[i]!);
  let sum = 0;
  for (let i = 0; i < cg.total; i++) sum += cost[unitAt(i)]!;
  const mean = sum / cg.total;
  // a channel that costs nothing (no layer makes or reads it) saves nothing: it ranks last (+∞)
  return absGamma.map((g, i) => g / Math.pow(cost[unitAt(i)]! / mean, a));
}

/** The largest removed and the median kept |γ| of a selection (PruneReport.gammaSeparation). */
function separation(sel: Selection, absGamma: Float32Array): { removedMax: number; keptMedian: number } {
  let removedMax = 0;
  const kept: number[] = [];
  sel.bnMasks.forEach((m, b) => {
    const lo = sel.cg.bnOffset[b]!;
    m.forEach((k, p) => {
      if (k) kept.push(absGamma[lo + p]!);
      else removedMax = Math.max(removedMax, absGamma[lo + p]!);
    });
  });
  kept.sort((x, y) => x - y);
  const keptMedian = kept.length ? (kept[(kept.length - 1) >> 1]! + kept[kept.length >> 1]!) / 2 : 0;
  return { removedMax, keptMedian };
}

/** The report of a selection, before anything is built. */
function makeReport(model: Model, sel: Selection, absGamma: Float32Array, compact: Graph, meta: ModelMeta, options: PruneOptions): PruneReport {
  const inputSize = inputSizeOf(model, options);
  const before = layerCosts(model.graph, inputSize);
  const afterCosts = layerCosts(compact, inputSize);
  const after = new Map(afterCosts.map((c) => [`${c.kind}:${c.name}`, c]));
  return {
    percent: sel.percent,
    threshold: sel.threshold,
    costExponent: options.costExponent ?? 0,
    gammaSeparation: separation(sel, absGamma),
    coupled: options.coupled ?? 'keep',
    totalChannels: sel.cg.total,
    prunedChannels: sel.layers.reduce((s, l) => s + l.before - l.after, 0),
    layers: sel.layers,
    paramsBefore: model.parameterCount(),
    paramsAfter: afterCosts.reduce((a, c) => a + c.params, 0),
    flopsBefore: before.reduce((a, c) => a + c.flops, 0),
    flopsAfter: afterCosts.reduce((a, c) => a + c.flops, 0),
    layerCosts: before.map((b) => {
      const a = after.get(`${b.kind}:${b.name}`) ?? { params: 0, flops: 0 };
      return { name: b.name, kind: b.kind, paramsBefore: b.params, paramsAfter: a.params, flopsBefore: b.flops, flopsAfter: a.flops };
    }),
    ...(meta.cfg ? { cfg: meta.cfg } : {}),
    mode: options.mode ?? 'compact',
  };
}

/**
 * Steps 1–5 for a percent or a target: the decisions, the compact graph and the report. For a
 * target, the smallest threshold whose compact model leaves at most that fraction is searched
 * over the ranked scores (bisection on the rank).
 */
async function planSelection(model: Model, amount: PruneAmount, options: PruneOptions): Promise<Planned> {
  checkOptions(options);
  const cg = analyseChannels(model.graph, options.ignore ?? []);
  if (!cg.total) throw new PruneError(`prune: the ${model.meta.arch} model has no BatchNorm2d to rank`);
  return selectFor(model, cg, await readAbsGamma(model, cg), amount, options);
}

/** Steps 2–5 from |γ| already on the host (a percent, or the search for a target). */
function selectFor(model: Model, cg: ChannelGraph, absGamma: Float32Array, amount: PruneAmount, options: PruneOptions): Planned {
  const nonFinite = absGamma.findIndex((v) => !Number.isFinite(v));
  if (nonFinite >= 0) {
    let b = 0;
    while (b + 1 < cg.bnOffset.length && cg.bnOffset[b + 1]! <= nonFinite) b++;
    throw new PruneError(`prune: BatchNorm2d ${model.graph.nodes[cg.bnIds[b]!]!.layer.name} has a non-finite γ (${absGamma[nonFinite]}) at channel ${nonFinite - cg.bnOffset[b]!}`);
  }
  const a = options.costExponent ?? 0;
  const scores = a > 0 ? costScaled(cg, absGamma, a, inputSizeOf(model, options)) : absGamma;
  const at = (percent: number) => {
    const sel = select(cg, scores, percent, options);
    const compact = compactGraph(sel);
    const meta = describeGraph(model.meta, compact);
    return { sel, compact, meta, report: makeReport(model, sel, absGamma, compact, meta, options) };
  };
  if (typeof amount === 'number') {
    if (!(amount >= 0 && amount < 1)) throw new PruneError(`prune: percent ${amount} is outside [0, 1)`);
    return at(amount);
  }
  const goals = targetGoals(amount);
  const meets = (r: PruneReport) => goals.every(([k, g]) => (k === 'flops' ? r.flopsAfter / r.flopsBefore : r.paramsAfter / r.paramsBefore) <= g);
  // Rank k of the ranked scores ↔ percent (k + 0.5) / n: floor(n·percent) = k exactly.
  let best = at(0);
  const n = best.sel.rankedCount;
  const pct = (k: number) => (k + 0.5) / n;
  if (!meets(best.report)) {
    let lo = 0;
    let hi = n - 1;
    const last = at(pct(hi));
    if (!meets(last.report)) {
      const r = last.report;
      throw new PruneError(
        `prune: target ${goals.map(([k, g]) => `${k} ${g}`).join(', ')} cannot be met: removing every rankable channel leaves ${(r.flopsAfter / r.flopsBefore).toFixed(4)} of the FLOPs and ${(r.paramsAfter / r.paramsBefore).toFixed(4)} of the parameters (minChannels ${options.minChannels ?? 1}, coupled '${options.coupled ?? 'keep'}')`,
      );
    }
    best = last;
    // FLOPs and parameters only fall as the rank grows: the smallest rank meeting every goal
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      const m = at(pct(mid));
      if (meets(m.report)) {
        hi = mid;
        best = m;
      } else lo = mid;
    }
  }
  const r = best.report;
  r.target = { ...Object.fromEntries(goals), reached: { flops: r.flopsAfter / r.flopsBefore, params: r.paramsAfter / r.paramsBefore } };
  return best;
}

/**
 * `plan` from γ already read back (`slim.batchNormGammas`, one entry per BatchNorm in module
 * order): synchronous, for a preview that follows a slider without touching the GPU.
 *
 * @example
 * ```ts
 * import { init, models, slim } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { depth: 11 });
 * const gammas = await slim.batchNormGammas(model); // once
 * for (const p of [0.2, 0.4, 0.6]) console.log(p, slim.planFromGammas(model, gammas, p, { minChannels: 4 }).flopsAfter);
 * ctx.destroy();
 * ```
 */
export function planFromGammas(model: Model, gammas: readonly { name: string; gamma: Float32Array }[], amount: PruneAmount, options: PruneOptions = {}): PruneReport {
  checkOptions(options);
  const cg = analyseChannels(model.graph, options.ignore ?? []);
  if (!cg.total) throw new PruneError(`prune: the ${model.meta.arch} model has no BatchNorm2d to rank`);
  const abs = new Float32Array(cg.total);
  if (gammas.length !== cg.bnIds.length) throw new PruneError(`planFromGammas: ${gammas.length} γ vectors for ${cg.bnIds.length} BatchNorms`);
  cg.bnIds.forEach((id, b) => {
    const bn = model.graph.nodes[id]!.layer as BatchNorm2d;
    const g = gammas[b]!;
    if (g.name !== bn.name || g.gamma.length !== bn.channels) throw new PruneError(`planFromGammas: entry ${b} is ${g.name} [${g.gamma.length}], the model's BatchNorm ${b} is ${bn.name} [${bn.channels}]`);
    for (let p = 0; p < bn.channels; p++) abs[cg.bnOffset[b]! + p] = Math.abs(g.gamma[p]!);
  });
  return selectFor(model, cg, abs, amount, options).report;
}

/**
 * The report of a prune — per-layer channels, parameters, FLOPs, threshold — without building
 * anything (|γ| is read back once). `amount` is a percent or a target `{ flops }` / `{ params }`.
 *
 * @example
 * ```ts
 * import { init, models, slim } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { depth: 11 });
 * const report = await slim.plan(model, { flops: 0.5 }, { minChannels: 4 });
 * console.log(report.target?.reached, report.cfg); // what pruning to half the FLOPs would keep
 * ctx.destroy();
 * ```
 */
export async function plan(model: Model, amount: PruneAmount, options: PruneOptions = {}): Promise<PruneReport> {
  return (await planSelection(model, amount, options)).report;
}

/**
 * Prunes `amount` — a fraction of the ranked channels (the global |γ| threshold), or a target
 * `{ flops: F }` / `{ params: F }` (the fraction to leave) — and returns a new, compact model
 * with the report; the original model is left unchanged.
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
export async function prune(model: Model, amount: PruneAmount, options: PruneOptions = {}): Promise<{ model: Model; report: PruneReport }> {
  const { sel, compact, meta, report } = await planSelection(model, amount, options);
  const ctx = model.ctx;
  const mode = report.mode;
  const tmp: Tensor[] = [];
  const t = (shape: number[], dtype: 'f32' | 'u32' = 'f32', data?: ArrayLike<number>) => {
    const x = ctx.tensor(shape, data, dtype, 'prune');
    tmp.push(x);
    return x;
  };
  let out: Model;
  if (mode === 'mask') out = cloneModel(model, { ...model.meta, pruning: 'mask' });
  else {
    const { pruning: _, ...compactMeta } = meta;
    out = new Model(ctx, compact, compactMeta);
  }
  try {
    if (mode === 'mask') maskInPlace(out, sel, options.coupled === 'prune', t);
    else gatherInto(model, out, sel, t);
    if (options.compensate) report.compensation = compensate(model, out, sel, t);
    await ctx.sync();
  } catch (e) {
    out.destroy();
    throw e;
  } finally {
    ctx.flush();
    for (const x of tmp) x.destroy();
  }
  return { model: out, report };
}

/** Step 6, gathers: every tensor of the compact model from the original's (bit-exact copies). */
function gatherInto(src: Model, dst: Model, sel: Selection, t: (shape: number[], dtype?: 'f32' | 'u32', data?: ArrayLike<number>) => Tensor): void {
  const ctx: Context = src.ctx;
  const { cg, keptPos } = sel;
  const g = src.graph;
  const index = new Map<number, Tensor>();
  const idxOf = (id: number): Tensor | null => {
    const k = keptPos[id];
    if (!k) return null;
    let x = index.get(id);
    if (!x) index.set(id, (x = t([k.length], 'u32', k)));
    return x;
  };
  /** to = from gathered along dim 1 of the view [a, c, b, 1] by `idx` (or copied when idx is null). */
  const gather = (from: Tensor, to: Tensor, a: number, c: number, b: number, idx: Tensor | null): void => {
    if (!idx) return void ctx.copy(from, to, from.size * 4);
    channelSelectForward(ctx, from.reshape([a, c, b, 1]), idx, to.reshape([a, idx.size, b, 1]));
  };
  const parts = ['value', 'momentum'] as const;
  for (const node of g.nodes) {
    const l = node.layer;
    if (!l.state.length) continue;
    const d = dst.graph.nodes[node.id]!.layer;
    const x = node.inputs[0]!;
    if (l instanceof Conv2d) {
      const [o, i, kh, kw] = l.slot('weight').shape as [number, number, number, number];
      const rows = idxOf(node.id);
      // Grouped weights hold in/groups columns per row: only a dense convolution loses input columns.
      const cols = l.groups === 1 ? idxOf(x) : null;
      if (l.hasBias) for (const part of parts) gather(l.slot('bias')[part]!, d.slot('bias')[part]!, 1, o, 1, rows);
      for (const part of parts) {
        const from = l.slot('weight')[part]!;
        const to = d.slot('weight')[part]!;
        if (rows && cols) {
          const mid = t([rows.size, i, kh, kw]);
          gather(from, mid, 1, o, i * kh * kw, rows);
          gather(mid, to, rows.size, i, kh * kw, cols);
        } else if (rows) gather(from, to, 1, o, i * kh * kw, rows);
        else gather(from, to, o, i, kh * kw, cols);
      }
    } else if (l instanceof BatchNorm2d) {
      const b = cg.bnIds.indexOf(node.id);
      const idx = idxOf(x);
      for (const key of ['weight', 'bias', 'running_mean', 'running_var']) {
        for (const part of parts) {
          const from = l.slot(key)[part];
          const to = d.slot(key)[part];
          if (from && to) gather(from, to, 1, l.channels, 1, idx);
        }
      }
      if (cg.selectionAfter[b]) {
        // Masked through its selection: the channels the selection drops keep γ = β = ±0 (the masked model).
        const keep = sel.bnMasks[b]!;
        const m = keptPos[x] ? Float32Array.from(keptPos[x]!, (p) => keep[p]!) : keep;
        const mask = t([m.length], 'f32', m);
        for (const key of ['weight', 'bias']) multiplyRows(ctx, d.slot(key).value!, mask);
      }
      (d as BatchNorm2d).numBatchesTracked = 0;
    } else if (l instanceof ChannelSelection) {
      // The compact graph's selection already holds its mask (indexes and kept list uploaded by the Model).
    } else if (l instanceof Linear) {
      const c = cg.chans[x]!.length;
      const idx = idxOf(x);
      for (const part of parts) {
        gather(l.slot('weight')[part]!, d.slot('weight')[part]!, l.outFeatures, c, l.inFeatures / c, idx);
        ctx.copy(l.slot('bias')[part]!, d.slot('bias')[part]!, l.outFeatures * 4);
      }
    } else {
      throw new PruneError(`prune: no gather rule for ${l.kind} ${l.name}, which has state`);
    }
  }
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
  const graph = graphFromSpec(graphToSpec(src.graph));
  src.graph.nodes.forEach((n, i) => {
    const l = n.layer;
    if (l instanceof ChannelSelection) (graph.nodes[i]!.layer as ChannelSelection).setMask(Float32Array.from(l.mask));
  });
  const out = new Model(ctx, graph, meta);
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
    }
  } catch (e) {
    out.destroy();
    throw e;
  }
  return out;
}

/**
 * Mask mode: γ, β and their momentum of every BatchNorm multiplied by its keep mask, in place;
 * with coupled groups removed, also the output rows of the convolutions that produce them (a
 * residual stream's channel is read raw by convolutions too).
 */
function maskInPlace(model: Model, sel: Selection, zeroProducers: boolean, t: (shape: number[], dtype?: 'f32' | 'u32', data?: ArrayLike<number>) => Tensor): void {
  const ctx = model.ctx;
  const { cg } = sel;
  cg.bnIds.forEach((id, b) => {
    const l = model.graph.nodes[id]!.layer as BatchNorm2d;
    const mask = t([l.channels], 'f32', sel.bnMasks[b]!);
    for (const key of ['weight', 'bias']) {
      for (const part of ['value', 'momentum'] as const) {
        const x = l.slot(key)[part];
        if (x) multiplyRows(ctx, x, mask);
      }
    }
  });
  if (!zeroProducers) return;
  for (const node of model.graph.nodes) {
    const l = node.layer;
    const kept = sel.keptPos[node.id];
    if (!(l instanceof Conv2d) || !kept) continue;
    const m = new Float32Array(l.outChannels);
    for (const p of kept) m[p] = 1;
    const mask = t([m.length], 'f32', m);
    for (const key of l.hasBias ? ['weight', 'bias'] : ['weight']) {
      for (const part of ['value', 'momentum'] as const) {
        const x = l.slot(key)[part];
        if (x) multiplyRows(ctx, x, mask);
      }
    }
  }
}

/**
 * The BatchNorm whose channels reach `id`'s input through channel-preserving layers, or null;
 * with the channel selection on the way (if any) and whether a ReLU is on the way.
 */
function feedingBatchNorm(g: Graph, id: number): { bn: number; select: ChannelSelection | null; relu: boolean } | null {
  let cur = g.nodes[id]!.inputs[0];
  let select: ChannelSelection | null = null;
  let relu = false;
  while (cur !== undefined && cur > 0) {
    const l = g.nodes[cur]!.layer;
    if (l instanceof BatchNorm2d) return { bn: cur, select, relu };
    if (l instanceof ChannelSelection) select = l;
    else if (l.kind === 'ReLU') relu = true;
    else if (!['MaxPool2d', 'AvgPool2d', 'Flatten', 'Dropout'].includes(l.kind)) return null;
    cur = g.nodes[cur]!.inputs[0];
  }
  return null;
}

/**
 * Bias compensation (see PruneOptions.compensate): for every convolution or linear layer fed by
 * a BatchNorm with pruned channels, the sum over those channels of act(β)·Σ weight taps goes into
 * the running mean of the BatchNorm after the convolution (subtracted) or the linear bias (added),
 * in the output model. Weights and β are the original model's; everything stays on the GPU.
 */
function compensate(src: Model, dst: Model, sel: Selection, t: (shape: number[], dtype?: 'f32' | 'u32', data?: ArrayLike<number>) => Tensor): NonNullable<PruneReport['compensation']> {
  const ctx = src.ctx;
  const g = src.graph;
  const { cg, alive, keptPos } = sel;
  const consumers = g.consumers();
  const dstByName = new Map(dst.namedSlots().map((s) => [s.name, s.slot]));
  const compact = dst.graph !== src.graph && !dst.meta.pruning;
  const folded: { from: string; through: string; into: string }[] = [];
  const skipped: { from: string; through: string; reason: string }[] = [];
  const all = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);
  for (const node of g.nodes) {
    const l = node.layer;
    if (!(l instanceof Conv2d || l instanceof Linear)) continue;
    const feeder = feedingBatchNorm(g, node.id);
    if (!feeder) continue;
    const bn = g.nodes[feeder.bn]!.layer as BatchNorm2d;
    // The consumer's input positions, their BatchNorm channels and whether they live.
    const inAtoms = cg.chans[node.inputs[0]!]!;
    const bnPos = feeder.select ? feeder.select.keptIndices() : all(bn.channels);
    const mask = Float32Array.from(inAtoms, (a) => alive[a]!);
    if (mask.every((v) => v === 1)) continue;
    const beta = t([bnPos.length]);
    channelSelectForward(ctx, bn.slot('bias').value!.reshape([1, bn.channels, 1, 1]), t([bnPos.length], 'u32', bnPos), beta.reshape([1, bnPos.length, 1, 1]));
    let rows: Uint32Array;
    let into: string;
    if (l instanceof Linear) {
      rows = all(l.outFeatures);
      into = `${l.name}.bias`;
    } else {
      const next = consumers[node.id]!;
      const nb = next.length === 1 ? g.nodes[next[0]!.node]! : null;
      if (!nb || !(nb.layer instanceof BatchNorm2d)) {
        const what = next.map((c) => g.nodes[c.node]!.layer.kind).join(', ');
        skipped.push({ from: bn.name, through: l.name, reason: `its output feeds ${what || 'nothing'}, not a BatchNorm` });
        continue;
      }
      rows = compact && keptPos[node.id] ? keptPos[node.id]! : all(l.outChannels);
      into = `${nb.layer.name}.running_mean`;
    }
    const target = dstByName.get(into)!.value!;
    compensatePruned(ctx, { weight: l.slot('weight').value!, beta, mask: t([mask.length], 'f32', mask), kept: t([rows.length], 'u32', rows), adjusted: target }, { subtract: l instanceof Conv2d, relu: feeder.relu });
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
