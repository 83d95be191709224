/**
 * What `slim.prune` will do, from γ read back once: `slim.planFromGammas` runs the pass's own
 * decisions (threshold, channel groups, safeguards, compact graph, per-layer parameters and
 * FLOPs) on the host, for any architecture, so the preview follows the slider without touching
 * the GPU. The page checks that prune's report says the same.
 */
import { slim, type Model } from 'netslim';

/** A prune report with the number of channels kept, as the page shows it. */
export type Preview = slim.PruneReport & { keptChannels: number };

/** The prune preview of `model`, whose BatchNorms have the γ in `gammas`; `inputSize` is [C, H, W] of one image. */
export function previewPrune(model: Model, gammas: slim.LayerGammas[], percent: number, inputSize: [number, number, number]): Preview {
  const report = slim.planFromGammas(model, gammas, percent, { inputSize });
  return { ...report, keptChannels: report.totalChannels - report.prunedChannels };
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
  same('channels', p.layers, r.layers);
  same('pruned channels', p.prunedChannels, r.prunedChannels);
  same('params', [p.paramsBefore, p.paramsAfter], [r.paramsBefore, r.paramsAfter]);
  same('FLOPs', [p.flopsBefore, p.flopsAfter], [r.flopsBefore, r.flopsAfter]);
  same('per-layer costs', p.layerCosts, r.layerCosts);
  return out;
}
