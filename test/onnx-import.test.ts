// ONNX import against PyTorch, in both lanes. test/fixtures/make_onnx_fixtures.py exports, with
// the model in eval mode and TrainingMode.PRESERVE at opsets 13 and 17:
//  - the CIFAR ResNet-18 (width 4) and MobileNetV2 (width 0.25) of make_graph_fixtures.py from the
//    same seeds, so the imported weights must be the initial state of graphs/<net>.safetensors
//    bit for bit (by name: the initializers keep the state_dict names) and the imported model must
//    give that file's eval logits and first-step gradients;
//  - a Fire-module net (Concat branches) whose pooling is a ReduceMean, whose flatten is a
//    Shape/Gather/Unsqueeze/Concat/Reshape chain and whose head is MatMul + Add, against
//    onnx/fire_net.safetensors (same recording);
//  - the ResNet-18 exported in training mode (BatchNormalization with training_mode 1), which
//    imports as the same model;
//  - a fresh MobileNetV2, whose equal-valued initializers the exporter merged;
//  - the ResNet-18 exported the default way (BatchNorm folded into the convs), which must be refused.
// Malformed files (truncated, wrong types, cycles, a missing tensor, absurd dims, unsupported
// ops and attributes, a second input, a weight that is not a constant) are built by editing a
// fixture with onnx-proto and must each give an OnnxImportError naming the culprit.
//
// Tolerance: 1e-4 as atol·max(1, max|ref|) + rtol·|ref| (atol = rtol = 1e-4), the graph-parity
// policy: both sides compute in float32 in different orders; PyTorch's own float32-vs-float64 gap
// on these fixtures is ≤ 3e-6 (printed by the scripts).
import { describe, expect, it } from 'vitest';
import type { onnx as OnnxNs } from 'onnx-proto';
import { readFixture } from '#lane';
import { parseSafetensors, toFloat32, toInt64, type SafetensorsFile } from '../src/io/safetensors.js';
import { importOnnx, readOnnx, OnnxImportError } from '../src/io/onnx-import.js';
import { exportOnnx } from '../src/io/onnx.js';
import { loadModel, saveModel } from '../src/io/checkpoint.js';
import { softmaxCrossEntropy } from '../src/ops/cross_entropy.js';
import { Dropout } from '../src/nn/layers.js';
import type { Model } from '../src/nn/model.js';
import { lane, useContext } from './util/gpu.js';
import { SMALL_MODELS } from './util/small-models.js';
import { scramble } from './util/scramble.js';
import { prune } from '../src/slim/prune.js';
import { compare, expectBitExact, expectClose, type Tolerance } from './util/tolerance.js';

const getCtx = useContext();
const PARITY: Tolerance = { atol: 1e-4, rtol: 1e-4 };

async function onnxProto(): Promise<typeof OnnxNs> {
  const mod = (await import('onnx-proto')) as { onnx?: typeof OnnxNs; default?: { onnx?: typeof OnnxNs } };
  return (mod.onnx ?? mod.default?.onnx)!;
}

async function truth(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readFixture(path), path);
}

const CASES = [
  { net: 'resnet18_w4', truth: 'fixtures/graphs/resnet18_w4.safetensors', files: ['resnet18_w4_op13', 'resnet18_w4_op17', 'resnet18_w4_train_op17'] },
  { net: 'mobilenetv2_w025', truth: 'fixtures/graphs/mobilenetv2_w025.safetensors', files: ['mobilenetv2_w025_op13', 'mobilenetv2_w025_op17'] },
  { net: 'fire_net', truth: 'fixtures/onnx/fire_net.safetensors', files: ['fire_net_op13', 'fire_net_op17'] },
];

/** Eval logits and every first-step gradient of `model` against the recording; returns the worst differences. */
async function checkAgainst(model: Model, file: SafetensorsFile, what: string): Promise<Record<string, number>> {
  const ctx = model.ctx;
  const f32 = (k: string) => toFloat32(file.tensors.get(k)!, k);
  const xt = file.tensors.get('input')!;
  const x = ctx.tensor(xt.shape, f32('input'));
  const labels = ctx.tensor([xt.shape[0]!], Int32Array.from(toInt64(file.tensors.get('labels')!, 'labels'), Number), 'i32');
  const worst: Record<string, number> = {};
  const check = (kind: string, a: ArrayLike<number>, e: ArrayLike<number>, label: string) => {
    worst[kind] = Math.max(worst[kind] ?? 0, compare(a, e, PARITY).maxAbsErr);
    expectClose(a, e, PARITY, `${what}: ${label}`);
  };
  check('eval logits', await ctx.readF32(model.forward(x, false)), f32('eval.logits'), 'eval logits');
  const logits = model.forward(x, true);
  check('step-0 logits', await ctx.readF32(logits), f32('step0.logits'), 'step 0 logits');
  const ce = softmaxCrossEntropy(ctx, logits, labels, { dlogits: model.outputGrad(x) });
  model.backward(x);
  let grads = 0;
  for (const { name, slot } of model.parameters()) {
    check('gradients', await ctx.readF32(slot.grad!), f32(`grad.${name}`), `grad ${name}`);
    grads++;
  }
  expect(grads, `${what}: every recorded gradient checked`).toBe([...file.tensors.keys()].filter((k) => k.startsWith('grad.')).length);
  for (const t of [x, labels, ce.loss, ce.correct]) t.destroy();
  return worst;
}

