/**
 * Waiting for the GPU, one policy for the library, the CLI, the example page and the benchmarks.
 *
 * Dawn in Node busy-polls a CPU core while a promise on GPU work is pending, and SwiftShader (the
 * CPU adapter of machines without a GPU) computes on those same cores: a VGG-16 step at batch 16
 * took 7.3–8.1 s when the last 40 % of it was busy-polled and 6.1–6.5 s when it was slept
 * through. So a waiter first sleeps a fraction of the time the same work took before, then
 * awaits. In browsers the await does not spin; the sleep costs nothing there either.
 */
import type { Context } from './context.js';
import type { Model } from '../nn/model.js';

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise<void>((r) => setTimeout(r, ms));

/** Below this, sleeping before a wait costs more (timer granularity) than the busy-polling it saves. */
export const MIN_SLEEP_MS = 10;

/**
 * How long to sleep before awaiting work that took `waits` ms before (the fastest of them ×
 * `fraction`), or 0 when that is under MIN_SLEEP_MS or nothing was measured yet.
 */
export function sleepBefore(waits: readonly number[], fraction: number): number {
  if (!waits.length || fraction === 0) return 0;
  const est = fraction * Math.min(...waits);
  return est >= MIN_SLEEP_MS ? est : 0;
}

/**
 * Waits for submitted work of `units` units (e.g. samples) with the policy above: it sleeps
 * `fraction` × the fastest of the last 8 measured times per unit × `units` (the first wait, with
 * pipeline compilation in it, is not counted), then syncs. A measurement is max(GPU time, sleep),
 * so the estimate stays at or above the GPU time and follows it down by up to 1 − `fraction` per
 * call when the work gets faster.
 */
export class GpuWaiter {
  #msPerUnit: number[] = [];
  #first = true;
  constructor(
    private readonly ctx: Context,
    private readonly fraction = 0.9,
  ) {}

  /** The sleep the next wait of `units` units will take (0 before anything was measured). */
  sleepFor(units: number): number {
    return sleepBefore(this.#msPerUnit.map((m) => m * units), this.fraction);
  }

  /** Flushes, sleeps, syncs (throwing any GPU error) and records the time per unit; returns the ms it took. */
  async wait(units = 1): Promise<number> {
    const t0 = performance.now();
    this.ctx.flush();
    const ms = this.sleepFor(units);
    if (ms > 0) await sleep(ms);
    await this.ctx.sync();
    const took = performance.now() - t0;
    // the first wait includes compiling the pipelines: not an estimate of the next
    if (!this.#first) this.#msPerUnit.push(took / units);
    this.#first = false;
    if (this.#msPerUnit.length > 8) this.#msPerUnit.shift();
    return took;
  }
}

/** Options of {@link measureLatency}. */
export interface LatencyOptions {
  /** Timed forwards per model after one warm-up each (default 5). */
  runs?: number;
  /** Called after each forward (a progress bar; in a page, a chance to paint: may return a promise). */
  onRun?: () => void | Promise<void>;
}

/**
 * The median wall-clock time (ms) of one eval-mode forward of each model on `input` ([N, C, H, W]
 * of seeded values): a warm-up forward each (activations, pipelines), then `runs` forwards
 * interleaved across the models, each submitted and waited for (sleeping through most of the time
 * the same forward took before, as Dawn in Node busy-polls a core while it waits). The
 * activations are released at the end.
 *
 * @example
 * ```ts
 * import { init, models, slim, measureLatency } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { depth: 11 });
 * const { model: pruned } = await slim.prune(model, 0.5);
 * const [before, after] = await measureLatency(ctx, [model, pruned], [8, 3, 32, 32], { runs: 3 });
 * console.log(`${before.toFixed(1)} ms → ${after.toFixed(1)} ms`);
 * ctx.destroy();
 * ```
 */
export async function measureLatency(ctx: Context, models: readonly Model[], input: readonly [number, number, number, number], options: LatencyOptions = {}): Promise<number[]> {
  const runs = options.runs ?? 5;
  let seed = 7;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const x = ctx.tensor([...input], Float32Array.from({ length: input.reduce((a, b) => a * b, 1) }, rand), 'f32', 'latency input');
  const waiters = models.map(() => new GpuWaiter(ctx, 0.6));
  const once = async (k: number) => {
    const t0 = performance.now();
    models[k]!.forward(x, false);
    await waiters[k]!.wait();
    const ms = performance.now() - t0;
    await options.onRun?.();
    return ms;
  };
  try {
    for (let k = 0; k < models.length; k++) await once(k);
    const times = models.map(() => [] as number[]);
    for (let r = 0; r < runs; r++) for (let k = 0; k < models.length; k++) times[k]!.push(await once(k));
    return times.map((t) => {
      const s = [...t].sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    });
  } finally {
    for (const m of models) m.releaseActivations();
    x.destroy();
  }
}
