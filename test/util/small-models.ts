// The three small networks the slimming and export tests build: a VGG with a custom cfg on 8×8
// input, a ResNet-11 and a DenseNet-7 on 32×32 (seeded initialisation).
import type { Context } from '../../src/gpu/context.js';
import type { Model } from '../../src/nn/model.js';
import { densenet, resnet, vgg } from '../../src/nn/models.js';

export interface ModelCase {
  name: string;
  make: (ctx: Context) => Model;
  /** One input image [C, H, W]. */
  input: [number, number, number];
}

export const SMALL_MODELS: ModelCase[] = [
  { name: 'vgg', make: (ctx) => vgg(ctx, { cfg: [8, 'M', 12, 'M', 10, 6], seed: 2 }), input: [3, 8, 8] },
  { name: 'resnet11', make: (ctx) => resnet(ctx, { depth: 11, seed: 3 }), input: [3, 32, 32] },
  { name: 'densenet7', make: (ctx) => densenet(ctx, { depth: 7, seed: 4 }), input: [3, 32, 32] },
];
