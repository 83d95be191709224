// ONNX export against onnxruntime (onnxruntime-node, CPU): a small VGG, ResNet-11 and DenseNet-7,
// each as built and after prune(model, 0.5), with non-trivial BatchNorm statistics and γ/β, are
// exported and run by onnxruntime on a random batch of 3 and then of 1 (the batch dimension is
// dynamic); the logits must match our own eval forward. Also: the ONNX structure (opset, input
// and output, metadata), every supported opset, refusals with typed errors, and `netslim export`
// as a user runs it (the built dist/cli.js: run `npm run build` or `npx rollup -c` first).
// Networks users ship, built with the Graph API (test/util/torch-nets.ts) with PyTorch weights
// (test/fixtures/graphs): a CIFAR ResNet-18 and torchvision's MobileNetV2 give PyTorch's eval
// logits through onnxruntime, and after prune at 0.3 and 0.5 in both `coupled` modes give ours
// (grouped/depthwise Conv, Conv bias, Clip for ReLU6, Identity for Dropout, GlobalAveragePool).
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import onnxProto, { type onnx } from 'onnx-proto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from '../../src/gpu/context.js';
import { ShapeError } from '../../src/errors.js';
import { saveModel } from '../../src/io/checkpoint.js';
import { parseSafetensors, serializeSafetensors, toFloat32 } from '../../src/io/safetensors.js';
import { ONNX_MAX_OPSET, ONNX_MIN_OPSET, OnnxExportError, exportOnnx, exportOnnxModel, type OnnxExportOptions } from '../../src/io/onnx.js';
import { importOnnx } from '../../src/io/onnx-import.js';
import { Graph } from '../../src/nn/graph.js';
import { Conv2d, Layer, type LayerKind } from '../../src/nn/layers.js';
import { Model } from '../../src/nn/model.js';
import { resnet, vgg } from '../../src/nn/models.js';
import { prune } from '../../src/slim/prune.js';
import { SMALL_MODELS } from '../util/small-models.js';
import { useContext } from '../util/gpu.js';
import { normal } from '../util/random.js';
import { scramble } from '../util/scramble.js';
import { fixtureModel } from '../util/torch-nets.js';

const getCtx = useContext();
const ONNX = onnxProto.onnx;

// Both sides compute in float32 (our WGSL kernels, onnxruntime's CPU kernels, which fold BN into
// the convolution and sum in other orders): the logits (O(1) here, checked below) differ by
// rounding only, ≤ 1.2e-7 as measured. 1e-4 absolute is the bound, three orders of
// magnitude above that; a wrong kept channel moves the logits by 1e-2 and more. What rounding-size
// numerics cannot see (eps, attributes) is checked node by node below.
const ATOL = 1e-4;

const CASES = SMALL_MODELS;

/**
 * γ in multiples of 0.05 in [−1, 1] (ties, zeros, negatives), β and running mean random, running
 * variance in [0.5, 1.5); linear layers ~ N(0, 1/in) so the logits are O(1).
 */
