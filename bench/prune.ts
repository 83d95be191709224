/**
 * Prune benchmark: the time of the slimming pass (`slim.prune`: |γ| read-back, global threshold over
 * free channels and coupled groups, compaction) on VGG-19, ResNet-164 (streams kept or pruned),
 * ResNet-18 and MobileNetV2, and the inference latency of the original
 * against the pruned model, next to the FLOP ratio the pruning promises. The issue's target is a
 * measured speed-up of at least 0.9 × the FLOP ratio. See bench/README.md.
 *
 *   npm run bench -- --only prune [--quick] [--nets vgg19,resnet164] [--vgg-percent P]
 *                    [--resnet-percent P] [--gamma uniform,depth] [--infer-batch N] [--runs N]
 *                    [--prune-runs N] [--profile] [--out FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from '../src/gpu/context.js';
import type { Tensor } from '../src/gpu/tensor.js';
import type { Model } from '../src/nn/model.js';
import * as models from '../src/nn/models.js';
import { resnet, vgg } from '../src/nn/models.js';
import { prune, type PruneReport } from '../src/slim/prune.js';
import { analyseChannels } from '../src/slim/channels.js';
import { openContext, releaseGpu } from './peers.js';
import { adapterRecord, errText, failures, flagParsers, fmtMs, fmtNum, loud, median, rng, submitAndWait, table, uniform } from './util.js';
import { MIN_SLEEP_MS, sleepBefore } from '../src/gpu/wait.js';

// ------------------------------------------------------------------ flags

/** Timed replays of each dispatch under --profile (after one untimed one); the fastest counts. */
const PROFILE_RUNS = 3;

/** The networks, with the paper's pruning percent for each (Liu et al. 2017, CIFAR-10). */
interface NetSpec {
  label: string;
  percentFlag: string;
  percent: number;
  /** How channels tied across BatchNorms are treated (PruneOptions.coupled). */
  coupled: 'keep' | 'prune';
  make: (ctx: Context) => Model;
}
const NETS = {
  vgg19: { label: 'VGG-19', percentFlag: 'vgg-percent', percent: 0.7, coupled: 'keep', make: (ctx: Context) => vgg(ctx, { depth: 19, seed: 1 }) },
  resnet164: { label: 'ResNet-164', percentFlag: 'resnet-percent', percent: 0.4, coupled: 'keep', make: (ctx: Context) => resnet(ctx, { depth: 164, seed: 1 }) },
  'resnet164-coupled': { label: 'ResNet-164', percentFlag: 'resnet-percent', percent: 0.4, coupled: 'prune', make: (ctx: Context) => resnet(ctx, { depth: 164, seed: 1 }) },
  resnet18: { label: 'ResNet-18', percentFlag: 'resnet18-percent', percent: 0.4, coupled: 'prune', make: (ctx: Context) => models.resnet18(ctx, { seed: 1 }) },
  mobilenetv2: { label: 'MobileNetV2', percentFlag: 'mobilenet-percent', percent: 0.4, coupled: 'prune', make: (ctx: Context) => models.mobilenetV2(ctx, { seed: 1 }) },
} satisfies Record<string, NetSpec>;

type NetName = keyof typeof NETS;
const NET_NAMES = Object.keys(NETS) as NetName[];
const GAMMAS = ['uniform', 'depth', 'grouped'] as const;
type Gamma = (typeof GAMMAS)[number];

