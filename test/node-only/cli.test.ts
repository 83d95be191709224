// The `netslim` command as a user runs it (the built dist/cli.js): help, one-line errors with
// exit code 2 for bad flags and 1 for bad files, training on a tensor dataset with an exact
// --resume, and predict reproducing PyTorch's logits for PyTorch-made checkpoints.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors, serializeSafetensors, type SafeTensor } from '../../src/io/safetensors.js';
import { expectClose } from '../util/tolerance.js';
import * as ort from 'onnxruntime-node';
import { normal, integers } from '../util/random.js';
import { Graph } from '../../src/nn/graph.js';
import { graphToSpec } from '../../src/nn/graph-spec.js';
import { Add, BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, ReLU6 } from '../../src/nn/layers.js';
import { PNG } from 'pngjs';
import { decode as decodeJpeg, encode as encodeJpeg } from 'jpeg-js';
import { init } from '../../src/node.js';
import { vgg } from '../../src/nn/models.js';
import { saveModel } from '../../src/io/checkpoint.js';
import { CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD } from '../../src/data/datasets.js';
import { scramble } from '../util/scramble.js';

/** A custom-graph model file (an inverted residual with global pooling) with seeded weights, written as netslim writes any graph. */
function customModelFile(file: string): void {
  const g = new Graph(3);
  const stem = g.chain(g.input, new Conv2d('stem.0', { inChannels: 3, outChannels: 8, kernel: 3, padding: 1 }), new BatchNorm2d('stem.1', 8), new ReLU6(''));
  const h = g.chain(
    stem,
    new Conv2d('b.expand', { inChannels: 8, outChannels: 16, kernel: 1 }),
    new BatchNorm2d('b.bn1', 16),
    new ReLU6(''),
    new Conv2d('b.dw', { inChannels: 16, outChannels: 16, kernel: 3, padding: 1, groups: 16 }),
    new BatchNorm2d('b.bn2', 16),
    new ReLU6(''),
    new Conv2d('b.project', { inChannels: 16, outChannels: 8, kernel: 1 }),
    new BatchNorm2d('b.bn3', 8),
  );
  g.chain(g.add(new Add(''), h, stem), new GlobalAvgPool2d(''), new Flatten(''), new Dropout('drop', 0.1), new Linear('fc', 8, 3));
  const tensors: Record<string, SafeTensor> = {};
  let seed = 40;
  for (const l of g.layers()) {
    for (const s of l.state) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const data =
        s.dtype === 'I64' ? new Uint8Array(8) : new Uint8Array((s.key === 'running_var' ? new Float32Array(n).fill(1) : Float32Array.from(normal(n, seed++), (v) => (s.key === 'weight' && l.kind === 'BatchNorm2d' ? Math.abs(v) : 0.3 * v))).buffer);
      tensors[`${l.name}.${s.key}`] = { dtype: s.dtype, shape: s.shape, data };
    }
  }
  writeFileSync(file, serializeSafetensors(tensors, { arch: 'custom', num_classes: '3', in_channels: '3', graph: JSON.stringify(graphToSpec(g)) }));
}

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = path.join(root, 'dist/cli.js');

function netslim(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 300_000, env: { ...process.env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/Warning: Vulkan[\s\S]*?PhysicalDeviceVk\.cpp:\d+\)\n/g, '') };
}

const tmp = () => mkdtempSync(path.join(tmpdir(), 'netslim-cli-'));

/** Runs the CLI, sends SIGINT (Ctrl-C) once its output matches `when`, and waits for it to exit. */
async function interruptWhen(args: string[], when: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [cli, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    proc.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (when.test(stdout)) resolve();
    });
    proc.on('close', () => resolve());
  });
  proc.kill('SIGINT');
  return { code: await exited, stdout, stderr };
}

/** netslim's own stderr lines, without the notice that SwiftShader stands in for a GPU. */
const errorLines = (stderr: string) => stderr.trim().split('\n').filter((l) => l.startsWith('netslim') && !l.includes('no GPU adapter found'));

function tensorDataset(file: string, n: number, c: number, hw: number, classes: number, seed: number): void {
  const x = normal(n * c * hw * hw, seed);
  const y = BigInt64Array.from(integers(n, classes, seed + 1), (v) => BigInt(v));
  writeFileSync(file, serializeSafetensors({
    x: { dtype: 'F32', shape: [n, c, hw, hw], data: new Uint8Array(x.buffer) },
    y: { dtype: 'I64', shape: [n], data: new Uint8Array(y.buffer) },
  }));
}

/** A PNG file of RGBA pixels (row-major). */
function pngFile(file: string, width: number, height: number, rgba: (p: number, k: number) => number): void {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height * 4; i++) png.data[i] = rgba(i >> 2, i & 3);
  writeFileSync(file, PNG.sync.write(png));
}

/** An image's RGBA bytes as C×H×W floats in [0, 1]: RGB, or luminance for one channel (what predict --image feeds the model at its own size). */
function planes(rgba: Uint8Array, hw: number, channels: number): Float32Array {
  const out = new Float32Array(channels * hw);
  for (let p = 0; p < hw; p++) {
    if (channels === 1) out[p] = (0.299 * rgba[4 * p]! + 0.587 * rgba[4 * p + 1]! + 0.114 * rgba[4 * p + 2]!) / 255;
    else for (let k = 0; k < channels; k++) out[k * hw + p] = rgba[4 * p + k]! / 255;
  }
  return out;
}

/** One 2× shrink of a [2n, 2n] plane, written out: the bilinear filter widened to 4 taps, (1, 3, 3, 1)/8 inside and (3, 3, 1)/7 at the edges. */
function halve(plane: Float32Array, side: number): Float32Array {
  const n = side / 2;
  const taps = (o: number): [number, number][] => {
    const all: [number, number][] = [[2 * o - 1, 1], [2 * o, 3], [2 * o + 1, 3], [2 * o + 2, 1]];
    const inside = all.filter(([i]) => i >= 0 && i < side);
    const sum = inside.reduce((a, [, w]) => a + w, 0);
    return inside.map(([i, w]) => [i, w / sum]);
  };
  const out = new Float32Array(n * n);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) out[y * n + x] = taps(y).reduce((a, [iy, wy]) => a + wy * taps(x).reduce((b, [ix, wx]) => b + wx * plane[iy * side + ix]!, 0), 0);
  return out;
}

