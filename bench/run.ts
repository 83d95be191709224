/**
 * Kernel benchmark: our WebGPU kernels (src/ops) against @tensorflow/tfjs-backend-webgpu on the same
 * adapter and @tensorflow/tfjs-backend-wasm (SIMD), on the VGG-16 CIFAR layer shapes. Every row is
 * checked against the peer's output before it is timed. See bench/README.md.
 *
 *   npm run bench -- [--quick] [--ops conv,dwconv,bn,pool,linear] [--peers webgpu,wasm] [--repeats N]
 *                    [--warmups N] [--batch N] [--max-row-s S] [--rtol R] [--variant tiled|regblock]
 *                    [--out FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TF from '@tensorflow/tfjs-core';
import type { Context } from '../src/core.js';
import { ALL_OPS, DEFAULT_OPS, buildCases, type Case, type ConvVariant, type Op, type Outputs, type Pass, type PeerName } from './cases.js';
import { loadWasmPeer, loadWebgpuPeer, openContext, releaseGpu, type Peer } from './peers.js';
import { compare, errText, failures, flagParsers, fmtMs, fmtNum, geomean, loud, median, sleep, table } from './util.js';
import { MIN_SLEEP_MS, sleepBefore } from '../src/gpu/wait.js';

// ------------------------------------------------------------------ flags

const USAGE = `usage: npm run bench -- [options]
  --quick              one small shape per op, 1 repeat, 0 warm-ups (smoke test)
  --ops LIST           comma list of ${ALL_OPS.join(',')} (default ${DEFAULT_OPS.join(',')}; relu = harness self-test)
  --peers LIST         comma list of webgpu,wasm (default both; "none" for ours only)
  --repeats N          timed runs per figure (default 5; quick 1)
  --warmups N          untimed runs after the first run (default 1; quick 0)
  --batch N            batch size (default 64)
  --max-row-s S        time budget per figure in seconds; at least one timed run is always made (default 30)
  --rtol R             relative tolerance of the correctness check (default 1e-3)
  --sleep-frac F       GPU sides sleep F × their fastest run before awaiting the fence, when that is ≥ 10 ms (default 0.6; 0: never)
  --variant V          tiled|regblock: force our conv variant (opts.variant) and ctx variants.gemm
  --filter REGEX       only the cases whose "op pass shape" matches, e.g. --filter 'conv (forward|dgrad)'
  --out FILE           JSON output (default bench/results/kernels.json; quick: kernels-quick.json)`;

const { die, intFlag, numFlag, listFlag, parse } = flagParsers('bench', USAGE);

const flags = parse({
  quick: { type: 'boolean', default: false },
  ops: { type: 'string' },
  peers: { type: 'string' },
  repeats: { type: 'string' },
  warmups: { type: 'string' },
  batch: { type: 'string' },
  'max-row-s': { type: 'string' },
  rtol: { type: 'string' },
  variant: { type: 'string' },
  out: { type: 'string' },
  filter: { type: 'string' },
  'sleep-frac': { type: 'string' },
});

const quick = flags.quick!;
const settings = {
  quick,
  batch: intFlag('batch', flags.batch, 64, 2),
  repeats: intFlag('repeats', flags.repeats, quick ? 1 : 5, 1),
  warmups: intFlag('warmups', flags.warmups, quick ? 0 : 1, 0),
  maxRowSeconds: numFlag('max-row-s', flags['max-row-s'], 30),
  rtol: numFlag('rtol', flags.rtol, 1e-3),
  sleepFrac: flags['sleep-frac'] === '0' ? 0 : numFlag('sleep-frac', flags['sleep-frac'], 0.6),
  ops: listFlag<Op>('ops', flags.ops, ALL_OPS, DEFAULT_OPS),
  peers: listFlag<PeerName>('peers', flags.peers, ['webgpu', 'wasm'], ['webgpu', 'wasm']),
  variant: flags.variant === undefined ? undefined : (listFlag<ConvVariant>('variant', flags.variant, ['tiled', 'regblock'], [])[0] as ConvVariant),
};
let filter: RegExp | null = null;
try {
  filter = flags.filter === undefined ? null : new RegExp(flags.filter);
} catch (e) {
  die(`--filter: ${(e as Error).message}`);
}
const here = path.dirname(fileURLToPath(import.meta.url)); // bench/.build
const outFile = path.resolve(flags.out ?? path.join(here, '..', 'results', quick ? 'kernels-quick.json' : 'kernels.json'));

// ------------------------------------------------------------------ timing

interface Figure {
  /** First run: includes pipeline compilation (and, for tfjs, shader generation). */
  firstMs: number;
  /** Median of `runs` timed runs (null when the row was aborted). */
  ms: number | null;
  runs: number;
  warmups: number;
  times: number[];
}

