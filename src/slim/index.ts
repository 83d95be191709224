/** Network Slimming: `slim.prune(model, 0.4, options)` → `{ model, report }`. */
export {
  prune,
  plan,
  planFromGammas,
  type PruneAmount,
  pruneIterative,
  cloneModel,
  countFlops,
  layerCosts,
  type LayerCost,
  PruneError,
  type PruneOptions,
  type IterativePruneOptions,
  type PruneReport,
  type LayerReport,
} from './prune.js';
export { batchNormGammas, channelBarsPlot, formatPruneTable, gammaHistogramPlot, pruneAccuracyNote, pruneReportSvg, type ChartOptions, type LayerGammas, type ReportSvgOptions } from './report.js';
export { SLIM_RECIPE, SPARSITY_WARNING_RATIO, slimRecipe, sparsityWarning, type SlimRecipe } from './recipe.js';
export { slimToTarget } from './run.js';
export type { SlimOptions, SlimResult, SlimStage, SlimPhase, SlimResume } from './pipeline.js';
