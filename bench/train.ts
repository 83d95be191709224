/**
 * Training-step benchmark: one SGD step of a whole network (forward in training mode, softmax
 * cross-entropy, backward, SGD update) with netslim on WebGPU against the same network in
 * @tensorflow/tfjs-layers on tfjs-backend-webgpu (same adapter) and tfjs-backend-wasm. Both sides
 * start from the same weights and data, and the losses of their first two steps are compared
 * before anything is reported. See bench/README.md.
 *
 *   npm run bench -- --only train [--quick] [--models vgg16,vgg16-quarter] [--batches 16,64]
 *                    [--peers webgpu,wasm] [--steps N] [--max-peer-s S] [--out FILE]
 */
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TFL from '@tensorflow/tfjs';
import type { Context } from '../src/gpu/context.js';
import type { Tensor } from '../src/gpu/tensor.js';
import type { Model, StateValues } from '../src/nn/model.js';
import { vgg } from '../src/nn/models.js';
import { softmaxCrossEntropy } from '../src/ops/cross_entropy.js';
import { SGD } from '../src/train/sgd.js';
import type { PeerName } from './cases.js';
import { loadWasmPeer, loadWebgpuPeer, openContext, releaseGpu, type Peer } from './peers.js';
import { IN_CHANNELS, NETS, NUM_CLASSES, SIZE, WASM_WGRAD_NOTE, buildPeerNet, copyWeights, peerLoss, registerWasmConv2dBackpropFilter, stepFlops, type NetSpec, type PeerNet } from './train_nets.js';
import { adapterRecord, errText, failures, flagParsers, fmtMs, fmtNum, loud, median, nchwToNhwc, rng, submitAndWait, table, uniform } from './util.js';
import { MIN_SLEEP_MS, sleepBefore } from '../src/gpu/wait.js';

const require = createRequire(import.meta.url);

// ------------------------------------------------------------------ flags

const MODEL_NAMES = NETS.map((n) => n.name);
const USAGE = `usage: npm run bench -- --only train [options]   (or: npm run bench:train -- [options])
  --quick              ${'vgg16-quarter'} at batch 16 only, 1 timed step per side (smoke test)
  --models LIST        comma list of ${MODEL_NAMES.join(',')} (default both)
  --batches LIST       comma list of batch sizes, for every model (default: vgg16 16,64; vgg16-quarter 64)
  --peers LIST         comma list of webgpu,wasm (default both; "none" for ours only)
  --steps N            timed steps per figure after the warm-up step (default 3; quick 1); a peer
                       makes fewer when its budget runs out, never fewer than 1
  --max-peer-s S       time budget per peer figure in seconds (default 300): a row whose estimated
                       warm-up + one step exceeds it is reported as skipped, not run
  --loss-rtol R        tolerance of the ours-vs-peer loss comparison (default 1e-3)
  --sleep-frac F       GPU sides sleep F × their shortest post-submit wait so far before awaiting
                       the fence, when that is ≥ 10 ms (default 0.6; 0: never)
  --out FILE           JSON output (default bench/results/train.json; quick: train-quick.json)`;

const { die, intFlag, numFlag, listFlag, parse } = flagParsers('bench train', USAGE);

const flags = parse({
  quick: { type: 'boolean', default: false },
  models: { type: 'string' },
  batches: { type: 'string' },
  peers: { type: 'string' },
  steps: { type: 'string' },
  'max-peer-s': { type: 'string' },
  'loss-rtol': { type: 'string' },
  'sleep-frac': { type: 'string' },
  out: { type: 'string' },
});