const USAGE = `usage: npm run bench -- --only prune [options]   (or: npm run bench:prune -- [options])
  --quick              inference at batch 8, 1 timed run of everything; JSON to a temporary file,
                       never bench/results/prune.json (smoke test)
  --nets LIST          comma list of ${NET_NAMES.join(',')} (default all); resnet164-coupled prunes
                       the residual streams too (coupled: 'prune'), as resnet18 and mobilenetv2 do
  --vgg-percent P      fraction of VGG-19's BatchNorm channels to prune (default 0.7, the paper's)
  --resnet-percent P   fraction of ResNet-164's channels to prune, both rows (default 0.4, the paper's)
  --resnet18-percent P, --mobilenet-percent P   the same for ResNet-18 and MobileNetV2 (default 0.4)
  --gamma LIST         BatchNorm γ spread to prune: uniform (|γ| iid, every layer thinned alike),
                       depth (|γ| shrinking with depth, late layers thinned most) and/or grouped (one
                       draw per channel group, so residual streams thin like free channels)
                       (default uniform)
  --infer-batch N      inference batch size (default 64; quick 8)
  --runs N             timed inference runs per model, after one warm-up run (default 7; quick 1)
  --prune-runs N       timed prune passes, after one warm-up pass (default 5; quick 1)
  --sleep-frac F       sleep F × the shortest post-submit wait so far before awaiting an inference
                       run, when that is ≥ 10 ms (default 1.2 with GPU timestamps, whose times the
                       sleep does not change; 0.6 without, timing the wall clock; 0: never)
  --profile            after the timed runs, replay each model's forward one dispatch at a time (GPU
                       time of each, fastest of ${PROFILE_RUNS}) and sum it by module, the blocks of a stage
                       together (layer1.*.conv2 → layer1 conv2): where the speed-up is lost (needs
                       GPU timestamps)
  --out FILE           JSON output (default bench/results/prune.json; quick: a file in the OS temp dir)`;

const { die, intFlag, numFlag, listFlag, parse } = flagParsers('bench prune', USAGE);

const flags = parse({
  quick: { type: 'boolean', default: false },
  nets: { type: 'string' },
  'vgg-percent': { type: 'string' },
  'resnet-percent': { type: 'string' },
  'resnet18-percent': { type: 'string' },
  'mobilenet-percent': { type: 'string' },
  gamma: { type: 'string' },
  'infer-batch': { type: 'string' },
  runs: { type: 'string' },
  'prune-runs': { type: 'string' },
  'sleep-frac': { type: 'string' },
  profile: { type: 'boolean', default: false },
  out: { type: 'string' },
});

function percentFlag(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const p = Number(v);
  if (!(p >= 0 && p < 1)) die(`--${name} must be in [0, 1), got ${v}`);
  return p;
}

const quick = flags.quick!;
const settings = {
  quick,
  nets: listFlag<NetName>('nets', flags.nets, NET_NAMES, NET_NAMES),
  percents: Object.fromEntries(
    NET_NAMES.map((n) => [n, percentFlag(NETS[n].percentFlag, (flags as Record<string, string | undefined>)[NETS[n].percentFlag], NETS[n].percent)]),
  ) as Record<NetName, number>,
  gammas: listFlag<Gamma>('gamma', flags.gamma, GAMMAS, ['uniform']),
  batch: intFlag('infer-batch', flags['infer-batch'], quick ? 8 : 64, 1),
  runs: intFlag('runs', flags.runs, quick ? 1 : 7, 1),
  pruneRuns: intFlag('prune-runs', flags['prune-runs'], quick ? 1 : 5, 1),
  profile: flags.profile!,
  /** null: 1.2 with GPU timestamps, 0.6 without (chosen once the device is open). */
  sleepFrac: flags['sleep-frac'] === undefined ? null : flags['sleep-frac'] === '0' ? 0 : numFlag('sleep-frac', flags['sleep-frac'], 0.6),
};
if (settings.nets.length === 0) die('--nets: nothing to run');
if (settings.gammas.length === 0) die('--gamma: nothing to run');
const here = path.dirname(fileURLToPath(import.meta.url)); // bench/.build
// Quick runs never replace the committed results: they go to the OS temp dir unless --out says otherwise.
const outFile = path.resolve(flags.out ?? (quick ? path.join(tmpdir(), 'netslim-bench-prune-quick.json') : path.join(here, '..', 'results', 'prune.json')));

/** The issue's target: measured speed-up ≥ TARGET × FLOP ratio. */
const TARGET = 0.9;
/** `depth` spread: the scale of |γ| falls as exp(−DEPTH_DECAY · l / (L − 1)) over the L BatchNorms. */
const DEPTH_DECAY = 3;
/** `grouped` spread: each BatchNorm channel of a group gets the group's draw × U(1 − J, 1 + J). */
const GROUP_JITTER = 0.1;
const DATA_SEED = 20252;
const GAMMA_SEED = 7;
const SIZE = 32;
const IN_CHANNELS = 3;

