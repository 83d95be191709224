/**
 * Which channels of a graph are one and the same, derived from the graph alone (as DepGraph does).
 *
 * Every channel of every tensor is an *atom*: made by the layer that produces it (a convolution's
 * output row, a linear layer's output, the input image's channels), passed unchanged through
 * BatchNorm, activations and pooling, laid side by side by a Concat, and picked out by a
 * ChannelSelection (each kept position is a new atom derived from the one it picks). An Add
 * makes the atoms at each position of its inputs one: a *unit*, the set of atoms that can only be
 * removed together (a residual stream's channel across every block of a stage).
 *
 * A unit is scored by the BatchNorm positions that normalise its atoms. It is *free* when exactly
 * one BatchNorm position governs it (a VGG conv's channel, or a selection's kept position behind
 * its BatchNorm) and *tied* otherwise (the Add's inputs, a Concat read by several BatchNorms).
 * Units holding an input channel, a linear layer's output or a channel of an ignored layer are
 * *fixed*: never removed.
 *
 * This module is host-side bookkeeping over the graph's structure (a few ints per channel); the
 * values it ranks are |γ| read back once, and the tensors themselves are gathered on the GPU.
 */
import type { Graph } from '../nn/graph.js';
import { BatchNorm2d, ChannelSelection, Conv2d, Linear } from '../nn/layers.js';
import { PruneError } from './errors.js';

/** Layers whose output channels are their input's (and whose state, if any, is per channel). */
const PASS_THROUGH = new Set(['BatchNorm2d', 'ReLU', 'ReLU6', 'Dropout', 'MaxPool2d', 'AvgPool2d', 'GlobalAvgPool2d', 'Flatten']);

/** The channel structure of a graph. */
export interface ChannelGraph {
  readonly graph: Graph;
  /** Per node: the atom of each channel of its output (a Flatten's are its input's; each spans `hw` features of the Linear after it). */
  readonly chans: Int32Array[];
  /** Per atom: the atom a ChannelSelection's output atom picks, or −1. */
  readonly derivedFrom: Int32Array;
  /** Per atom: its unit (dense ids 0..units−1). */
  readonly unitOf: Int32Array;
  readonly units: number;
  /** Per unit: never removed (input channels, linear outputs, the graph's output, ignored layers). */
  readonly fixed: Uint8Array;
  /** BatchNorm node ids in module order, the start of each one's γ in the flat |γ| vector, and the total. */
  readonly bnIds: number[];
  readonly bnOffset: number[];
  readonly total: number;
  /** Per BatchNorm: the ChannelSelection right after it (the reference's masking through a selection), or null. */
  readonly selectionAfter: (ChannelSelection | null)[];
  /** Per flat γ position: the unit of the atom the BatchNorm normalises there. */
  readonly underUnit: Int32Array;
  /** Per flat γ position: the unit of the selection's atom it governs; −1 without a selection, −2 where the selection already drops it. */
  readonly derivedUnit: Int32Array;
  /** Per flat γ position: the atom the BatchNorm normalises there, and the selection's atom picking it (−1 none, −2 dropped). */
  readonly posAtom: Int32Array;
  readonly posDerivedAtom: Int32Array;
  /** Per unit: the flat γ positions that normalise it (its group's BatchNorm channels). */
  readonly members: number[][];
  /** Per node with `hw` (Linear after Flatten): features per input channel. */
  readonly hw: number[];
}

/**
 * Derives the channel structure of `graph`; `ignore` names layers whose channels are never
 * removed. Throws a PruneError naming the layer where the graph cannot be pruned through.
 */