const quick = flags.quick!;
const modelNames = listFlag('models', flags.models, MODEL_NAMES, quick ? ['vgg16-quarter'] : MODEL_NAMES);
if (modelNames.length === 0) die('--models: nothing to run');
let batches: number[] | null = null;
if (flags.batches !== undefined) {
  batches = [...new Set(flags.batches.split(',').map((s) => intFlag('batches', s.trim(), 0, 2)))];
} else if (quick) {
  batches = [16];
}
const settings = {
  quick,
  models: modelNames,
  batches,
  peers: listFlag<PeerName>('peers', flags.peers, ['webgpu', 'wasm'], ['webgpu', 'wasm']),
  steps: intFlag('steps', flags.steps, quick ? 1 : 3, 1),
  maxPeerSeconds: numFlag('max-peer-s', flags['max-peer-s'], 300),
  lossRtol: numFlag('loss-rtol', flags['loss-rtol'], 1e-3),
  sleepFrac: flags['sleep-frac'] === '0' ? 0 : numFlag('sleep-frac', flags['sleep-frac'], 0.6),
};
const here = path.dirname(fileURLToPath(import.meta.url)); // bench/.build
const outFile = path.resolve(flags.out ?? path.join(here, '..', 'results', quick ? 'train-quick.json' : 'train.json'));

/** Our optimizer, as the brief of the benchmark fixes it (the reference's sparsity training). */
const OURS_SGD = { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, sparsity: 1e-4 };
/** The peers' optimizer: tf.train.momentum (PyTorch's SGD momentum rule, no weight decay). */
const PEER_SGD = { lr: 0.1, momentum: 0.9 };
/** Our side, with timestamps: each step sleeps this × the fastest GPU time of our steps so far. */
const OURS_GPU_SLEEP = 0.95;
const DATA_SEED = 20251;
const MODEL_SEED = 1;

// ------------------------------------------------------------------ rows

interface Plan {
  net: NetSpec;
  batch: number;
  flops: number;
  order: number;
}

interface SideResult {
  /** Warm-up step: pipeline compilation (and tfjs shader generation) included. */
  first_ms: number | null;
  /** Median of the timed steps. */
  ms: number | null;
  steps: number;
  times: number[];
  /** Loss of the warm-up step (step 1) and of the first timed step (step 2). */
  loss: [number | null, number | null];
}

interface Row {
  model: string;
  cfg: (number | 'M')[];
  batch: number;
  gflop_per_step: number;
  ours_ms: number | null;
  ours_images_per_s: number | null;
  ours_first_ms: number | null;
  ours_steps: number;
  ours_times: number[];
  ours_loss: [number | null, number | null];
  peer: string | null;
  peer_impl: string | null;
  peer_ms: number | null;
  peer_images_per_s: number | null;
  peer_first_ms: number | null;
  peer_steps: number;
  peer_times: number[];
  peer_loss: [number | null, number | null];
  /** Estimated seconds per step before the row ran, and where the estimate came from. */
  peer_estimate: { seconds_per_step: number; from: string } | null;
  /** Probe steps run to make the estimate (milliseconds), when there was no earlier row to scale. */
  peer_probe_ms: number[] | null;
  /** peer_ms / ours_ms: > 1 means ours is faster. */
  ratio: number | null;
  /** |ours − peer| / |peer| of the step-1 and step-2 losses (same weights and data). */
  loss_check: { step1: number | null; step2: number | null; ok: boolean } | null;
  skipped: string | null;
  error: string | null;
}

const log = (msg: string) => process.stderr.write(`[train] ${msg}\n`);

/** Seeded inputs, identical for both sides: x uniform in [−1, 1) NCHW, labels in [0, 10). */
function makeData(batch: number): { x: Float32Array; labels: Int32Array } {
  const x = uniform(batch * IN_CHANNELS * SIZE * SIZE, DATA_SEED + batch);
  const r = rng(DATA_SEED + 7 * batch + 1);
  const labels = Int32Array.from({ length: batch }, () => Math.min(NUM_CLASSES - 1, Math.floor(r() * NUM_CLASSES)));
  return { x, labels };
}

/** Steps timed after the warm-up; `once(sleepMs)` runs one step to completion. */
interface StepTiming {
  ms: number;
  /** Wall-clock ms until the last submit (JavaScript recording, and compilation in the warm-up). */
  recordMs: number;
}

function sleepFor(waits: number[]): number {
  return sleepBefore(waits, settings.sleepFrac);
}

// ------------------------------------------------------------------ ours