/**
 * After the first run: `warmups` untimed runs, then up to `repeats` timed runs, stopping early
 * once the next run would exceed the row's budget (but always making one timed run). `once(sleepMs)`
 * runs one pass to completion and returns its wall-clock milliseconds; `sleepMs` is how long it may
 * sleep before awaiting the GPU fence (`--sleep-frac` of the fastest run so far when that is at
 * least MIN_SLEEP_MS; else 0).
 */
async function steady(firstMs: number, once: (sleepMs: number) => Promise<number>): Promise<Figure> {
  const budget = settings.maxRowSeconds * 1000;
  let spent = firstMs;
  let last = firstMs;
  let fastest = Infinity;
  const step = async () => {
    const t = await once(Number.isFinite(fastest) ? sleepBefore([fastest], settings.sleepFrac) : 0);
    spent += t;
    last = t;
    fastest = Math.min(fastest, t);
    return t;
  };
  let warm = 0;
  for (; warm < settings.warmups; warm++) {
    if (spent + last > budget) break;
    await step();
  }
  const times: number[] = [];
  for (let i = 0; i < settings.repeats; i++) {
    if (i > 0 && spent + last > budget) break;
    times.push(await step());
  }
  return { firstMs, ms: median(times), runs: times.length, warmups: warm, times };
}

async function oursOnce(ctx: Context, run: () => void, sleepMs: number): Promise<number> {
  const t0 = performance.now();
  run();
  ctx.flush();
  // dawn.node busy-polls while a promise is pending: sleep through most of the expected time.
  if (sleepMs > 0) await sleep(sleepMs);
  await ctx.sync();
  return performance.now() - t0;
}

async function peerOnce(peer: Peer, run: () => TF.Tensor[], sleepMs: number): Promise<number> {
  const { ms, outs } = await peer.time(run, sleepMs);
  peer.tf.dispose(outs);
  return ms;
}

// ------------------------------------------------------------------ rows

interface Row {
  op: Op;
  pass: Pass;
  shape: string;
  flops: number;
  ours_ms: number | null;
  ours_runs: number;
  ours_first_ms: number | null;
  ours_gflops: number | null;
  peer: string | null;
  peer_impl: string | null;
  peer_ms: number | null;
  peer_runs: number;
  peer_first_ms: number | null;
  peer_gflops: number | null;
  /** peer_ms / ours_ms: > 1 means ours is faster. */
  ratio: number | null;
  /** What the output was checked against, and the worst relative error. */
  check: { against: string; rel_err: number; ok: boolean; detail: string } | null;
  error: string | null;
}

const gflops = (flops: number, ms: number | null) => (ms ? flops / ms / 1e6 : null);

