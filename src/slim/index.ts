/** Network Slimming: `slim.prune(model, 0.4, options)` → `{ model, report }`. */
export { prune, countFlops, layerCosts, type LayerCost, PruneError, type PruneOptions, type PruneReport, type LayerReport } from './prune.js';