async function runOurs(ctx: Context, plan: Plan, data: ReturnType<typeof makeData>, wantState: boolean): Promise<{ res: SideResult; state: StateValues | null; error: string | null }> {
  const res: SideResult = { first_ms: null, ms: null, steps: 0, times: [], loss: [null, null] };
  let model: Model | null = null;
  const owned: Tensor[] = [];
  let state: StateValues | null = null;
  try {
    model = vgg(ctx, { cfg: plan.net.cfg, numClasses: NUM_CLASSES, inChannels: IN_CHANNELS, seed: MODEL_SEED });
    state = wantState ? await model.stateDict() : null;
    const x = ctx.tensor([plan.batch, IN_CHANNELS, SIZE, SIZE], data.x, 'f32', 'bench.x');
    const labels = ctx.tensor([plan.batch], data.labels, 'i32', 'bench.labels');
    const loss = ctx.tensor([1], undefined, 'f32', 'bench.loss');
    const correct = ctx.tensor([1], undefined, 'u32', 'bench.correct');
    owned.push(x, labels, loss, correct);
    const opt = new SGD(model, OURS_SGD);
    await ctx.sync(); // uploads and initialisation finish before the clock starts
    const m = model;
    // With timestamps each step's GPU time is read as well (the wall clock still times the step),
    // and the next step sleeps OURS_GPU_SLEEP × the fastest GPU time so far: close to the work's
    // true length, so dawn.node's busy-polling hardly overlaps it (see the README).
    const gpu = ctx.timestamps;
    const gpuTimes: number[] = [];
    const step = (): void => {
      const logits = m.forward(x, true);
      softmaxCrossEntropy(ctx, logits, labels, { dlogits: m.outputGrad(x), loss, correct });
      m.backward(x);
      opt.step();
    };
    // the whole step is one submit; sleep through most of the expected time before awaiting it
    const once = async (sleepMs: number): Promise<StepTiming> => {
      const t = await submitAndWait(ctx, step, sleepMs, gpu);
      if (t.gpuMs !== null) gpuTimes.push(t.gpuMs);
      return { ms: t.ms, recordMs: t.recordMs };
    };
    const sleepOurs = (waits: number[]): number => (gpu ? OURS_GPU_SLEEP * Math.min(...gpuTimes) : sleepFor(waits));
    const first = await once(0);
    res.first_ms = first.ms;
    res.loss[0] = (await ctx.readF32(loss))[0]!;
    log(`${plan.net.name} b${plan.batch} ours: warm-up step ${fmtMs(first.ms)} ms (recording ${fmtMs(first.recordMs)} ms), loss ${res.loss[0]}`);
    if (!Number.isFinite(res.loss[0])) throw new Error(`ours: the warm-up step's loss is ${res.loss[0]}; not timed`);
    const waits = [first.ms - first.recordMs];
    if (gpu) {
      // the warm-up ran busy-polled: one untimed step sleeping through its GPU time gives the
      // GPU time of an undisturbed step
      await once(sleepOurs(waits));
      gpuTimes.shift();
      res.loss[1] = (await ctx.readF32(loss))[0]!; // step 2's loss, compared with the peer's
    }
    for (let i = 0; i < settings.steps; i++) {
      const t = await once(sleepOurs(waits));
      res.times.push(t.ms);
      waits.push(t.ms - t.recordMs);
      if (i === 0 && !gpu) res.loss[1] = (await ctx.readF32(loss))[0]!; // read outside the timed interval
    }
    res.steps = res.times.length;
    res.ms = median(res.times);
    log(`${plan.net.name} b${plan.batch} ours: ${res.times.map(fmtMs).join(', ')} ms; step-2 loss ${res.loss[1]}`);
    return { res, state, error: null };
  } catch (e) {
    const error = `ours failed: ${errText(e)}`;
    loud(`${plan.net.name} b${plan.batch}: ${error}`);
    return { res, state, error };
  } finally {
    model?.destroy();
    for (const t of owned) t.destroy();
    ctx.releaseScratch();
    try {
      await ctx.sync();
    } catch {
      /* reported above */
    }
  }
}

// ------------------------------------------------------------------ peers

/** Measured peer rows, to scale the next estimate from: per peer, [flops, ms per step]. */
const measured = new Map<string, { model: string; batch: number; ms: number }[]>();

