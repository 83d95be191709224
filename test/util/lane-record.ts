/**
 * Cross-lane record: every GPU result a test checks (through expectClose / expectBitExact) is also
 * summarised per lane in test/artifacts/lanes/<lane>/<test file>.json, and
 * build/compare-lanes.mjs checks after the run that the Node and Chromium lanes produced the
 * same numbers. The summary keeps the first values and whole-tensor sums, enough to catch a lane
 * that computes something else without storing every activation.
 */
import { expect } from 'vitest';

const HEAD = 256;

interface Summary {
  n: number;
  head: number[];
  sum: number;
  sumAbs: number;
}

const records = new Map<string, Summary>();

function summarize(a: ArrayLike<number>): Summary {
  let sum = 0;
  let sumAbs = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    sum += v;
    sumAbs += Math.abs(v);
  }
  return { n: a.length, head: Array.from({ length: Math.min(HEAD, a.length) }, (_, i) => a[i]!), sum, sumAbs };
}

/** Records a checked result under the current test's name and `what`. */
export function recordResult(what: string, actual: ArrayLike<number>): void {
  const state = expect.getState();
  const base = `${state.currentTestName ?? 'no test'} :: ${what}`;
  let key = base;
  for (let i = 2; records.has(key); i++) key = `${base} #${i}`;
  records.set(key, summarize(actual));
}

/** Returns and clears what was recorded so far in this test file. */
export function takeRecords(): Record<string, Summary> {
  const out = Object.fromEntries(records);
  records.clear();
  return out;
}
