// Model checkpoints: our files round-trip bit for bit; PyTorch-made state dicts (the model
// fixtures, with or without metadata) load into the right graph and give PyTorch's logits;
// bad files fail with a CheckpointError naming the file and tensor, leaving nothing allocated.
import { describe, expect, it } from 'vitest';
import { readFixture } from '#lane';
import { CheckpointError } from '../src/io/errors.js';
import { parseSafetensors, serializeSafetensors, type SafeTensor } from '../src/io/safetensors.js';
import { checkpointMeta, loadModel, saveModel } from '../src/io/checkpoint.js';
import { exportOnnx } from '../src/io/onnx.js';
import { prune } from '../src/slim/prune.js';
import { densenet, resnet, vgg, vggGraph } from '../src/nn/models.js';
import { readOnnx } from '../src/io/onnx-import.js';
import { loadOnnxProto } from '../src/io/onnx-proto.js';
import { CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, CIFAR100_CLASSES, FASHION_MNIST_CLASSES, FASHION_MNIST_MEAN, FASHION_MNIST_STD, MNIST_CLASSES } from '../src/data/datasets.js';
import { ShapeError } from '../src/errors.js';
import { lane } from './util/gpu.js';
import { useContext } from './util/gpu.js';
import { expectBitExact, expectClose } from './util/tolerance.js';
import { scramble } from './util/scramble.js';

const getCtx = useContext();
const FIXTURE_EXTRAS = /^(input|labels|eval\.|step0\.|grad\.|loss\.|after\.)/;

/** A fixture's initial state dict alone, as `safetensors.torch.save_file(model.state_dict())` writes it. */
async function torchCheckpoint(name: string, metadata?: Record<string, string>) {
  const file = parseSafetensors(await readFixture(`fixtures/models/${name}.safetensors`), name);
  const state = new Map<string, SafeTensor>([...file.tensors].filter(([k]) => !FIXTURE_EXTRAS.test(k)));
  return { file, bytes: serializeSafetensors(state, metadata), state };
}