/**
 * Four training steps of `net` on the first one and two images — batch 1 and batch 2 (compiling
 * what each needs), then batch 1 and batch 2 again (timed) — with a throw-away optimizer; returns
 * their wall-clock ms. The caller overwrites the weights afterwards.
 */
async function probePeer(tf: typeof TFL, peer: Peer, net: PeerNet, xNhwc: Float32Array, oneHot: Float32Array): Promise<number[]> {
  const img = SIZE * SIZE * IN_CHANNELS;
  const x1 = tf.tensor4d(xNhwc.slice(0, img), [1, SIZE, SIZE, IN_CHANNELS]);
  const y1 = tf.tensor2d(oneHot.slice(0, NUM_CLASSES), [1, NUM_CLASSES]);
  const x2 = tf.tensor4d(xNhwc.slice(0, 2 * img), [2, SIZE, SIZE, IN_CHANNELS]);
  const y2 = tf.tensor2d(oneHot.slice(0, 2 * NUM_CLASSES), [2, NUM_CLASSES]);
  const popt = tf.train.momentum(PEER_SGD.lr, PEER_SGD.momentum);
  const times: number[] = [];
  try {
    await peer.upload([x1, y1, x2, y2]);
    const waits: number[] = [];
    for (const [i, [x, y]] of (
      [
        [x1, y1],
        [x2, y2],
        [x1, y1],
        [x2, y2],
      ] as const
    ).entries()) {
      const f = peerLoss(tf, net, x, y);
      // The timed pair sleeps like a timed step, on the wait of the same batch's first step.
      const sleepMs = i >= 2 && peer.name === 'webgpu' ? sleepFor([waits[i - 2]!]) : 0;
      const { ms, recordMs, outs } = await peer.time(() => [popt.minimize(f, true, net.vars)!], sleepMs);
      tf.dispose(outs);
      times.push(ms);
      waits.push(ms - recordMs);
    }
  } finally {
    popt.dispose();
    tf.dispose([x1, y1, x2, y2]);
  }
  return times;
}

function peerImpl(peer: Peer): string {
  const base =
    'tfjs-layers Sequential (conv2d 3×3 same no bias → batchNormalization → reLU, maxPooling2d, averagePooling2d, flatten, dense), NHWC; ' +
    'optimizer.minimize(softmaxCrossEntropy(layers applied with training: true)) with tf.train.momentum(0.1, 0.9)';
  return peer.name === 'wasm' ? `${base}; ${WASM_WGRAD_NOTE}` : base;
}

