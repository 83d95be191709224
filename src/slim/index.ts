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
export { slimToTarget, slimRecipe, sparsityWarning, SLIM_RECIPE, SPARSITY_WARNING_RATIO, type SlimRecipe, type SlimOptions, type SlimResult, type SlimStage, type SlimPhase, type SlimResume } from './pipeline.js';
