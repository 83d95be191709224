/**
 * SGD over a model's parameters, as torch.optim.SGD with one parameter group, plus Network
 * Slimming's sparsity subgradient s·sign(γ) on every BatchNorm weight (the reference's updateBN),
 * fused into the same kernel.
 */
import { sgdStep, zeroGradWhereZero } from '../ops/sgd.js';
import { BatchNorm2d } from '../nn/layers.js';
import type { Model } from '../nn/model.js';

/** Hyperparameters of {@link SGD} (defaults: momentum 0.9, weight decay 1e-4, sparsity 0). */
export interface SgdConfig {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  /** s of the L1 penalty on BatchNorm γ (0: plain training). */
  sparsity?: number;
  /**
   * Keep every BatchNorm channel whose γ is exactly zero at zero (its γ and β gradients are
   * zeroed before each update). Default: on when the model was pruned in mask mode.
   */
  freezeZeroGamma?: boolean;
}

/**
 * SGD with momentum and weight decay over every trainable slot of a model, with Network
 * Slimming's s·sign(γ) on BatchNorm weights. The {@link Trainer} uses it; use it directly to write
 * your own loop.
 *
 * @example
 * ```ts
 * import { init, models, ops, SGD } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { cfg: [8, 'M', 16, 'M', 16], numClasses: 4 });
 * const opt = new SGD(model, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, sparsity: 1e-4 });
 * const x = ctx.tensor([4, 3, 8, 8], Float32Array.from({ length: 4 * 3 * 64 }, (_, i) => Math.sin(i)));
 * const labels = ctx.tensor([4], [0, 1, 2, 3], 'u32');
 * const logits = model.forward(x, true);
 * const { loss } = ops.softmaxCrossEntropy(ctx, logits, labels, { dlogits: model.outputGrad(x) });
 * model.backward(x);
 * opt.step();
 * console.log(await ctx.readF32(loss), opt.steps); // Float32Array [≈1.39] 1
 * ctx.destroy();
 * ```
 */
export class SGD {
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  sparsity: number;
  /** Keep every zero γ and its β at zero (a mask-pruned model); may be turned on between steps. */
  freezeZeroGamma: boolean;
  /** Steps taken; the first one initialises the momentum buffers (buf = d), as PyTorch does. */
  steps = 0;

  constructor(
    readonly model: Model,
    config: SgdConfig,
  ) {
    this.lr = config.lr;
    this.momentum = config.momentum ?? 0.9;
    this.weightDecay = config.weightDecay ?? 1e-4;
    this.sparsity = config.sparsity ?? 0;
    this.freezeZeroGamma = config.freezeZeroGamma ?? model.meta.pruning === 'mask';
  }

  /** Records one update of every trainable slot from its `grad`. */
  step(): void {
    const firstStep = this.steps === 0;
    if (this.freezeZeroGamma) {
      for (const bn of this.model.batchNorms()) {
        const gamma = bn.slot('weight');
        zeroGradWhereZero(this.model.ctx, gamma.value!, bn.slot('bias').grad!);
        zeroGradWhereZero(this.model.ctx, gamma.value!, gamma.grad!);
      }
    }
    for (const { layer, slot } of this.model.parameters()) {
      const sparsity = layer instanceof BatchNorm2d && slot.key === 'weight' ? this.sparsity : 0;
      sgdStep(this.model.ctx, slot.value!, slot.grad!, slot.momentum!, {
        lr: this.lr,
        momentum: this.momentum,
        weightDecay: this.weightDecay,
        sparsity,
        firstStep,
      });
    }
    this.steps++;
  }
}
