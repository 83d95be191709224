/**
 * The recipe of a slimming run (SLIM_RECIPE, slimRecipe) and the check before a prune
 * (sparsityWarning): small and static; the run itself (slimToTarget, src/slim/pipeline.ts) is
 * loaded on first use.
 */
import { ShapeError } from '../errors.js';
import type { PruneReport } from './prune.js';

/** The training schedule of `slim.slimToTarget`. */
export interface SlimRecipe {
  /** Epochs in all: sparse training, then fine-tuning. */
  epochs: number;
  /** Of which fine-tuning the pruned model. */
  finetuneEpochs: number;
  /** s of the L1 penalty on BatchNorm γ during sparse training (after the warm-up). */
  sparsity: number;
  /** Sparse-phase epochs trained first at s = 0. */
  warmupEpochs: number;
  /** Learning rate of sparse training. */
  lr: number;
  /** Learning rate of fine-tuning. */
  finetuneLr: number;
  /** How each phase's learning rate falls (see TrainOptions.lrSchedule). */
  lrSchedule: 'step' | 'cosine';
  /** Fold the pruned channels' constant output into the next layer (PruneOptions.compensate). */
  compensate: boolean;
  /**
   * Gradual pruning: at the end of each of the last `gradualEpochs` sparse epochs but the final one,
   * mask a growing share of the target's channels (γ = β = 0, kept there), the whole target one
   * epoch before the end of sparse training, so the network learns without them before the cut
   * (0: one prune after sparse training).
   */
  gradualEpochs: number;
  /** Rank channels by |γ| / c^a, c the FLOPs a channel costs (PruneOptions.costExponent; 0: |γ| alone). */
  costExponent: number;
  /** Augment (pad 4, random crop, flip) while fine-tuning too; sparse training always does, for image datasets. */
  finetuneAugment: boolean;
}

/**
 * The default recipe, chosen by measurement on the demo network (VGG-11 at 1/8 width) and the full
 * Fashion-MNIST, 12 epochs in all (bench/results/recipe-torch.md; the README's "Slimming to a
 * target" gives the figures): 8 sparse epochs at s = 2e-3 and lr 0.1 falling by a cosine to 0, the
 * target masked gradually after sparse epochs 6 and 7 (half, then all of it), channels ranked by
 * |γ| over their FLOPs cost, then 4 fine-tuning epochs at lr 0.01 (cosine) without augmentation.
 */
export const SLIM_RECIPE: Readonly<SlimRecipe> = Object.freeze({
  epochs: 12,
  finetuneEpochs: 4,
  sparsity: 2e-3,
  warmupEpochs: 0,
  lr: 0.1,
  finetuneLr: 0.01,
  lrSchedule: 'cosine',
  compensate: true,
  gradualEpochs: 2,
  costExponent: 1,
  finetuneAugment: false,
});

/**
 * The fraction of the median kept |γ| above which a prune's threshold means the γ are not sparse
 * yet: after sparse training the pruned |γ| sit near 0 (≈1e-3) and the kept ones near 0.1–1, so
 * the ratio is ~0.01; on a dense network (the reference at s = 0, or too few sparse epochs) the
 * channels below the threshold are as large as those above it, and the prune takes signal away.
 */
export const SPARSITY_WARNING_RATIO = 0.1;

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : 0;
};

/**
 * The warning to give before a prune that takes away channels whose |γ| are not far below the ones
 * it keeps (see SPARSITY_WARNING_RATIO), or null: from a prune's report (its gammaSeparation), or
 * from a threshold on |γ| and the model's BatchNorm γ (batchNormGammas).
 *
 * @example
 * ```ts
 * import { slim } from 'netslim';
 *
 * const gammas = [{ name: 'feature.1', gamma: new Float32Array([0.4, 0.5, 0.45, 0.6]) }];
 * console.log(slim.sparsityWarning(0.45, gammas)); // γ are not sparse yet: … (a dense network)
 * console.log(slim.sparsityWarning(0.001, [{ name: 'feature.1', gamma: new Float32Array([0.0005, 0.001, 0.4, 0.6]) }])); // null
 * console.log(slim.sparsityWarning({ gammaSeparation: { removedMax: 0.002, keptMedian: 0.5 } })); // null
 * ```
 */
