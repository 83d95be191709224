// Pruning any graph (src/slim/channels.ts, src/slim/prune.ts): networks built with the Graph API —
// a torchvision-style residual net (post-activation BasicBlocks, 1×1 conv + BN downsample), a net
// whose last BatchNorm reaches a Linear through Flatten at 28×28 (each channel owns 7·7 columns),
// and an Inception-style Concat of two branches — pruned at 0.3 and 0.5 in both `coupled` modes.
// In every case the compact model must compute what the mask-mode model (same shapes, removed
// channels zeroed where they are produced) computes, save and load back through the graph in the
// checkpoint, and train a step. The group rule is checked by hand on a two-block stream, the
// reference ResNet's stream is pruned in 'prune' mode, and bad input gets typed errors.
import { describe, expect, it } from 'vitest';
import type { Context } from '../src/gpu/context.js';
import { Graph } from '../src/nn/graph.js';
import { Add, AvgPool2d, BatchNorm2d, Concat, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU, ReLU6 } from '../src/nn/layers.js';
import { Model } from '../src/nn/model.js';
import { initialize, resnet, densenet, mobilenetV2Graph, resnet18Graph } from '../src/nn/models.js';
import { PruneError, plan, prune } from '../src/slim/prune.js';
import { loadModel, saveModel, checkpointGraph } from '../src/io/checkpoint.js';
import { parseSafetensors, serializeSafetensors } from '../src/io/safetensors.js';
import { CheckpointError } from '../src/io/errors.js';
import { GraphSpecError, graphFromSpec, graphToSpec } from '../src/nn/graph-spec.js';
import { datasetFromTensors } from '../src/data/datasets.js';
import { Trainer } from '../src/train/trainer.js';
import { useContext } from './util/gpu.js';
import { normal } from './util/random.js';
import { scramble } from './util/scramble.js';
import { expectBitExact, expectClose } from './util/tolerance.js';

const getCtx = useContext();

/** conv → BN → ReLU on `from`; returns the ReLU's id. */
function convBnRelu(g: Graph, from: number, name: string, bnName: string, cin: number, cout: number, kernel: number, stride = 1): number {
  return g.chain(from, new Conv2d(name, { inChannels: cin, outChannels: cout, kernel, stride, padding: (kernel - 1) / 2 }), new BatchNorm2d(bnName, cout), new ReLU(''));
}

/** A torchvision-style CIFAR ResNet in miniature: stem, one identity block, one downsampling block. */
function tvResnet(): Graph {
  const g = new Graph(3);
  let x = convBnRelu(g, g.input, 'conv1', 'bn1', 3, 8, 3);
  const block = (name: string, cin: number, cout: number, stride: number) => {
    const h1 = convBnRelu(g, x, `${name}.conv1`, `${name}.bn1`, cin, cout, 3, stride);
    const h2 = g.chain(h1, new Conv2d(`${name}.conv2`, { inChannels: cout, outChannels: cout, kernel: 3, padding: 1 }), new BatchNorm2d(`${name}.bn2`, cout));
    const skip = stride === 1 && cin === cout ? x : g.chain(x, new Conv2d(`${name}.downsample.0`, { inChannels: cin, outChannels: cout, kernel: 1, stride }), new BatchNorm2d(`${name}.downsample.1`, cout));
    x = g.chain(g.add(new Add(''), h2, skip), new ReLU(''));
  };
  block('layer1.0', 8, 8, 1);
  block('layer2.0', 8, 16, 2);
  g.chain(x, new AvgPool2d('', { kernel: 4 }), new Flatten(''), new Linear('fc', 16, 10));
  return g;
}

/** conv-BN-ReLU-pool twice at 28×28, then Flatten → Linear over 6 channels of 7×7. */
function flattenNet(): Graph {
  const g = new Graph(1);
  let x = convBnRelu(g, g.input, 'c1', 'b1', 1, 4, 3);
  x = g.add(new MaxPool2d('', { kernel: 2 }), x);
  x = convBnRelu(g, x, 'c2', 'b2', 4, 6, 3);
  x = g.add(new MaxPool2d('', { kernel: 2 }), x);
  g.chain(x, new Flatten(''), new Linear('fc', 6 * 49, 5));
  return g;
}