const GAMMA_NOTE: Record<Gamma, string> = {
  uniform: '|γ| ~ U(0.05, 1) iid over every BatchNorm: the global threshold thins every layer about alike',
  depth:
    `|γ| ~ Exp(1) × exp(−${DEPTH_DECAY}·l/(L−1)) for the l-th of L BatchNorms in module order: later layers lose most channels, ` +
    'roughly the shape of a sparsity-trained VGG (a synthetic spread, not trained weights)',
  grouped:
    '|γ| ~ U(0.05, 1) drawn once per channel group (slim.analyseChannels: a residual stream\'s channel, a concatenated slice) and ' +
    `given to every BatchNorm channel of the group × U(${1 - GROUP_JITTER}, ${1 + GROUP_JITTER}): coupled channels rank like free ones, ` +
    'as when sparsity training drives a whole stream channel to zero (a synthetic spread, not trained weights)',
};

// ------------------------------------------------------------------ rows

interface Row {
  model: string;
  coupled: 'keep' | 'prune';
  gamma: Gamma;
  percent: number;
  /** Median wall-clock ms of `prune_runs` whole prune passes (after one warm-up pass). */
  prune_ms: number | null;
  prune_runs: number;
  prune_first_ms: number | null;
  prune_times: number[];
  threshold: number | null;
  flops_before: number | null;
  flops_after: number | null;
  /** flops_before / flops_after (FLOPs of one 3×32×32 image, 2 × multiply-adds, as the reference counts). */
  flop_ratio: number | null;
  params_before: number | null;
  params_after: number | null;
  /** The pruned model's cfg, as the reference writes it. */
  cfg: (number | 'M')[] | null;
  batch: number;
  /**
   * Median ms of an eval-mode forward at `batch` (after one warm-up run): GPU time from timestamp
   * queries where the device has them (`timing` 'gpu'), else the wall clock ('wall').
   */
  original_ms: number | null;
  pruned_ms: number | null;
  timing: 'gpu' | 'wall';
  original_first_ms: number | null;
  pruned_first_ms: number | null;
  original_times: number[];
  pruned_times: number[];
  /** Median wall-clock ms of the same runs (recording, submit, the GPU time and the host's wait). */
  original_wall_ms: number | null;
  pruned_wall_ms: number | null;
  original_wall_times: number[];
  pruned_wall_times: number[];
  runs: number;
  /** original_ms / pruned_ms. */
  speedup: number | null;
  /** original_wall_ms / pruned_wall_ms. */
  speedup_wall: number | null;
  /** The fastest run of each (GPU or wall, as `timing`) and their ratio: on a shared machine interference only adds time. */
  original_min_ms: number | null;
  pruned_min_ms: number | null;
  speedup_min: number | null;
  /** speedup / flop_ratio: the target is ≥ TARGET. */
  speedup_over_flop_ratio: number | null;
  meets_target: boolean | null;
  /** With --profile: each model's forward replayed one dispatch at a time (GPU ms, fastest of PROFILE_RUNS). */
  profile: Profile | null;
  error: string | null;
}

/** GPU ms of one module's dispatches (the blocks of a stage summed), original and pruned. */
interface ModuleTime {
  module: string;
  original_ms: number;
  pruned_ms: number;
  original_dispatches: number;
  pruned_dispatches: number;
}
interface Profile {
  original_sum_ms: number;
  pruned_sum_ms: number;
  /** original_sum_ms / pruned_sum_ms. */
  speedup: number;
  modules: ModuleTime[];
}

const log = (msg: string) => process.stderr.write(`[prune] ${msg}\n`);

