/**
 * The input weights of the PyTorch pruning fixtures, computed from each state_dict key and element
 * index exactly as test/fixtures/make_prune_fixtures.py does (its docstring is the specification):
 *   h = FNV-1a-32(key), u = fmix32(h ^ j·0x9E3779B1), r = u / 2³² (all mod 2³², r exact in double);
 *   BatchNorm γ = floor(u·41/2³²)/20 − 1, tiny γ = (r − 0.5)·1e-4, running_var = 0.5 + r,
 *   anything else r − 0.5; each computed in double and rounded once to float32.
 * `num_batches_tracked` and `select.indexes` are left as they are.
 */
import type { StateValues } from '../../src/nn/model.js';

export type HashedKind = 'gamma' | 'tiny' | 'var' | 'plain';

const TWO32 = 4294967296;

/** FNV-1a, 32 bits, over the UTF-8 bytes of `s`. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

/** murmur3's 32-bit finaliser. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The n values of tensor `key` of the given kind. */
export function hashedValues(key: string, n: number, kind: HashedKind): Float32Array {
  const h = fnv1a32(key);
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const u = mix32(h ^ Math.imul(j, 0x9e3779b1));
    const r = u / TWO32;
    if (kind === 'gamma') out[j] = Math.floor((u * 41) / TWO32) / 20 - 1;
    else if (kind === 'tiny') out[j] = (r - 0.5) * 1e-4;
    else if (kind === 'var') out[j] = 0.5 + r;
    else out[j] = r - 0.5;
  }
  return out;
}

/**
 * A copy of `state` with every float tensor replaced by the formula. `batchNorms` are the
 * BatchNorm prefixes (`feature.1`, `layer1.0.bn2`); the one named `tiny` gets tiny γ.
 */
export function hashedStateDict(state: StateValues, batchNorms: Iterable<string>, tiny?: string): StateValues {
  const bns = new Set(batchNorms);
  const out: StateValues = new Map();
  for (const [key, v] of state) {
    const dot = key.lastIndexOf('.');
    const prefix = key.slice(0, dot);
    const leaf = key.slice(dot + 1);
    if (leaf === 'num_batches_tracked' || leaf === 'indexes' || !(v.data instanceof Float32Array)) {
      out.set(key, v);
      continue;
    }
    const bn = bns.has(prefix);
    const kind: HashedKind = bn && leaf === 'weight' ? (prefix === tiny ? 'tiny' : 'gamma') : bn && leaf === 'running_var' ? 'var' : 'plain';
    out.set(key, { shape: [...v.shape], data: hashedValues(key, v.data.length, kind) });
  }
  return out;
}