/** Two branches concatenated, read by one conv. */
function concatNet(): Graph {
  const g = new Graph(3);
  const stem = convBnRelu(g, g.input, 'stem', 'stem_bn', 3, 8, 3);
  const a = convBnRelu(g, stem, 'a.conv', 'a.bn', 8, 4, 1);
  const b = convBnRelu(g, stem, 'b.conv', 'b.bn', 8, 6, 3);
  const cat = g.add(new Concat(''), a, b);
  const y = convBnRelu(g, cat, 'mix', 'mix_bn', 10, 8, 3);
  g.chain(y, new AvgPool2d('', { kernel: 8 }), new Flatten(''), new Linear('fc', 8, 3));
  return g;
}

/** MobileNetV2 in miniature: ReLU6 stem, an inverted residual (1×1 expand, depthwise 3×3, linear 1×1 project) with its skip, a biased 1×1 conv, global pooling, dropout. */
function invertedResidualNet(): Graph {
  const g = new Graph(3);
  const stem = g.chain(g.input, new Conv2d('stem.0', { inChannels: 3, outChannels: 8, kernel: 3, padding: 1 }), new BatchNorm2d('stem.1', 8), new ReLU6(''));
  const h = g.chain(
    stem,
    new Conv2d('block.expand', { inChannels: 8, outChannels: 16, kernel: 1 }),
    new BatchNorm2d('block.bn1', 16),
    new ReLU6(''),
    new Conv2d('block.dw', { inChannels: 16, outChannels: 16, kernel: 3, padding: 1, groups: 16 }),
    new BatchNorm2d('block.bn2', 16),
    new ReLU6(''),
    new Conv2d('block.project', { inChannels: 16, outChannels: 8, kernel: 1 }),
    new BatchNorm2d('block.bn3', 8),
  );
  const y = g.add(new Add(''), h, stem);
  g.chain(
    y,
    new Conv2d('head.0', { inChannels: 8, outChannels: 12, kernel: 1, bias: true }),
    new BatchNorm2d('head.1', 12),
    new ReLU6(''),
    new GlobalAvgPool2d(''),
    new Flatten(''),
    new Dropout('drop', 0.2),
    new Linear('fc', 12, 4),
  );
  return g;
}

const NETS: { name: string; make: (ctx: Context) => Model; input: [number, number, number] }[] = [
  { name: 'tv-resnet', make: (ctx) => custom(ctx, tvResnet(), 10), input: [3, 8, 8] },
  { name: 'flatten-linear', make: (ctx) => custom(ctx, flattenNet(), 5), input: [1, 28, 28] },
  { name: 'concat', make: (ctx) => custom(ctx, concatNet(), 3), input: [3, 8, 8] },
  { name: 'inverted-residual', make: (ctx) => custom(ctx, invertedResidualNet(), 4), input: [3, 7, 5] },
  { name: 'resnet18 (width 4)', make: (ctx) => custom(ctx, resnet18Graph({ width: 4 }).graph, 10), input: [3, 16, 16] },
  {
    name: 'mobilenetV2 (width 0.25, 4 rows)',
    make: (ctx) => custom(ctx, mobilenetV2Graph({ width: 0.25, settings: [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 1, 1]] }).graph, 10),
    input: [3, 16, 16],
  },
  { name: 'resnet11', make: (ctx) => resnet(ctx, { depth: 11 }), input: [3, 32, 32] },
  { name: 'densenet7', make: (ctx) => densenet(ctx, { depth: 7 }), input: [3, 32, 32] },
];

function custom(ctx: Context, g: Graph, numClasses: number): Model {
  const m = new Model(ctx, g, { arch: 'custom', numClasses, inChannels: g.inChannels });
  initialize(m, 3);
  return m;
}

const convWidths = (m: Model) => m.graph.layers().filter((l): l is Conv2d => l instanceof Conv2d).map((l) => `${l.name}:${l.inChannels}→${l.outChannels}`);

