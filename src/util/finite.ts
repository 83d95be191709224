/** Non-finite values in a state dict, for the messages of loading, import and export. */
import type { StateValues } from '../nn/model.js';

/**
 * `N tensors hold NaN or ±Inf: a.weight (3 of 64), …` for the float tensors of `state` that hold
 * any, naming up to four with how many of their values are bad; null when all are finite.
 */
export function nonFiniteMessage(state: StateValues): { first: string; message: string } | null {
  const bad: string[] = [];
  let first = '';
  for (const [name, v] of state) {
    if (!(v.data instanceof Float32Array)) continue;
    let n = 0;
    for (const x of v.data) if (!Number.isFinite(x)) n++;
    if (n) {
      first ||= name;
      bad.push(`${name} (${n} of ${v.data.length})`);
    }
  }
  if (!bad.length) return null;
  const more = bad.length > 4 ? ` and ${bad.length - 4} more` : '';
  return { first, message: `${bad.length} tensor${bad.length === 1 ? ' holds' : 's hold'} NaN or ±Inf: ${bad.slice(0, 4).join(', ')}${more}` };
}