export function analyseChannels(graph: Graph, ignore: readonly string[] = []): ChannelGraph {
  const nodes = graph.nodes;
  const consumers = graph.consumers();
  const parent: number[] = [];
  const derived: number[] = [];
  const fixedAtom: boolean[] = [];
  const atom = (from = -1, fixed = false): number => {
    parent.push(parent.length);
    derived.push(from);
    fixedAtom.push(fixed);
    return parent.length - 1;
  };
  const find = (a: number): number => {
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]!]!;
      a = parent[a]!;
    }
    return a;
  };
  const fresh = (n: number, fixed = false) => Int32Array.from({ length: n }, () => atom(-1, fixed));
  const chans: Int32Array[] = [];
  const hw: number[] = nodes.map(() => 1);
  for (const node of nodes) {
    const l = node.layer;
    const where = `${l.kind}${l.name ? ` ${l.name}` : ''}`;
    const input = node.inputs.map((i) => chans[i]!);
    if (node.id === 0) chans.push(fresh(graph.inChannels, true));
    else if (l instanceof Conv2d) {
      if (input[0]!.length !== l.inChannels) throw new PruneError(`prune: ${where} takes ${l.inChannels} channels, its input has ${input[0]!.length}`);
      if (l.groups === 1) chans.push(fresh(l.outChannels));
      else if (l.depthwise) chans.push(input[0]!); // one filter per channel: its output channel is its input channel
      else {
        // Grouped (or a depthwise channel multiplier): channels are tied within groups in ways the
        // pass does not follow; its inputs and outputs are kept whole.
        for (const a of input[0]!) fixedAtom[a] = true;
        chans.push(fresh(l.outChannels, true));
      }
    } else if (l instanceof Linear) {
      const c = input[0]!.length;
      if (c === 0 || l.inFeatures % c !== 0) throw new PruneError(`prune: ${where} takes ${l.inFeatures} features, which are not whole channels of its input's ${c}`);
      hw[node.id] = l.inFeatures / c;
      chans.push(fresh(l.outFeatures, true));
    } else if (l instanceof ChannelSelection) {
      const x = input[0]!;
      if (x.length !== l.channels) throw new PruneError(`prune: ${where} selects from ${l.channels} channels, its input has ${x.length}`);
      const mask = l.mask;
      const out: number[] = [];
      x.forEach((a, p) => {
        if (mask[p] !== 0) out.push(atom(a));
      });
      chans.push(Int32Array.from(out));
    } else if (l.kind === 'Add') {
      const [a, b] = input as [Int32Array, Int32Array];
      if (a.length !== b.length) throw new PruneError(`prune: ${where} adds ${a.length} to ${b.length} channels`);
      a.forEach((x, i) => {
        parent[find(x)] = find(b[i]!);
      });
      chans.push(a);
    } else if (l.kind === 'Concat') {
      const out = new Int32Array(input.reduce((s, x) => s + x.length, 0));
      let o = 0;
      for (const x of input) {
        out.set(x, o);
        o += x.length;
      }
      chans.push(out);
    } else if (PASS_THROUGH.has(l.kind)) {
      chans.push(input[0]!);
    } else {
      throw new PruneError(`prune: cannot follow channels through ${where} (kind ${l.kind}: its output channels are not its input's, and it is no layer the pruning pass knows)`);
    }
  }

  // Fixed atoms: the graph's output and every channel an ignored layer reads or writes.
  for (const a of chans[graph.output]!) fixedAtom[a] = true;
  for (const name of ignore) {
    const hits = nodes.filter((n) => n.id > 0 && n.layer.name === name);
    if (!hits.length) throw new PruneError(`prune: ignore names ${JSON.stringify(name)}, which is no layer of the graph`);
    for (const n of hits) for (const arr of [chans[n.id]!, ...n.inputs.map((i) => chans[i]!)]) for (const a of arr) fixedAtom[a] = true;
  }

  // Dense unit ids.
  const root = parent.map((_, a) => find(a));
  const dense = new Map<number, number>();
  const unitOf = Int32Array.from(root, (r) => {
    let u = dense.get(r);
    if (u === undefined) dense.set(r, (u = dense.size));
    return u;
  });
  const units = dense.size;
  const fixed = new Uint8Array(units);
  fixedAtom.forEach((f, a) => {
    if (f) fixed[unitOf[a]!] = 1;
  });

  // BatchNorm positions, in module order.
  const bnIds = nodes.filter((n) => n.layer instanceof BatchNorm2d).map((n) => n.id);
  const bnOffset: number[] = [];
  let total = 0;
  for (const id of bnIds) {
    bnOffset.push(total);
    total += (nodes[id]!.layer as BatchNorm2d).channels;
  }
  const underUnit = new Int32Array(total);
  const derivedUnit = new Int32Array(total).fill(-1);
  const posAtom = new Int32Array(total);
  const posDerivedAtom = new Int32Array(total).fill(-1);
  const members: number[][] = Array.from({ length: units }, () => []);
  const selectionAfter: (ChannelSelection | null)[] = [];
  bnIds.forEach((id, b) => {
    const bn = nodes[id]!.layer as BatchNorm2d;
    const next = consumers[id]!;
    const selects = next.filter((c) => nodes[c.node]!.layer instanceof ChannelSelection);
    if (selects.length && next.length !== 1) {
      throw new PruneError(`prune: BatchNorm2d ${bn.name} feeds a ChannelSelection and ${next.length - 1} other layer(s); a BatchNorm masked through a selection must feed it alone`);
    }
    const sel = selects.length ? selects[0]!.node : null;
    selectionAfter.push(sel === null ? null : (nodes[sel]!.layer as ChannelSelection));
    const x = chans[id]!;
    const selOut = sel === null ? null : chans[sel]!;
    let k = 0;
    for (let p = 0; p < bn.channels; p++) {
      const i = bnOffset[b]! + p;
      posAtom[i] = x[p]!;
      underUnit[i] = unitOf[x[p]!]!;
      members[underUnit[i]!]!.push(i);
      if (selOut) {
        const mask = selectionAfter[b]!.mask;
        if (mask[p] !== 0) {
          posDerivedAtom[i] = selOut[k]!;
          derivedUnit[i] = unitOf[selOut[k++]!]!;
          members[derivedUnit[i]!]!.push(i);
        } else {
          derivedUnit[i] = -2;
          posDerivedAtom[i] = -2;
        }
      }
    }
  });
  return { graph, chans, derivedFrom: Int32Array.from(derived), unitOf, units, fixed, bnIds, bnOffset, total, selectionAfter, underUnit, derivedUnit, posAtom, posDerivedAtom, members, hw };
}