/** Gives every BatchNorm's γ the spread `gamma` (seeded), through the state dict. */
async function spreadGamma(model: Model, gamma: Gamma): Promise<void> {
  const r = rng(GAMMA_SEED);
  const state = await model.stateDict();
  const bns = model.batchNorms();
  if (gamma === 'grouped') {
    const cg = analyseChannels(model.graph);
    const draw = Float32Array.from({ length: cg.units }, () => 0.05 + 0.95 * r());
    cg.bnIds.forEach((id, l) => {
      const g = state.get(`${model.graph.nodes[id]!.layer.name}.weight`)!.data as Float32Array;
      for (let c = 0; c < g.length; c++) g[c] = draw[cg.underUnit[cg.bnOffset[l]! + c]!]! * (1 + GROUP_JITTER * (2 * r() - 1));
    });
    model.loadStateDict(state, `${model.meta.arch} with a grouped γ spread`);
    return;
  }
  bns.forEach((bn, l) => {
    const g = state.get(`${bn.name}.weight`)!.data as Float32Array;
    const scale = gamma === 'depth' ? Math.exp((-DEPTH_DECAY * l) / Math.max(1, bns.length - 1)) : 1;
    for (let c = 0; c < g.length; c++) g[c] = gamma === 'depth' ? -Math.log(1 - r()) * scale : 0.05 + 0.95 * r();
  });
  model.loadStateDict(state, `${model.meta.arch} with a ${gamma} γ spread`);
}

/**
 * One eval-mode forward of `model` on `x` as one submit, to completion: the wall-clock ms, the
 * post-submit wait and, with `gpu`, the GPU ms between the first and last timestamp of its compute
 * passes (with timestamps, sleeping past the work only delays the read).
 */
async function inferOnce(ctx: Context, model: Model, x: Tensor, sleepMs: number, gpu: boolean): Promise<{ ms: number; waitMs: number; gpuMs: number | null }> {
  const t = await submitAndWait(ctx, () => model.forward(x, false), sleepMs, gpu);
  return { ms: t.ms, waitMs: t.ms - t.recordMs, gpuMs: t.gpuMs };
}

/**
 * The module a dispatch works for: the first of its bindings labelled `<module>.weight` (a conv or
 * linear weight, a BatchNorm γ — whichever operand the kernel binds it as), with the block index
 * dropped so that a stage's blocks add up: `layer1.3.conv2.weight` → `layer1 conv2`,
 * `feature.10.weight` → `feature.10`; `other` when none (pools).
 */
function moduleOf(bindings: Record<string, unknown>): string {
  const labels = Object.values(bindings).map((b) => (b as { buffer?: GPUBuffer }).buffer?.label ?? '');
  const name = labels.find((l) => l.endsWith('.weight'))?.slice(0, -'.weight'.length);
  if (!name) return 'other';
  const parts = name.split('.');
  return parts.length >= 3 ? `${parts[0]} ${parts.slice(2).join('.')}` : name;
}

/**
 * Records one eval-mode forward without submitting it, then replays its dispatches one at a time,
 * each its own GPU-timed submit (one untimed run, then PROFILE_RUNS timed; the fastest counts):
 * GPU ms and dispatch count by module.
 */
async function profileForward(ctx: Context, model: Model, x: Tensor): Promise<Map<string, { ms: number; n: number }>> {
  const calls: Parameters<Context['dispatch']>[] = [];
  const dispatch = ctx.dispatch.bind(ctx);
  ctx.dispatch = (...call) => void calls.push(call);
  try {
    model.forward(x, false);
  } finally {
    delete (ctx as { dispatch?: unknown }).dispatch; // the prototype's method again
  }
  const byModule = new Map<string, { ms: number; n: number }>();
  for (const call of calls) {
    let best = Infinity;
    for (let r = 0; r <= PROFILE_RUNS; r++) {
      const t = await submitAndWait(ctx, () => dispatch(...call), Number.isFinite(best) ? best : 0, true);
      if (r > 0) best = Math.min(best, t.gpuMs!);
    }
    const m = moduleOf(call[1]);
    const e = byModule.get(m) ?? { ms: 0, n: 0 };
    e.ms += best;
    e.n++;
    byModule.set(m, e);
  }
  return byModule;
}

