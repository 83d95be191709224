/** Seeded data, layout conversions, comparison and small statistics for the kernel benchmark. */

import { parseArgs } from 'node:util';
import type { Context } from '../src/gpu/context.js';
import { rng } from '../src/util/random.js';

export { rng };

/** n float32 values uniform in [lo, hi). */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

/** Row-major [rows, cols] → [cols, rows]. */
export function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/** [N, C, H, W] → [N, H, W, C]. */
export function nchwToNhwc(a: Float32Array, [N, C, H, W]: readonly number[]): Float32Array {
  const out = new Float32Array(a.length);
  const hw = H! * W!;
  for (let n = 0; n < N!; n++)
    for (let c = 0; c < C!; c++) {
      const src = (n * C! + c) * hw;
      for (let p = 0; p < hw; p++) out[(n * hw + p) * C! + c] = a[src + p]!;
    }
  return out;
}

/** [N, H, W, C] → [N, C, H, W]; `shape` is the NCHW shape. */
export function nhwcToNchw(a: Float32Array, [N, C, H, W]: readonly number[]): Float32Array {
  const out = new Float32Array(a.length);
  const hw = H! * W!;
  for (let n = 0; n < N!; n++)
    for (let c = 0; c < C!; c++) {
      const dst = (n * C! + c) * hw;
      for (let p = 0; p < hw; p++) out[dst + p] = a[(n * hw + p) * C! + c]!;
    }
  return out;
}

/** PyTorch weights [O, I, KH, KW] → tfjs filters [KH, KW, I, O]. */
export function oihwToHwio(a: Float32Array, [O, I, KH, KW]: readonly number[]): Float32Array {
  const out = new Float32Array(a.length);
  for (let o = 0; o < O!; o++)
    for (let i = 0; i < I!; i++)
      for (let y = 0; y < KH!; y++)
        for (let x = 0; x < KW!; x++) out[((y * KW! + x) * I! + i) * O! + o] = a[((o * I! + i) * KH! + y) * KW! + x]!;
  return out;
}

/** tfjs filters [KH, KW, I, O] → PyTorch [O, I, KH, KW]; `shape` is the OIHW shape. */
export function hwioToOihw(a: Float32Array, [O, I, KH, KW]: readonly number[]): Float32Array {
  const out = new Float32Array(a.length);
  for (let o = 0; o < O!; o++)
    for (let i = 0; i < I!; i++)
      for (let y = 0; y < KH!; y++)
        for (let x = 0; x < KW!; x++) out[((o * I! + i) * KH! + y) * KW! + x] = a[((y * KW! + x) * I! + i) * O! + o]!;
  return out;
}

export interface Comparison {
  /** Worst over the outputs of max|a − b| / max|ref|. */
  relErr: number;
  /** The output with the worst error. */
  worst: string;
  /** Human-readable detail of every output. */
  detail: string;
  ok: boolean;
}

/**
 * Compares every named output of `got` with `ref`: the error of one output is
 * max|got − ref| / max|ref| (so it is relative to the output's scale, and a few values near zero
 * cannot blow it up); any NaN/Inf in `got`, or a missing output or length mismatch, fails.
 */
