/**
 * One tolerance policy for every numeric test. An element passes when
 *   |actual − expected| ≤ atol · scale + rtol · |expected|
 * where `scale` is max |expected| over the tensor (1 when that is below 1), so sums whose terms
 * cancel to near zero are judged against the size of the tensor, not of that one element.
 *
 * - `exact`: gathers, copies, compaction — bit-identical (also −0 vs +0 is checked by value only).
 * - `forward`: float32 kernels vs a float64 reference. A float32 sum of K terms carries a relative
 *   error up to about K·2⁻²⁴ in the worst case and √K·2⁻²⁴ typically; test shapes keep K ≤ ~5000,
 *   so 1e-5·scale absolute + 1e-4 relative leaves an order of magnitude of margin.
 * - `gradient`: backward kernels reduce over batch·H·W terms too (K up to ~2·10⁴ here) and chain two
 *   rounding steps, hence 1e-4 absolute (scaled) + 1e-3 relative.
 * - `finiteDiff`: the float64 reference's analytic gradient vs central differences of its own
 *   float64 forward (h = 1e-3 gives a truncation error ~h² ≈ 1e-6 of the third derivative).
 */
import { recordResult } from './lane-record.js';

export interface Tolerance {
  atol: number;
  rtol: number;
}

export const TOL = {
  exact: { atol: 0, rtol: 0 },
  forward: { atol: 1e-5, rtol: 1e-4 },
  gradient: { atol: 1e-4, rtol: 1e-3 },
  finiteDiff: { atol: 1e-5, rtol: 1e-4 },
} satisfies Record<string, Tolerance>;

export interface CompareResult {
  ok: boolean;
  maxAbsErr: number;
  maxRelErr: number;
  failures: string[];
}

/** Compares element-wise; returns the worst errors and the first few mismatches. */
export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): CompareResult {
  const failures: string[] = [];
  if (actual.length !== expected.length) {
    return { ok: false, maxAbsErr: Infinity, maxRelErr: Infinity, failures: [`length ${actual.length} != expected ${expected.length}`] };
  }
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  let maxAbsErr = 0;
  let maxRelErr = 0;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Math.abs(a - e);
    if (!(Number.isFinite(a) || a === e)) {
      bad++;
      if (failures.length < 8) failures.push(`[${i}] actual ${a} expected ${e}`);
      maxAbsErr = Infinity;
      continue;
    }
    maxAbsErr = Math.max(maxAbsErr, err);
    if (e !== 0) maxRelErr = Math.max(maxRelErr, err / Math.abs(e));
    if (err > tol.atol * scale + tol.rtol * Math.abs(e)) {
      bad++;
      if (failures.length < 8) failures.push(`[${i}] actual ${a} expected ${e} (err ${err.toExponential(2)})`);
    }
  }
  if (bad > failures.length) failures.push(`… ${bad - failures.length} more`);
  return { ok: bad === 0, maxAbsErr, maxRelErr, failures };
}

/** Throws a readable error when `actual` is not within `tol` of `expected`. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what: string): void {
  recordResult(what, actual);
  const r = compare(actual, expected, tol);
  if (!r.ok) {
    throw new Error(
      `${what}: not within atol ${tol.atol}·scale + rtol ${tol.rtol} (max abs err ${r.maxAbsErr.toExponential(3)}, ` +
        `max rel err ${r.maxRelErr.toExponential(3)}):\n  ${r.failures.join('\n  ')}`,
    );
  }
}

/** Bit-exact comparison of two float32 arrays (NaN payloads and the sign of zero included). */
export function expectBitExact(actual: Float32Array, expected: Float32Array, what: string): void {
  recordResult(what, actual);
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} != ${expected.length}`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) throw new Error(`${what}: element ${i} is ${actual[i]} (0x${a[i]!.toString(16)}), expected ${expected[i]} (0x${e[i]!.toString(16)})`);
  }
}