function joinProfiles(original: Map<string, { ms: number; n: number }>, pruned: Map<string, { ms: number; n: number }>): Profile {
  const names = [...new Set([...original.keys(), ...pruned.keys()])];
  const modules = names.map((module) => {
    const o = original.get(module) ?? { ms: 0, n: 0 };
    const p = pruned.get(module) ?? { ms: 0, n: 0 };
    return { module, original_ms: o.ms, pruned_ms: p.ms, original_dispatches: o.n, pruned_dispatches: p.n };
  });
  const sum = (k: 'original_ms' | 'pruned_ms') => modules.reduce((a, m) => a + m[k], 0);
  return { original_sum_ms: sum('original_ms'), pruned_sum_ms: sum('pruned_ms'), speedup: sum('original_ms') / sum('pruned_ms'), modules };
}

async function checkFinite(ctx: Context, model: Model, x: Tensor, what: string): Promise<void> {
  const logits = await ctx.readF32(model.forward(x, false));
  const bad = logits.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${what}: logit [${bad}] is ${logits[bad]}; not timed`);
}

async function runRow(ctx: Context, net: NetName, gamma: Gamma): Promise<Row> {
  const spec = NETS[net];
  const percent = settings.percents[net];
  const tag = `${spec.label} (${gamma} γ, coupled ${spec.coupled}) @${percent}`;
  const row: Row = {
    model: spec.label,
    coupled: spec.coupled,
    gamma,
    percent,
    prune_ms: null,
    prune_runs: 0,
    prune_first_ms: null,
    prune_times: [],
    threshold: null,
    flops_before: null,
    flops_after: null,
    flop_ratio: null,
    params_before: null,
    params_after: null,
    cfg: null,
    batch: settings.batch,
    original_ms: null,
    pruned_ms: null,
    timing: ctx.timestamps ? 'gpu' : 'wall',
    original_first_ms: null,
    pruned_first_ms: null,
    original_times: [],
    pruned_times: [],
    original_wall_ms: null,
    pruned_wall_ms: null,
    original_wall_times: [],
    pruned_wall_times: [],
    runs: 0,
    speedup: null,
    speedup_wall: null,
    original_min_ms: null,
    pruned_min_ms: null,
    speedup_min: null,
    speedup_over_flop_ratio: null,
    meets_target: null,
    profile: null,
    error: null,
  };
  let model: Model | null = null;
  let pruned: Model | null = null;
  let x: Tensor | null = null;
  try {
    model = spec.make(ctx);
    await spreadGamma(model, gamma);
    await ctx.sync(); // initialisation and uploads finish before any clock starts

    // ---- the prune pass: one warm-up pass (pipeline compilation), then the timed ones; each
    // returns a new model, destroyed outside the timed interval except the last, which is measured.
    let report: PruneReport | null = null;
    for (let i = 0; i <= settings.pruneRuns; i++) {
      const t0 = performance.now();
      const res = await prune(model, percent, { coupled: spec.coupled });
      const ms = performance.now() - t0;
      if (i === 0) row.prune_first_ms = ms;
      else row.prune_times.push(ms);
      if (i < settings.pruneRuns) res.model.destroy();
      else ({ model: pruned, report } = res);
    }
    row.prune_runs = row.prune_times.length;
    row.prune_ms = median(row.prune_times);
    log(`${tag}: prune warm-up ${fmtMs(row.prune_first_ms)} ms, timed ${row.prune_times.map(fmtMs).join(', ')} ms`);
    const rep = report!;
    row.threshold = rep.threshold;
    row.flops_before = rep.flopsBefore;
    row.flops_after = rep.flopsAfter;
    row.flop_ratio = rep.flopsBefore / rep.flopsAfter;
    row.params_before = rep.paramsBefore;
    row.params_after = rep.paramsAfter;
    row.cfg = rep.cfg ?? null;
    const guarded = rep.layers.filter((l) => l.safeguard);
    log(
      `${tag}: threshold ${rep.threshold.toPrecision(4)}, ${rep.prunedChannels}/${rep.totalChannels} channels pruned, ` +
        `FLOPs ${rep.flopsBefore.toExponential(3)} → ${rep.flopsAfter.toExponential(3)} (${fmtNum(row.flop_ratio)}×), ` +
        `params ${rep.paramsBefore} → ${rep.paramsAfter}` +
        (guarded.length ? `; safeguards: ${guarded.map((l) => `${l.name} ${l.safeguard}`).join('; ')}` : ''),
    );

    // ---- inference, eval mode: one warm-up run of each model (plan allocation and pipeline
    // compilation), a finite-logits check outside the clock, then the timed runs interleaved
    // (original, pruned, original, …) so that drift in the machine's load hits both alike.
    x = ctx.tensor([settings.batch, IN_CHANNELS, SIZE, SIZE], uniform(settings.batch * IN_CHANNELS * SIZE * SIZE, DATA_SEED), 'f32', 'bench.x');
    await ctx.sync();
    const gpu = row.timing === 'gpu';
    const frac = settings.sleepFrac ?? (gpu ? 1.2 : 0.6);
    const sides = [
      { m: model, times: row.original_times, wall: row.original_wall_times, waits: [] as number[], name: 'original' },
      { m: pruned!, times: row.pruned_times, wall: row.pruned_wall_times, waits: [] as number[], name: 'pruned' },
    ];
    for (const s of sides) {
      const first = await inferOnce(ctx, s.m, x, 0, false);
      s.waits.push(first.waitMs);
      if (s.name === 'original') row.original_first_ms = first.ms;
      else row.pruned_first_ms = first.ms;
      await checkFinite(ctx, s.m, x, `${tag} ${s.name}`);
      log(`${tag}: ${s.name} warm-up forward ${fmtMs(first.ms)} ms`);
      if (gpu) {
        // the warm-up's wait includes pipeline compilation: one untimed GPU-timed run, sleeping
        // half of it, gives the sleeps of the timed runs their first estimate
        const seed = await inferOnce(ctx, s.m, x, 0.5 * first.waitMs, true);
        s.waits[0] = seed.gpuMs!;
      }
    }
    for (let i = 0; i < settings.runs; i++) {
      for (const s of sides) {
        const t = await inferOnce(ctx, s.m, x, sleepBefore(s.waits, frac), gpu);
        s.times.push(t.gpuMs ?? t.ms);
        s.wall.push(t.ms);
        s.waits.push(t.gpuMs ?? t.waitMs);
      }
    }
    row.runs = settings.runs;
    row.original_ms = median(row.original_times);
    row.pruned_ms = median(row.pruned_times);
    row.original_wall_ms = median(row.original_wall_times);
    row.pruned_wall_ms = median(row.pruned_wall_times);
    row.speedup = row.original_ms / row.pruned_ms;
    row.speedup_wall = row.original_wall_ms / row.pruned_wall_ms;
    row.original_min_ms = Math.min(...row.original_times);
    row.pruned_min_ms = Math.min(...row.pruned_times);
    row.speedup_min = row.original_min_ms / row.pruned_min_ms;
    row.speedup_over_flop_ratio = row.speedup / row.flop_ratio;
    row.meets_target = row.speedup_over_flop_ratio >= TARGET;
    log(`${tag}: original ${row.original_times.map(fmtMs).join(', ')} ms; pruned ${row.pruned_times.map(fmtMs).join(', ')} ms (${row.timing})`);
    log(`${tag}: fastest runs ${fmtMs(row.original_min_ms)} / ${fmtMs(row.pruned_min_ms)} ms: speed-up ${fmtNum(row.speedup_min)}× = ${fmtNum(row.speedup_min / row.flop_ratio)} × the FLOP ratio`);
    if (gpu) log(`${tag}: wall clock: original ${row.original_wall_times.map(fmtMs).join(', ')} ms; pruned ${row.pruned_wall_times.map(fmtMs).join(', ')} ms`);
    if (settings.profile) {
      if (!gpu) throw new Error('--profile needs GPU timestamps, which this device does not have');
      log(`${tag}: profiling, one dispatch at a time`);
      row.profile = joinProfiles(await profileForward(ctx, model, x), await profileForward(ctx, pruned!, x));
    }
  } catch (e) {
    row.error = errText(e);
    loud(`${tag}: ${row.error}`);
  } finally {
    pruned?.destroy();
    model?.destroy();
    x?.destroy();
    ctx.releaseScratch();
    try {
      await ctx.sync();
    } catch {
      /* reported above */
    }
  }
  return row;
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const t0 = performance.now();
  const { ctx, fellBack } = await openContext({ log: (m) => console.warn(m) });
  try {
    const a = ctx.adapter;
    const adapterName = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || 'unknown adapter';
    const gpu = ctx.timestamps;
    const frac = settings.sleepFrac ?? (gpu ? 1.2 : 0.6);
    const timing =
      'Prune: wall clock of `await slim.prune(model, percent, { coupled })` whole — |γ| gather and its read-back (busy-polled by dawn.node, as a user pays it), ' +
      'the channel groups, threshold and safeguards on the host, the compact graph, compaction by gathers and its final sync; ' +
      'the new model is destroyed outside the interval. Inference: model.forward(x, false) (eval mode, running statistics) recorded, ' +
      'one submit, ' +
      (gpu
        ? 'timed by GPU timestamps at the start and end of its compute passes (original_ms, pruned_ms, speedup); the host sleeps ' +
          `${frac} × the shortest GPU time so far before awaiting them, so dawn.node's busy-polling (which takes one of the CPU ` +
          'cores SwiftShader computes on) does not slow the work timed. The wall clock of the same runs (recording, submit, the ' +
          'GPU time, the sleep or wait) is in *_wall_ms and speedup_wall. '
        : `wall clock to the queue fence, sleeping ${frac} × the shortest post-submit wait so far (when ≥ ${MIN_SLEEP_MS} ms) ` +
          'before awaiting it (the device has no timestamp queries). ') +
      'Original and pruned runs interleaved; medians after one warm-up each.';
    console.log(`netslim prune benchmark — ${new Date().toISOString()} — Node ${process.version}`);
    console.log(
      `Adapter: ${adapterName}${a.isSwiftShader ? '  [SwiftShader: CPU Vulkan, not a GPU]' : ''}` +
        (fellBack ? ` (Dawn found no GPU; fell back to ${process.env.VK_ICD_FILENAMES})` : '') +
        `; variants ${JSON.stringify(ctx.variants)}`,
    );
    console.log(
      `Settings: nets ${settings.nets.map((n) => `${n}@${settings.percents[n]}`).join(', ')}, γ ${settings.gammas.join(',')}, ` +
        `inference batch ${settings.batch} (${IN_CHANNELS}×${SIZE}×${SIZE}), timed runs ${settings.runs}, prune runs ${settings.pruneRuns}` +
        (quick ? ' (quick)' : ''),
    );
    for (const g of settings.gammas) console.log(`γ ${g}: ${GAMMA_NOTE[g]}.`);
    console.log(`Timing: ${timing}`);
    console.log(`Target: speed-up (original ms / pruned ms) ≥ ${TARGET} × FLOP ratio (FLOPs before / after).`);
    console.log('');

    const rows: Row[] = [];
    for (const net of settings.nets) for (const gamma of settings.gammas) rows.push(await runRow(ctx, net, gamma));

    // ---- table
    const header = ['model', 'coupled', 'γ', 'percent', 'prune ms (n)', 'prune 1st', 'GFLOP before→after', 'FLOP ratio', 'params before→after', 'batch', 'original ms', 'pruned ms', 'n', 'speed-up', 'speed-up / FLOP ratio', 'wall: original→pruned ms (speed-up)', 'target'];
    const right = [false, false, false, true, true, true, true, true, true, true, true, true, true, true, true, true, false];
    const mparams = (p: number | null) => (p === null ? '—' : `${(p / 1e6).toFixed(2)} M`);
    const body = rows.map((r) => [
      r.model,
      r.coupled,
      r.gamma,
      String(r.percent),
      r.prune_ms === null ? '—' : `${fmtMs(r.prune_ms)} (${r.prune_runs})`,
      fmtMs(r.prune_first_ms),
      r.flops_before === null ? '—' : `${fmtNum(r.flops_before / 1e9, 3)}→${fmtNum(r.flops_after! / 1e9, 3)}`,
      r.flop_ratio === null ? '—' : `${fmtNum(r.flop_ratio)}×`,
      r.params_before === null ? '—' : `${mparams(r.params_before)}→${mparams(r.params_after)}`,
      String(r.batch),
      fmtMs(r.original_ms),
      fmtMs(r.pruned_ms),
      String(r.runs),
      r.speedup === null ? '—' : `${fmtNum(r.speedup)}×`,
      fmtNum(r.speedup_over_flop_ratio),
      r.original_wall_ms === null ? '—' : `${fmtMs(r.original_wall_ms)}→${fmtMs(r.pruned_wall_ms)} (${fmtNum(r.speedup_wall)}×)`,
      r.error ? 'ERROR' : r.meets_target === null ? '—' : r.meets_target ? `met (≥ ${TARGET})` : `MISSED (< ${TARGET})`,
    ]);
    console.log('\n' + table(header, body, right));
    console.log(
      '\nprune ms = median wall-clock ms of (n) whole prune passes after one warm-up pass (1st: pipeline compile included); ' +
        'GFLOP = FLOPs of one 3×32×32 image (2 × multiply-adds of convs and linear layers); ' +
        `original / pruned ms = median ${gpu ? 'GPU (timestamp) ms' : 'wall-clock ms'} of an eval-mode forward at the batch over n interleaved runs; ` +
        `speed-up = original ms / pruned ms; wall = median wall-clock ms of the same runs; target: speed-up / FLOP ratio ≥ ${TARGET}.`,
    );
    for (const r of rows) {
      const pf = r.profile;
      if (!pf) continue;
      console.log(
        `\n${r.model} (${r.gamma} γ) @${r.percent}, one dispatch at a time (GPU ms, fastest of ${PROFILE_RUNS}): ` +
          `original ${fmtMs(pf.original_sum_ms)}, pruned ${fmtMs(pf.pruned_sum_ms)}, ${fmtNum(pf.speedup)}× = ${fmtNum(pf.speedup / r.flop_ratio!)} × the FLOP ratio`,
      );
      console.log(
        table(
          ['module', 'original ms (dispatches)', 'pruned ms (dispatches)', 'speed-up'],
          pf.modules.map((m) => [m.module, `${fmtMs(m.original_ms)} (${m.original_dispatches})`, `${fmtMs(m.pruned_ms)} (${m.pruned_dispatches})`, m.pruned_ms > 0 ? `${fmtNum(m.original_ms / m.pruned_ms)}×` : '—']),
          [false, true, true, true],
        ),
      );
    }
    const errors = rows.filter((r) => r.error);
    if (errors.length) {
      console.log(`\n${errors.length} row(s) with errors:`);
      for (const r of errors) console.log(`  ${r.model} ${r.gamma}: ${r.error!.split('\n')[0]}`);
    }

    // ---- JSON
    const json = {
      adapter: adapterRecord(ctx, adapterName, fellBack),
      date: new Date().toISOString(),
      node: process.version,
      settings: {
        quick,
        nets: settings.nets,
        percents: settings.percents,
        gammas: settings.gammas,
        gamma_notes: Object.fromEntries(settings.gammas.map((g) => [g, GAMMA_NOTE[g]])),
        gamma_seed: GAMMA_SEED,
        batch: settings.batch,
        runs: settings.runs,
        prune_runs: settings.pruneRuns,
        sleep_frac: frac,
        input: `${IN_CHANNELS}×${SIZE}×${SIZE}, seeded uniform[−1, 1)`,
        target: `speedup / flop_ratio ≥ ${TARGET}`,
        timing,
      },
      rows,
    };
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify(json, null, 2) + '\n');
    const shown = outFile.startsWith(process.cwd() + path.sep) ? path.relative(process.cwd(), outFile) : outFile;
    console.log(`\nWrote ${shown} (${rows.length} rows) in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
    if (failures.count) {
      console.error(`bench prune: ${failures.count} failure(s) — see the !!!!!!!! lines above.`);
      process.exitCode = 1;
    }
  } finally {
    ctx.destroy();
    releaseGpu();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