async function ourLogits(ctx: Context, model: Model, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const t = ctx.tensor(shape, x, 'f32', 'input');
  const y = await ctx.readF32(model.forward(t, false));
  t.destroy();
  return y;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(m) ? Infinity : m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** What a test checks of an ONNX file, with protobuf's optional fields resolved. */
interface OnnxSummary {
  opsets: [string, number][];
  inputs: string[];
  outputs: string[];
  inputDims: (string | number)[];
  outputDims: (string | number)[];
  props: Record<string, string>;
  ops: string[];
  /** Each node's attributes: INT → number, INTS → number[], FLOAT → number. */
  attrs: Record<string, number | number[]>[];
  initializers: string[];
}

function summary(bytes: Uint8Array): OnnxSummary {
  const m: onnx.ModelProto = ONNX.ModelProto.decode(bytes);
  if (!m.graph) throw new Error('ONNX model without a graph');
  const g = m.graph as onnx.GraphProto; // decoded messages are full instances: repeated fields are arrays
  const dims = (v: onnx.IValueInfoProto | undefined) => (v?.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || Number(d.dimValue));
  return {
    opsets: m.opsetImport.map((o) => [o.domain ?? '', Number(o.version)]),
    inputs: g.input.map((v) => v.name ?? ''),
    outputs: g.output.map((v) => v.name ?? ''),
    inputDims: dims(g.input[0]),
    outputDims: dims(g.output[0]),
    props: Object.fromEntries(m.metadataProps.map((p) => [p.key ?? '', p.value ?? ''])),
    ops: g.node.map((n) => n.opType ?? ''),
    attrs: g.node.map((n) =>
      Object.fromEntries((n.attribute ?? []).map((a) => [a.name ?? '', a.type === 2 ? Number(a.i) : a.type === 7 ? (a.ints ?? []).map(Number) : (a.f ?? NaN)])),
    ),
    initializers: g.initializer.map((t) => t.name ?? ''),
  };
}

/** Exports `model`, runs onnxruntime on batches of 3 and 1, and compares with our eval forward. */
async function checkAgainstOrt(ctx: Context, model: Model, input: [number, number, number], what: string, options: OnnxExportOptions = {}): Promise<OnnxSummary> {
  const bytes = await exportOnnx(model, options);
  const session = await ort.InferenceSession.create(bytes);
  try {
    for (const n of [3, 1]) {
      const shape = [n, ...input];
      const x = normal(shape.reduce((a, b) => a * b, 1), 1000 + n);
      const ours = await ourLogits(ctx, model, x, shape);
      const out = await session.run({ input: new ort.Tensor('float32', x, shape) });
      const logits = out.logits!;
      expect(logits.dims, `${what} batch ${n}: logits shape`).toEqual([n, model.meta.numClasses]);
      expect(maxAbs(ours), `${what}: logits are O(1), so ${ATOL} is a meaningful bound`).toBeGreaterThan(0.1);
      const err = maxAbsDiff(logits.data as Float32Array, ours);
      expect(err, `${what} batch ${n}: max |onnxruntime − netslim| = ${err.toExponential(2)}`).toBeLessThanOrEqual(ATOL);
    }
  } finally {
    await session.release();
  }
  return summary(bytes);
}

/** Channel selections whose mask drops at least one channel. */
async function partialSelections(model: Model): Promise<string[]> {
  const state = await model.stateDict();
  return [...state].filter(([k, v]) => k.endsWith('.indexes') && (v.data as Float32Array).some((m) => m === 0)).map(([k]) => k);
}

describe('exportOnnx', () => {
  for (const c of CASES) {
    it(`${c.name}: onnxruntime gives our logits, before and after prune(0.5)`, async () => {
      const ctx = getCtx();
      const model = c.make(ctx);
      await scramble(model, 21, { linear: true });
      // Dynamic H and W by default.
      const m = await checkAgainstOrt(ctx, model, c.input, c.name);
      expect(m.opsets).toEqual([['', 13]]);
      expect(m.inputs).toEqual(['input']);
      expect(m.inputDims).toEqual(['batch', 3, 'height', 'width']);
      expect(m.outputs).toEqual(['logits']);
      expect(m.outputDims).toEqual(['batch', 10]);
      expect(m.props).toEqual({
        arch: model.meta.arch,
        depth: String(model.meta.depth),
        cfg: JSON.stringify(model.meta.cfg),
        num_classes: '10',
        in_channels: '3',
      });

      const { model: pruned } = await prune(model, 0.5, { inputSize: c.input });
      // ResNet and DenseNet keep BNs at full width behind selections that now drop channels: the
      // Gathers must pick exactly those.
      const partial = await partialSelections(pruned);
      if (c.name !== 'vgg') expect(partial.length, `${c.name}: pruned selections with dropped channels`).toBeGreaterThan(0);
      const p = await checkAgainstOrt(ctx, pruned, c.input, `${c.name} pruned`, { inputSize: c.input });
      expect(p.inputDims).toEqual(['batch', ...c.input]);
      expect(JSON.parse(p.props.cfg!)).toEqual(pruned.meta.cfg);
      expect(p.ops.filter((o) => o === 'Gather').length).toBe(pruned.graph.layers().filter((l) => l.kind === 'ChannelSelection').length);
      pruned.destroy();
      model.destroy();
    });
  }

  it('writes every layer with its attributes (VGG, node by node)', async () => {
    const ctx = getCtx();
    const model = vgg(ctx, { cfg: [8, 'M', 12, 'M', 10, 6], seed: 2 });
    const m = summary(await exportOnnx(model));
    const conv = { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1 };
    // eps and momentum as float32 attributes; ONNX's momentum weighs the running value: 1 − 0.1.
    const bn = { epsilon: Math.fround(1e-5), momentum: Math.fround(0.9) };
    const pool = { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], ceil_mode: 0 };
    const block: [string, object][] = [['Conv', conv], ['BatchNormalization', bn], ['Relu', {}]];
    const expected: [string, object][] = [
      ...block, ['MaxPool', pool], ...block, ['MaxPool', pool], ...block, ...block,
      ['AveragePool', { ...pool, count_include_pad: 1 }], ['Flatten', { axis: 1 }], ['Gemm', { alpha: 1, beta: 1, transA: 0, transB: 1 }],
    ];
    expect(m.ops.map((op, i) => [op, m.attrs[i]])).toEqual(expected);
    // Initializers keep the state_dict names (num_batches_tracked is not needed for inference).
    expect(m.initializers).toEqual([...(await model.stateDict()).keys()].filter((k) => !k.endsWith('num_batches_tracked')));
    model.destroy();
  });

  it(`every opset from ${ONNX_MIN_OPSET} to ${ONNX_MAX_OPSET} loads in onnxruntime and gives the same logits`, async () => {
    const ctx = getCtx();
    const model = resnet(ctx, { depth: 11, seed: 5 });
    await scramble(model, 22, { linear: true });
    const { model: pruned } = await prune(model, 0.5);
    const shape = [2, 3, 32, 32];
    const x = normal(2 * 3 * 32 * 32, 7);
    const ours = await ourLogits(ctx, pruned, x, shape);
    for (let opset = ONNX_MIN_OPSET; opset <= ONNX_MAX_OPSET; opset++) {
      const out = await exportOnnxModel(pruned, { opset });
      const session = await ort.InferenceSession.create(out.bytes);
      const y = (await session.run({ input: new ort.Tensor('float32', x, shape) })).logits!.data as Float32Array;
      await session.release();
      expect(maxAbsDiff(y, ours), `opset ${opset} (IR ${out.irVersion})`).toBeLessThanOrEqual(ATOL);
    }
    pruned.destroy();
    model.destroy();
  });

  it('fixes the batch when asked', async () => {
    const ctx = getCtx();
    const model = vgg(ctx, { cfg: [4, 'M', 4], seed: 1 });
    const m = summary(await exportOnnx(model, { batch: 2, inputSize: [3, 4, 4] }));
    expect(m.inputDims).toEqual([2, 3, 4, 4]);
    expect(m.outputDims).toEqual([2, 10]);
    model.destroy();
  });

  it('refuses what it cannot write, naming it', async () => {
    const ctx = getCtx();
    const model = vgg(ctx, { cfg: [4, 'M', 4], seed: 1 });
    await expect(exportOnnx(model, { opset: 12 })).rejects.toThrow(new OnnxExportError(`exportOnnx: opset 12 is not supported (use an integer from 13 to ${ONNX_MAX_OPSET})`));
    await expect(exportOnnx(model, { batch: 0 })).rejects.toThrow(OnnxExportError);
    await expect(exportOnnx(model, { inputSize: [1, 4, 4] })).rejects.toThrow(/has 1 channels, the vgg model takes 3/);
    // 16×16 through one 2×2 max pool and the 2×2 average pool leaves 4·4·4 features for a 4-input linear layer.
    await expect(exportOnnx(model, { inputSize: [3, 16, 16] })).rejects.toThrow(ShapeError);
    await expect(exportOnnx(model, { inputSize: [3, 16, 16] })).rejects.toThrow(/classifier/);
    model.destroy();

    class Mystery extends Layer {
      readonly kind = 'Mystery' as LayerKind;
      outputShape(inputs: readonly (readonly number[])[]): number[] {
        return [...inputs[0]!];
      }
      forward(): void {}
      backward(): void {}
    }
    const g = new Graph(3);
    g.add(new Mystery('head.mystery'), g.input);
    const odd = new Model(ctx, g, { arch: 'custom', numClasses: 3, inChannels: 3 });
    await expect(exportOnnx(odd)).rejects.toThrow(new OnnxExportError('exportOnnx: no ONNX mapping for layer Mystery head.mystery (node 1)'));
    odd.destroy();
  });
});