describe('pruning any graph', () => {
  for (const net of NETS) {
    for (const coupled of ['keep', 'prune'] as const) {
      for (const percent of [0.3, 0.5]) {
        it(`${net.name}, coupled '${coupled}' at ${percent}: compact == masked, saved and loaded back`, async () => {
          const ctx = getCtx();
          const model = net.make(ctx);
          await scramble(model, 21, { ties: false, linear: true });
          const opts = { coupled, inputSize: net.input };
          const { model: small, report } = await prune(model, percent, opts);
          const { model: masked } = await prune(model, percent, { ...opts, mode: 'mask' });
          expect(report.prunedChannels).toBeGreaterThan(0);
          expect(report.flopsAfter).toBeLessThan(report.flopsBefore);
          expect(await plan(model, percent, opts)).toEqual(report);
          const n = 2;
          const x = ctx.tensor([n, ...net.input], normal(n * net.input[0] * net.input[1] * net.input[2], 7));
          const want = await ctx.readF32(masked.forward(x, false));
          const got = await ctx.readF32(small.forward(x, false));
          // Same sums over fewer terms (the removed ones are exact zeros in the masked model): float32 rounding only.
          expectClose(got, want, { atol: 1e-5, rtol: 1e-4 }, `${net.name} ${coupled}@${percent} compact vs masked`);
          // The graph travels in the checkpoint: any graph loads back, bit for bit.
          const again = loadModel(ctx, await saveModel(small), 'pruned.safetensors');
          expect(convWidths(again)).toEqual(convWidths(small));
          expectBitExact(await ctx.readF32(again.forward(x, false)), got, `${net.name} reloaded`);
          if (coupled === 'prune' && percent === 0.5) {
            // Fine-tune a step.
            const data = datasetFromTensors(normal(4 * net.input[0] * net.input[1] * net.input[2], 9), [4, ...net.input], Int32Array.from({ length: 4 }, (_, i) => i % 2));
            const trainer = new Trainer(again, data, null, { epochs: 1, batchSize: 4, lr: 0.01 });
            const { loss } = await trainer.trainEpoch();
            expect(Number.isFinite(loss) && loss > 0).toBe(true);
            trainer.destroy();
          }
          for (const m of [again, small, masked, model]) m.destroy();
          x.destroy();
        });
      }
    }
  }

  it("'keep' never removes a residual stream's channel; 'prune' removes it from every tensor at once", async () => {
    const ctx = getCtx();
    const model = custom(ctx, tvResnet(), 10);
    await scramble(model, 5, { ties: false });
    const keep = await plan(model, 0.5, { inputSize: [3, 8, 8] });
    const find = (r: typeof keep, name: string) => r.layers.find((l) => l.name === name)!;
    // bn1 (stem), layer1.0.bn2 and the identity make one stream: tied, kept whole.
    for (const name of ['bn1', 'layer1.0.bn2', 'layer2.0.bn2', 'layer2.0.downsample.1']) expect(find(keep, name).after, name).toBe(find(keep, name).before);
    const { model: small } = await prune(model, 0.5, { inputSize: [3, 8, 8], coupled: 'prune' });
    const w = (name: string) => (small.graph.layers().find((l) => l.name === name) as Conv2d).outChannels;
    expect(w('conv1')).toBe(w('layer1.0.conv2')); // one stream, one width
    expect(w('layer2.0.conv2')).toBe(w('layer2.0.downsample.0'));
    expect(w('conv1') + w('layer2.0.conv2')).toBeLessThan(8 + 16);
    small.destroy();
    model.destroy();
    // The reference's pre-activation ResNet: its stream is kept in 'keep' (the reference, cfg kept) and pruned in 'prune'.
    const ref = resnet(ctx, { depth: 11 });
    await scramble(ref, 6, { ties: false });
    const streams = (m: Model) => m.graph.layers().filter((l): l is Conv2d => l instanceof Conv2d && /conv3$|^conv1$/.test(l.name)).map((l) => l.outChannels);
    const kept = await prune(ref, 0.5, { coupled: 'keep' });
    expect(streams(kept.model)).toEqual([16, 64, 128, 256]);
    expect(kept.report.cfg).toHaveLength(10);
    const cut = await prune(ref, 0.5, { coupled: 'prune' });
    const s = streams(cut.model);
    expect(s[1]! < 64 || s[2]! < 128 || s[3]! < 256).toBe(true);
    expect(cut.report.cfg).toBeUndefined(); // no longer expressible as the reference's cfg
    expect(cut.model.meta.arch).toBe('custom');
    for (const m of [kept.model, cut.model, ref]) m.destroy();
  });

  it('scores a group by the mean |γ| of its BatchNorms and ranks it with free channels (by hand)', async () => {
    const ctx = getCtx();
    // stem conv → bnA ; block conv → bnB ; add → conv → bnC (free) → pool → fc. Stream channels are
    // normalised by bnA and bnB: group score = mean(|γA|, |γB|).
    const g = new Graph(1);
    const a = g.chain(g.input, new Conv2d('ca', { inChannels: 1, outChannels: 3, kernel: 1 }), new BatchNorm2d('bnA', 3));
    const b = g.chain(a, new Conv2d('cb', { inChannels: 3, outChannels: 3, kernel: 1 }), new BatchNorm2d('bnB', 3));
    const s = g.add(new Add(''), a, b);
    g.chain(s, new Conv2d('cc', { inChannels: 3, outChannels: 3, kernel: 1 }), new BatchNorm2d('bnC', 3), new ReLU(''), new AvgPool2d('', { kernel: 2 }), new Flatten(''), new Linear('fc', 3, 2));
    const model = custom(ctx, g, 2);
    const state = await model.stateDict();
    (state.get('bnA.weight')!.data as Float32Array).set([0.1, 0.9, -0.3]);
    (state.get('bnB.weight')!.data as Float32Array).set([0.2, 0.1, 0.5]); // group means 0.15, 0.5, 0.4
    (state.get('bnC.weight')!.data as Float32Array).set([0.45, -0.05, 0.6]);
    model.loadStateDict(state);
    // Ranked: 0.05 (C1), 0.15 (G0), 0.4 (G2), 0.45 (C0), 0.5 (G1), 0.6 (C2); 6 · 0.5 = 3 → threshold 0.45.
    const r = await plan(model, 0.5, { coupled: 'prune', inputSize: [1, 2, 2] });
    expect(r.threshold).toBeCloseTo(0.45, 6);
    expect(Object.fromEntries(r.layers.map((l) => [l.name, l.after]))).toEqual({ bnA: 1, bnB: 1, bnC: 1 });
    // 'sum' ranks the groups by 0.3, 1.0, 0.8 instead: 0.05, 0.3, 0.45, 0.6, 0.8, 1.0 → threshold 0.6 → one group and C1, C0, C2 go but C keeps min 1.
    const rs = await plan(model, 0.5, { coupled: 'prune', groupImportance: 'sum', inputSize: [1, 2, 2] });
    expect(rs.threshold).toBeCloseTo(0.6, 6);
    expect(rs.layers.find((l) => l.name === 'bnA')!.after).toBe(2);
    // 'keep': only bnC's channels are free; threshold over all nine |γ| at floor(9·0.5) = 4 → 0.3.
    const rk = await plan(model, 0.5, { inputSize: [1, 2, 2] });
    expect(rk.threshold).toBeCloseTo(0.3, 6);
    expect(Object.fromEntries(rk.layers.map((l) => [l.name, l.after]))).toEqual({ bnA: 3, bnB: 3, bnC: 2 });
    model.destroy();
  });

  it('meets FLOP and parameter targets, says what it reached, and refuses targets it cannot meet', async () => {
    const ctx = getCtx();
    const model = custom(ctx, tvResnet(), 10);
    await scramble(model, 8, { ties: false });
    for (const coupled of ['keep', 'prune'] as const) {
      const r = await plan(model, { flops: 0.6 }, { coupled, inputSize: [3, 8, 8] });
      expect(r.flopsAfter / r.flopsBefore).toBeLessThanOrEqual(0.6);
      expect(r.target!.reached.flops).toBe(r.flopsAfter / r.flopsBefore);
      const { model: small, report } = await prune(model, { params: 0.5 }, { coupled, inputSize: [3, 8, 8] });
      expect(report.paramsAfter / report.paramsBefore).toBeLessThanOrEqual(0.5);
      expect(small.parameterCount()).toBe(report.paramsAfter);
      small.destroy();
    }
    await expect(plan(model, { flops: 0.01 }, { inputSize: [3, 8, 8] })).rejects.toThrow(/target flops 0.01 cannot be met: removing every rankable channel leaves 0\.\d+ of the FLOPs/);
    await expect(plan(model, { flops: 0 })).rejects.toThrow(PruneError);
    await expect(plan(model, { params: 1.5 })).rejects.toThrow(/with each F in \(0, 1\]/);
    model.destroy();
  });

  it('ignore keeps the named layers whole; an unknown name, a bad mode or a non-finite γ is a PruneError', async () => {
    const ctx = getCtx();
    const model = custom(ctx, concatNet(), 3);
    await scramble(model, 9, { ties: false });
    const r = await plan(model, 0.5, { ignore: ['a.conv'], inputSize: [3, 8, 8] });
    expect(r.layers.find((l) => l.name === 'a.bn')!.after).toBe(4);
    await expect(plan(model, 0.5, { ignore: ['nope'] })).rejects.toThrow('prune: ignore names "nope", which is no layer of the graph');
    await expect(plan(model, 0.5, { coupled: 'both' as 'keep' })).rejects.toThrow(/coupled both is neither/);
    await expect(plan(model, 0.5, { coupled: 'prune', compensate: true })).rejects.toThrow(/compensate works with coupled 'keep' only/);
    const state = await model.stateDict();
    (state.get('b.bn.weight')!.data as Float32Array)[2] = NaN;
    model.loadStateDict(state);
    await expect(plan(model, 0.5)).rejects.toThrow('prune: BatchNorm2d b.bn has a non-finite γ (NaN) at channel 2');
    model.destroy();
  });
});

