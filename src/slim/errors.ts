/** Errors of the slimming pass. */
import { NetslimError } from '../errors.js';

/**
 * Pruning cannot be done as asked (e.g. `strict` and a layer would lose every channel, a target
 * that cannot be met, an `ignore` name that matches no layer, a graph it cannot follow).
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