describe('exportOnnx: a ResNet-18 and a MobileNetV2 with PyTorch weights, pruned', () => {
  const readGraphFixture = (name: string) => {
    const file = fileURLToPath(new URL(`../fixtures/graphs/${name}.safetensors`, import.meta.url));
    return parseSafetensors(new Uint8Array(readFileSync(file)), `${name}.safetensors`);
  };
  /** The ONNX node of each graph node (one each, in order) maps the layer as documented in src/io/onnx.ts. */
  const expectMapping = (model: Model, m: OnnxSummary, what: string) => {
    const layers = model.graph.nodes.slice(1).map((n) => n.layer);
    const want: Partial<Record<LayerKind, string>> = { Conv2d: 'Conv', ReLU6: 'Clip', Dropout: 'Identity', GlobalAvgPool2d: 'GlobalAveragePool', Add: 'Add', Linear: 'Gemm' };
    expect(m.ops, what).toHaveLength(layers.length);
    layers.forEach((l, i) => {
      if (want[l.kind]) expect(m.ops[i], `${what}: node ${i + 1} (${l.kind} ${l.name})`).toBe(want[l.kind]);
      if (l instanceof Conv2d) expect(m.attrs[i]!.group, `${what}: ${l.name} group`).toBe(l.groups);
    });
  };

  for (const name of ['resnet18_w4', 'mobilenetv2_w025']) {
    it(`${name}: onnxruntime gives PyTorch's eval logits on the fixture's input`, async () => {
      const ctx = getCtx();
      const file = readGraphFixture(name);
      const model = fixtureModel(ctx, name, file);
      const xt = file.tensors.get('input')!;
      const bytes = await exportOnnx(model);
      expectMapping(model, summary(bytes), name);
      const session = await ort.InferenceSession.create(bytes);
      const y = (await session.run({ input: new ort.Tensor('float32', toFloat32(xt, 'input'), xt.shape) })).logits!.data as Float32Array;
      await session.release();
      const err = maxAbsDiff(y, toFloat32(file.tensors.get('eval.logits')!, 'eval.logits'));
      expect(err, `${name}: max |onnxruntime − PyTorch| = ${err.toExponential(2)}`).toBeLessThanOrEqual(ATOL);
      model.destroy();
    });

    for (const coupled of ['keep', 'prune'] as const) {
      for (const percent of [0.3, 0.5]) {
        it(`${name}, prune ${percent} with coupled '${coupled}': onnxruntime gives our logits`, async () => {
          const ctx = getCtx();
          const file = readGraphFixture(name);
          const model = fixtureModel(ctx, name, file);
          const input = file.tensors.get('input')!.shape.slice(1) as [number, number, number];
          const { model: pruned, report } = await prune(model, percent, { coupled, inputSize: input });
          expect(report.prunedChannels, 'channels removed').toBeGreaterThan(0);
          const what = `${name} ${coupled}@${percent}`;
          const m = await checkAgainstOrt(ctx, pruned, input, what, { inputSize: input });
          expect(m.inputDims).toEqual(['batch', ...input]);
          expectMapping(pruned, m, what);
          // Depthwise convolutions stay depthwise at their new width.
          for (const l of pruned.graph.layers()) {
            if (l instanceof Conv2d && l.groups > 1) expect(l.depthwise, `${what}: ${l.name} groups ${l.groups}, ${l.inChannels}→${l.outChannels}`).toBe(true);
          }
          pruned.destroy();
          model.destroy();
        });
      }
    }
  }
});

