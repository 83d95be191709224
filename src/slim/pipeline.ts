/**
 * From a model to a smaller one that keeps its accuracy, in one call: sparse training, a prune to
 * a FLOPs (and/or parameters) target, fine-tuning. `slim.slimToTarget` runs the three phases with
 * a recipe for short budgets (SLIM_RECIPE); the CLI's `netslim slim` saves every stage and resumes.
 */
import type { Dataset } from '../data/datasets.js';
import { ShapeError } from '../errors.js';
import { slimRecipe, sparsityWarning, type SlimRecipe } from './recipe.js';
import type { Model } from '../nn/model.js';
import { Trainer, evaluate, type EpochResult, type StepProgress } from '../train/trainer.js';
import { layerCosts, plan, prune, type PruneAmount, type PruneOptions, type PruneReport } from './prune.js';
import { pruneAccuracyNote } from './report.js';
import { analyseChannels } from './channels.js';
import { zeroGradWhereZero } from '../ops/sgd.js';

/** A phase of {@link slimToTarget}. */
export type SlimPhase = 'sparse' | 'prune' | 'finetune';

/** One model of the run, measured. */
export interface SlimStage {
  stage: 'original' | 'sparse' | 'pruned' | 'finetuned';
  /** Test accuracy (null without a test split). */
  accuracy: number | null;
  params: number;
  flops: number;
}

/** Where {@link slimToTarget} continues an interrupted run (the CLI keeps this in `slim.json`). */
export interface SlimResume {
  /** The phase to continue: sparse training, or fine-tuning of `model` (the pruned model). */
  phase: 'sparse' | 'finetune';
  /**
   * Restores the phase's trainer as the interrupted run left it (e.g. loadTrainingState with its
   * saved state); absent: the phase starts from its first epoch.
   */
  restore?: (trainer: Trainer) => void;
  /** The stages measured before the interruption. */
  stages: SlimStage[];
  /** The prune's report, when the run was past it. */
  report?: PruneReport;
}