/** The classes and percentages of one `predict --image` line. */
function parseLine(line: string, file: string): { names: string[]; percent: number[] } {
  expect(line.startsWith(`${file}: `), line).toBe(true);
  const entries = line.slice(file.length + 2).split(', ').map((e) => /^(.+) (\d+\.\d\d)%$/.exec(e)!);
  return { names: entries.map((m) => m[1]!), percent: entries.map((m) => Number(m[2])) };
}

describe('netslim CLI', () => {
  it('prints help for each command and exits 0', () => {
    for (const args of [['--help'], ['train', '--help'], ['predict', '--help']]) {
      const r = netslim(...args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('Usage: netslim');
    }
    expect(netslim('train', '--help').stdout).toContain('--sr');
  });

  it('rejects bad flags with one line and exit code 2', () => {
    const cases: [string[], RegExp][] = [
      [['train', '--data', 'x', '--save', 'y', '--lr', 'abc'], /^netslim train: option '--lr <f>' argument 'abc' is invalid\. --lr must be a number/],
      [['train', '--data', 'x', '--save', 'y', '--bogus'], /^netslim train: unknown option '--bogus'/],
      [['train', '--save', 'y'], /^netslim train: required option '--data <path>' not specified/],
      [['frobnicate'], /^netslim: unknown command 'frobnicate'/],
    ];
    for (const [args, re] of cases) {
      const r = netslim(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(re);
    }
  });

  it('fails with one line naming the missing file, writing nothing', () => {
    const dir = tmp();
    const r = netslim('predict', '--model', path.join(dir, 'missing.safetensors'), '--input', path.join(dir, 'x.safetensors'), '--output', path.join(dir, 'y.safetensors'));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('missing.safetensors');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an output path that cannot be written fails every command with one line, exit 1, nothing written', () => {
    const dir = tmp();
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const model = path.join(dir, 'custom.safetensors');
    customModelFile(model);
    const data = path.join(dir, 'data.safetensors');
    tensorDataset(data, 8, 3, 8, 3, 4);
    writeFileSync(path.join(dir, 'x.safetensors'), serializeSafetensors({ input: { dtype: 'F32', shape: [1, 3, 8, 8], data: new Uint8Array(3 * 8 * 8 * 4) } }));
    const before = readdirSync(dir).sort();
    const cases: [string[], RegExp][] = [
      [['train', '--data', data, '--refine', model, '--epochs', '1', '--save', file], /^netslim: --save .*a-file exists and is not a directory$/],
      [['prune', '--model', model, '--percent', '0.3', '--save', file], /^netslim: --save .*a-file exists and is not a directory$/],
      [['import', '--onnx', path.join(root, 'test/fixtures/onnx/fire_net_op13.onnx'), '--save', file], /^netslim: --save .*a-file exists and is not a directory$/],
      [['demo', '--save', file], /^netslim: --save .*a-file exists and is not a directory$/],
      [['train', '--data', data, '--refine', model, '--epochs', '1', '--save', path.join(file, 'sub')], /^netslim: --save .*a-file\/sub: cannot create the directory: .*\(ENOTDIR\)$/],
      [['export', '--model', model, '--onnx', path.join(file, 'm.onnx')], /^netslim: .*a-file\/m\.onnx: cannot write .*ENOTDIR/],
      [['predict', '--model', model, '--input', path.join(dir, 'x.safetensors'), '--output', path.join(file, 'y.safetensors')], /^netslim: .*a-file\/y\.safetensors: cannot write .*ENOTDIR/],
    ];
    for (const [args, re] of cases) {
      const r = netslim(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      const lines = errorLines(r.stderr);
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0], args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at .*\.[jt]s:\d+/); // no JavaScript stack trace
      expect(readdirSync(dir).sort(), `${args[0]} wrote nothing`).toEqual(before);
      expect(readFileSync(file, 'utf8')).toBe('not a directory');
    }
  }, 300_000);

  it('a checkpoint holding NaN or ±Inf is refused by predict, prune and export in one line; a diverging run stops naming the step', () => {
    const dir = tmp();
    const good = path.join(dir, 'custom.safetensors');
    customModelFile(good);
    const file = parseSafetensors(new Uint8Array(readFileSync(good)), 'custom');
    const state = new Map<string, SafeTensor>(file.tensors);
    const t = state.get('b.bn2.weight')!;
    const f = new Float32Array(t.data.slice().buffer).fill(NaN);
    state.set('b.bn2.weight', { ...t, data: new Uint8Array(f.buffer) });
    const bad = path.join(dir, 'nan.safetensors');
    writeFileSync(bad, serializeSafetensors(state, file.metadata));
    writeFileSync(path.join(dir, 'x.safetensors'), serializeSafetensors({ input: { dtype: 'F32', shape: [1, 3, 8, 8], data: new Uint8Array(3 * 8 * 8 * 4) } }));
    const before = readdirSync(dir).sort();
    for (const args of [
      ['predict', '--model', bad, '--input', path.join(dir, 'x.safetensors'), '--output', path.join(dir, 'y.safetensors')],
      ['prune', '--model', bad, '--percent', '0.3', '--save', path.join(dir, 'p')],
      ['export', '--model', bad, '--onnx', path.join(dir, 'm.onnx')],
    ]) {
      const r = netslim(...args);
      expect(r.code, r.stderr).toBe(1);
      expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^netslim: .*nan\.safetensors: tensor "b\.bn2\.weight": 1 tensor holds NaN or ±Inf: b\.bn2\.weight \(16 of 16\)/)]);
      expect(readdirSync(dir).sort(), `${args[0]} wrote nothing`).toEqual(before);
    }
    // A learning rate that blows the weights up: the run stops at the first non-finite loss.
    const data = path.join(dir, 'data.safetensors');
    tensorDataset(data, 16, 3, 8, 3, 8);
    const save = path.join(dir, 'diverged');
    const r = netslim('train', '--refine', good, '--data', data, '--epochs', '2', '--batch-size', '8', '--lr', '1e30', '--save', save);
    expect(r.code, r.stderr).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(/^netslim: train: the training loss became (NaN|Infinity|-Infinity) in epoch 1, step 2: .*; this run wrote no checkpoint$/),
    ]);
  }, 300_000);

  it('trains on a tensor dataset, and --resume continues exactly', () => {
    const dir = tmp();
    const data = path.join(dir, 'data.safetensors');
    tensorDataset(data, 40, 1, 8, 3, 7);
    const common = ['--data', data, '--arch', 'vgg', '--cfg', '[4,"M",8,"M",8]', '--batch-size', '16', '--lr', '0.05', '--sr', '--s', '1e-3'];
    const a = netslim('train', ...common, '--epochs', '2', '--save', path.join(dir, 'a'));
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/epoch 2\/2 .* no test split/);
    for (const f of ['checkpoint.safetensors', 'checkpoint.state.safetensors', 'model_best.safetensors', 'train.log']) expect(existsSync(path.join(dir, 'a', f)), f).toBe(true);
    expect(readFileSync(path.join(dir, 'a', 'train.log'), 'utf8').trim().split('\n')).toHaveLength(2);
    // One epoch of a run (E = 1 has no lr drop at epoch 0, as E = 2 has none), then --resume to 2
    // epochs: the weights must equal the straight 2-epoch run's bit for bit.
    const b = netslim('train', ...common, '--epochs', '1', '--save', path.join(dir, 'b'));
    expect(b.code, b.stderr).toBe(0);
    const c = netslim('train', ...common, '--epochs', '2', '--resume', path.join(dir, 'b', 'checkpoint.safetensors'), '--save', path.join(dir, 'c'));
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain('resuming at epoch 2');
    const ckptA = readFileSync(path.join(dir, 'a', 'checkpoint.safetensors'));
    const ckptC = readFileSync(path.join(dir, 'c', 'checkpoint.safetensors'));
    expect(Buffer.compare(ckptA, ckptC), 'resumed weights equal the straight run').toBe(0);
    const stateA = readFileSync(path.join(dir, 'a', 'checkpoint.state.safetensors'));
    expect(Buffer.compare(stateA, readFileSync(path.join(dir, 'c', 'checkpoint.state.safetensors')))).toBe(0);
  });

  it('trains --arch resnet18 and mobilenetv2 scaled by --width, at the data\'s size; --depth and --cfg are refused for them', () => {
    const dir = tmp();
    const data = path.join(dir, 'data.safetensors');
    tensorDataset(data, 8, 3, 8, 3, 9);
    for (const [arch, width] of [['resnet18', '0.0625'], ['mobilenetv2', '0.1']] as const) {
      const save = path.join(dir, arch);
      const r = netslim('train', '--data', data, '--arch', arch, '--width', width, '--epochs', '1', '--batch-size', '4', '--lr', '0.01', '--save', save);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/netslim train: custom \(\d+ layers\)/);
      const file = parseSafetensors(readFileSync(path.join(save, 'checkpoint.safetensors')), 'checkpoint.safetensors');
      const firstConv = arch === 'resnet18' ? 'conv1.weight' : 'features.0.0.weight';
      expect(file.tensors.get(firstConv)!.shape[0], `${arch} stem width`).toBe(arch === 'resnet18' ? 4 : 8);
      expect(file.metadata.input_size, 'the 8×8 size is recorded').toBe('8');
    }
    for (const extra of [['--depth', '34'], ['--cfg', '[4]']]) {
      const r = netslim('train', '--data', data, '--arch', 'resnet18', ...extra, '--save', path.join(dir, 'no'));
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toMatch(new RegExp(`^netslim: ${extra[0]} does not apply to --arch resnet18`));
    }
    const r = netslim('train', '--data', data, '--arch', 'resnet50', '--save', path.join(dir, 'no'));
    expect(r.stderr.trim()).toBe('netslim: --arch resnet50: expected vgg, resnet, densenet, resnet18 or mobilenetv2');
    expect(existsSync(path.join(dir, 'no'))).toBe(false);
  }, 300_000);

  it('Ctrl-C stops training after the step in flight, keeps the last epoch\'s checkpoint and exits 130', async () => {
    const dir = tmp();
    const data = path.join(dir, 'data.safetensors');
    tensorDataset(data, 40, 1, 8, 3, 8);
    const save = path.join(dir, 'run');
    const args = ['train', '--data', data, '--arch', 'vgg', '--cfg', '[4,"M",8,"M",8]', '--batch-size', '8', '--epochs', '1000', '--save', save];
    const { code, stderr } = await interruptWhen(args, /epoch 1\/1000 /);
    expect(code, stderr).toBe(130);
    const m = /interrupted in epoch (\d+); (\S+) holds epoch (\d+) \(continue with --resume \S+\)/.exec(stderr);
    expect(m, stderr).not.toBeNull();
    const [interruptedIn, file, holds] = [Number(m![1]), m![2]!, Number(m![3])];
    expect(file).toBe(path.join(save, 'checkpoint.safetensors'));
    // every finished epoch was logged and checkpointed; the interrupted one was not
    expect(holds).toBeGreaterThanOrEqual(1);
    expect(interruptedIn).toBe(holds + 1);
    expect(readFileSync(path.join(save, 'train.log'), 'utf8').trim().split('\n')).toHaveLength(holds);
    expect(JSON.parse(parseSafetensors(new Uint8Array(readFileSync(file)), 'ckpt').metadata.cfg!)).toEqual([4, 'M', 8, 'M', 8]);
    expect(readdirSync(save).filter((f) => f.includes('.tmp'))).toEqual([]);
  }, 300_000);

  it('prunes a checkpoint into pruned.safetensors and prune.json; bad percent or file writes nothing', () => {
    const dir = tmp();
    const fx = parseSafetensors(new Uint8Array(readFileSync(path.join(root, 'test/fixtures/models/resnet11.safetensors'))), 'resnet11');
    const state = new Map<string, SafeTensor>([...fx.tensors].filter(([k]) => !/^(input|labels|eval\.|step0\.|grad\.|loss\.|after\.)/.test(k)));
    const ckpt = path.join(dir, 'model.safetensors');
    writeFileSync(ckpt, serializeSafetensors(state));
    const out = path.join(dir, 'pruned');
    const r = netslim('prune', '--model', ckpt, '--percent', '0.4', '--save', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^layer\s+kind\s+channels\s+params\s+FLOPs\s+note$/m);
    const report = JSON.parse(readFileSync(path.join(out, 'prune.json'), 'utf8'));
    expect(r.stdout).toContain(`(at 40.0 % of the ranked scores) · ${report.prunedChannels} of ${report.totalChannels} channels removed (compact)`);
    expect(report.percent).toBe(0.4);
    expect(report.paramsAfter).toBeLessThan(report.paramsBefore);
    const pruned = parseSafetensors(new Uint8Array(readFileSync(path.join(out, 'pruned.safetensors'))), 'pruned');
    expect(JSON.parse(pruned.metadata.cfg!)).toEqual(report.cfg);
    const svg = readFileSync(path.join(out, 'prune.svg'), 'utf8');
    expect(svg).toMatch(/^<\?xml [^\n]*\n<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain('layer1.0.bn1');
    // Mask mode with compensation: same shapes, metadata says so, the report lists the folds.
    const masked = path.join(dir, 'masked');
    const rm = netslim('prune', '--model', ckpt, '--percent', '0.4', '--save', masked, '--mask', '--compensate');
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toContain('not compensated: layer1.0.conv3');
    const mfile = parseSafetensors(new Uint8Array(readFileSync(path.join(masked, 'pruned.safetensors'))), 'masked');
    expect(mfile.metadata.pruning).toBe('mask');
    expect(mfile.tensors.get('layer1.0.conv1.weight')!.shape).toEqual(state.get('layer1.0.conv1.weight')!.shape);
    const mreport = JSON.parse(readFileSync(path.join(masked, 'prune.json'), 'utf8'));
    expect(mreport.mode).toBe('mask');
    expect(mreport.cfg).toEqual(report.cfg);
    expect(mreport.compensation.folded.length).toBeGreaterThan(0);
    // Bad percent: flag error (exit 2); a file that is no model: exit 1; neither writes anything.
    const bad = path.join(dir, 'bad');
    const r2 = netslim('prune', '--model', ckpt, '--percent', '1', '--save', bad);
    expect(r2.code).toBe(2);
    expect(r2.stderr.trim()).toMatch(/^netslim prune: option '--percent <f>' argument '1' is invalid/);
    writeFileSync(path.join(dir, 'x.safetensors'), serializeSafetensors({ x: state.get('fc.bias')! }));
    const r3 = netslim('prune', '--model', path.join(dir, 'x.safetensors'), '--percent', '0.5', '--save', bad);
    expect(r3.code).toBe(1);
    expect(r3.stderr.trim().split('\n')).toHaveLength(1);
    expect(r3.stderr).toContain('not a netslim model');
    expect(existsSync(bad)).toBe(false);
  });

  it('prunes the residual stream to a FLOP target (--coupled prune --target-flops); the result loads through its graph; bad amounts write nothing', () => {
    const dir = tmp();
    const fx = parseSafetensors(new Uint8Array(readFileSync(path.join(root, 'test/fixtures/models/resnet11.safetensors'))), 'resnet11');
    const state = new Map<string, SafeTensor>([...fx.tensors].filter(([k]) => !/^(input|labels|eval\.|step0\.|grad\.|loss\.|after\.)/.test(k)));
    const ckpt = path.join(dir, 'model.safetensors');
    writeFileSync(ckpt, serializeSafetensors(state));
    const out = path.join(dir, 'pruned');
    const r = netslim('prune', '--model', ckpt, '--target-flops', '0.6', '--coupled', 'prune', '--save', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/target \{"flops":0\.6\}: reached 0\.\d+ of the FLOPs/);
    const report = JSON.parse(readFileSync(path.join(out, 'prune.json'), 'utf8'));
    expect(report.target.reached.flops).toBeLessThanOrEqual(0.6);
    expect(report.coupled).toBe('prune');
    const pruned = parseSafetensors(new Uint8Array(readFileSync(path.join(out, 'pruned.safetensors'))), 'pruned');
    expect(JSON.parse(pruned.metadata.graph!).format).toBe('netslim-graph/1');
    writeFileSync(path.join(dir, 'x.safetensors'), serializeSafetensors({ input: fx.tensors.get('input')! }));
    const p = netslim('predict', '--model', path.join(out, 'pruned.safetensors'), '--input', path.join(dir, 'x.safetensors'), '--output', path.join(dir, 'y.safetensors'));
    expect(p.code, p.stderr).toBe(0);
    const bad = path.join(dir, 'bad');
    const r2 = netslim('prune', '--model', ckpt, '--save', bad);
    expect(r2.code).toBe(2);
    expect(r2.stderr.trim()).toBe('netslim: give --percent, or --target-flops and/or --target-params');
    const both = path.join(dir, 'both');
    const rb = netslim('prune', '--model', ckpt, '--target-flops', '0.7', '--target-params', '0.5', '--cost-exponent', '1', '--save', both);
    expect(rb.code, rb.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(path.join(both, 'prune.json'), 'utf8'));
    expect(rep.target).toMatchObject({ flops: 0.7, params: 0.5 });
    expect(rep.target.reached.flops).toBeLessThanOrEqual(0.7);
    expect(rep.target.reached.params).toBeLessThanOrEqual(0.5);
    expect(rep.costExponent).toBe(1);
    expect(rb.stdout).toContain('threshold |γ|/c^1 > ');
    const r3 = netslim('prune', '--model', ckpt, '--percent', '0.3', '--ignore', 'nope', '--save', bad);
    expect(r3.code).toBe(1);
    // One line of ours (Dawn may print its own native warnings before it: issue 15).
    expect(r3.stderr.trim().split('\n').filter((l) => l.startsWith('netslim'))).toEqual([expect.stringContaining('ignore names "nope", which is no layer of the graph')]);
    const r4 = netslim('prune', '--model', ckpt, '--target-params', '0.001', '--save', bad);
    expect(r4.code).toBe(1);
    expect(r4.stderr).toMatch(/target params 0\.001 cannot be met/);
    expect(existsSync(bad)).toBe(false);
  });

  it('takes any model file through the loop: train --refine --sr (custom graph) → prune --coupled prune → train --refine → export; --input-size checked', async () => {
    const dir = tmp();
    const model = path.join(dir, 'custom.safetensors');
    customModelFile(model);
    const data = path.join(dir, 'data.safetensors');
    tensorDataset(data, 12, 3, 8, 3, 5);
    const sparse = path.join(dir, 'sparse');
    const r1 = netslim('train', '--refine', model, '--sr', '--s', '1e-3', '--data', data, '--epochs', '1', '--batch-size', '4', '--lr', '0.01', '--input-size', '3,8,8', '--save', sparse);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toMatch(/netslim train: custom \(\d+ layers\)/);
    const pruned = path.join(dir, 'pruned');
    const r2 = netslim('prune', '--model', path.join(sparse, 'checkpoint.safetensors'), '--percent', '0.3', '--coupled', 'prune', '--save', pruned);
    expect(r2.code, r2.stderr).toBe(0);
    const report = JSON.parse(readFileSync(path.join(pruned, 'prune.json'), 'utf8'));
    expect(report.prunedChannels).toBeGreaterThan(0);
    const tuned = path.join(dir, 'tuned');
    const r3 = netslim('train', '--refine', path.join(pruned, 'pruned.safetensors'), '--data', data, '--epochs', '1', '--batch-size', '4', '--lr', '0.01', '--save', tuned);
    expect(r3.code, r3.stderr).toBe(0);
    const r4 = netslim('export', '--model', path.join(tuned, 'checkpoint.safetensors'), '--onnx', path.join(dir, 'm.onnx'));
    expect(r4.code, r4.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'm.onnx'))).toBe(true);
    const bad = path.join(dir, 'bad');
    const r5 = netslim('train', '--refine', model, '--data', data, '--epochs', '1', '--input-size', '3,16,16', '--save', bad);
    expect(r5.code).toBe(2);
    expect(r5.stderr.trim()).toBe('netslim: --input-size 3,16,16: data.safetensors images are 3,8,8 (only 28×28 IDX images are padded)');
    expect(existsSync(bad)).toBe(false);
  }, 300_000);

  it("import: a PyTorch ONNX file becomes model.safetensors, which predict runs to PyTorch's logits; bad files write nothing", () => {
    const dir = tmp();
    const save = path.join(dir, 'imported');
    const r = netslim('import', '--onnx', path.join(root, 'test/fixtures/onnx/mobilenetv2_w025_op13.onnx'), '--save', save);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^layer +kind +output +params\n/);
    // Where no Vulkan driver is installed, netslim goes to SwiftShader without Dawn's native warnings.
    expect(r.stderr).not.toContain('vkCreateInstance');
    expect(r.stdout).toMatch(/features\.1\.conv\.0\.0 +Conv2d +8×16×16 +72\n/); // the t=1 block's depthwise 3×3: 8 filters of 3×3
    expect(r.stdout).toMatch(/netslim import: wrote .*model\.safetensors — \d+ layers, [\d,]+ params, [\d.]+ MFLOPs per 3×16×16 image \(fixed input size\), opset 13, from pytorch 1\.13/);
    const fx = parseSafetensors(new Uint8Array(readFileSync(path.join(root, 'test/fixtures/graphs/mobilenetv2_w025.safetensors'))), 'fixture');
    writeFileSync(path.join(dir, 'x.safetensors'), serializeSafetensors({ input: fx.tensors.get('input')! }));
    const p = netslim('predict', '--model', path.join(save, 'model.safetensors'), '--input', path.join(dir, 'x.safetensors'), '--output', path.join(dir, 'y.safetensors'));
    expect(p.code, p.stderr).toBe(0);
    const logits = new Float32Array(parseSafetensors(new Uint8Array(readFileSync(path.join(dir, 'y.safetensors'))), 'y').tensors.get('logits')!.data.slice().buffer);
    expectClose(logits, new Float32Array(fx.tensors.get('eval.logits')!.data.slice().buffer), { atol: 1e-4, rtol: 1e-4 }, 'imported MobileNetV2 predict');
    // The imported file's names are PyTorch's: the state dict keys of the fixture, exactly.
    const saved = parseSafetensors(new Uint8Array(readFileSync(path.join(save, 'model.safetensors'))), 'model');
    const keys = [...fx.tensors.keys()].filter((k) => !/^(input|labels|eval\.|step0\.|grad\.|loss\.|after\.)/.test(k));
    expect([...saved.tensors.keys()].sort()).toEqual(keys.sort());
    // A folded export, a truncated file, a missing file: one line, exit 1, nothing written.
    const bad = path.join(dir, 'bad.onnx');
    writeFileSync(bad, readFileSync(path.join(root, 'test/fixtures/onnx/fire_net_op13.onnx')).subarray(0, 5000));
    for (const [file, re] of [
      [path.join(root, 'test/fixtures/onnx/resnet18_w4_eval_default.onnx'), /^netslim: resnet18_w4_eval_default\.onnx: no BatchNormalization, .*TrainingMode\.PRESERVE/],
      [bad, /^netslim: bad\.onnx: not an ONNX model/],
      [path.join(dir, 'missing.onnx'), /^netslim: .*missing\.onnx/],
    ] as const) {
      const out = path.join(dir, 'never');
      const e = netslim('import', '--onnx', file, '--save', out);
      expect(e.code, e.stderr).toBe(1);
      expect(e.stderr.trim().split('\n').filter((l) => l.startsWith('netslim'))).toHaveLength(1);
      expect(e.stderr.trim()).toMatch(re);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('takes an imported MobileNetV2 through the loop: import → train --refine --sr → prune --coupled prune --target-flops 0.5 → train --refine → export, and onnxruntime agrees with predict', async () => {
    const dir = tmp();
    const data = path.join(dir, 'data.safetensors');
    tensorDataset(data, 8, 3, 16, 10, 21);
    const step = (args: string[]) => {
      const r = netslim(...args);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
      return r;
    };
    step(['import', '--onnx', path.join(root, 'test/fixtures/onnx/mobilenetv2_w025_op17.onnx'), '--save', path.join(dir, 'imported')]);
    const common = ['--data', data, '--epochs', '1', '--batch-size', '4', '--lr', '0.01'];
    step(['train', '--refine', path.join(dir, 'imported', 'model.safetensors'), '--sr', '--s', '1e-3', ...common, '--save', path.join(dir, 'sparse')]);
    const pr = step(['prune', '--model', path.join(dir, 'sparse', 'checkpoint.safetensors'), '--coupled', 'prune', '--target-flops', '0.5', '--save', path.join(dir, 'pruned')]);
    const report = JSON.parse(readFileSync(path.join(dir, 'pruned', 'prune.json'), 'utf8'));
    expect(report.target.reached.flops, pr.stdout).toBeLessThanOrEqual(0.5);
    step(['train', '--refine', path.join(dir, 'pruned', 'pruned.safetensors'), ...common, '--save', path.join(dir, 'tuned')]);
    const tuned = path.join(dir, 'tuned', 'checkpoint.safetensors');
    step(['export', '--model', tuned, '--onnx', path.join(dir, 'slim.onnx')]);
    const n = 3;
    const x = normal(n * 3 * 16 * 16, 5);
    writeFileSync(path.join(dir, 'x.safetensors'), serializeSafetensors({ input: { dtype: 'F32', shape: [n, 3, 16, 16], data: new Uint8Array(x.buffer) } }));
    step(['predict', '--model', tuned, '--input', path.join(dir, 'x.safetensors'), '--output', path.join(dir, 'y.safetensors')]);
    const ours = new Float32Array(parseSafetensors(new Uint8Array(readFileSync(path.join(dir, 'y.safetensors'))), 'y').tensors.get('logits')!.data.slice().buffer);
    const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(path.join(dir, 'slim.onnx'))));
    const theirs = (await session.run({ input: new ort.Tensor('float32', x, [n, 3, 16, 16]) })).logits!.data as Float32Array;
    await session.release();
    expectClose(theirs, ours, { atol: 1e-4, rtol: 1e-4 }, 'onnxruntime vs predict on the slimmed import');
  }, 600_000);

  it('predict --image prints the top classes of PNG and JPEG files as model.predict gives them (named, resized, grey); bad images fail in one line', async () => {
    const dir = tmp();
    const ctx = await init();
    // An RGB model for CIFAR-10 (its class names and mean/std) taking 8×8 images, and a grey one without names.
    const rgb = vgg(ctx, { cfg: [4, 'M', 8, 'M', 8], dataset: 'cifar10', inputSize: 8, seed: 5 });
    const grey = vgg(ctx, { cfg: [4, 'M', 8, 'M', 8], inChannels: 1, numClasses: 4, inputSize: 8, seed: 6 });
    try {
      await scramble(rgb, 7, { linear: true });
      await scramble(grey, 8, { linear: true });
      writeFileSync(path.join(dir, 'rgb.safetensors'), await saveModel(rgb));
      writeFileSync(path.join(dir, 'grey.safetensors'), await saveModel(grey));
      // a.png at the model's size (alpha varies and is ignored), b.jpg (its pixels as jpeg-js decodes them), c.png at twice the size.
      const files = ['a.png', 'b.jpg', 'c.png'].map((f) => path.join(dir, f));
      const px = (seed: number) => (p: number, k: number) => (k === 3 ? 128 + ((p * 7) % 128) : (p * 37 + k * 91 + seed * 53) % 256);
      pngFile(files[0]!, 8, 8, px(1));
      const jpegRgba = Uint8Array.from({ length: 8 * 8 * 4 }, (_, i) => px(2)(i >> 2, i & 3));
      writeFileSync(files[1]!, encodeJpeg({ width: 8, height: 8, data: jpegRgba }, 90).data);
      pngFile(files[2]!, 16, 16, px(3));
      const decoded = [
        PNG.sync.read(readFileSync(files[0]!)).data,
        decodeJpeg(readFileSync(files[1]!), { useTArray: true, formatAsRGBA: true }).data,
        PNG.sync.read(readFileSync(files[2]!)).data,
      ];
      for (const [model, file, channels] of [[rgb, 'rgb.safetensors', 3], [grey, 'grey.safetensors', 1]] as const) {
        // Reference: the same pixels (the large image shrunk by the written-out filter) through model.predict.
        const pixels = new Float32Array(3 * channels * 64);
        decoded.forEach((rgba, i) => {
          const big = i === 2;
          const p = planes(new Uint8Array(rgba), big ? 256 : 64, channels);
          for (let c = 0; c < channels; c++) pixels.set(big ? halve(p.subarray(c * 256, (c + 1) * 256), 16) : p.subarray(c * 64, (c + 1) * 64), (i * channels + c) * 64);
        });
        const expected = await model.predict(pixels, { topK: 3 });
        const r = netslim('predict', '--model', path.join(dir, file), '--image', ...files, '--top-k', '3', '--batch-size', '2');
        expect(r.code, r.stderr).toBe(0);
        const lines = r.stdout.trim().split('\n');
        expect(lines, r.stdout).toHaveLength(3);
        lines.forEach((line, i) => {
          const got = parseLine(line, files[i]!);
          const want = expected[i]!;
          expect(got.names, `${file} ${files[i]}`).toEqual(want.labels ?? want.classes.map((c) => `class ${c}`));
          got.percent.forEach((v, j) => expect(Math.abs(v - 100 * want.probabilities[j]!), `${file} ${files[i]} class ${j}`).toBeLessThanOrEqual(0.0051));
        });
        if (model === rgb) expect(CIFAR10_CLASSES).toContain(parseLine(lines[0]!, files[0]!).names[0]);
      }
    } finally {
      rgb.destroy();
      grey.destroy();
      ctx.destroy();
    }

    // Bad images: one line naming the file, exit 1, no stack; usage errors exit 2.
    const png = readFileSync(path.join(dir, 'a.png'));
    writeFileSync(path.join(dir, 'cut.png'), png.subarray(0, png.length - 20));
    writeFileSync(path.join(dir, 'cut.jpg'), readFileSync(path.join(dir, 'b.jpg')).subarray(0, 200));
    writeFileSync(path.join(dir, 'notes.png'), 'not an image');
    const model = path.join(dir, 'rgb.safetensors');
    const cases: [string[], number, RegExp][] = [
      [['--image', path.join(dir, 'cut.png')], 1, /^netslim: .*cut\.png: cannot decode the PNG image: .+$/],
      [['--image', path.join(dir, 'a.png'), path.join(dir, 'cut.jpg')], 1, /^netslim: .*cut\.jpg: cannot decode the JPEG image: .+$/],
      [['--image', path.join(dir, 'notes.png')], 1, /^netslim: .*notes\.png: not a PNG or JPEG image \(netslim predict reads PNG and JPEG files\)$/],
      [['--image', path.join(dir, 'missing.png')], 1, /^netslim: .*missing\.png: cannot read: no such file or directory \(ENOENT\)$/],
      [[], 2, /^netslim: predict takes exactly one of --input \(a tensor file\) or --image \(image files\)$/],
      [['--image', path.join(dir, 'a.png'), '--input', path.join(dir, 'x.safetensors')], 2, /^netslim: predict takes exactly one of --input/],
      [['--image', path.join(dir, 'a.png'), '--output', path.join(dir, 'y.safetensors')], 2, /^netslim: --output goes with --input; --image prints its results$/],
      [['--image', path.join(dir, 'a.png'), '--top-k', '11'], 2, /^netslim: --top-k 11: the model has 10 classes$/],
    ];
    for (const [args, code, re] of cases) {
      const r = netslim('predict', '--model', model, ...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(errorLines(r.stderr), args.join(' ')).toEqual([expect.stringMatching(re)]);
      expect(r.stderr).not.toMatch(/\n\s+at .*\.[jt]s:\d+/);
      expect(r.stdout, args.join(' ')).toBe('');
    }
  }, 300_000);

  it('train on a CIFAR-10 directory records its class names and mean/std, and predict --image names the classes of a photo of another size', () => {
    const dir = tmp();
    const data = path.join(dir, 'cifar10');
    mkdirSync(data);
    // Two records per batch file (label byte + 3072 pixel bytes), as CIFAR-10's binaries hold them.
    for (const [b, name] of ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5', 'test_batch'].entries()) {
      const bytes = new Uint8Array(2 * 3073);
      for (let r = 0; r < 2; r++) {
        bytes[r * 3073] = (b * 2 + r) % 10;
        for (let i = 1; i < 3073; i++) bytes[r * 3073 + i] = (i * (b + 3) + r * 41) % 256;
      }
      writeFileSync(path.join(data, `${name}.bin`), bytes);
    }
    const save = path.join(dir, 'run');
    const t = netslim('train', '--data', data, '--arch', 'vgg', '--cfg', '[4,"M",4,"M",8,"M",8,"M",8]', '--epochs', '1', '--batch-size', '5', '--save', save);
    expect(t.code, t.stderr).toBe(0);
    const md = parseSafetensors(new Uint8Array(readFileSync(path.join(save, 'checkpoint.safetensors'))), 'checkpoint').metadata;
    expect(md.dataset).toBe('cifar10');
    expect(JSON.parse(md.class_names!)).toEqual(CIFAR10_CLASSES);
    expect([JSON.parse(md.mean!), JSON.parse(md.std!)]).toEqual([CIFAR10_MEAN, CIFAR10_STD]);
    // A 45×30 photo-sized image is resized to 32×32; the line names a CIFAR-10 class.
    const photo = path.join(dir, 'photo.jpg');
    writeFileSync(photo, encodeJpeg({ width: 45, height: 30, data: Uint8Array.from({ length: 45 * 30 * 4 }, (_, i) => (i * 13) % 256) }, 85).data);
    const p = netslim('predict', '--model', path.join(save, 'checkpoint.safetensors'), '--image', photo, '--top-k', '2');
    expect(p.code, p.stderr).toBe(0);
    const { names, percent } = parseLine(p.stdout.trim(), photo);
    expect(names).toHaveLength(2);
    for (const n of names) expect(CIFAR10_CLASSES).toContain(n);
    expect(percent[0]).toBeGreaterThanOrEqual(percent[1]!);
  }, 300_000);

  for (const name of ['vgg_tiny', 'resnet11', 'densenet7']) {
    it(`predict gives PyTorch's logits for a PyTorch-made ${name} checkpoint`, () => {
      const dir = tmp();
      const fx = parseSafetensors(new Uint8Array(readFileSync(path.join(root, `test/fixtures/models/${name}.safetensors`))), name);
      const state = new Map<string, SafeTensor>([...fx.tensors].filter(([k]) => !/^(input|labels|eval\.|step0\.|grad\.|loss\.|after\.)/.test(k)));
      writeFileSync(path.join(dir, 'model.safetensors'), serializeSafetensors(state));
      writeFileSync(path.join(dir, 'x.safetensors'), serializeSafetensors({ input: fx.tensors.get('input')! }));
      const r = netslim('predict', '--model', path.join(dir, 'model.safetensors'), '--input', path.join(dir, 'x.safetensors'), '--output', path.join(dir, 'y.safetensors'), '--batch-size', '1');
      expect(r.code, r.stderr).toBe(0);
      const out = parseSafetensors(new Uint8Array(readFileSync(path.join(dir, 'y.safetensors'))), 'y');
      const logits = new Float32Array(out.tensors.get('logits')!.data.slice().buffer);
      expectClose(logits, new Float32Array(fx.tensors.get('eval.logits')!.data.slice().buffer), { atol: 1e-4, rtol: 1e-4 }, `${name} predict`);
    });
  }
});