/** How units are ranked and removed. */
export interface DecideOptions {
  coupled: 'keep' | 'prune';
  groupImportance: 'mean' | 'sum' | 'max';
  percent: number;
}

/** Which units a threshold removes, before safeguards. */
export interface Decision {
  /** Per unit: 1 = removed. */
  removed: Uint8Array;
  threshold: number;
  /** Per unit: whether it was ranked (free units in `'keep'` mode; every unfixed unit with a BatchNorm in `'prune'`). */
  ranked: Uint8Array;
  /** Per unit: its score (|γ| of its position, or the group's reduction); NaN when not ranked. */
  score: Float32Array;
  /** Number of ranked entries the threshold was taken over. */
  rankedCount: number;
}

/** Units that `'keep'` mode may remove: unfixed, governed by exactly one BatchNorm position (plain or through a selection). */
function freeUnit(cg: ChannelGraph, u: number): boolean {
  if (cg.fixed[u] || cg.members[u]!.length !== 1) return false;
  const i = cg.members[u]![0]!;
  return cg.derivedUnit[i] === u || (cg.derivedUnit[i] === -1 && cg.underUnit[i] === u);
}

/**
 * Scores and thresholds. `'keep'`: the reference's threshold sorted[floor(total·percent)] over
 * every |γ|, and each free unit with |γ| ≤ threshold removed. `'prune'`: every unfixed unit with
 * a BatchNorm position is scored by reducing its positions' |γ| and ranked; the threshold is
 * sorted[floor(ranked·percent)] over those scores; units scoring ≤ threshold are removed.
 */
export function decide(cg: ChannelGraph, absGamma: Float32Array, o: DecideOptions): Decision {
  const removed = new Uint8Array(cg.units);
  const ranked = new Uint8Array(cg.units);
  const score = new Float32Array(cg.units).fill(NaN);
  for (let u = 0; u < cg.units; u++) {
    const m = cg.members[u]!;
    if (o.coupled === 'keep') {
      if (!freeUnit(cg, u)) continue;
      score[u] = absGamma[m[0]!]!;
    } else {
      if (cg.fixed[u] || !m.length) continue;
      let s = 0;
      for (const i of m) s = o.groupImportance === 'max' ? Math.max(s, absGamma[i]!) : s + absGamma[i]!;
      score[u] = o.groupImportance === 'mean' ? s / m.length : s;
    }
    ranked[u] = 1;
  }
  let pool: Float32Array;
  if (o.coupled === 'keep') pool = Float32Array.from(absGamma);
  else {
    const xs: number[] = [];
    for (let u = 0; u < cg.units; u++) if (ranked[u]) xs.push(score[u]!);
    pool = Float32Array.from(xs);
  }
  pool.sort();
  const k = Math.floor(pool.length * o.percent); // in double, as the reference (90·0.7 → 62)
  const threshold = pool.length ? pool[Math.min(k, pool.length - 1)]! : 0;
  for (let u = 0; u < cg.units; u++) if (ranked[u] && !(score[u]! > threshold)) removed[u] = 1;
  return { removed, threshold, ranked, score, rankedCount: pool.length };
}

/** Which atoms survive: an atom lives when its unit is kept and, for a selection's atom, the atom it picks lives. */
export function aliveAtoms(cg: ChannelGraph, removed: Uint8Array): Uint8Array {
  const n = cg.unitOf.length;
  const alive = new Uint8Array(n);
  // A derived atom is always made after the atom it picks, so one pass in id order suffices.
  for (let a = 0; a < n; a++) {
    const from = cg.derivedFrom[a]!;
    alive[a] = removed[cg.unitOf[a]!] ? 0 : from < 0 ? 1 : alive[from]!;
  }
  return alive;
}

/**
 * Units no layer reads any more: every convolution or linear layer that could read one of their
 * atoms reads it through a selection that drops it. Removing them changes no output.
 */
export function unreadUnits(cg: ChannelGraph, removed: Uint8Array): number[] {
  const alive = aliveAtoms(cg, removed);
  const read = new Uint8Array(cg.units);
  const g = cg.graph;
  for (const node of g.nodes) {
    const l = node.layer;
    if (!(l instanceof Conv2d || l instanceof Linear)) continue;
    for (const a of cg.chans[node.inputs[0]!]!) read[cg.unitOf[a]!] = 1;
  }
  for (const a of cg.chans[g.output]!) read[cg.unitOf[a]!] = 1;
  for (let a = 0; a < cg.derivedFrom.length; a++) {
    const from = cg.derivedFrom[a]!;
    if (from >= 0 && alive[a]) read[cg.unitOf[from]!] = 1;
  }
  const out: number[] = [];
  for (let u = 0; u < cg.units; u++) if (!read[u] && !removed[u] && !cg.fixed[u]) out.push(u);
  return out;
}