describe('checkpoints', () => {
  it('round-trips every architecture bit for bit, metadata included', async () => {
    const ctx = getCtx();
    for (const m of [vgg(ctx, { cfg: [4, 'M', 6], inChannels: 1, numClasses: 3 }), resnet(ctx, { depth: 11 }), densenet(ctx, { depth: 7 })]) {
      const bytes = await saveModel(m);
      const back = loadModel(ctx, bytes, `${m.meta.arch}.safetensors`);
      expect(back.meta).toEqual(m.meta);
      const a = await m.stateDict();
      const b = await back.stateDict();
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [k, v] of a) {
        if (v.data instanceof Float32Array) expectBitExact(b.get(k)!.data as Float32Array, v.data, `${m.meta.arch} ${k}`);
        else expect(b.get(k)!.data).toEqual(v.data);
      }
      m.destroy();
      back.destroy();
    }
  });

  for (const name of ['vgg_tiny', 'resnet11', 'densenet7']) {
    it(`loads a PyTorch state dict without metadata (${name}) and gives PyTorch's eval logits`, async () => {
      const ctx = getCtx();
      const { file, bytes } = await torchCheckpoint(name);
      const model = loadModel(ctx, bytes, `${name}.safetensors`);
      const md = file.metadata;
      expect(model.meta.arch).toBe(md.arch);
      expect(model.meta.cfg).toEqual(JSON.parse(md.cfg!));
      expect(model.meta.inChannels).toBe(Number(md.in_channels));
      const x = file.tensors.get('input')!;
      const input = ctx.tensor(x.shape, new Float32Array(x.data.slice().buffer));
      const logits = await ctx.readF32(model.forward(input, false));
      const ref = new Float32Array(file.tensors.get('eval.logits')!.data.slice().buffer);
      expectClose(logits, ref, { atol: 1e-4, rtol: 1e-4 }, `${name} logits`);
      input.destroy();
      model.destroy();
    });
  }

  it('rejects metadata that contradicts the tensors, naming both', async () => {
    const { file, state } = await torchCheckpoint('vgg_tiny');
    const bad = parseSafetensors(serializeSafetensors(state, { arch: 'vgg', num_classes: '100' }), 'bad.safetensors');
    expect(() => checkpointMeta(bad, 'bad.safetensors')).toThrow('bad.safetensors: metadata num_classes=100 contradicts the tensors, which describe num_classes=10');
    const wrongArch = parseSafetensors(serializeSafetensors(state, { arch: 'resnet' }), 'x.safetensors');
    expect(() => checkpointMeta(wrongArch, 'x.safetensors')).toThrow('metadata arch=resnet contradicts the tensors, which describe arch=vgg');
    expect(file.metadata.arch).toBe('vgg');
  });

  it('names the file and tensor when a tensor is missing, extra or mis-shaped, and leaks nothing', async () => {
    const ctx = getCtx();
    const { state } = await torchCheckpoint('vgg_tiny');
    await ctx.sync();
    const live = ctx.liveBuffers;
    const without = new Map(state);
    without.delete('feature.1.running_var');
    const cases: [Map<string, SafeTensor>, string][] = [
      [without, 'f.safetensors: tensor "feature.1.running_var": missing'],
      [new Map([...state, ['extra.weight', state.get('classifier.bias')!]]), 'f.safetensors: tensor "extra.weight": unexpected tensor'],
    ];
    const bn = state.get('feature.1.weight')!;
    cases.push([new Map([...state, ['feature.1.weight', { ...bn, shape: [bn.shape[0]! / 2, 2] }]]), 'f.safetensors: tensor "feature.1.weight"']);
    for (const [s, msg] of cases) {
      const err = (() => {
        try {
          loadModel(ctx, serializeSafetensors(s, { arch: 'vgg', cfg: '[8,"M",16,"M",16,12]' }), 'f.safetensors');
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as Error).message).toContain(msg);
    }
    expect(() => loadModel(ctx, new Uint8Array(5), 'short.safetensors')).toThrow(CheckpointError);
    await ctx.sync();
    expect(ctx.liveBuffers).toBe(live);
  });

  it('refuses weights holding NaN or ±Inf, naming the tensors; allowNonFinite loads them, and export then refuses', async () => {
    const ctx = getCtx();
    const bytes = await saveModel(vgg(ctx, { cfg: [4, 'M', 8], numClasses: 3 }));
    const file = parseSafetensors(bytes, 'm');
    const state = new Map<string, SafeTensor>(file.tensors);
    const poison = (k: string, at: number[], v: number) => {
      const t = state.get(k)!;
      const f = new Float32Array(t.data.slice().buffer);
      for (const i of at) f[i] = v;
      state.set(k, { ...t, data: new Uint8Array(f.buffer) });
    };
    poison('feature.1.weight', [1, 2], NaN);
    poison('classifier.weight', [0], -Infinity);
    const bad = serializeSafetensors(state, file.metadata);
    await ctx.sync();
    const live = ctx.liveBuffers;
    expect(() => loadModel(ctx, bad, 'diverged.safetensors')).toThrow(
      /^diverged\.safetensors: tensor "feature\.1\.weight": 2 tensors hold NaN or ±Inf: feature\.1\.weight \(2 of 4\), classifier\.weight \(1 of 24\) \(a damaged file/,
    );
    expect(() => loadModel(ctx, bad, 'diverged.safetensors')).toThrow(CheckpointError);
    expect(ctx.liveBuffers, 'nothing left allocated').toBe(live);
    const model = loadModel(ctx, bad, 'diverged.safetensors', { allowNonFinite: true });
    await expect(exportOnnx(model)).rejects.toThrow('exportOnnx: 2 tensors hold NaN or ±Inf: feature.1.weight (2 of 4), classifier.weight (1 of 24)');
    await expect(prune(model, 0.5)).rejects.toThrow('prune: BatchNorm2d feature.1 has a non-finite γ (NaN) at channel 1');
    model.destroy();
  });

  it('loads from a Blob, a File, a Response and a (data:) URL as well as bytes; a failed fetch names the URL and status', async () => {
    const ctx = getCtx();
    const original = vgg(ctx, { cfg: [4, 'M', 8], numClasses: 3, seed: 5 });
    const bytes = await saveModel(original);
    const x = ctx.tensor([1, 3, 4, 4], Float32Array.from({ length: 3 * 4 * 4 }, (_, i) => Math.cos(i)));
    const want = await ctx.readF32(original.forward(x, false));
    let b64 = '';
    for (let i = 0; i < bytes.length; i += 0x8000) b64 += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    const dataUrl = `data:application/octet-stream;base64,${btoa(b64)}`;
    const sources: [string, Parameters<typeof loadModel>[1]][] = [
      ['Blob', new Blob([bytes as Uint8Array<ArrayBuffer>])],
      ['File', new File([bytes as Uint8Array<ArrayBuffer>], 'mine.safetensors')],
      ['Response', new Response(bytes as Uint8Array<ArrayBuffer>)],
      ['URL string', dataUrl],
      ['URL', new URL(dataUrl)],
    ];
    for (const [what, source] of sources) {
      const model = await loadModel(ctx, source as Blob);
      expectBitExact(await ctx.readF32(model.forward(x, false)), want, `loaded from a ${what}`);
      model.destroy();
    }
    const err = await loadModel(ctx, new File([Uint8Array.of(1, 2, 3)], 'broken.safetensors')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/^broken\.safetensors: /);
    const gone = await loadModel(ctx, new Response('no such model', { status: 404, statusText: 'Not Found' }), 'https://example.test/m.safetensors').catch((e: unknown) => e);
    expect((gone as Error).message).toBe('https://example.test/m.safetensors: fetch answered HTTP 404 Not Found');
    original.destroy();
    x.destroy();
  });

  it('predict classifies raw pixels: normalised as the dataset was, top-k with softmax probabilities, bad batches refused', async () => {
    const ctx = getCtx();
    const model = vgg(ctx, { cfg: [4, 'M', 8], numClasses: 5, dataset: 'cifar10', inputSize: 4, seed: 9 });
    await scramble(model, 3);
    const n = 3;
    const pixels = Uint8Array.from({ length: n * 3 * 16 }, (_, i) => (i * 37) % 256);
    const got = await model.predict(pixels, { topK: 3, batchSize: 2 });
    // Reference: the same normalisation on the host (CIFAR-10 mean/std), one eval forward, softmax in float64.
    const mean = [0.4914, 0.4822, 0.4465];
    const std = [0.2023, 0.1994, 0.201];
    const x = Float32Array.from(pixels, (v, i) => (v / 255 - mean[Math.floor(i / 16) % 3]!) / std[Math.floor(i / 16) % 3]!);
    const t = ctx.tensor([n, 3, 4, 4], x);
    const logits = await ctx.readF32(model.forward(t, false));
    expect(got).toHaveLength(n);
    for (let i = 0; i < n; i++) {
      const row = Array.from(logits.subarray(i * 5, i * 5 + 5));
      const max = Math.max(...row);
      const e = row.map((v) => Math.exp(v - max));
      const z = e.reduce((a, b) => a + b, 0);
      const order = [0, 1, 2, 3, 4].sort((a, b) => e[b]! - e[a]!).slice(0, 3);
      expect(got[i]!.classes, `image ${i}`).toEqual(order);
      expectClose(got[i]!.probabilities, order.map((j) => e[j]! / z), { atol: 1e-6, rtol: 1e-6 }, `image ${i} probabilities`);
    }
    // Floats in [0, 1] are the same images.
    expect((await model.predict(Float32Array.from(pixels, (v) => v / 255), { topK: 3 })).map((p) => p.classes)).toEqual(got.map((p) => p.classes));
    await expect(model.predict(new Uint8Array(47))).rejects.toThrow('predict: 47 values are not a whole number of 3×4×4 images (48 values each)');
    await expect(model.predict(pixels, { topK: 6 })).rejects.toThrow("predict: topK 6 is not an integer from 1 to the model's 5 classes");
    t.destroy();
    model.destroy();
  });

  it('class names and input normalisation: from the dataset, kept through a checkpoint, ONNX export/import and pruning', async () => {
    const ctx = getCtx();
    // A known dataset gives them, when the model has as many classes and channels as it has.
    expect(vggGraph({ cfg: [4, 'M', 8], dataset: 'cifar10' }).meta).toMatchObject({ classNames: CIFAR10_CLASSES, mean: CIFAR10_MEAN, std: CIFAR10_STD });
    expect(vggGraph({ cfg: [4, 'M', 8], dataset: 'fashion-mnist', inChannels: 1 }).meta).toMatchObject({ classNames: FASHION_MNIST_CLASSES, mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD });
    expect(vggGraph({ cfg: [4, 'M', 8], dataset: 'mnist', inChannels: 1 }).meta.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const c100 = vggGraph({ cfg: [4, 'M', 8], dataset: 'cifar100', numClasses: 100 }).meta.classNames!;
    expect(c100).toEqual(CIFAR100_CLASSES);
    expect([c100.length, c100[0], c100[39], c100[99], new Set(c100).size]).toEqual([100, 'apple', 'keyboard', 'worm', 100]);
    expect(FASHION_MNIST_CLASSES[0]).toBe('T-shirt/top');
    expect(MNIST_CLASSES).toHaveLength(10);
    const five = vggGraph({ cfg: [4, 'M', 8], dataset: 'cifar10', numClasses: 5 }).meta;
    expect([five.classNames, five.mean]).toEqual([undefined, CIFAR10_MEAN]);
    expect(vggGraph({ cfg: [4, 'M', 8], dataset: 'tensors' }).meta).not.toHaveProperty('classNames');
    expect(() => vggGraph({ cfg: [4, 'M', 8], numClasses: 3, classNames: ['a', 'b'] })).toThrow(new ShapeError('vgg: classNames has 2 names, the model has 3 classes'));
    expect(() => vggGraph({ cfg: [4, 'M', 8], mean: [0.5, 0.5, 0.5] })).toThrow('vgg: mean is given without std (normalising takes both)');

    // Given ones win over the dataset's, and go everywhere the model goes.
    const labels = { classNames: ['cat', 'dog', 'emu'], mean: [0.5, 0.25, 0.125], std: [0.2, 0.3, 0.4] };
    const model = vgg(ctx, { cfg: [4, 'M', 8, 8], numClasses: 3, inputSize: 4, dataset: 'cifar10', ...labels, seed: 3 });
    await scramble(model, 5);
    expect(model.meta).toMatchObject(labels);
    const bytes = await saveModel(model);
    const md = parseSafetensors(bytes, 'm.safetensors').metadata;
    expect([md.class_names, md.mean, md.std]).toEqual(['["cat","dog","emu"]', '[0.5,0.25,0.125]', '[0.2,0.3,0.4]']);
    const back = loadModel(ctx, bytes, 'm.safetensors');
    expect(back.meta).toEqual(model.meta);
    const onnx = await readOnnx(await exportOnnx(model, { inputSize: [3, 4, 4] }), { fileName: 'm.onnx' });
    expect(onnx.meta).toMatchObject({ ...labels, dataset: 'cifar10' });
    // Without the graph metadata (arch and cfg only) they load the same.
    const { graph: _, ...noGraph } = md;
    expect(loadModel(ctx, serializeSafetensors(new Map(parseSafetensors(bytes).tensors), noGraph), 'ref.safetensors').meta).toMatchObject(labels);
    for (const mode of ['compact', 'mask'] as const) {
      const { model: pruned } = await prune(model, 0.3, { mode, inputSize: [3, 4, 4] });
      expect(pruned.meta, mode).toMatchObject(labels);
      expect(loadModel(ctx, await saveModel(pruned), 'p.safetensors').meta, mode).toMatchObject(labels);
      pruned.destroy();
    }
    back.destroy();
    model.destroy();
  });

  it('bad class names or normalisation in checkpoint or ONNX metadata are refused, naming the file and the field', async () => {
    const ctx = getCtx();
    const model = vgg(ctx, { cfg: [4, 'M', 8], numClasses: 3, inputSize: 4, seed: 3 });
    const file = parseSafetensors(await saveModel(model), 'm.safetensors');
    const tensors = new Map(file.tensors);
    const cases: [Record<string, string>, string][] = [
      [{ class_names: '["a", "b"' }, 'm.safetensors: metadata class_names is not JSON: ["a", "b"'],
      [{ class_names: '["a", "b"]' }, 'm.safetensors: metadata class_names has 2 names, the model has 3 classes'],
      [{ class_names: '["a", 2, "c"]' }, 'm.safetensors: metadata class_names=["a",2,"c"] is not an array of strings'],
      [{ mean: '[0.5, 0.5]', std: '[1, 1]' }, 'm.safetensors: metadata mean=[0.5,0.5] has 2 values, the model takes 3 input channels'],
      [{ mean: '[0.5, 0.5, 1e999]', std: '[1, 1, 1]' }, 'm.safetensors: metadata mean=[0.5,0.5,Infinity]: value 2 (Infinity) is not a finite number'],
      [{ mean: '[0.5, 0.5, 0.5]', std: '[1, 0, 1]' }, 'm.safetensors: metadata std=[1,0,1]: value 1 (0) is not a positive finite number'],
      [{ mean: '[0.5, 0.5, 0.5]', std: '{"r": 1}' }, 'm.safetensors: metadata std={"r":1} is not an array of numbers'],
      [{ std: '[1, 1, 1]' }, 'm.safetensors: metadata std is given without metadata mean (normalising takes both)'],
    ];
    for (const [extra, message] of cases) {
      // Both readers: the graph metadata's, and arch/cfg without a graph (as other tools write).
      const { graph: _, ...noGraph } = file.metadata;
      for (const md of [{ ...file.metadata, ...extra }, { ...noGraph, ...extra }]) {
        const err = (() => {
          try {
            loadModel(ctx, serializeSafetensors(tensors, md), 'm.safetensors').destroy();
          } catch (e) {
            return e;
          }
        })();
        expect(err, message).toBeInstanceOf(CheckpointError);
        expect((err as Error).message).toBe(message);
      }
    }
    // ONNX: the same keys in metadata_props.
    const proto = await loadOnnxProto((m) => new Error(m));
    const exported = proto.ModelProto.decode(await exportOnnx(model, { inputSize: [3, 4, 4] }));
    exported.metadataProps = [...(exported.metadataProps ?? []), new proto.StringStringEntryProto({ key: 'class_names', value: '["a"]' })];
    await expect(readOnnx(proto.ModelProto.encode(exported).finish(), { fileName: 'm.onnx' })).rejects.toThrow('m.onnx: metadata_props class_names has 1 name, the model has 3 classes');
    model.destroy();
  });

  it('predict normalises with the model\'s own mean/std and names the classes; browser images and arrays of them are batches', async () => {
    const ctx = getCtx();
    const names = ['ant', 'bee', 'cow', 'doe', 'elk'];
    const mean = [0.3, 0.6, 0.45];
    const std = [0.15, 0.35, 0.25];
    // meta.mean/std take precedence over the dataset's.
    const model = vgg(ctx, { cfg: [4, 'M', 8], numClasses: 5, dataset: 'cifar10', classNames: names, mean, std, inputSize: 4, seed: 11 });
    await scramble(model, 4);
    const n = 3;
    const pixels = Uint8Array.from({ length: n * 3 * 16 }, (_, i) => (i * 53 + 7) % 256);
    const got = await model.predict(pixels, { topK: 2 });
    const x = Float32Array.from(pixels, (v, i) => (v / 255 - mean[Math.floor(i / 16) % 3]!) / std[Math.floor(i / 16) % 3]!);
    const t = ctx.tensor([n, 3, 4, 4], x);
    const logits = await ctx.readF32(model.forward(t, false));
    t.destroy();
    for (let i = 0; i < n; i++) {
      const row = Array.from(logits.subarray(i * 5, i * 5 + 5));
      const e = row.map((v) => Math.exp(v - Math.max(...row)));
      const z = e.reduce((a, b) => a + b, 0);
      const order = [0, 1, 2, 3, 4].sort((a, b) => e[b]! - e[a]!).slice(0, 2);
      expect(got[i]!.classes, `image ${i}`).toEqual(order);
      expect(got[i]!.labels, `image ${i}`).toEqual(order.map((j) => names[j]));
      expectClose(got[i]!.probabilities, order.map((j) => e[j]! / z), { atol: 1e-6, rtol: 1e-6 }, `image ${i} probabilities`);
    }
    // Without class names there are no labels.
    const plain = vgg(ctx, { cfg: [4, 'M', 8], numClasses: 5, inputSize: 4, seed: 11 });
    expect((await plain.predict(pixels))[0]).not.toHaveProperty('labels');
    plain.destroy();
    if (lane === 'chromium') {
      // RGBA images of the same pixels (opaque, so nothing is premultiplied away).
      const images = Array.from({ length: n }, (_, i) => {
        const d = new Uint8ClampedArray(16 * 4);
        for (let p = 0; p < 16; p++) {
          for (let k = 0; k < 3; k++) d[4 * p + k] = pixels[i * 48 + k * 16 + p]!;
          d[4 * p + 3] = 255;
        }
        return new ImageData(d, 4, 4);
      });
      const bitmaps = await Promise.all(images.map((im) => createImageBitmap(im)));
      expect(await model.predict(images[1]!, { topK: 2 })).toEqual([got[1]]);
      expect(await model.predict(bitmaps[2]!, { topK: 2 })).toEqual([got[2]]);
      expect(await model.predict([images[0]!, bitmaps[1]!, images[2]!], { topK: 2, batchSize: 2 })).toEqual(got);
      const wide = await createImageBitmap(new ImageData(5, 4));
      await expect(model.predict(wide)).rejects.toThrow(new ShapeError('predict: the image is 5×4, the model takes 4×4'));
      await expect(model.predict([images[0]!, wide])).rejects.toThrow('predict: image 1 is 5×4, the model takes 4×4');
      await expect(model.predict([])).rejects.toThrow('predict: an empty array of images');
    }
    model.destroy();
  });
});
