/**
 * Soak benchmark: long runs must not leak. A small VGG trains for --steps SGD steps (1,000 by
 * default, with the sparsity term, through the Trainer as `netslim train` runs it), then
 * `slim.prune` runs --prunes times (100) on the trained model, each pruned model destroyed. Every
 * --every steps (and prune calls) it records the live GPU buffers (`ctx.liveBuffers`) and the JS
 * heap after a full garbage collection. The first step of training allocates the model's
 * activations and gradients, and the first prune calls (five distinct percents, cycled) fill the
 * context's bounded caches (uniform buffers, at most 4096, and the scratch pool); from each
 * phase's first sample on, the live buffers must not move, and the heap must grow by less than
 * --max-heap-mb over the whole run.
 *
 *   npm run bench -- --only soak [--steps N] [--prunes N] [--every N] [--max-heap-mb M] [--out FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { datasetFromTensors } from '../src/data/datasets.js';
import { vgg } from '../src/nn/models.js';
import { prune } from '../src/slim/prune.js';
import { Trainer } from '../src/train/trainer.js';
import { openContext, releaseGpu } from './peers.js';
import { adapterRecord, flagParsers, table, uniform } from './util.js';

const USAGE = `usage: npm run bench -- --only soak [options]
  --steps N          training steps (default 1000; quick 100)
  --prunes N         prune calls after training (default 100; quick 10)
  --every N          sample every N steps / prune calls (default 100 / 10)
  --max-heap-mb M    largest JS heap growth allowed over the run, after GC (default 16)
  --out FILE         JSON output (default bench/results/soak.json; quick: a file in the OS temp dir)`;

const { intFlag, numFlag, parse } = flagParsers('bench soak', USAGE);
const flags = parse({
  quick: { type: 'boolean', default: false },
  steps: { type: 'string' },
  prunes: { type: 'string' },
  every: { type: 'string' },
  'max-heap-mb': { type: 'string' },
  'sleep-frac': { type: 'string' },
  out: { type: 'string' },
});
const quick = flags.quick!;
const STEPS = intFlag('steps', flags.steps, quick ? 100 : 1000, 10);
const PRUNES = intFlag('prunes', flags.prunes, quick ? 10 : 100, 1);
const EVERY = intFlag('every', flags.every, quick ? 10 : 100, 1);
const MAX_HEAP_MB = numFlag('max-heap-mb', flags['max-heap-mb'], 16);
const root = fileURLToPath(new URL('../..', import.meta.url)); // from bench/.build/soak.js
const out = flags.out ?? (quick ? path.join((await import('node:os')).tmpdir(), 'netslim-soak-quick.json') : path.join(root, 'bench/results/soak.json'));

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Sample {
  phase: 'train' | 'prune';
  at: number;
  liveBuffers: number;
  heapMB: number;
  ms: number;
}

const BATCH = 16;
const N = BATCH * 10; // 10 steps per epoch
const { ctx, fellBack } = await openContext({});
const samples: Sample[] = [];
const t0 = performance.now();
const sample = async (phase: Sample['phase'], at: number) => {
  await ctx.sync();
  gc();
  samples.push({ phase, at, liveBuffers: ctx.liveBuffers, heapMB: process.memoryUsage().heapUsed / 2 ** 20, ms: performance.now() - t0 });
  const s = samples.at(-1)!;
  console.error(`[soak] ${phase} ${at}: ${s.liveBuffers} live GPU buffers, heap ${s.heapMB.toFixed(1)} MB, ${(s.ms / 1000).toFixed(1)} s`);
};

const data = datasetFromTensors(uniform(N * 32 * 32, 3), [N, 1, 32, 32], Int32Array.from({ length: N }, (_, i) => i % 10));
const model = vgg(ctx, { cfg: [8, 'M', 16, 'M', 32, 'M', 32, 'M', 32], inChannels: 1, numClasses: 10, seed: 1 });
const epochs = Math.ceil(STEPS / 10);
const trainer = new Trainer(model, data, null, { epochs, batchSize: BATCH, lr: 0.05, sparsity: 1e-4, progressIntervalMs: 1e9 });
await sample('train', 0);
const baseline = samples[0]!;
for (let e = 0; e < epochs; e++) {
  await trainer.trainEpoch();
  trainer.epoch++;
  const steps = (e + 1) * 10;
  if (steps % EVERY === 0 || e === epochs - 1) await sample('train', steps);
}
for (let p = 1; p <= PRUNES; p++) {
  const { model: pruned } = await prune(model, 0.3 + 0.4 * ((p % 5) / 5));
  pruned.destroy();
  if (p >= 5 && (p % Math.max(5, Math.floor(EVERY / 10)) === 0 || p === PRUNES)) await sample('prune', p);
}
const last = samples.at(-1)!;
trainer.destroy();
model.destroy();
await ctx.sync();
const afterDestroy = ctx.liveBuffers;

const heapGrowth = last.heapMB - baseline.heapMB;
const phase = (p: Sample['phase']) => samples.filter((x) => x.phase === p && x.at > 0);
const flat = (xs: Sample[]) => xs.every((x) => x.liveBuffers === xs[0]!.liveBuffers);
const train = phase('train');
const prunes = phase('prune');
const verdict = {
  live_buffers_flat: flat(train) && flat(prunes),
  train_live_buffers: [train[0]!.liveBuffers, train.at(-1)!.liveBuffers],
  prune_live_buffers: [prunes[0]!.liveBuffers, prunes.at(-1)!.liveBuffers],
  heap_growth_mb: heapGrowth,
  heap_ok: heapGrowth < MAX_HEAP_MB,
  live_buffers_after_destroy: afterDestroy,
};
console.log(
  `\nnetslim soak — ${new Date().toISOString()} — adapter ${ctx.adapter.description || ctx.adapter.architecture}${ctx.adapter.isSwiftShader ? ' (SwiftShader, CPU)' : ''}\n` +
    `${STEPS} training steps (VGG cfg [8,M,16,M,32,M,32,M,32] on 1×32×32, batch ${BATCH}, sparsity 1e-4), then ${PRUNES} prune calls (0.3–0.62)\n`,
);
console.log(
  table(
    ['phase', 'at', 'live GPU buffers', 'JS heap MB (after GC)', 'elapsed s'],
    samples.map((s) => [s.phase, String(s.at), String(s.liveBuffers), s.heapMB.toFixed(1), (s.ms / 1000).toFixed(1)]),
    [false, true, true, true, true],
  ),
);
console.log(
  `\nlive GPU buffers: ${baseline.liveBuffers} before training; ${verdict.train_live_buffers.join(' → ')} from step ${train[0]!.at} to ${train.at(-1)!.at}; ` +
    `${verdict.prune_live_buffers.join(' → ')} from prune call ${prunes[0]!.at} to ${prunes.at(-1)!.at} (${verdict.live_buffers_flat ? 'flat' : 'NOT FLAT'}); ` +
    `${afterDestroy} after destroying the model (the context's caches). JS heap ${baseline.heapMB.toFixed(1)} → ${last.heapMB.toFixed(1)} MB ` +
    `(${heapGrowth >= 0 ? '+' : ''}${heapGrowth.toFixed(1)} MB, limit ${MAX_HEAP_MB} MB: ${verdict.heap_ok ? 'ok' : 'GROWING'})`,
);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ adapter: adapterRecord(ctx, 'netslim', fellBack), date: new Date().toISOString(), node: process.version, settings: { steps: STEPS, prunes: PRUNES, every: EVERY, batch: BATCH, max_heap_mb: MAX_HEAP_MB }, samples, verdict }, null, 2) + '\n');
console.log(`Wrote ${path.relative(process.cwd(), out)}.`);
ctx.destroy();
releaseGpu();
if (!verdict.live_buffers_flat || !verdict.heap_ok) process.exitCode = 1;
