// `netslim demo` as a user runs it (the built dist/cli.js: run `npm run build` or `npx rollup -c`
// first): the whole loop with --quick on the built-in Fashion-MNIST subset and on a tensor file,
// the files it writes, and one-line errors. Also the built-in subset itself and how it is found
// from src/ and from dist/.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUILTIN_DATASET, builtinDatasetDir, loadBuiltinDataset } from '../../src/data/builtin.node.js';
import { DatasetError } from '../../src/data/datasets.js';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';
import { integers, normal } from '../util/random.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = path.join(root, 'dist/cli.js');

function netslim(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 300_000, env: { ...process.env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/Warning: Vulkan[\s\S]*?PhysicalDeviceVk\.cpp:\d+\)\n/g, '') };
}

const tmp = () => mkdtempSync(path.join(tmpdir(), 'netslim-demo-'));
const OUTPUTS = ['baseline.safetensors', 'sparse.safetensors', 'pruned.safetensors', 'finetuned.safetensors', 'prune.json', 'report.html', 'demo.json'];

function metadataOf(file: string): Record<string, string> {
  return parseSafetensors(new Uint8Array(readFileSync(file)), file).metadata;
}

/** The checks every successful demo run must pass; returns prune.json. */
function checkRun(r: ReturnType<typeof netslim>, dir: string): { paramsBefore: number; paramsAfter: number; flopsBefore: number; flopsAfter: number; cfg: unknown[]; accuracy: { before: number; after: number } } {
  expect(r.code, r.stderr).toBe(0);
  // The final table: one row per stage, then the phases with images/s, then the files.
  expect(r.stdout).toMatch(/^stage\s+test acc\s+params\s+FLOPs\/image\s+latency \(batch 64\)\s+speed-up$/m);
  for (const stage of ['baseline', 'sparse', 'pruned', 'fine-tuned']) {
    expect(r.stdout).toMatch(new RegExp(`^${stage}\\s+\\d+\\.\\d\\d %\\s+[\\d,]+\\s+\\d+\\.\\d\\d M\\s+\\d+\\.\\d ms\\s+\\d+\\.\\d\\d×$`, 'm'));
  }
  expect(r.stdout).toMatch(/^phase\s+epochs\s+time\s+images\/s\s+what$/m);
  for (const phase of ['baseline', 'sparse', 'prune', 'fine-tune', 'latency']) expect(r.stdout).toMatch(new RegExp(`^${phase}\\s+(\\d+\\s+)?[\\d.]+ s\\s+\\d+\\.\\d\\s+\\S`, 'm'));
  expect(r.stdout).toMatch(/^total [\d.]+ s · pruned cfg \[/m);
  for (const f of OUTPUTS) {
    expect(existsSync(path.join(dir, f)), f).toBe(true);
    expect(r.stdout).toContain(`  ${path.join(dir, f)}`);
  }

  const report = JSON.parse(readFileSync(path.join(dir, 'prune.json'), 'utf8'));
  expect(report.paramsAfter).toBeLessThan(report.paramsBefore);
  expect(report.flopsAfter).toBeLessThan(report.flopsBefore);
  // pruned by slim.slimToTarget to the default target: at most 28 % of the FLOPs
  expect(report.target.flops).toBe(0.28);
  expect(report.target.reached.flops).toBeLessThanOrEqual(0.28);
  expect(report.flopsAfter / report.flopsBefore).toBe(report.target.reached.flops);
  expect(report.accuracy.before).toBeGreaterThanOrEqual(0);
  expect(report.accuracy.after).toBeLessThanOrEqual(1);
  // Checkpoints: baseline and sparse share the architecture, pruned and fine-tuned have the prune's cfg.
  const cfgOf = (f: string) => JSON.parse(metadataOf(path.join(dir, f)).cfg!);
  expect(cfgOf('sparse.safetensors')).toEqual(cfgOf('baseline.safetensors'));
  expect(cfgOf('pruned.safetensors')).toEqual(report.cfg);
  expect(cfgOf('finetuned.safetensors')).toEqual(report.cfg);

  // The HTML report: self-contained, five Plot charts (two γ histograms, channels, accuracy, loss) and the tables.
  const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
  expect(html).toMatch(/^<!doctype html>/);
  expect(html).not.toMatch(/<script|<link |src="http/);
  expect(html.match(/<svg[\s>]/g)?.length ?? 0).toBeGreaterThanOrEqual(5);
  for (const s of ['after baseline training', 'after sparse training', 'Channels per BatchNorm', 'Accuracy per epoch', 'Loss per epoch', 'fine-tuned', 'images/s']) expect(html).toContain(s);
  expect(html).toContain(report.layers[0].name);

  const summary = JSON.parse(readFileSync(path.join(dir, 'demo.json'), 'utf8'));
  expect(summary.stages.map((s: { name: string }) => s.name)).toEqual(['baseline', 'sparse', 'pruned', 'fine-tuned']);
  expect(summary.stages[3].params).toBe(report.paramsAfter);
  for (const s of summary.stages) expect(s.latencyMs).toBeGreaterThan(0);
  return report;
}

describe('built-in Fashion-MNIST subset', () => {
  it('loads from src/: 3000 + 1000 images, class-balanced, padded to 32×32', async () => {
    const { train, test, dir } = await loadBuiltinDataset();
    expect(dir).toBe(path.join(root, 'data', BUILTIN_DATASET));
    expect([train.n, test.n]).toEqual([3000, 1000]);
    expect([train.channels, train.height, train.width, train.name]).toEqual([1, 32, 32, 'fashion-mnist']);
    for (const [d, per] of [[train, 300], [test, 100]] as const) {
      const counts = new Array(10).fill(0);
      for (const l of d.labels) counts[l]++;
      expect(counts).toEqual(new Array(10).fill(per));
    }
  });

  it('is found from dist/ and dist/chunks/, and a missing folder names where it looked', () => {
    for (const from of ['dist/cli.js', 'dist/chunks/index-x.js']) {
      expect(builtinDatasetDir(pathToFileURL(path.join(root, from)).href)).toBe(path.join(root, 'data', BUILTIN_DATASET));
    }
    const elsewhere = pathToFileURL(path.join(tmp(), 'a.js')).href;
    expect(() => builtinDatasetDir(elsewhere)).toThrow(DatasetError);
    expect(() => builtinDatasetDir(elsewhere)).toThrow(/built-in dataset not found \(looked in .*data\/fashion-mnist-subset/);
  });
});

describe('netslim demo', () => {
  it('is in the built CLI (npm run build)', () => {
    expect(existsSync(cli), `${cli} is missing: build it with npm run build (or npx rollup -c)`).toBe(true);
    const r = netslim('demo', '--help');
    expect(r.code, `${r.stderr}\n(dist/cli.js may be stale: npm run build)`).toBe(0);
    for (const flag of ['--data <path>', '--save <dir>', '--target-flops <f>', '--target-params <f>', '--epochs <n>', '--sparsity <f>', '--quick']) expect(r.stdout).toContain(flag);
  });

  it('runs baseline → sparse → prune → fine-tune on the built-in subset (--quick)', () => {
    const dir = tmp();
    const r = netslim('demo', '--quick', '--save', dir);
    checkRun(r, dir);
    expect(r.stdout).toContain('Fashion-MNIST subset (built in): 128 train / 128 test, 1×32×32');
    expect(r.stdout).toContain('cfg [8,"M",16,"M",32,32,"M",64,64,"M",64,64]');
  }, 300_000);

  it('runs on a tensor safetensors file, holding out a test split and fitting the VGG to 8×8 inputs', () => {
    const dir = tmp();
    const data = path.join(dir, 'data.safetensors');
    const [n, c, hw] = [40, 2, 8];
    const x = normal(n * c * hw * hw, 11);
    const y = BigInt64Array.from(integers(n, 3, 12), (v) => BigInt(v));
    writeFileSync(data, serializeSafetensors({
      x: { dtype: 'F32', shape: [n, c, hw, hw], data: new Uint8Array(x.buffer) },
      y: { dtype: 'I64', shape: [n], data: new Uint8Array(y.buffer) },
    }));
    const out = path.join(dir, 'out');
    const r = netslim('demo', '--quick', '--data', data, '--save', out);
    checkRun(r, out);
    expect(r.stdout).toContain('32 train / 8 test, 2×8×8 (no test split: 8 of the 40 samples held out for testing)');
    // Two of VGG-11's four pools: 8 → 4 → 2, then the classifier's 2×2 average pool.
    expect(r.stdout).toContain('cfg [8,"M",16,"M",32,32,64,64,64,64]');
    expect(metadataOf(path.join(out, 'baseline.safetensors')).in_channels).toBe('2');
  }, 300_000);

  it('fails with one line and writes nothing on a bad --data path or bad flags', () => {
    const dir = tmp();
    const out = path.join(dir, 'out');
    const missing = path.join(dir, 'no-such-data');
    const r = netslim('demo', '--data', missing, '--save', out);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toBe(`netslim: --data ${missing}: no such file or directory`);
    const cases: [string[], RegExp][] = [
      [['--target-flops', '1'], /^netslim demo: option '--target-flops <f>' argument '1' is invalid/],
      [['--depth', '12'], /^netslim: --depth 12: vgg depth must be 11, 13, 16 or 19$/],
      [['--dataset', 'cifar10'], /^netslim: --dataset cifar10 needs --data: the built-in dataset is Fashion-MNIST$/],
    ];
    for (const [args, re] of cases) {
      const b = netslim('demo', ...args, '--save', out);
      expect(b.code, `${args.join(' ')}: ${b.stderr}`).toBe(2);
      expect(b.stderr.trim().split('\n')).toHaveLength(1);
      expect(b.stderr.trim()).toMatch(re);
    }
    expect(existsSync(out)).toBe(false);
  });
});
