#!/usr/bin/env node
// The "Bring your own model" loop of the README, measured: for each ONNX file given, the built
// CLI (dist/cli.js) runs import → train --refine --sr → prune --coupled prune --target-flops F →
// train --refine → export, on a seeded random tensor dataset of N 3×32×32 images (the loop's
// mechanics and costs, not accuracy), then onnxruntime runs the exported file and predict runs
// the checkpoint on the same batch. Prints one table row per model: parameters and FLOPs before
// → after, the wall time of each command and the largest |onnxruntime − predict|.
//
//   /usr/bin/python3 test/fixtures/make_onnx_fixtures.py --full /tmp/byom
//   npx rollup -c && node scripts/byom-loop.mjs /tmp/byom/resnet18.onnx /tmp/byom/mobilenetv2.onnx
//
// Options: --images N (default 64), --batch B (default 32), --target F (default 0.5).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { parseSafetensors, serializeSafetensors } from '../dist/node.js';

const { values: opts, positionals: files } = parseArgs({
  allowPositionals: true,
  options: { images: { type: 'string', default: '64' }, batch: { type: 'string', default: '32' }, target: { type: 'string', default: '0.5' } },
});
if (!files.length) {
  console.error('usage: node scripts/byom-loop.mjs MODEL.onnx [...] [--images N] [--batch B] [--target F]');
  process.exit(2);
}
const N = Number(opts.images);
const cli = path.resolve(import.meta.dirname, '../dist/cli.js');

/** Seeded uniform [−1, 1) (mulberry32). */
function uniform(n, seed) {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1;
  }
  return out;
}

function netslim(...args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`netslim ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return { out: r.stdout, s };
}

const rows = [];
for (const file of files) {
  const dir = mkdtempSync(path.join(tmpdir(), 'netslim-byom-'));
  const x = uniform(N * 3 * 32 * 32, 7);
  const y = BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 10));
  const data = path.join(dir, 'data.safetensors');
  writeFileSync(data, serializeSafetensors({ x: { dtype: 'F32', shape: [N, 3, 32, 32], data: new Uint8Array(x.buffer) }, y: { dtype: 'I64', shape: [N], data: new Uint8Array(y.buffer) } }));
  const common = ['--data', data, '--epochs', '1', '--batch-size', opts.batch, '--lr', '0.01'];
  const imp = netslim('import', '--onnx', file, '--save', path.join(dir, 'imported'));
  const sparse = netslim('train', '--refine', path.join(dir, 'imported', 'model.safetensors'), '--sr', '--s', '1e-4', ...common, '--save', path.join(dir, 'sparse'));
  const pr = netslim('prune', '--model', path.join(dir, 'sparse', 'checkpoint.safetensors'), '--coupled', 'prune', '--target-flops', opts.target, '--save', path.join(dir, 'pruned'));
  const tune = netslim('train', '--refine', path.join(dir, 'pruned', 'pruned.safetensors'), ...common, '--save', path.join(dir, 'tuned'));
  const ckpt = path.join(dir, 'tuned', 'checkpoint.safetensors');
  const exp = netslim('export', '--model', ckpt, '--onnx', path.join(dir, 'slim.onnx'));
  const batch = 4;
  const xb = x.subarray(0, batch * 3 * 32 * 32);
  writeFileSync(path.join(dir, 'x.safetensors'), serializeSafetensors({ input: { dtype: 'F32', shape: [batch, 3, 32, 32], data: new Uint8Array(xb.slice().buffer) } }));
  netslim('predict', '--model', ckpt, '--input', path.join(dir, 'x.safetensors'), '--output', path.join(dir, 'y.safetensors'));
  const ours = new Float32Array(parseSafetensors(new Uint8Array(readFileSync(path.join(dir, 'y.safetensors')))).tensors.get('logits').data.slice().buffer);
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(path.join(dir, 'slim.onnx'))));
  const theirs = (await session.run({ input: new ort.Tensor('float32', xb.slice(), [batch, 3, 32, 32]) })).logits.data;
  await session.release();
  let diff = 0;
  for (let i = 0; i < ours.length; i++) diff = Math.max(diff, Math.abs(ours[i] - theirs[i]));
  const report = JSON.parse(readFileSync(path.join(dir, 'pruned', 'prune.json'), 'utf8'));
  const ips = (o) => /([\d.]+) img\/s/.exec(o)?.[1] ?? '?';
  rows.push([
    path.basename(file),
    `${(report.paramsBefore / 1e6).toFixed(2)} M → ${(report.paramsAfter / 1e6).toFixed(2)} M`,
    `${(report.flopsBefore / 1e6).toFixed(0)} M → ${(report.flopsAfter / 1e6).toFixed(0)} M`,
    `${imp.s.toFixed(1)} s`,
    `${sparse.s.toFixed(1)} s (${ips(sparse.out)} img/s)`,
    `${pr.s.toFixed(1)} s`,
    `${tune.s.toFixed(1)} s (${ips(tune.out)} img/s)`,
    `${exp.s.toFixed(1)} s`,
    diff.toExponential(1),
  ]);
  console.error(`${file}: done (${dir})`);
}
const head = ['model', 'params', 'FLOPs / image', 'import', `train --sr (${N} images)`, 'prune', 'train --refine', 'export', '|onnxruntime − predict|'];
console.log(`| ${head.join(' | ')} |\n| ${head.map(() => '---').join(' | ')} |`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