describe('the graph in the checkpoint', () => {
  it('round-trips a custom graph; a malformed graph or one that contradicts the tensors is a CheckpointError', async () => {
    const ctx = getCtx();
    const model = custom(ctx, concatNet(), 3);
    const bytes = await saveModel(model);
    const file = parseSafetensors(bytes);
    expect(JSON.parse(file.metadata.graph!).format).toBe('netslim-graph/1');
    expect(file.metadata.arch).toBe('custom');
    const { graph } = checkpointGraph(file);
    expect(graphToSpec(graph)).toEqual(graphToSpec(model.graph));
    const tensors = Object.fromEntries([...file.tensors].map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: t.data }]));
    const withGraph = (g: string) => serializeSafetensors(tensors, { ...file.metadata, graph: g });
    expect(() => loadModel(ctx, withGraph('{"format":"netslim-graph/1"'), 'm.safetensors')).toThrow(/^m\.safetensors: metadata graph: not JSON/);
    const spec = graphToSpec(model.graph);
    const bad = structuredClone(spec);
    (bad.nodes[0]!.options as Record<string, number>).outChannels = 9; // the tensors hold 8
    expect(() => loadModel(ctx, withGraph(JSON.stringify(bad)), 'm.safetensors')).toThrow(CheckpointError);
    expect(() => loadModel(ctx, withGraph(JSON.stringify(bad)), 'm.safetensors')).toThrow(/tensor "stem.weight": shape \[8, 3, 3, 3\] does not match the model's \[9, 3, 3, 3\]/);
    const cyc = structuredClone(spec);
    cyc.nodes[1]!.inputs = [5];
    expect(() => loadModel(ctx, withGraph(JSON.stringify(cyc)), 'm.safetensors')).toThrow(/graph node 2 \(BatchNorm2d stem_bn\): inputs \[5\] must be ids of earlier nodes/);
    const kind = structuredClone(spec);
    (kind.nodes[2] as { kind: string }).kind = 'Softmax';
    expect(() => loadModel(ctx, withGraph(JSON.stringify(kind)), 'm.safetensors')).toThrow(/kind "Softmax" is not one of/);
    expect(() => serializeSafetensors(tensors, { ...file.metadata, num_classes: '4' })).not.toThrow();
    expect(() => loadModel(ctx, serializeSafetensors(tensors, { ...file.metadata, num_classes: '4' }), 'm.safetensors')).toThrow('m.safetensors: metadata num_classes=4 contradicts the graph, which describes num_classes=3');
    model.destroy();
  });

  it('rejects graph specs with bad options, naming the node and the field', () => {
    const base = { format: 'netslim-graph/1', inChannels: 3 };
    expect(() => graphFromSpec({ ...base, nodes: [{ kind: 'Conv2d', name: 'c', inputs: [0], options: { inChannels: 3, outChannels: 0, kernel: 3 } }] })).toThrow(
      new GraphSpecError('graph node 1 (Conv2d c): outChannels 0 is not a positive integer'),
    );
    expect(() => graphFromSpec({ ...base, format: 'x', nodes: [] })).toThrow('graph: format "x" is not "netslim-graph/1"');
    expect(() => graphFromSpec({ ...base, nodes: [{ kind: 'Add', name: '', inputs: [0], options: {} }] })).toThrow('graph node 1 (Add): takes 2 inputs, got 1');
    expect(() =>
      graphFromSpec({ ...base, nodes: [{ kind: 'BatchNorm2d', name: 'b', inputs: [0], options: { channels: 3 } }, { kind: 'BatchNorm2d', name: 'b', inputs: [1], options: { channels: 3 } }] }),
    ).toThrow('graph node 2 (BatchNorm2d b): another layer with state is named "b"');
  });
});