/** Options of {@link slimToTarget}: the target, the recipe's overrides, and hooks. */
export interface SlimOptions extends Partial<SlimRecipe> {
  /** Fraction of the FLOPs to keep at most. */
  targetFlops?: number;
  /** Fraction of the parameters to keep at most. */
  targetParams?: number;
  batchSize?: number;
  seed?: number;
  /** Pruning options (coupled groups, ignored layers, minimum channels …); the target and `compensate` come from above. */
  prune?: Omit<PruneOptions, 'compensate'>;
  /** Progress within an epoch. */
  onStep?: (phase: SlimPhase, p: StepProgress) => void;
  /** After each epoch (save checkpoints here: the trainer's model and saveTrainingState(trainer)); awaited. */
  onEpoch?: (phase: 'sparse' | 'finetune', e: EpochResult, trainer: Trainer) => void | Promise<void>;
  /** With each model measured: the original (at the start of a run that is not resumed), then after each phase (sparse, pruned, fine-tuned); awaited. */
  onStage?: (stage: SlimStage, model: Model, report?: PruneReport) => void | Promise<void>;
  /** A warning (the prune is about to collapse the network, or did); default: none printed. */
  onWarning?: (message: string) => void;
  /** Continue an interrupted run (see SlimResume): `model` is then that phase's model. */
  resume?: SlimResume;
  /** Stops between two steps; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What {@link slimToTarget} returns. */
export interface SlimResult {
  /** The pruned, fine-tuned model. */
  model: Model;
  report: PruneReport;
  /** original (when the run started from it), sparse, pruned, fine-tuned. */
  stages: SlimStage[];
  warnings: string[];
}

function checkFraction(name: string, v: number | undefined): void {
  if (v !== undefined && !(v > 0 && v < 1)) throw new ShapeError(`slim: ${name} ${v} must be a fraction in (0, 1)`);
}

async function measure(stage: SlimStage['stage'], model: Model, test: Dataset | null, size: [number, number, number], batchSize: number, signal?: AbortSignal): Promise<SlimStage> {
  const costs = layerCosts(model.graph, size);
  const accuracy = test ? (await evaluate(model, test, { batchSize, ...(signal ? { signal } : {}) })).accuracy : null;
  return { stage, accuracy, params: costs.reduce((a, c) => a + c.params, 0), flops: costs.reduce((a, c) => a + c.flops, 0) };
}

/** The prune's options for a run (compensation where the graph allows it) and its amount, the target(s). */
function pruneSetup(model: Model, options: SlimOptions, recipe: SlimRecipe, size: [number, number, number], warn: (m: string) => void): { pruneOptions: PruneOptions; amount: PruneAmount } {
  // Compensation folds a removed channel's constant output into the next layer, which a removed
  // coupled group (a residual stream) does not have: with coupled 'prune' it applies only to
  // graphs without coupled groups (where 'keep' and 'prune' are the same prune).
  const grouped = analyseChannels(model.graph, options.prune?.ignore ?? []).members.some((m) => m.length > 1);
  const coupled = options.prune?.coupled ?? 'keep';
  const compensate = recipe.compensate && !(coupled === 'prune' && grouped);
  if (recipe.compensate && !compensate) warn("bias compensation is off: the model's coupled channel groups are pruned (coupled 'prune'), and a removed group has no constant output to fold");
  const pruneOptions: PruneOptions = { costExponent: recipe.costExponent, ...options.prune, coupled: grouped ? coupled : 'keep', compensate, inputSize: size };
  const { targetFlops: flops, targetParams: params } = options;
  const amount = (flops !== undefined ? { flops, ...(params !== undefined ? { params } : {}) } : { params: params! }) as PruneAmount;
  return { pruneOptions, amount };
}

/**
 * Masks the channels a prune of `amount` would remove in `model` itself: γ and β from a mask-mode
 * prune (GPU copies), and the momentum of γ and β zeroed where γ now is, so training with
 * freezeZeroGamma keeps them at zero.
 */
async function maskInPlace(model: Model, amount: PruneAmount, options: PruneOptions): Promise<void> {
  const ctx = model.ctx;
  const { model: masked } = await prune(model, amount, { ...options, compensate: false, mode: 'mask' });
  try {
    const mine = model.batchNorms();
    const theirs = masked.batchNorms();
    mine.forEach((bn, i) => {
      const src = theirs[i]!;
      for (const key of ['weight', 'bias']) ctx.copy(src.slot(key).value!, bn.slot(key).value!);
      const gamma = bn.slot('weight').value!;
      for (const key of ['weight', 'bias']) {
        const m = bn.slot(key).momentum;
        if (m) zeroGradWhereZero(ctx, gamma, m);
      }
    });
    ctx.flush();
  } finally {
    masked.destroy();
  }
}

/** The run behind `slim.slimToTarget` (src/slim/run.ts, which loads this module on first use). */
export async function slimToTarget(model: Model, train: Dataset, test: Dataset | null, options: SlimOptions = {}): Promise<SlimResult> {
  const recipe = slimRecipe(options);
  checkFraction('targetFlops', options.targetFlops);
  checkFraction('targetParams', options.targetParams);
  if (options.targetFlops === undefined && options.targetParams === undefined) throw new ShapeError('slim: give targetFlops, targetParams or both');
  const batchSize = options.batchSize ?? 64;
  const seed = options.seed ?? 1;
  const size: [number, number, number] = [train.channels, train.height, train.width];
  const signal = options.signal;
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    options.onWarning?.(m);
  };
  const resume = options.resume;
  const stages: SlimStage[] = resume ? [...resume.stages] : [];
  const sparseEpochs = recipe.epochs - recipe.finetuneEpochs;
  const common = { batchSize, seed, lrSchedule: recipe.lrSchedule, ...(signal ? { signal } : {}) };