// ------------------------------------------------------------------------------ the command

// Import ↔ export: a PyTorch-made ONNX file (test/fixtures/onnx, make_onnx_fixtures.py) imported
// and exported again must run in onnxruntime to the logits of the original file, within 1e-5
// (the same float32 ops in the same order but for BatchNormalization, which onnxruntime folds
// into the convolution from the same constants either way; measured ≤ 1e-6), and pruned after
// import it must still give our own logits through onnxruntime (1e-4, as above).
describe('importOnnx ↔ exportOnnx through onnxruntime', () => {
  for (const name of ['resnet18_w4_op13', 'mobilenetv2_w025_op17', 'fire_net_op13']) {
    it(`${name}: import → export runs to the original's logits; pruned after import, to ours`, async () => {
      const ctx = getCtx();
      const original = new Uint8Array(readFileSync(path.join(root, `test/fixtures/onnx/${name}.onnx`)));
      const model = await importOnnx(ctx, original, { fileName: `${name}.onnx` });
      const shape = [3, 3, 16, 16];
      const x = normal(shape.reduce((a, b) => a * b, 1), 77);
      const run = async (bytes: Uint8Array) => {
        const session = await ort.InferenceSession.create(bytes);
        try {
          return (await session.run({ input: new ort.Tensor('float32', x, shape) })).logits!.data as Float32Array;
        } finally {
          await session.release();
        }
      };
      const reference = await run(original);
      expect(maxAbs(reference), 'logits are O(0.1) or more').toBeGreaterThan(0.05);
      const err = maxAbsDiff(await run(await exportOnnx(model)), reference);
      expect(err, `${name}: max |re-exported − original| through onnxruntime = ${err.toExponential(2)}`).toBeLessThanOrEqual(1e-5);
      const { model: pruned, report } = await prune(model, 0.5, { coupled: 'prune' });
      expect(report.prunedChannels).toBeGreaterThan(0);
      await checkAgainstOrt(ctx, pruned, [3, 16, 16], `${name} imported, pruned at 0.5`);
      pruned.destroy();
      model.destroy();
    });
  }
});

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = path.join(root, 'dist/cli.js');