async function runPeer(
  tf: typeof TFL,
  peer: Peer,
  plan: Plan,
  data: ReturnType<typeof makeData>,
  state: StateValues,
): Promise<Pick<Row, 'peer_first_ms' | 'peer_ms' | 'peer_steps' | 'peer_times' | 'peer_loss' | 'peer_estimate' | 'peer_probe_ms' | 'skipped' | 'error'>> {
  const tag = `${plan.net.name} b${plan.batch} ${peer.label}`;
  const out: Awaited<ReturnType<typeof runPeer>> = {
    peer_first_ms: null,
    peer_ms: null,
    peer_steps: 0,
    peer_times: [],
    peer_loss: [null, null],
    peer_estimate: null,
    peer_probe_ms: null,
    skipped: null,
    error: null,
  };
  const budgetMs = settings.maxPeerSeconds * 1000;
  let net: PeerNet | null = null;
  let opt: TFL.Optimizer | null = null;
  const inputs: TFL.Tensor[] = [];
  let spent = 0;
  try {
    await peer.activate();
    const xNhwc = nchwToNhwc(data.x, [plan.batch, IN_CHANNELS, SIZE, SIZE]);
    const oneHot = new Float32Array(plan.batch * NUM_CLASSES);
    data.labels.forEach((l, i) => (oneHot[i * NUM_CLASSES + l] = 1));

    // ---- estimate of one step: the largest batch of this model this peer has already measured,
    // scaled by batch; with none, a probe of the same network at batches 1 and 2.
    const prior = (measured.get(peer.name) ?? []).filter((m) => m.model === plan.net.name).sort((p, q) => q.batch - p.batch)[0];
    if (prior) {
      out.peer_estimate = {
        seconds_per_step: (prior.ms * (plan.batch / prior.batch)) / 1000,
        from: `${prior.model} b${prior.batch} measured (${fmtMs(prior.ms)} ms/step) × ${plan.batch}/${prior.batch}`,
      };
    } else {
      net = buildPeerNet(tf, plan.net.cfg);
      const probe = await probePeer(tf, peer, net, xNhwc, oneHot);
      const [, , t1, t2] = probe as [number, number, number, number];
      out.peer_probe_ms = probe;
      // Linear in the batch (a fixed cost + a cost per image) when the per-image cost is clearly
      // measurable; otherwise (a step dominated by its fixed cost, as on a real GPU) proportional
      // to batch 2, which overestimates.
      const linear = t2 - t1 >= 0.2 * t1;
      out.peer_estimate = {
        seconds_per_step: (linear ? t1 + (plan.batch - 1) * (t2 - t1) : (plan.batch * t2) / 2) / 1000,
        from:
          `a probe (steps at batches 1, 2 compiling, then 1, 2: ${probe.map(fmtMs).join(', ')} ms): ` +
          (linear ? 'b1 + (batch − 1) × (b2 − b1)' : 'b2 × batch / 2'),
      };
      log(`${tag}: ${fmtNum(out.peer_estimate.seconds_per_step)} s/step estimated from ${out.peer_estimate.from}`);
    }
    const estMs = out.peer_estimate.seconds_per_step * 1000;
    if (2 * estMs > budgetMs) {
      out.skipped =
        `skipped: over budget (estimated ${fmtNum(estMs / 1000)} s/step from ${out.peer_estimate.from}; ` +
        `warm-up + 1 timed step ≈ ${fmtNum((2 * estMs) / 1000)} s > --max-peer-s ${settings.maxPeerSeconds})`;
      console.log(`[train] ${tag}: ${out.skipped}`);
      return out;
    }

    // ---- the network with our initial weights, the data, a fresh optimizer
    net ??= buildPeerNet(tf, plan.net.cfg);
    const pnet = net;
    tf.tidy(() => copyWeights(tf, pnet, plan.net.cfg, state)); // variables keep the values; the staging tensors go
    const x = tf.tensor4d(xNhwc, [plan.batch, SIZE, SIZE, IN_CHANNELS]);
    const y = tf.tensor2d(oneHot, [plan.batch, NUM_CLASSES]);
    inputs.push(x, y);
    await peer.upload(inputs);
    opt = tf.train.momentum(PEER_SGD.lr, PEER_SGD.momentum);
    const f = peerLoss(tf, net, x, y);
    const o = opt;
    const vars = net.vars;
    const step = () => [o.minimize(f, true, vars)!];
    const once = async (sleepMs: number): Promise<StepTiming & { loss: TFL.Tensor }> => {
      const { ms, recordMs, outs } = await peer.time(step, sleepMs);
      return { ms, recordMs, loss: outs[0]! };
    };

    const first = await once(0);
    spent += first.ms;
    out.peer_first_ms = first.ms;
    out.peer_loss[0] = (await first.loss.data())[0]!;
    first.loss.dispose();
    log(`${tag}: warm-up step ${fmtMs(first.ms)} ms (recording ${fmtMs(first.recordMs)} ms), loss ${out.peer_loss[0]}`);
    if (!Number.isFinite(out.peer_loss[0])) throw new Error(`the warm-up step's loss is ${out.peer_loss[0]}; not timed`);
    const waits = [first.ms - first.recordMs];
    let last = first.ms;
    for (let i = 0; i < settings.steps; i++) {
      // A started row always gets one timed step; more only while they fit the budget.
      if (i > 0 && spent + last > budgetMs) break;
      const t = await once(peer.name === 'webgpu' ? sleepFor(waits) : 0);
      spent += t.ms;
      last = t.ms;
      out.peer_times.push(t.ms);
      waits.push(t.ms - t.recordMs);
      if (i === 0) out.peer_loss[1] = (await t.loss.data())[0]!; // read outside the timed interval
      t.loss.dispose();
    }
    out.peer_steps = out.peer_times.length;
    out.peer_ms = median(out.peer_times);
    const list = measured.get(peer.name) ?? [];
    list.push({ model: plan.net.name, batch: plan.batch, ms: out.peer_ms });
    measured.set(peer.name, list);
    log(`${tag}: ${out.peer_times.map(fmtMs).join(', ')} ms; step-2 loss ${out.peer_loss[1]}`);
    return out;
  } catch (e) {
    out.error = `${peer.label} failed: ${errText(e)}`;
    loud(`${tag}: ${out.error}`);
    return out;
  } finally {
    opt?.dispose();
    net?.model.dispose();
    tf.dispose(inputs);
    log(`${tag}: ${tf.memory().numTensors} tfjs tensors alive after the row`);
  }
}