export function compare(got: Record<string, Float32Array>, ref: Record<string, Float32Array>, rtol: number): Comparison {
  let relErr = 0;
  let worst = '';
  const parts: string[] = [];
  let ok = true;
  for (const [name, r] of Object.entries(ref)) {
    const g = got[name];
    if (!g || g.length !== r.length) {
      ok = false;
      relErr = Infinity;
      worst = name;
      parts.push(`${name}: ${g ? `${g.length} values, expected ${r.length}` : 'missing'}`);
      continue;
    }
    let maxRef = 0;
    let maxDiff = 0;
    let at = 0;
    let bad = 0;
    for (let i = 0; i < r.length; i++) {
      const a = g[i]!;
      const b = r[i]!;
      maxRef = Math.max(maxRef, Math.abs(b));
      const d = Number.isFinite(a) ? Math.abs(a - b) : Infinity;
      if (!(d <= maxDiff)) {
        maxDiff = d;
        at = i;
      }
    }
    const e = maxDiff / Math.max(maxRef, 1e-30);
    for (let i = 0; i < r.length; i++) {
      const a = g[i]!;
      if (!(Math.abs(a - r[i]!) <= rtol * Math.max(maxRef, 1e-30))) bad++;
    }
    if (!(e <= rtol)) ok = false;
    if (!(e <= relErr)) {
      relErr = e;
      worst = name;
    }
    parts.push(
      `${name}: rel err ${e.toExponential(2)}` + (e <= rtol ? '' : ` (${bad}/${r.length} values off; worst at [${at}]: ${g[at]} vs ${r[at]})`),
    );
  }
  return { relErr, worst, detail: parts.join('; '), ok };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function geomean(xs: readonly number[]): number {
  return Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
}

import { sleep } from '../src/gpu/wait.js';
export { sleep };

/**
 * Runs `record()` (which records GPU work on `ctx`) as one submit and waits for it: with `gpu`, the
 * compute passes are timed by GPU timestamps. dawn.node busy-polls while a promise is pending,
 * taking one of the cores SwiftShader computes on, so it first sleeps `sleepMs`. Returns the wall
 * clock ms, the ms until the submit (recording) and the GPU ms (null without `gpu`).
 */
export async function submitAndWait(ctx: Context, record: () => void, sleepMs: number, gpu: boolean): Promise<{ ms: number; recordMs: number; gpuMs: number | null }> {
  const t0 = performance.now();
  if (gpu) ctx.startGpuTimer();
  record();
  const readTimer = gpu ? ctx.stopGpuTimer() : null; // submits
  if (!gpu) ctx.flush();
  const recordMs = performance.now() - t0;
  if (sleepMs > 0) await sleep(sleepMs);
  const gpuMs = readTimer ? await readTimer() : null;
  await ctx.sync();
  return { ms: performance.now() - t0, recordMs, gpuMs };
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

export function fmtNum(x: number | null | undefined, digits = 2): string {
  if (x == null || !Number.isFinite(x)) return '—';
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(digits);
}

/** Plain-text table: columns padded to their widest cell; numbers right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], rightAlign: readonly boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (rightAlign[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Flag parsers that exit with code 2 and the usage text on a bad value (`prefix: message`). */
type FlagOption = { type: 'string' | 'boolean'; short?: string; default?: string | boolean };
/** What parseArgs gives for `options`: booleans for boolean flags, strings for string flags. */
type FlagValues<O> = { [K in keyof O]: O[K] extends { type: 'boolean' } ? boolean | undefined : string | undefined };

export function flagParsers(prefix: string, usage: string) {
  const die = (msg: string): never => {
    console.error(`${prefix}: ${msg}\n${usage}`);
    process.exit(2);
  };
  const intFlag = (name: string, v: string | undefined, dflt: number, min: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) die(`--${name} must be an integer ≥ ${min}, got ${v}`);
    return n;
  };
  const numFlag = (name: string, v: string | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!(n > 0)) die(`--${name} must be a positive number, got ${v}`);
    return n;
  };
  const listFlag = <T extends string>(name: string, v: string | undefined, allowed: readonly T[], dflt: readonly T[]): T[] => {
    if (v === undefined) return [...dflt];
    if (v === 'none' || v === '') return [];
    const items = v.split(',').map((s) => s.trim()) as T[];
    for (const it of items) if (!allowed.includes(it)) die(`--${name}: unknown "${it}" (allowed: ${allowed.join(', ')})`);
    return [...new Set(items)];
  };
  /** Parses argv strictly with `options` plus -h/--help (prints the usage and exits 0); a bad flag dies. */
  const parse = <const O extends Record<string, FlagOption>>(options: O): FlagValues<O> => {
    let values: FlagValues<O> & { help?: boolean };
    try {
      values = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h', default: false } }, strict: true }).values as unknown as FlagValues<O> & { help?: boolean };
    } catch (e) {
      return die((e as Error).message);
    }
    if (values.help) {
      console.log(usage);
      process.exit(0);
    }
    return values;
  };
  return { die, intFlag, numFlag, listFlag, parse };
}

/** Failures of this benchmark run (mismatches, errors); the exit status reads `count`. */
export const failures = { count: 0 };

/** Counts a failure and prints it so that it stands out in a long log. */
export function loud(msg: string): void {
  failures.count++;
  console.error(`\n!!!!!!!! ${msg}\n`);
}

/** An error as one line: `Name: message`. */
export function errText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** The adapter as the benchmarks' JSON records it. */
export function adapterRecord(ctx: Context, name: string, fellBack: boolean) {
  return { name, ...ctx.adapter, fell_back_to_swiftshader: fellBack, timestampQuery: ctx.timestamps, subgroups: ctx.subgroups, variants: ctx.variants };
}