describe('netslim prune warns', () => {
  it('before removing channels whose γ are as large as the ones it keeps (a network not trained sparse)', async () => {
    const dir = tmp();
    const ctx = await init();
    const model = vgg(ctx, { cfg: [8, 'M', 8, 'M', 12, 'M', 12, 'M', 16], inChannels: 1, numClasses: 3, seed: 5 });
    await scramble(model, 9); // γ spread over one range: the threshold falls among them
    const file = path.join(dir, 'dense.safetensors');
    writeFileSync(file, await saveModel(model));
    model.destroy();
    ctx.destroy();
    const r = netslim('prune', '--model', file, '--percent', '0.5', '--save', path.join(dir, 'out'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^warning: γ are not sparse yet: the largest pruned \|γ\| [\d.]+ is \d+ % of the median kept \|γ\| [\d.]+, so the channels it removes still carry signal/m);
    expect(JSON.parse(readFileSync(path.join(dir, 'out', 'prune.json'), 'utf8')).notes[0]).toMatch(/^γ are not sparse yet/);
  }, 300_000);
});

describe('netslim slim', () => {
  const cfg = '[4,"M",8,"M",8]';
  const files = ['original.safetensors', 'sparse.safetensors', 'sparse.state.safetensors', 'pruned.safetensors', 'prune.json', 'finetuned.safetensors', 'finetuned.state.safetensors', 'slim.json', 'report.html'];

  it('slims a model from scratch to a FLOPs target: every stage saved, the final table, the report', () => {
    const dir = tmp();
    const data = path.join(dir, 'data.safetensors');
    tensorDataset(data, 40, 1, 8, 3, 21);
    const save = path.join(dir, 'run');
    const r = netslim('slim', '--data', data, '--arch', 'vgg', '--cfg', cfg, '--target-flops', '0.5', '--epochs', '3', '--finetune-epochs', '1', '--batch-size', '8', '--latency-batch', '4', '--save', save);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(save).sort()).toEqual([...files].sort());
    const rec = JSON.parse(readFileSync(path.join(save, 'slim.json'), 'utf8'));
    expect(rec.phase).toBe('done');
    expect(rec.stages.map((s: { stage: string }) => s.stage)).toEqual(['original', 'sparse', 'pruned', 'finetuned']);
    expect(rec.epochs.map((e: { phase: string; epoch: number }) => `${e.phase} ${e.epoch}`)).toEqual(['sparse 0', 'sparse 1', 'finetune 0']);
    const [orig, , pruned, tuned] = rec.stages;
    expect(pruned.flops).toBeLessThanOrEqual(0.5 * orig.flops);
    expect(tuned.params).toBe(pruned.params);
    const report = JSON.parse(readFileSync(path.join(save, 'prune.json'), 'utf8'));
    expect(report.target.flops).toBe(0.5);
    // the fine-tuned model is the pruned graph
    const fin = parseSafetensors(new Uint8Array(readFileSync(path.join(save, 'finetuned.safetensors'))), 'finetuned');
    expect(JSON.parse(fin.metadata.cfg!)).toEqual(report.cfg);
    expect(r.stdout).toMatch(/^stage +test acc +params +FLOPs\/image +latency \(batch 4\)$/m);
    expect(r.stdout).toMatch(/^fine-tuned +– +[\d,]+ \(\d+\.\d %\) +[\d,]+ \(\d+\.\d %\) +\d+\.\d ms$/m); // no test split: no accuracy
    expect(readFileSync(path.join(save, 'report.html'), 'utf8')).toMatch(/^<!doctype html>/i);
  }, 300_000);

  it('Ctrl-C stops it with exit 130, and --resume ends where a straight run ends, bit for bit', async () => {
    const dir = tmp();
    const data = path.join(dir, 'data.safetensors');
    tensorDataset(data, 24, 1, 8, 3, 22);
    const args = (save: string) => ['slim', '--data', data, '--arch', 'vgg', '--cfg', cfg, '--target-flops', '0.6', '--epochs', '30', '--finetune-epochs', '2', '--batch-size', '8', '--latency-batch', '2', '--save', save];
    const straight = path.join(dir, 'straight');
    expect(netslim(...args(straight)).code).toBe(0);

    const save = path.join(dir, 'stopped');
    const { code, stderr } = await interruptWhen(args(save), /sparse epoch 2\/28 /);
    expect(code, stderr).toBe(130);
    expect(errorLines(stderr).at(-1)).toMatch(new RegExp(`^netslim: slim: interrupted during sparse training; ${save} holds the last finished epoch \\(continue with netslim slim --resume --save ${save} --data ${data}\\)$`));
    expect(JSON.parse(readFileSync(path.join(save, 'slim.json'), 'utf8')).phase).toBe('sparse');

    const r = netslim('slim', '--resume', '--save', save, '--data', data, '--latency-batch', '2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/resuming sparse training from .*sparse\.safetensors/);
    for (const f of ['pruned.safetensors', 'finetuned.safetensors']) {
      expect(Buffer.compare(readFileSync(path.join(save, f)), readFileSync(path.join(straight, f))), f).toBe(0);
    }
    const a = JSON.parse(readFileSync(path.join(save, 'slim.json'), 'utf8'));
    const b = JSON.parse(readFileSync(path.join(straight, 'slim.json'), 'utf8'));
    expect(a.stages).toEqual(b.stages);
    // a finished run has nothing to resume
    const again = netslim('slim', '--resume', '--save', save, '--data', data);
    expect(again.code).toBe(1);
    expect(errorLines(again.stderr)).toEqual([`netslim: --resume: the run in ${save} has finished (its fine-tuned model is finetuned.safetensors)`]);
  }, 600_000);

  it('slims an imported ONNX model (MobileNetV2 from PyTorch) to a FLOPs target', () => {
    const dir = tmp();
    const imported = path.join(dir, 'imported');
    expect(netslim('import', '--onnx', path.join(root, 'test/fixtures/onnx/mobilenetv2_w025_op13.onnx'), '--save', imported).code).toBe(0);
    const data = path.join(dir, 'data.safetensors');
    tensorDataset(data, 8, 3, 16, 3, 23);
    const save = path.join(dir, 'run');
    const r = netslim('slim', '--model', path.join(imported, 'model.safetensors'), '--data', data, '--target-flops', '0.5', '--epochs', '2', '--finetune-epochs', '1', '--batch-size', '4', '--latency-batch', '2', '--save', save);
    expect(r.code, r.stderr).toBe(0);
    const rec = JSON.parse(readFileSync(path.join(save, 'slim.json'), 'utf8'));
    expect(rec.stages[2].flops).toBeLessThanOrEqual(0.5 * rec.stages[0].flops);
    expect(rec.report.coupled).toBe('prune');
    expect(rec.warnings).toContain("bias compensation is off: the model's coupled channel groups are pruned (coupled 'prune'), and a removed group has no constant output to fold");
  }, 300_000);

  it('usage errors: one line, exit 2, nothing written', () => {
    const dir = tmp();
    const data = path.join(dir, 'data.safetensors');
    tensorDataset(data, 8, 1, 8, 3, 24);
    const save = path.join(dir, 'no');
    const cases: [string[], string][] = [
      [['--arch', 'vgg'], 'netslim: give --target-flops, --target-params or both'],
      [['--target-flops', '0.5'], 'netslim: give exactly one of --model and --arch'],
      [['--arch', 'vgg', '--model', 'm.safetensors', '--target-flops', '0.5'], 'netslim: give exactly one of --model and --arch'],
      [['--arch', 'vgg', '--target-flops', '0.5', '--epochs', '4', '--finetune-epochs', '4'], 'netslim: finetuneEpochs 4 leaves no sparse training in 4 epochs'],
      [['--arch', 'vgg', '--target-flops', '0.5', '--lr-schedule', 'linear'], 'netslim: --lr-schedule linear: expected step or cosine'],
      [['--arch', 'resnet18', '--depth', '18', '--target-flops', '0.5'], 'netslim: --depth does not apply to --arch resnet18 (its depth is fixed)'],
    ];
    for (const [extra, want] of cases) {
      const r = netslim('slim', '--data', data, '--save', save, ...extra);
      expect(r.code, `${extra.join(' ')}: ${r.stderr}`).toBe(2);
      expect(errorLines(r.stderr)).toEqual([want]);
      expect(existsSync(save)).toBe(false);
    }
    const r = netslim('slim', '--resume', '--save', dir, '--data', data);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([`netslim: --resume: ${dir} holds no slim.json (no run to continue)`]);
  }, 300_000);
});
