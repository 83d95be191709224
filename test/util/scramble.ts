// Seeded test weights for the slimming and export tests: every BatchNorm2d gets γ on a 0.05 grid
// in [−1, 1] (so the global threshold has ties), β ~ N(0, 0.3), running mean ~ N(0, 0.2) and
// running variance in [0.5, 1.5); optionally one layer gets tiny γ (~1e-4, all pruned) and the
// Linear layers get fresh weights and biases.
import { BatchNorm2d, Linear } from '../../src/nn/layers.js';
import type { Model, StateValues } from '../../src/nn/model.js';
import { normal, rng } from './random.js';

export interface ScrambleOptions {
  /** γ on the 0.05 grid (default true), else uniform in [−1, 1). */
  ties?: boolean;
  /** Index (in module order) of the BatchNorm2d whose γ are all tiny. */
  tinyGamma?: number;
  /** Also draw the Linear weights ~ N(0, 1/in) and biases ~ N(0, 0.1) (default false). */
  linear?: boolean;
}

/** Loads seeded weights (see above) into `model` and returns the state dict it now holds. */
export async function scramble(model: Model, seed: number, opts: ScrambleOptions = {}): Promise<StateValues> {
  const r = rng(seed);
  const state = await model.stateDict();
  const get = (name: string, k: string) => state.get(`${name}.${k}`)!.data as Float32Array;
  let bn = 0;
  model.graph.layers().forEach((l, i) => {
    if (l instanceof BatchNorm2d) {
      const g = get(l.name, 'weight');
      for (let c = 0; c < g.length; c++) {
        g[c] = bn === opts.tinyGamma ? (r() - 0.5) * 1e-4 : opts.ties === false ? (r() - 0.5) * 2 : Math.round((r() - 0.5) * 40) / 20;
      }
      get(l.name, 'bias').set(normal(l.channels, seed + bn, 0.3));
      get(l.name, 'running_mean').set(normal(l.channels, seed + 100 + bn, 0.2));
      const v = get(l.name, 'running_var');
      for (let c = 0; c < v.length; c++) v[c] = 0.5 + r();
      bn++;
    } else if (l instanceof Linear && opts.linear) {
      get(l.name, 'weight').set(normal(l.inFeatures * l.outFeatures, seed + 200 + i, 1 / Math.sqrt(l.inFeatures)));
      get(l.name, 'bias').set(normal(l.outFeatures, seed + 300 + i, 0.1));
    }
  });
  model.loadStateDict(state);
  return state;
}
