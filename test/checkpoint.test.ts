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
import { densenet, resnet, vgg } from '../src/nn/models.js';
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
});
