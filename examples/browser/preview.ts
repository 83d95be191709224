/**
 * What `slim.prune` will do, computed on the host from |γ| read back once: the global threshold
 * (sorted[floor(total·percent)] over every BatchNorm's |γ| in float32, keep |γ| > threshold, at
 * least `minChannels` per layer, as prune's default safeguard), the pruned VGG cfg, and its
 * per-layer parameters and FLOPs from `slim.layerCosts` on the graph built from that cfg. The
 * page shows this while the slider moves and checks that prune's report says the same.
 */
import { models, slim, type ModelMeta } from '../../src/index.js';

/** One BatchNorm: channels it has and keeps. */
export interface PreviewLayer {
  name: string;
  before: number;
  after: number;
  /** Set when the min-channels safeguard acted (the same words as prune's report). */
  safeguard?: string;
}

/** Parameters and FLOPs of one layer with state, before and after. */
export interface PreviewCost {
  name: string;
  kind: string;
  paramsBefore: number;
  paramsAfter: number;
  flopsBefore: number;
  flopsAfter: number;
}

export interface Preview {
  percent: number;
  threshold: number;
  totalChannels: number;
  keptChannels: number;
  layers: PreviewLayer[];
  cfg: (number | 'M')[];
  paramsBefore: number;
  paramsAfter: number;
  flopsBefore: number;
  flopsAfter: number;
  layerCosts: PreviewCost[];
}

/**
 * The prune preview of a VGG whose BatchNorms (in module order) have the γ in `gammas`.
 * `inputSize` is [C, H, W] of one image, as prune's `inputSize` option.
 */
export function previewPrune(gammas: slim.LayerGammas[], meta: ModelMeta, percent: number, inputSize: [number, number, number], minChannels = 1): Preview {
  if (meta.arch !== 'vgg' || !meta.cfg) throw new Error(`preview: only VGG models (got ${meta.arch})`);
  const total = gammas.reduce((n, g) => n + g.gamma.length, 0);
  // |γ| in float32, as the GPU pass ranks them; Float32Array sorts numerically.
  const sorted = new Float32Array(total);
  let o = 0;
  for (const g of gammas) for (const v of g.gamma) sorted[o++] = Math.abs(v);
  sorted.sort();
  const k = Math.floor(total * percent); // in double, as the reference and prune()
  const threshold = sorted[Math.min(k, total - 1)]!;
  const layers = gammas.map(({ name, gamma }) => {
    let after = 0;
    for (const v of gamma) if (Math.abs(v) > threshold) after++;
    const floor = Math.min(minChannels, gamma.length);
    if (after < floor) return { name, before: gamma.length, after: floor, safeguard: `min-channels: kept ${floor} instead of ${after}` };
    return { name, before: gamma.length, after };
  });
  let i = 0;
  const cfg = meta.cfg.map((v) => (v === 'M' ? v : layers[i++]!.after));
  if (i !== layers.length) throw new Error(`preview: the cfg has ${i} conv layers but ${layers.length} BatchNorms were read`);
  const before = slim.layerCosts(models.graphFromMeta(meta).graph, inputSize);
  const after = new Map(slim.layerCosts(models.graphFromMeta({ ...meta, cfg }).graph, inputSize).map((c) => [`${c.kind}:${c.name}`, c]));
  const layerCosts = before.map((b) => {
    const a = after.get(`${b.kind}:${b.name}`);
    if (!a) throw new Error(`preview: the pruned graph has no ${b.kind} ${b.name}`);
    return { name: b.name, kind: b.kind, paramsBefore: b.params, paramsAfter: a.params, flopsBefore: b.flops, flopsAfter: a.flops };
  });
  const sum = (f: (c: PreviewCost) => number) => layerCosts.reduce((s, c) => s + f(c), 0);
  return {
    percent,
    threshold,
    totalChannels: total,
    keptChannels: layers.reduce((s, l) => s + l.after, 0),
    layers,
    cfg,
    paramsBefore: sum((c) => c.paramsBefore),
    paramsAfter: sum((c) => c.paramsAfter),
    flopsBefore: sum((c) => c.flopsBefore),
    flopsAfter: sum((c) => c.flopsAfter),
    layerCosts,
  };
}

/**
 * Where prune's report differs from the preview (empty when they agree): threshold, cfg,
 * channels and safeguards per layer, and every parameter and FLOP count.
 */
export function previewMismatches(p: Preview, r: slim.PruneReport): string[] {
  const out: string[] = [];
  const same = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${what}: preview ${JSON.stringify(a)}, prune ${JSON.stringify(b)}`);
  };
  same('threshold', p.threshold, r.threshold);
  same('cfg', p.cfg, r.cfg);
  same('channels', p.layers, r.layers.map((l) => ({ name: l.name, before: l.before, after: l.after, ...(l.safeguard ? { safeguard: l.safeguard } : {}) })));
  same('pruned channels', p.totalChannels - p.keptChannels, r.prunedChannels);
  same('params', [p.paramsBefore, p.paramsAfter], [r.paramsBefore, r.paramsAfter]);
  same('FLOPs', [p.flopsBefore, p.flopsAfter], [r.flopsBefore, r.flopsAfter]);
  same('per-layer costs', p.layerCosts, r.layerCosts);
  return out;
}
