/**
 * `slim.slimToTarget`, loading the run (src/slim/pipeline.ts) on first use, so a page that only
 * trains and prunes does not download it.
 */
import type { Dataset } from '../data/datasets.js';
import type { Model } from '../nn/model.js';
import type { SlimOptions, SlimResult } from './pipeline.js';

/**
 * Slims `model` to a target: sparse training (L1 on BatchNorm γ), a prune whose global threshold
 * keeps at most `targetFlops` of the FLOPs (and `targetParams` of the parameters; the stricter
 * wins), then fine-tuning of the pruned model. `model` is trained in place; the result's model is a
 * new one. Warns (onWarning, and in the result) when the γ are not sparse enough for the prune, and
 * when the pruned network's accuracy falls to chance.
 *
 * @example
 * ```ts
 * import { init, models, datasetFromTensors, slim } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = Float32Array.from({ length: 16 * 3 * 8 * 8 }, (_, i) => Math.sin(i));
 * const data = datasetFromTensors(x, [16, 3, 8, 8], Int32Array.from({ length: 16 }, (_, i) => i % 2));
 * const model = models.vgg(ctx, { cfg: [8, 'M', 8], numClasses: 2, inputSize: 8 });
 * const r = await slim.slimToTarget(model, data, data, { targetFlops: 0.5, epochs: 3, finetuneEpochs: 1, batchSize: 8 });
 * for (const s of r.stages) console.log(s.stage, s.flops, s.accuracy);
 * ctx.destroy();
 * ```
 */
export async function slimToTarget(model: Model, train: Dataset, test: Dataset | null, options: SlimOptions = {}): Promise<SlimResult> {
  const { slimToTarget: run } = await import('./pipeline.js');
  return run(model, train, test, options);
}