// ------------------------------------------------------------------ main

function relDiff(a: number | null, b: number | null): number | null {
  if (a === null || b === null) return null;
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
}

const ips = (batch: number, ms: number | null) => (ms ? (batch * 1000) / ms : null);

async function main(): Promise<void> {
  const t0 = performance.now();
  // The umbrella package registers tfjs-core's gradients (the tfjs-core Node bundle alone has
  // none) and brings tfjs-layers; it shares the one tfjs-core instance with both backends.
  const tf = require('@tensorflow/tfjs') as typeof TFL;
  const { ctx, fellBack } = await openContext({ log: (m) => console.warn(m) });
  const peers: Peer[] = [];
  try {
    for (const p of settings.peers) peers.push(p === 'webgpu' ? await loadWebgpuPeer() : await loadWasmPeer());
    if (peers.some((p) => p.name === 'wasm')) registerWasmConv2dBackpropFilter(tf);

    const a = ctx.adapter;
    const adapterName = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || 'unknown adapter';
    const timing =
      'wall clock per training step (forward in training mode + softmax cross-entropy + backward + SGD update), median of the timed steps after one warm-up step: ' +
      'ours = record the step + ctx.flush() (one submit) + ctx.sync() (queue fence); ' +
      'tfjs-webgpu = optimizer.minimize(...) inside tf.tidy + submit + queue.onSubmittedWorkDone(); tfjs-wasm = the synchronous minimize call. ' +
      (ctx.timestamps
        ? `ours reads each step's GPU time from timestamps and, after one untimed step, sleeps ${OURS_GPU_SLEEP} × its fastest GPU time so far before awaiting the fence; ` +
          `tfjs-webgpu sleeps ${settings.sleepFrac} × its shortest post-submit wait so far (when ≥ ${MIN_SLEEP_MS} ms) (dawn.node busy-polls while it waits). `
        : `GPU sides sleep ${settings.sleepFrac} × their shortest post-submit wait so far (when ≥ ${MIN_SLEEP_MS} ms) before awaiting the fence (dawn.node busy-polls). `) +
      'Losses are read back outside the timed interval.';
    console.log(`netslim training-step benchmark — ${new Date().toISOString()} — Node ${process.version}`);
    console.log(
      `Adapter (ours): ${adapterName}${a.isSwiftShader ? '  [SwiftShader: CPU Vulkan, not a GPU]' : ''}` +
        (fellBack ? ` (Dawn found no GPU; fell back to ${process.env.VK_ICD_FILENAMES})` : '') +
        `; variants ${JSON.stringify(ctx.variants)}`,
    );
    for (const p of peers) console.log(`Peer ${p.label}: ${JSON.stringify(p.info)}`);
    if (peers.some((p) => p.name === 'wasm')) console.log(`NOTE: ${WASM_WGRAD_NOTE}.`);
    console.log(
      `Settings: models ${settings.models.join(',')}, batches ${settings.batches?.join(',') ?? 'per model'}, timed steps ${settings.steps}, ` +
        `peer budget ${settings.maxPeerSeconds} s per figure, loss rtol ${settings.lossRtol}, peers ${settings.peers.join(',') || 'none'}` +
        (quick ? ' (quick)' : ''),
    );
    console.log(`Ours: netslim vgg(cfg), NCHW, SGD ${JSON.stringify(OURS_SGD)} (weight decay and the BN-γ sparsity term fused into the update).`);
    console.log(`Peers: tf.train.momentum(${PEER_SGD.lr}, ${PEER_SGD.momentum}), no weight decay or sparsity term; same initial weights and data as ours.`);
    console.log(`Timing: ${timing}`);
    console.log('');

    // ---- plans, run from the cheapest so that a peer's estimate can scale an earlier measurement
    const plans: Plan[] = [];
    for (const name of settings.models) {
      const net = NETS.find((n) => n.name === name)!;
      for (const batch of settings.batches ?? net.defaultBatches) plans.push({ net, batch, flops: stepFlops(net.cfg, batch), order: plans.length });
    }
    const rowsByPlan = new Map<Plan, Row[]>();
    for (const plan of [...plans].sort((p, q) => p.flops - q.flops)) {
      const tag = `${plan.net.name} b${plan.batch}`;
      log(`${tag}: ${fmtNum(plan.flops / 1e9)} GFLOP/step (nominal)`);
      const data = makeData(plan.batch);
      const ours = await runOurs(ctx, plan, data, peers.length > 0);
      const base = {
        model: plan.net.name,
        cfg: plan.net.cfg,
        batch: plan.batch,
        gflop_per_step: plan.flops / 1e9,
        ours_ms: ours.res.ms,
        ours_images_per_s: ips(plan.batch, ours.res.ms),
        ours_first_ms: ours.res.first_ms,
        ours_steps: ours.res.steps,
        ours_times: ours.res.times,
        ours_loss: ours.res.loss,
      };
      const none = {
        peer_first_ms: null,
        peer_ms: null,
        peer_steps: 0,
        peer_times: [],
        peer_loss: [null, null] as [null, null],
        peer_estimate: null,
        peer_probe_ms: null,
        skipped: null,
        error: null,
      };
      const rows: Row[] = [];
      for (const peer of peers) {
        const p = ours.state ? await runPeer(tf, peer, plan, data, ours.state) : { ...none, error: 'not run: our initial weights are unavailable' };
        let lossCheck: Row['loss_check'] = null;
        if (p.peer_loss[0] !== null && ours.res.loss[0] !== null) {
          const s1 = relDiff(ours.res.loss[0], p.peer_loss[0]);
          const s2 = relDiff(ours.res.loss[1], p.peer_loss[1]);
          const ok = s1 !== null && s1 <= settings.lossRtol && (s2 === null || s2 <= settings.lossRtol);
          lossCheck = { step1: s1, step2: s2, ok };
          if (!ok) {
            loud(
              `${tag} ${peer.label}: losses disagree (same weights and data): step 1 ours ${ours.res.loss[0]} vs ${p.peer_loss[0]}, ` +
                `step 2 ours ${ours.res.loss[1]} vs ${p.peer_loss[1]} (rtol ${settings.lossRtol})`,
            );
          }
        }
        rows.push({
          ...base,
          peer: peer.label,
          peer_impl: peerImpl(peer),
          ...p,
          peer_images_per_s: ips(plan.batch, p.peer_ms),
          ratio: ours.res.ms && p.peer_ms ? p.peer_ms / ours.res.ms : null,
          loss_check: lossCheck,
          error: p.error ?? ours.error,
        });
      }
      if (peers.length === 0) rows.push({ ...base, peer: null, peer_impl: null, ...none, peer_images_per_s: null, ratio: null, loss_check: null, error: ours.error });
      rowsByPlan.set(plan, rows);
    }
    const rows = plans.flatMap((p) => rowsByPlan.get(p) ?? []);

    // ---- table
    const lossPair = (l: [number | null, number | null]) => (l[0] === null ? '—' : `${l[0].toFixed(4)}→${l[1] === null ? '—' : l[1].toFixed(4)}`);
    const header = ['model', 'batch', 'GFLOP/step', 'ours ms (n)', 'ours 1st', 'ours img/s', 'ours loss', 'peer', 'peer ms (n)', 'peer 1st', 'peer img/s', 'peer loss', 'ratio', 'note'];
    const right = [false, true, true, true, true, true, false, false, true, true, true, false, true, false];
    const body = rows.map((r) => [
      r.model,
      String(r.batch),
      fmtNum(r.gflop_per_step),
      r.ours_ms === null ? '—' : `${fmtMs(r.ours_ms)} (${r.ours_steps})`,
      fmtMs(r.ours_first_ms),
      fmtNum(r.ours_images_per_s),
      lossPair(r.ours_loss),
      r.peer ?? '—',
      r.skipped ? 'skipped' : r.peer_ms === null ? '—' : `${fmtMs(r.peer_ms)} (${r.peer_steps})`,
      fmtMs(r.peer_first_ms),
      fmtNum(r.peer_images_per_s),
      lossPair(r.peer_loss),
      r.ratio === null ? '—' : `${fmtNum(r.ratio)}×`,
      r.error ? 'ERROR' : r.skipped ? 'over budget' : r.loss_check && !r.loss_check.ok ? 'LOSS MISMATCH' : r.loss_check ? `loss Δ ${(r.loss_check.step1 ?? 0).toExponential(0)}/${r.loss_check.step2 === null ? '—' : r.loss_check.step2.toExponential(0)}` : '',
    ]);
    console.log('\n' + table(header, body, right));
    console.log(
      '\nms = median wall-clock ms per training step over (n) timed steps; 1st = the warm-up step (pipeline compile included); img/s = batch / ms; ' +
        'loss = step 1 → step 2 (same initial weights and data on both sides); ratio = peer ms / ours ms (> 1: ours faster); ' +
        'loss Δ = |ours − peer| / |peer| at steps 1/2; GFLOP/step = nominal conv + linear FLOPs × 3.',
    );
    const skipped = rows.filter((r) => r.skipped);
    if (skipped.length) {
      console.log('\nSkipped rows:');
      for (const r of skipped) console.log(`  ${r.model} b${r.batch} ${r.peer}: ${r.skipped}`);
    }
    const estimated = rows.filter((r) => r.peer_estimate && !r.skipped);
    if (estimated.length) {
      console.log('\nPeer estimates made before running (budget check):');
      for (const r of estimated) console.log(`  ${r.model} b${r.batch} ${r.peer}: ${fmtNum(r.peer_estimate!.seconds_per_step)} s/step from ${r.peer_estimate!.from}`);
    }
    const errors = rows.filter((r) => r.error);
    if (errors.length) {
      console.log(`\n${errors.length} row(s) with errors:`);
      for (const r of errors) console.log(`  ${r.model} b${r.batch} ${r.peer ?? ''}: ${r.error!.split('\n')[0]}`);
    }

    // ---- JSON
    const json = {
      adapter: {
        ...adapterRecord(ctx, adapterName, fellBack),
        tfjs: Object.fromEntries(peers.map((p) => [p.name, p.info])),
      },
      date: new Date().toISOString(),
      node: process.version,
      settings: {
        quick,
        models: settings.models,
        batches: settings.batches,
        peers: settings.peers,
        steps: settings.steps,
        max_peer_seconds: settings.maxPeerSeconds,
        loss_rtol: settings.lossRtol,
        sleep_frac: settings.sleepFrac,
        input: `${IN_CHANNELS}×${SIZE}×${SIZE}, ${NUM_CLASSES} classes, seeded uniform[−1, 1) images and labels, the same for both sides`,
        ours_sgd: OURS_SGD,
        peer_sgd: { ...PEER_SGD, impl: 'tf.train.momentum' },
        wasm_note: peers.some((p) => p.name === 'wasm') ? WASM_WGRAD_NOTE : null,
        timing,
        layouts: 'ours NCHW / OIHW; tfjs peers NHWC / HWIO (their native layout); weights copied from ours before the warm-up step',
      },
      rows,
    };
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify(json, null, 2) + '\n');
    console.log(`\nWrote ${path.relative(process.cwd(), outFile)} (${rows.length} rows) in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
    if (failures.count) {
      console.error(`bench train: ${failures.count} failure(s) (errors or loss mismatches) — see the !!!!!!!! lines above.`);
      process.exitCode = 1;
    }
  } finally {
    for (const p of peers) p.dispose();
    ctx.destroy();
    releaseGpu();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