export function sparsityWarning(report: Pick<PruneReport, 'gammaSeparation'>): string | null;
export function sparsityWarning(threshold: number, gammas: readonly { name: string; gamma: Float32Array }[]): string | null;
export function sparsityWarning(a: number | Pick<PruneReport, 'gammaSeparation'>, gammas: readonly { name: string; gamma: Float32Array }[] = []): string | null {
  let removed: number;
  let m: number;
  let what: string;
  if (typeof a === 'number') {
    const kept: number[] = [];
    for (const g of gammas) for (const v of g.gamma) if (Math.abs(v) > a) kept.push(Math.abs(v));
    removed = a;
    m = median(kept);
    what = 'the prune threshold';
  } else {
    ({ removedMax: removed, keptMedian: m } = a.gammaSeparation);
    what = 'the largest pruned |γ|';
  }
  if (!(m > 0) || removed < SPARSITY_WARNING_RATIO * m) return null;
  return (
    `γ are not sparse yet: ${what} ${removed.toPrecision(3)} is ${((100 * removed) / m).toFixed(0)} % of the median kept |γ| ${m.toPrecision(3)}, ` +
    'so the channels it removes still carry signal and accuracy may collapse; train longer with sparsity or a larger s (--sparsity) first'
  );
}

/**
 * The recipe with the options' overrides, checked (a ShapeError names a value that cannot run).
 *
 * @example
 * ```ts
 * import { slim } from 'netslim';
 *
 * const r = slim.slimRecipe({ epochs: 20, finetuneEpochs: 5 });
 * console.log(r.epochs - r.finetuneEpochs, r.sparsity); // 15 0.01
 * ```
 */
export function slimRecipe(options: Partial<SlimRecipe> = {}): SlimRecipe {
  const r: SlimRecipe = { ...SLIM_RECIPE };
  for (const k of Object.keys(SLIM_RECIPE) as (keyof SlimRecipe)[]) if (options[k] !== undefined) (r as unknown as Record<string, unknown>)[k] = options[k];
  const int = (name: string, v: number, min: number) => {
    if (!(Number.isInteger(v) && v >= min)) throw new ShapeError(`slim: ${name} ${v} must be an integer ≥ ${min}`);
  };
  int('epochs', r.epochs, 2);
  int('finetuneEpochs', r.finetuneEpochs, 1);
  int('warmupEpochs', r.warmupEpochs, 0);
  int('gradualEpochs', r.gradualEpochs, 0);
  // the default gradual pruning fits short runs: at most every sparse epoch but the last
  if (options.gradualEpochs === undefined) r.gradualEpochs = Math.max(0, Math.min(r.gradualEpochs, r.epochs - r.finetuneEpochs - 1));
  if (r.finetuneEpochs >= r.epochs) throw new ShapeError(`slim: finetuneEpochs ${r.finetuneEpochs} leaves no sparse training in ${r.epochs} epochs`);
  if (r.warmupEpochs >= r.epochs - r.finetuneEpochs) throw new ShapeError(`slim: warmupEpochs ${r.warmupEpochs} leaves no sparse epoch of the ${r.epochs - r.finetuneEpochs}`);
  if (r.gradualEpochs >= r.epochs - r.finetuneEpochs) throw new ShapeError(`slim: gradualEpochs ${r.gradualEpochs} must be fewer than the ${r.epochs - r.finetuneEpochs} sparse epochs`);
  for (const [k, v] of [['sparsity', r.sparsity], ['lr', r.lr], ['finetuneLr', r.finetuneLr], ['costExponent', r.costExponent]] as const) {
    if (!(Number.isFinite(v) && v >= 0)) throw new ShapeError(`slim: ${k} ${v} must be a finite number ≥ 0`);
  }
  if (typeof r.finetuneAugment !== 'boolean' || typeof r.compensate !== 'boolean') throw new ShapeError(`slim: finetuneAugment and compensate must be booleans (got ${String(r.finetuneAugment)}, ${String(r.compensate)})`);
  if (r.lrSchedule !== 'step' && r.lrSchedule !== 'cosine') throw new ShapeError(`slim: lrSchedule ${String(r.lrSchedule)} is not 'step' or 'cosine'`);
  return r;
}