function netslim(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 300_000, env: { ...process.env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/Warning: Vulkan[\s\S]*?PhysicalDeviceVk\.cpp:\d+\)\n/g, '') };
}

describe('netslim export', () => {
  it('is in the built CLI (npm run build)', () => {
    expect(existsSync(cli), `${cli} is missing: build it with npm run build (or npx rollup -c)`).toBe(true);
    const r = netslim('export', '--help');
    expect(r.code, `${r.stderr}\n(dist/cli.js may be stale: npm run build)`).toBe(0);
    expect(r.stdout).toContain('--onnx <file>');
  });

  it('writes an ONNX file that onnxruntime runs to our logits', async () => {
    const ctx = getCtx();
    const dir = mkdtempSync(path.join(tmpdir(), 'netslim-onnx-'));
    const model = vgg(ctx, { cfg: [8, 'M', 12, 'M', 10, 6], seed: 2 });
    await scramble(model, 23, { linear: true });
    const ckpt = path.join(dir, 'model.safetensors');
    writeFileSync(ckpt, await saveModel(model));
    const file = path.join(dir, 'model.onnx');
    const r = netslim('export', '--model', ckpt, '--onnx', file, '--input-size', '3,8,8');
    expect(r.code, r.stderr).toBe(0);
    const size = readFileSync(file).byteLength;
    expect(r.stdout.trim()).toBe(`netslim export: wrote ${file} (${size} bytes, ONNX opset 13, ${model.graph.nodes.length - 1} nodes)`);
    expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'model.safetensors']);
    const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(file)));
    const x = normal(3 * 3 * 8 * 8, 9);
    const y = (await session.run({ input: new ort.Tensor('float32', x, [3, 3, 8, 8]) })).logits!.data as Float32Array;
    await session.release();
    expect(maxAbsDiff(y, await ourLogits(ctx, model, x, [3, 3, 8, 8]))).toBeLessThanOrEqual(ATOL);
    model.destroy();
  });

  it('fails with one line and writes nothing: missing file, non-model file, bad or unfit size, bad opset, unwritable target', async () => {
    const ctx = getCtx();
    const dir = mkdtempSync(path.join(tmpdir(), 'netslim-onnx-'));
    const notModel = path.join(dir, 'x.safetensors');
    writeFileSync(notModel, serializeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Uint8Array(8) } }));
    const garbage = path.join(dir, 'notes.txt');
    writeFileSync(garbage, 'not a checkpoint\n');
    const model = vgg(ctx, { cfg: [4, 'M', 4], seed: 1 });
    const ckpt = path.join(dir, 'model.safetensors');
    writeFileSync(ckpt, await saveModel(model));
    model.destroy();
    const before = readdirSync(dir).sort();
    const out = path.join(dir, 'out.onnx');
    const cases: [string[], number, RegExp][] = [
      [['--model', path.join(dir, 'missing.safetensors')], 1, /^netslim: .*missing\.safetensors: cannot read: no such file or directory/],
      [['--model', notModel], 1, /^netslim: .*x\.safetensors.*not a netslim model/],
      [['--model', garbage], 1, /^netslim: .*notes\.txt/],
      [['--model', ckpt, '--input-size', '3,16,16'], 2, /^netslim: --input-size 3,16,16: Linear classifier: expects 4 input features, got \[1, 64\]$/],
      [['--model', ckpt, '--input-size', '1,8,8'], 2, /^netslim: --input-size 1,8,8: the model takes 3 input channels, not 1$/],
      [['--model', ckpt, '--input-size', '3,8'], 2, /^netslim export: option '--input-size <C,H,W>' argument '3,8' is invalid/],
      [['--model', ckpt, '--opset', '12'], 2, /^netslim export: option '--opset <n>' argument '12' is invalid/],
    ];
    for (const [args, code, re] of cases) {
      const r = netslim('export', ...args, '--onnx', out);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(re);
      expect(readdirSync(dir).sort(), args.join(' ')).toEqual(before);
    }
    // A failure after the GPU work (the target's directory does not exist): one line, nothing written.
    const r = netslim('export', '--model', ckpt, '--onnx', path.join(dir, 'no-such-dir', 'out.onnx'));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(/^netslim: .*no-such-dir\/out\.onnx: cannot write .*no such file or directory/);
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