  let pruned: Model;
  let report: PruneReport;
  if (!resume || resume.phase === 'sparse') {
    if (!resume) {
      const original = await measure('original', model, test, size, batchSize, signal);
      stages.push(original);
      await options.onStage?.(original, model);
    }
    const { pruneOptions, amount } = pruneSetup(model, options, recipe, size, warn);
    // Gradual pruning: the sparse epochs after which a share of the target is masked (the last
    // one of them masks all of it), and the share at each.
    const firstMask = sparseEpochs - 1 - recipe.gradualEpochs;
    const maskAfter = async (epoch: number, trainer: Trainer): Promise<void> => {
      const step = epoch - firstMask + 1; // 1 after epoch firstMask … gradualEpochs after the next-to-last sparse epoch
      if (recipe.gradualEpochs === 0 || step < 1 || step > recipe.gradualEpochs) return;
      const share: PruneAmount = step < recipe.gradualEpochs ? ((await plan(model, amount, pruneOptions)).percent * step) / recipe.gradualEpochs : amount;
      await maskInPlace(model, share, pruneOptions);
      trainer.optimizer.freezeZeroGamma = true;
    };
    const trainer = new Trainer(model, train, test, {
      ...common,
      epochs: sparseEpochs,
      lr: recipe.lr,
      sparsity: recipe.sparsity,
      sparsitySchedule: (e) => (e < recipe.warmupEpochs ? 0 : recipe.sparsity),
      onStep: (p) => options.onStep?.('sparse', p),
      onEpoch: async (e) => {
        await maskAfter(e.epoch, trainer);
        await options.onEpoch?.('sparse', e, trainer);
      },
    });
    try {
      resume?.restore?.(trainer);
      // a resumed run past its first mask keeps the masked channels at zero
      if (recipe.gradualEpochs > 0 && trainer.epoch > firstMask) trainer.optimizer.freezeZeroGamma = true;
      await trainer.fit();
    } finally {
      trainer.destroy();
    }
    const sparse = await measure('sparse', model, test, size, batchSize, signal);
    stages.push(sparse);
    await options.onStage?.(sparse, model);

    signal?.throwIfAborted();
    ({ model: pruned, report } = await prune(model, amount, pruneOptions));
    const sparseNote = sparsityWarning(report);
    if (sparseNote) warn(sparseNote);
    const after = await measure('pruned', pruned, test, size, batchSize, signal);
    stages.push(after);
    if (test && sparse.accuracy !== null && after.accuracy !== null) {
      const note = pruneAccuracyNote(sparse.accuracy, after.accuracy, model.meta.numClasses, report.threshold);
      if (note) warn(note);
    }
    options.onStep?.('prune', { epoch: 0, epochs: 1, step: 1, steps: 1, loss: NaN, accuracy: after.accuracy ?? NaN, imagesPerSec: 0, etaSec: 0, lr: 0 });
    await options.onStage?.(after, pruned, report);
  } else {
    if (!resume.report) throw new ShapeError('slim: resuming fine-tuning needs the prune report');
    pruned = model;
    report = resume.report;
  }

  const tuner = new Trainer(pruned, train, test, {
    ...common,
    epochs: recipe.finetuneEpochs,
    lr: recipe.finetuneLr,
    sparsity: 0,
    // without augmentation by default: the pruned network underfits more than it overfits
    ...(recipe.finetuneAugment ? {} : { augment: false }),
    onStep: (p) => options.onStep?.('finetune', p),
    onEpoch: async (e) => {
      await options.onEpoch?.('finetune', e, tuner);
    },
  });
  try {
    if (resume?.phase === 'finetune') resume.restore?.(tuner);
    await tuner.fit();
  } finally {
    tuner.destroy();
  }
  const done = await measure('finetuned', pruned, test, size, batchSize, signal);
  stages.push(done);
  await options.onStage?.(done, pruned, report);
  return { model: pruned, report, stages, warnings };
}