async function runCase(c: Case, ctx: Context, peers: Peer[]): Promise<Row[]> {
  const tag = `${c.op} ${c.pass} ${c.shape}`;
  process.stderr.write(`[bench] ${tag}\n`);
  // ---- first runs (compile included) and outputs
  let ours: Awaited<ReturnType<Case['ours']>> | null = null;
  let oursErr: string | null = null;
  let oursFirst: number | null = null;
  let oursOut: Outputs | null = null;
  try {
    ours = await c.ours(ctx, settings.variant);
    await ctx.sync(); // uploads finish before the clock starts
    oursFirst = await oursOnce(ctx, ours.run, 0);
    oursOut = await ours.read();
  } catch (e) {
    oursErr = `ours failed: ${errText(e)}`;
    loud(`${tag}: ${oursErr}`);
    ours?.dispose();
    ours = null;
  }

  interface PeerState {
    peer: Peer;
    runner: ReturnType<Case['peer']> | null;
    first: number | null;
    out: Outputs | null;
    error: string | null;
    check: Row['check'];
  }
  const states: PeerState[] = [];
  for (const peer of peers) {
    const st: PeerState = { peer, runner: null, first: null, out: null, error: null, check: null };
    states.push(st);
    try {
      await peer.activate();
      st.runner = c.peer(peer.tf, peer.name);
      await peer.upload(st.runner.inputs);
      const { ms, outs } = await peer.time(st.runner.run, 0);
      st.first = ms;
      st.out = await st.runner.read(outs);
      peer.tf.dispose(outs);
    } catch (e) {
      st.error = `${peer.label} failed: ${errText(e)}`;
      loud(`${tag}: ${st.error}`);
    }
  }

  // ---- correctness: ours against each peer (or, without ours, the peers against the first one)
  const refName = oursOut ? 'ours' : states.find((s) => s.out)?.peer.label;
  const ref = oursOut ?? states.find((s) => s.out)?.out ?? null;
  // With no peer output at all there is nothing to check against: ours is timed, unchecked.
  let oursAgreed = oursOut !== null && !states.some((st) => st.out);
  for (const st of states) {
    if (!st.out || !ref || st.out === ref) continue;
    const cmp = oursOut ? compare(oursOut, st.out, settings.rtol) : compare(st.out, ref, settings.rtol);
    st.check = { against: oursOut ? st.peer.label : `${refName}`, rel_err: cmp.relErr, ok: cmp.ok, detail: cmp.detail };
    if (cmp.ok) {
      if (oursOut) oursAgreed = true;
    } else {
      st.error = oursOut
        ? `MISMATCH ours vs ${st.peer.label} (rtol ${settings.rtol}): ${cmp.detail}`
        : `MISMATCH ${st.peer.label} vs ${refName} (rtol ${settings.rtol}): ${cmp.detail}`;
      loud(`${tag}: ${st.error} — row aborted, not timed`);
    }
  }
  if (oursOut && !states.some((st) => st.out)) console.warn(`[bench] ${tag}: no peer output, our output is unchecked`);

  // ---- timing
  let oursFig: Figure | null = null;
  if (ours && oursAgreed && oursFirst !== null) {
    const run = ours.run;
    try {
      oursFig = await steady(oursFirst, (sl) => oursOnce(ctx, run, sl));
    } catch (e) {
      oursErr = `ours failed while timing: ${errText(e)}`;
      loud(`${tag}: ${oursErr}`);
    }
  } else if (ours && !oursAgreed) {
    oursErr = 'ours disagrees with every peer: not timed';
  }
  ours?.dispose();
  ctx.releaseScratch();

  const rows: Row[] = [];
  const base = { op: c.op, pass: c.pass, shape: c.shape, flops: c.flops };
  for (const st of states) {
    let fig: Figure | null = null;
    if (st.runner && !st.error) {
      const run = st.runner.run;
      try {
        await st.peer.activate();
        fig = await steady(st.first!, (sl) => peerOnce(st.peer, run, sl));
      } catch (e) {
        st.error = `${st.peer.label} failed while timing: ${errText(e)}`;
        loud(`${tag}: ${st.error}`);
      }
    }
    if (st.runner) st.peer.tf.dispose(st.runner.inputs);
    const oursMs = st.error ? null : (oursFig?.ms ?? null);
    const peerMs = fig?.ms ?? null;
    rows.push({
      ...base,
      ours_ms: oursMs,
      ours_runs: oursMs === null ? 0 : oursFig!.runs,
      ours_first_ms: oursFirst,
      ours_gflops: gflops(c.flops, oursMs),
      peer: st.peer.label,
      peer_impl: c.peerImpl(st.peer.name),
      peer_ms: peerMs,
      peer_runs: fig?.runs ?? 0,
      peer_first_ms: st.first,
      peer_gflops: gflops(c.flops, peerMs),
      ratio: oursMs && peerMs ? peerMs / oursMs : null,
      check: st.check,
      error: st.error ?? oursErr,
    });
  }
  if (states.length === 0) {
    rows.push({
      ...base,
      ours_ms: oursFig?.ms ?? null,
      ours_runs: oursFig?.runs ?? 0,
      ours_first_ms: oursFirst,
      ours_gflops: gflops(c.flops, oursFig?.ms ?? null),
      peer: null,
      peer_impl: null,
      peer_ms: null,
      peer_runs: 0,
      peer_first_ms: null,
      peer_gflops: null,
      ratio: null,
      check: null,
      error: oursErr,
    });
  }
  c.release();
  return rows;
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const t0 = performance.now();
  const { ctx, fellBack } = await openContext({ log: (m) => console.warn(m), ...(settings.variant ? { variants: { gemm: settings.variant } } : {}) });
  const peers: Peer[] = [];
  try {
    for (const p of settings.peers) peers.push(p === 'webgpu' ? await loadWebgpuPeer() : await loadWasmPeer());

    const a = ctx.adapter;
    const adapterName = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || 'unknown adapter';
    const timing =
      'wall clock to completion, median of N timed runs after warm-ups: ours = record + ctx.flush() + ctx.sync() (queue fence); ' +
      'tfjs-webgpu = op call + submit + queue.onSubmittedWorkDone(); tfjs-wasm = synchronous op call. ' +
      `GPU sides sleep ${settings.sleepFrac} × their fastest run so far (when ≥ ${MIN_SLEEP_MS} ms) before awaiting the fence (dawn.node busy-polls). Layout transposes and uploads are not timed.`;
    console.log(`netslim kernel benchmark — ${new Date().toISOString()} — Node ${process.version}`);
    console.log(
      `Adapter (ours): ${adapterName}${a.isSwiftShader ? '  [SwiftShader: CPU Vulkan, not a GPU]' : ''}` +
        (fellBack ? ` (Dawn found no GPU; fell back to ${process.env.VK_ICD_FILENAMES})` : ''),
    );
    for (const p of peers) console.log(`Peer ${p.label}: ${JSON.stringify(p.info)}`);
    console.log(
      `Settings: batch ${settings.batch}, repeats ${settings.repeats}, warm-ups ${settings.warmups}, budget ${settings.maxRowSeconds} s per figure, ` +
        `rtol ${settings.rtol}, ops ${settings.ops.join(',')}, peers ${settings.peers.join(',') || 'none'}` +
        (settings.variant ? `, variant ${settings.variant}` : '') +
        (quick ? ' (quick)' : ''),
    );
    console.log(`Timing: ${timing}`);
    console.log('');

    const cases = buildCases(settings.ops, settings.batch, quick).filter((c) => !filter || filter.test(`${c.op} ${c.pass} ${c.shape}`));
    if (cases.length === 0) console.warn('bench: no case matches --ops/--filter');
    const rows: Row[] = [];
    for (const c of cases) rows.push(...(await runCase(c, ctx, peers)));

    // ---- table
    const header = ['op', 'pass', 'shape', 'ours ms (n)', 'ours 1st', 'GFLOP/s', 'peer', 'peer ms (n)', 'peer 1st', 'peer GFLOP/s', 'ratio', 'check'];
    const right = [false, false, false, true, true, true, false, true, true, true, true, false];
    const body = rows.map((r) => [
      r.op,
      r.pass,
      r.shape,
      r.ours_ms === null ? '—' : `${fmtMs(r.ours_ms)} (${r.ours_runs})`,
      fmtMs(r.ours_first_ms),
      fmtNum(r.ours_gflops),
      r.peer ?? '—',
      r.peer_ms === null ? '—' : `${fmtMs(r.peer_ms)} (${r.peer_runs})`,
      fmtMs(r.peer_first_ms),
      fmtNum(r.peer_gflops),
      r.ratio === null ? '—' : `${fmtNum(r.ratio)}×`,
      r.error ? 'ERROR' : r.check ? `${r.check.rel_err.toExponential(1)} vs ${r.check.against}` : 'unchecked',
    ]);
    console.log('\n' + table(header, body, right));
    console.log(
      '\nms = median wall-clock time of (n) timed runs; 1st = the first run (pipeline compile included); ' +
        'ratio = peer ms / ours ms (> 1: ours faster); check = worst max|Δ|/max|ref| over the outputs.',
    );
    const impls = new Map<string, string>();
    for (const r of rows) if (r.peer && r.peer_impl) impls.set(`${r.peer} ${r.op} ${r.pass}`, r.peer_impl);
    console.log('\nPeer implementations:');
    for (const [k, v] of impls) console.log(`  ${k}: ${v}`);

    // ---- geometric means
    const groups = new Map<string, { op: Op; pass: Pass; peer: string; ratios: number[] }>();
    for (const r of rows) {
      if (r.ratio === null || !r.peer) continue;
      const k = `${r.op}|${r.pass}|${r.peer}`;
      const g = groups.get(k) ?? { op: r.op, pass: r.pass, peer: r.peer, ratios: [] };
      g.ratios.push(r.ratio);
      groups.set(k, g);
    }
    const geo = [...groups.values()].map((g) => ({ op: g.op, pass: g.pass, peer: g.peer, ratio: geomean(g.ratios), n: g.ratios.length }));
    if (geo.length) {
      console.log('\nGeometric mean of ratio (peer ms / ours ms) per op, pass and peer:');
      console.log(table(['op', 'pass', 'peer', 'geomean ratio', 'rows'], geo.map((g) => [g.op, g.pass, g.peer, `${fmtNum(g.ratio)}×`, String(g.n)]), [false, false, false, true, true]));
    }
    const errors = rows.filter((r) => r.error);
    if (errors.length) {
      console.log(`\n${errors.length} row(s) with errors:`);
      for (const r of errors) console.log(`  ${r.op} ${r.pass} ${r.shape} ${r.peer ?? ''}: ${r.error!.split('\n')[0]}`);
    }

    // ---- JSON
    const json = {
      adapter: {
        ...ctx.adapter,
        timestampQuery: ctx.timestamps,
        subgroups: ctx.subgroups,
        variants: ctx.variants,
        tfjs: Object.fromEntries(peers.map((p) => [p.name, p.info])),
      },
      date: new Date().toISOString(),
      node: process.version,
      settings: {
        batch: settings.batch,
        repeats: settings.repeats,
        warmups: settings.warmups,
        max_row_seconds: settings.maxRowSeconds,
        rtol: settings.rtol,
        sleep_frac: settings.sleepFrac,
        quick,
        ops: settings.ops,
        peers: settings.peers,
        variant: settings.variant ?? null,
        filter: flags.filter ?? null,
        timing,
        layouts: 'ours NCHW activations / OIHW weights; tfjs peers NHWC / HWIO (their native layout); transposes done on the CPU outside the timing',
      },
      rows,
      geomean: geo,
    };
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify(json, null, 2) + '\n');
    console.log(`\nWrote ${path.relative(process.cwd(), outFile)} (${rows.length} rows) in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
    if (failures.count) {
      console.error(`bench: ${failures.count} failure(s) (mismatches or errors) — see the !!!!!!!! lines above.`);
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
