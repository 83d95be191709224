// The model graphs against PyTorch: test/fixtures/make_model_fixtures.py builds a small VGG,
// ResNet-11 and DenseNet-7 exactly as the reference models, and records eval logits, the first
// step's logits, loss and every parameter gradient, then three steps of sparse SGD (losses and the
// whole state dict afterwards). netslim loads the same initial state dict into graphs built from
// the same metadata and must reproduce all of it. Tolerance: 1e-4 (the bound), as
// atol·max(1, max|ref|) + rtol·|ref| with atol = rtol = 1e-4: float32 sums in another order, and
// three SGD steps at lr 0.1 amplify the differences a little.
import { describe, expect, it } from 'vitest';
import { readFixture } from '#lane';
import { parseSafetensors, toFloat32, toInt64 } from '../src/io/safetensors.js';
import { graphFromMeta } from '../src/nn/models.js';
import { Model, type StateValues } from '../src/nn/model.js';
import { SGD } from '../src/train/sgd.js';
import { softmaxCrossEntropy } from '../src/ops/cross_entropy.js';
import { useContext } from './util/gpu.js';
import { expectClose, type Tolerance } from './util/tolerance.js';

const getCtx = useContext();
const PARITY: Tolerance = { atol: 1e-4, rtol: 1e-4 };

async function load(name: string) {
  const file = parseSafetensors(await readFixture(`fixtures/models/${name}.safetensors`), `${name}.safetensors`);
  const md = file.metadata;
  const meta = {
    arch: md.arch!,
    depth: Number(md.depth),
    numClasses: Number(md.num_classes),
    inChannels: Number(md.in_channels),
    cfg: JSON.parse(md.cfg!) as (number | 'M')[],
  };
  const f32 = (k: string) => toFloat32(file.tensors.get(k)!, k);
  return { file, meta, f32, sparsity: Number(md.sparsity) };
}

function stateFrom(model: Model, get: (k: string) => { shape: number[]; dtype: string } | undefined, read: (k: string, i64: boolean) => Float32Array | BigInt64Array, prefix = ''): StateValues {
  const values: StateValues = new Map();
  for (const { name, slot } of model.namedSlots()) {
    const t = get(prefix + name);
    if (!t) throw new Error(`fixture has no ${prefix + name}`);
    values.set(name, { shape: t.shape, data: read(prefix + name, slot.dtype === 'I64') });
  }
  return values;
}

describe('model graphs match PyTorch', () => {
  for (const name of ['vgg_tiny', 'resnet11', 'densenet7']) {
    it(`${name}: eval logits, gradients, and three steps of sparse SGD`, async () => {
      const ctx = getCtx();
      const { file, meta, f32, sparsity } = await load(name);
      const { graph } = graphFromMeta(meta);
      const model = new Model(ctx, graph, meta);
      const get = (k: string) => file.tensors.get(k);
      const read = (k: string, i64: boolean) => (i64 ? toInt64(file.tensors.get(k)!, k) : f32(k));
      model.loadStateDict(stateFrom(model, get, read), `${name}.safetensors`);

      const xt = file.tensors.get('input')!;
      const x = ctx.tensor(xt.shape, f32('input'));
      const labels = ctx.tensor([xt.shape[0]!], Int32Array.from(toInt64(file.tensors.get('labels')!, 'labels'), Number), 'i32');

      expectClose(await ctx.readF32(model.forward(x, false)), f32('eval.logits'), PARITY, `${name} eval logits`);

      const opt = new SGD(model, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, sparsity });
      for (let step = 0; step < 3; step++) {
        const logits = model.forward(x, true);
        if (step === 0) expectClose(await ctx.readF32(logits), f32('step0.logits'), PARITY, `${name} step 0 logits`);
        const ce = softmaxCrossEntropy(ctx, logits, labels, { dlogits: model.outputGrad(x) });
        model.backward(x);
        if (step === 0) {
          for (const { name: p, slot } of model.parameters()) {
            expectClose(await ctx.readF32(slot.grad!), f32(`grad.${p}`), PARITY, `${name} grad ${p}`);
          }
        }
        opt.step();
        expectClose(await ctx.readF32(ce.loss), f32(`loss.${step}`), PARITY, `${name} loss ${step}`);
        for (const t of [ce.loss, ce.correct]) t.destroy();
      }
      const after = await model.stateDict();
      for (const [k, v] of after) {
        if (v.data instanceof BigInt64Array) {
          expect(v.data[0], `${name} after.${k}`).toBe(toInt64(file.tensors.get(`after.${k}`)!, k)[0]);
        } else {
          expectClose(v.data, f32(`after.${k}`), PARITY, `${name} after 3 steps: ${k}`);
        }
      }
      model.destroy();
      x.destroy();
      labels.destroy();
    });
  }
});