describe('ONNX import from PyTorch', () => {
  for (const c of CASES) {
    for (const name of c.files) {
      const opset = Number(/_op(\d+)$/.exec(name)![1]);
      it(`${name}: the state_dict names and values, eval logits and first-step gradients of PyTorch`, async () => {
        const ctx = getCtx();
        const file = await truth(c.truth);
        const bytes = await readFixture(`fixtures/onnx/${name}.onnx`);
        if (name.includes('_train_')) {
          // The training-mode export: every BatchNormalization has training_mode 1 and statistics outputs.
          const m = (await onnxProto()).ModelProto.decode(bytes);
          const bns = m.graph!.node!.filter((n) => n.opType === 'BatchNormalization');
          expect(bns.every((n) => n.attribute!.some((a) => a.name === 'training_mode' && Number(a.i) === 1) && n.output!.length === 3)).toBe(true);
        }
        const read = await readOnnx(bytes, { fileName: `${name}.onnx`, inputSize: [3, 16, 16] });
        expect(read.opset).toBe(opset);
        expect(read.producer).toMatch(/^pytorch /);
        // The imported state is the recording's initial state, name for name, value for value
        // (num_batches_tracked is not in ONNX: it starts at 0).
        const stateKeys = [...file.tensors.keys()].filter((k) => !/^(input|labels|eval\.|step0\.|grad\.|loss\.|after\.)/.test(k));
        expect([...read.state.keys()].sort()).toEqual(stateKeys.sort());
        for (const [k, v] of read.state) {
          const t = file.tensors.get(k)!;
          expect(v.shape, k).toEqual(t.shape);
          if (k.endsWith('num_batches_tracked')) expect(v.data[0], k).toBe(0n);
          else expectBitExact(v.data as Float32Array, toFloat32(t, k), `${name}: ${k}`);
        }
        expect(read.renamed).toEqual([]);
        if (c.net === 'fire_net') expect(read.graph.layers().filter((l) => l.kind === 'Concat')).toHaveLength(2);
        const model = await importOnnx(ctx, bytes, { fileName: `${name}.onnx`, inputSize: [3, 16, 16] });
        // The recording trains without dropout (train_dropout 0); an eval-mode export carries none.
        expect(model.graph.layers().filter((l) => l instanceof Dropout)).toEqual([]);
        const worst = await checkAgainst(model, file, name);
        console.log(`${name} (${lane}): max |imported − PyTorch| ` + Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', '));
        // Saved, it loads back through its graph with the same names.
        const again = loadModel(ctx, await saveModel(model), `${c.net}.safetensors`);
        expect(again.namedSlots().map((s) => s.name)).toEqual(model.namedSlots().map((s) => s.name));
        again.destroy();
        model.destroy();
      });
    }
  }

  for (const m of SMALL_MODELS) {
    it(`netslim's own export of ${m.name}, pruned at 0.5, imports back: the same graph, state names and logits bit for bit`, async () => {
      const ctx = getCtx();
      const original = m.make(ctx);
      await scramble(original, 9);
      const { model } = await prune(original, 0.5, { inputSize: m.input });
      const back = await importOnnx(ctx, await exportOnnx(model), { fileName: `${m.name}.onnx`, inputSize: m.input });
      // The same graph: kinds and edges node for node (layers without state keep no name through ONNX).
      const structure = (g: Model['graph']) => g.nodes.map((n) => `${n.layer.kind}<${n.inputs.join(',')}>`);
      expect(structure(back.graph)).toEqual(structure(model.graph));
      expect(back.namedSlots().map((s) => s.name)).toEqual(model.namedSlots().map((s) => s.name));
      const x = ctx.tensor([2, ...m.input], Float32Array.from({ length: 2 * m.input[0] * m.input[1] * m.input[2] }, (_, i) => Math.sin(i)));
      expectBitExact(await ctx.readF32(back.forward(x, false)), await ctx.readF32(model.forward(x, false)), `${m.name} re-imported logits`);
      for (const t of [back, model, original, x]) t.destroy();
    });
  }

  it('import → export → import keeps the graph and every weight', async () => {
    const ctx = getCtx();
    const bytes = await readFixture('fixtures/onnx/mobilenetv2_w025_op13.onnx');
    const model = await importOnnx(ctx, bytes);
    const back = await readOnnx(await exportOnnx(model), { fileName: 'exported.onnx' });
    const state = await model.stateDict();
    expect([...back.state.keys()]).toEqual([...state.keys()]);
    for (const [k, v] of state) if (v.data instanceof Float32Array) expectBitExact(back.state.get(k)!.data as Float32Array, v.data, `re-imported ${k}`);
    expect(back.graph.layers().map((l) => l.kind)).toEqual(model.graph.layers().map((l) => l.kind));
    model.destroy();
  });

  it('names a layer whose initializers lost their module path after its node, and says so', async () => {
    const proto = await onnxProto();
    const m = proto.ModelProto.decode(await readFixture('fixtures/onnx/resnet18_w4_op13.onnx'));
    const g = m.graph as OnnxNs.GraphProto;
    g.initializer.find((t) => t.name === 'layer2.0.conv1.weight')!.name = 'onnx::Conv_7';
    const conv = g.node.find((n) => n.name === '/layer2/layer2.0/conv1/Conv')!;
    conv.input![1] = 'onnx::Conv_7';
    const read = await readOnnx(proto.ModelProto.encode(m).finish(), { inputSize: [3, 16, 16] });
    expect(read.renamed).toEqual([{ onnx: 'onnx::Conv_7', name: 'layer2.0.conv1.weight', from: 'node name /layer2/layer2.0/conv1/Conv' }]);
    expect(read.state.has('layer2.0.conv1.weight')).toBe(true);
  });

  it('gives every tensor its state_dict name when the exporter merged equal initializers (a freshly built MobileNetV2)', async () => {
    const file = await truth('fixtures/graphs/mobilenetv2_w025.safetensors');
    const read = await readOnnx(await readFixture('fixtures/onnx/mobilenetv2_w025_fresh_op17.onnx'));
    const stateKeys = [...file.tensors.keys()].filter((k) => !/^(input|labels|eval\.|step0\.|grad\.|loss\.|after\.)/.test(k));
    expect([...read.state.keys()].sort()).toEqual(stateKeys.sort());
    // Most BatchNorm tensors were stored under another layer's name (ones and zeros merged).
    expect(read.renamed.length).toBeGreaterThan(20);
    expect(read.renamed.every((r) => r.onnx !== r.name)).toBe(true);
    for (const [k, v] of read.state) {
      if (k.endsWith('.running_var') || (k.endsWith('.weight') && v.shape.length === 1)) expect((v.data as Float32Array).every((x) => x === 1), k).toBe(true);
      if (k.endsWith('.running_mean') || (k.endsWith('.bias') && !k.startsWith('classifier'))) expect((v.data as Float32Array).every((x) => x === 0), k).toBe(true);
    }
    // Each tensor is its own copy: training one BatchNorm must not move another.
    const arrays = [...read.state.values()].map((v) => v.data);
    expect(new Set(arrays).size).toBe(arrays.length);
  });

  it("refuses PyTorch's default eval-mode export (BatchNorm folded into the convs) and says how to export", async () => {
    const bytes = await readFixture('fixtures/onnx/resnet18_w4_eval_default.onnx');
    const err = await readOnnx(bytes, { fileName: 'resnet18_w4_eval_default.onnx' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxImportError);
    expect((err as Error).message).toMatch(/^resnet18_w4_eval_default\.onnx: no BatchNormalization, and the convs have biases/);
    expect((err as Error).message).toContain('training=torch.onnx.TrainingMode.PRESERVE');
  });

  describe('malformed or unsupported files: one OnnxImportError each, naming the culprit', () => {
    type Edit = (m: OnnxNs.ModelProto, proto: typeof OnnxNs) => void;
    const G = (m: OnnxNs.ModelProto): OnnxNs.GraphProto => m.graph as OnnxNs.GraphProto;
    const nodeOf = (m: OnnxNs.ModelProto, op: string, k = 0) => G(m).node.filter((n) => n.opType === op)[k]!;
    const attr = (n: OnnxNs.INodeProto, name: string): OnnxNs.IAttributeProto => n.attribute!.find((a) => a.name === name)!;
    const cases: [string, Edit | 'truncate' | 'garbage', RegExp][] = [
      ['truncated bytes', 'truncate', /^m\.onnx: not an ONNX model \(/],
      ['bytes that are no protobuf', 'garbage', /^m\.onnx: not an ONNX model/],
      ['an unsupported op', (m) => void (nodeOf(m, 'Relu').opType = 'Selu'), /node \d+ ".*" \(Selu\): op Selu is not supported \(netslim imports Conv, BatchNormalization/],
      ['dilation 2', (m) => void (attr(nodeOf(m, 'Conv', 1), 'dilations').ints = [2, 2]), /\(Conv\): dilations \[2, 2\] are not supported/],
      ['ceil_mode (in fire_net)', (m) => void nodeOf(m, 'MaxPool').attribute!.push({ name: 'ceil_mode', type: 2, i: 1 }), /\(MaxPool\): ceil_mode 1 is not supported/],
      [
        'a second graph input',
        (m, p) => void G(m).input.push(p.ValueInfoProto.create({ name: 'extra', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } })),
        /the graph has 2 inputs \("input", "extra"\); netslim imports a network with one image input/,
      ],
      [
        'a dynamic channel count',
        (m) => void ((G(m).input[0]!.type!.tensorType!.shape!.dim as OnnxNs.TensorShapeProto.IDimension[])[1] = { dimParam: 'channels' }),
        /input "input" has a dynamic channel count/,
      ],
      ['an integer input', (m) => void ((G(m).input[0]!.type!.tensorType as OnnxNs.TypeProto.ITensor).elemType = 7), /input "input" is not a FLOAT tensor \(INT64\)/],
      [
        'a weight that is not a constant',
        (m) => {
          const conv = nodeOf(m, 'Conv', 1);
          conv.input![1] = conv.input![0]!;
        },
        /\(Conv\): weight \(input 1, ".*"\) is not a constant/,
      ],
      ['a node reading a missing tensor', (m) => void (nodeOf(m, 'Relu').input![0] = 'nowhere'), /\(Relu\) reads "nowhere", which no node, initializer or input provides/],
      [
        'a cycle',
        (m) => {
          const first = nodeOf(m, 'Conv', 0);
          const relu = nodeOf(m, 'Relu', 0);
          first.input![0] = relu.output![0]!;
        },
        /the graph has a cycle through node \d+ /,
      ],
      [
        'absurd dims',
        (m) => {
          const w: OnnxNs.ITensorProto = G(m).initializer.find((t) => t.name === 'conv1.weight')!;
          w.dims = [1e6, 1e6, 3, 3];
        },
        /initializer "conv1\.weight" has dims \[1000000, 1000000, 3, 3\]: 9000000000000 elements, over the/,
      ],
      [
        'data that does not fit its dims',
        (m) => {
          const w: OnnxNs.ITensorProto = G(m).initializer.find((t) => t.name === 'conv1.weight')!;
          w.rawData = w.rawData!.subarray(0, 8);
        },
        /initializer "conv1\.weight" has 8 bytes of data for dims \[4, 3, 3, 3\] of FLOAT \(432 expected\)/,
      ],
      ['a float16 weight', (m) => void ((G(m).initializer.find((t) => t.name === 'conv1.weight') as OnnxNs.ITensorProto).dataType = 10), /initializer "conv1\.weight" has data type FLOAT16/],
      ['opset 9', (m) => void (m.opsetImport[0]!.version = 9), /opset 9 is not supported \(netslim imports opsets 11 to 21/],
    ];
    for (const [what, edit, re] of cases) {
      it(what, async () => {
        const proto = await onnxProto();
        const original = await readFixture(`fixtures/onnx/${what.includes('fire_net') ? 'fire_net' : 'resnet18_w4'}_op13.onnx`);
        let bytes: Uint8Array;
        if (edit === 'truncate') bytes = original.subarray(0, Math.floor(original.length / 2));
        else if (edit === 'garbage') bytes = Uint8Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 255);
        else {
          const m = proto.ModelProto.decode(original);
          edit(m, proto);
          bytes = proto.ModelProto.encode(m).finish();
        }
        const err = await readOnnx(bytes, { fileName: 'm.onnx' }).catch((e: unknown) => e);
        expect(err, what).toBeInstanceOf(OnnxImportError);
        expect((err as Error).message).toMatch(/^m\.onnx: /);
        expect((err as Error).message).toMatch(re);
        // The same through importOnnx leaves nothing on the GPU to clean up: it fails before building.
        const ctx = getCtx();
        await expect(importOnnx(ctx, bytes, { fileName: 'm.onnx' })).rejects.toBeInstanceOf(OnnxImportError);
      });
    }
  });
});
