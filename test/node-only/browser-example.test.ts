// The browser example (examples/browser/) end to end in Debian's headless Chromium, driven by
// playwright with executablePath /usr/bin/chromium (no browser is ever downloaded): builds the
// page with rollup.examples.mjs, starts examples/browser/serve.mjs on a free port of 127.0.0.1,
// then
// - without navigator.gpu, the page shows its no-WebGPU message (not a blank page);
// - with WebGPU (SwiftShader when the machine has no GPU), a tiny run (?subset=160&batch=32:
//   5 steps per epoch) trains while the curves, the γ histogram and painted frames update,
//   the slider's preview (computed on the host) equals slim.prune's report (threshold, cfg,
//   channels, parameters and FLOPs), fine-tuning gives numeric accuracies and latencies, and
//   both downloads are well-formed: the safetensors file parses, its metadata cfg is the pruned
//   cfg and its weights count the pruned parameters; onnxruntime runs the ONNX file.
// - an ONNX file dropped on the page (PyTorch's MobileNetV2 fixture) is imported — layer count,
//   parameters, FLOPs as readOnnx counts them, logits on a probe image as onnxruntime runs the
//   file — pruned to half its FLOPs, and its ONNX download runs in onnxruntime to the page's
//   logits; PyTorch's folded export gets the importer's message.
// Screenshots: test/artifacts/browser-example.png and browser-example-no-webgpu.png.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright';
import * as ort from 'onnxruntime-node';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { checkpointGraph, checkpointMeta } from '../../src/io/checkpoint.js';
import { readOnnx } from '../../src/io/onnx-import.js';
import { layerCosts } from '../../src/slim/prune.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const artifacts = path.join(root, 'test/artifacts');
const rollupBin = createRequire(import.meta.url).resolve('rollup/dist/bin/rollup');

/** Headless Debian Chromium with a WebGPU adapter (SwiftShader without a GPU). */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** A tiny run: 160 training images in batches of 32 (5 steps per epoch), one epoch of each phase. */
const QUERY = '?subset=160&test=128&batch=32&epochs=1&ftEpochs=1&latBatch=16&latRuns=3&progressMs=0';
const PERCENT = '0.6';

let server: ChildProcess | null = null;
let browser: Browser | null = null;
let url = '';

function startServer(): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [path.join(root, 'examples/browser/serve.mjs'), '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve.mjs did not start in 20 s:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /serving (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1]! });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve.mjs exited with ${code}:\n${out}`));
    });
  });
}

beforeAll(async () => {
  const t0 = performance.now();
  const build = spawnSync(process.execPath, [rollupBin, '-c', 'rollup.examples.mjs'], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  if (build.status !== 0) throw new Error(`rollup -c rollup.examples.mjs exited ${build.status ?? build.signal}\n${build.stdout}\n${build.stderr}`);
  const t1 = performance.now();
  ({ proc: server, url } = await startServer());
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
  mkdirSync(artifacts, { recursive: true });
  console.log(`browser example: build ${((t1 - t0) / 1000).toFixed(1)} s, served at ${url}`);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  if (server && server.exitCode === null) server.kill('SIGTERM');
});

/** Collects uncaught page errors and console errors, to assert there were none. */
function watch(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  return errors;
}

/** Waits until #status says `state` (failing at once with the page's message on `error`). */
async function waitState(page: Page, state: string, timeout: number): Promise<void> {
  const handle = await page.waitForFunction(
    (s) => {
      const d = document.getElementById('status')?.dataset.state;
      return d === s || d === 'error' || d === 'no-webgpu' ? d : null;
    },
    state,
    { timeout, polling: 100 },
  );
  const got = await handle.jsonValue();
  if (got !== state) {
    const msg = await page.evaluate(() => `${document.getElementById('status')?.textContent} | ${document.getElementById('error-message')?.textContent} | ${document.getElementById('no-webgpu-detail')?.textContent}`);
    throw new Error(`page state ${got}, waiting for ${state}: ${msg}`);
  }
}

const dataset = (page: Page, id: string): Promise<Record<string, string>> =>
  page.locator(`#${id}`).evaluate((e) => ({ ...(e as HTMLElement).dataset }) as Record<string, string>);

describe('browser example (examples/browser)', () => {
  it('shows a clear message when the browser has no WebGPU', async () => {
    const context = await browser!.newContext();
    // What a browser without WebGPU looks like to the page: navigator.gpu is undefined.
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
    const page = await context.newPage();
    const errors = watch(page);
    await page.goto(url);
    await waitState(page, 'no-webgpu', 30_000);
    await expect.poll(() => page.locator('#no-webgpu').isVisible()).toBe(true);
    const text = await page.locator('#no-webgpu').innerText();
    expect(text).toContain('This browser has no WebGPU');
    expect(text).toContain('navigator.gpu is undefined');
    expect(await page.locator('#train').isDisabled()).toBe(true);
    await page.screenshot({ path: path.join(artifacts, 'browser-example-no-webgpu.png') });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('trains, previews the prune, prunes, fine-tunes, compares and downloads the pruned model', async () => {
    const t0 = performance.now();
    const context = await browser!.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const errors = watch(page);
    await page.goto(url + QUERY);
    await waitState(page, 'ready', 60_000);
    expect(await page.locator('#no-webgpu').isVisible()).toBe(false);

    // Train: the curves get points while it trains (one per step with progressMs=0), the γ
    // histogram is redrawn, and the page keeps painting frames.
    await page.click('#train');
    await page.waitForFunction(() => Number(document.getElementById('curves')?.dataset.points) > 0, undefined, { timeout: 90_000, polling: 100 });
    await waitState(page, 'trained', 120_000);
    const t1 = performance.now();
    const curves = await dataset(page, 'curves');
    expect(Number(curves.points)).toBe(5); // 160 images / batch 32, one epoch
    expect(Number(curves.testPoints)).toBe(1);
    expect(Number.isFinite(Number(curves.lastLoss))).toBe(true);
    expect(Number(await page.locator('#gammas').getAttribute('data-updates'))).toBeGreaterThanOrEqual(3); // initial, epoch end, preview
    expect(await page.locator('#curves g[aria-label="line"] path').count()).toBe(2); // loss and accuracy
    const status = await dataset(page, 'status');
    expect(Number(status.frames), 'frames painted while training').toBeGreaterThan(5);

    // The slider moves the preview; "Prune" runs slim.prune on the GPU, whose report must equal
    // the preview (the page compares every field, the test the numbers it shows). Twice: at 95 %
    // (where the min-channels safeguard may act) and at 60 %, each from the trained model.
    const initial = await dataset(page, 'preview');
    expect(Number(initial.percent)).toBe(0.5);
    let pruned: Record<string, string> = {};
    let preview: Record<string, string>;
    for (const percent of ['0.95', PERCENT]) {
      await page.locator('#percent').fill(percent);
      await expect.poll(async () => (await dataset(page, 'preview')).percent).toBe(percent);
      preview = await dataset(page, 'preview');
      expect(await page.locator('#percent-value').innerText()).toBe(`${Math.round(100 * Number(percent))} %`);
      expect(JSON.parse(preview.channels!)).toHaveLength(8); // VGG-11: 8 conv + BN
      expect(Number(preview.keptChannels)).toBeLessThanOrEqual(Number(initial.keptChannels));
      expect(Number(preview.paramsAfter)).toBeLessThan(Number(preview.paramsBefore));
      expect(Number(preview.flopsAfter)).toBeLessThan(Number(preview.flopsBefore));

      await page.click('#prune');
      await waitState(page, 'pruned', 60_000);
      pruned = await dataset(page, 'pruned');
      expect(JSON.parse(pruned.mismatches!), `${percent}: report vs preview`).toEqual([]);
      expect(pruned.matches).toBe('true');
      for (const k of ['percent', 'threshold', 'cfg', 'channels', 'keptChannels', 'paramsBefore', 'paramsAfter', 'flopsBefore', 'flopsAfter']) {
        expect(pruned[k], `${percent}: ${k}`).toBe(preview[k]);
      }
      expect(await page.locator('#pruned table tbody tr').count()).toBe(10); // 8 convs, the classifier, the total
    }

    // Fine-tune, then the comparison: accuracies in [0, 1], latencies positive.
    await page.click('#finetune');
    await waitState(page, 'done', 120_000);
    const compare = await dataset(page, 'compare');
    for (const k of ['accTrained', 'accPruned', 'accFinetuned']) {
      expect(Number(compare[k]), k).toBeGreaterThanOrEqual(0);
      expect(Number(compare[k]), k).toBeLessThanOrEqual(1);
      expect(compare[k], k).not.toBe('');
    }
    for (const k of ['latencyOriginal', 'latencyPruned']) expect(Number(compare[k]), k).toBeGreaterThan(0);
    expect(Number(compare.latencyBatch)).toBe(16);
    expect(Number((await dataset(page, 'curves')).points)).toBe(10); // 5 more from fine-tuning

    // Downloads: safetensors (8-byte little-endian header length, JSON header, metadata cfg = the
    // pruned cfg, weights and biases = the pruned parameter count) and ONNX (onnxruntime runs it).
    const [st] = await Promise.all([page.waitForEvent('download'), page.click('#download-safetensors')]);
    expect(st.suggestedFilename()).toBe('vgg11-fashion-mnist-pruned60-finetuned.safetensors');
    const stBytes = new Uint8Array(readFileSync(await st.path()));
    const headerLen = Number(new DataView(stBytes.buffer, stBytes.byteOffset).getBigUint64(0, true));
    expect(headerLen).toBeLessThan(stBytes.length - 8);
    expect(String.fromCharCode(stBytes[8]!)).toBe('{');
    const file = parseSafetensors(stBytes, st.suggestedFilename());
    const meta = checkpointMeta(file, st.suggestedFilename());
    expect(meta.arch).toBe('vgg');
    expect(JSON.stringify(meta.cfg)).toBe(pruned.cfg);
    let params = 0;
    for (const [name, t] of file.tensors) if (/\.(weight|bias)$/.test(name)) params += t.shape.reduce((a, b) => a * b, 1);
    expect(params).toBe(Number(pruned.paramsAfter));

    const [ox] = await Promise.all([page.waitForEvent('download'), page.click('#download-onnx')]);
    expect(ox.suggestedFilename()).toBe('vgg11-fashion-mnist-pruned60-finetuned.onnx');
    const oxBytes = new Uint8Array(readFileSync(await ox.path()));
    expect(oxBytes[0]).toBe(0x08); // ModelProto field 1 (ir_version), varint
    const session = await ort.InferenceSession.create(oxBytes);
    const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(2 * 32 * 32).fill(0.5), [2, 1, 32, 32]) });
    expect(out.logits!.dims).toEqual([2, 10]);
    expect(Array.from(out.logits!.data as Float32Array).every(Number.isFinite)).toBe(true);

    await page.screenshot({ path: path.join(artifacts, 'browser-example.png'), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
    console.log(
      `browser example: train ${((t1 - t0) / 1000).toFixed(1)} s (page load included), whole flow ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        `longest frame gap while training ${status.maxFrameGapMs} ms over ${status.frames} frames`,
    );
  }, 300_000);

  it('Stop ends training between two steps; the run carries on to the prune preview', async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const errors = watch(page);
    // 20 epochs of 20 steps: far longer than the test waits
    await page.goto(url + '?subset=640&test=128&batch=32&epochs=20&progressMs=0');
    await waitState(page, 'ready', 60_000);
    await page.click('#train');
    await page.waitForFunction(() => Number(document.getElementById('curves')?.dataset.points) >= 3, undefined, { timeout: 90_000, polling: 50 });
    await page.click('#stop');
    await waitState(page, 'trained', 60_000);
    expect(await page.locator('#status').innerText()).toContain('(stopped early)');
    const points = Number((await dataset(page, 'curves')).points);
    expect(points).toBeGreaterThanOrEqual(3);
    expect(points).toBeLessThan(20 * 20);
    expect(await page.locator('#stop').isDisabled()).toBe(true);
    expect(await page.locator('#train').isEnabled()).toBe(true);
    expect(await page.locator('#percent').isEnabled()).toBe(true);
    expect(errors).toEqual([]);
    await context.close();
  }, 300_000);

  it('imports an ONNX model dropped on the page (a MobileNetV2 from PyTorch), prunes it to half its FLOPs and downloads it; a folded export is refused', async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const errors = watch(page);
    await page.goto(url + QUERY);
    await waitState(page, 'ready', 60_000);
    const fixture = (name: string) => new Uint8Array(readFileSync(path.join(root, 'test/fixtures/onnx', name)));
    /** Drops the file on #drop-zone as a user's drag and drop delivers it (a DataTransfer holding a File). */
    const drop = (name: string) =>
      page.evaluate(
        ([file, data]) => {
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], file, { type: 'application/octet-stream' }));
          document.getElementById('drop-zone')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
        },
        [name, Buffer.from(fixture(name)).toString('base64')] as const,
      );
    const waitImport = async (state: string) => {
      const got = await (
        await page.waitForFunction(
          (s) => {
            const d = document.getElementById('import-summary')?.dataset.state;
            return d === s || d === 'error' ? d : null;
          },
          state,
          { timeout: 180_000, polling: 100 },
        )
      ).jsonValue();
      if (got !== state) throw new Error(`import state ${got}: ${await page.locator('#import-summary').innerText()}`);
    };
    const probeLogits = async (bytes: Uint8Array, size: number[]) => {
      const session = await ort.InferenceSession.create(bytes);
      const n = size.reduce((a, b) => a * b, 1);
      const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(n).fill(0.5), [1, ...size]) });
      await session.release();
      return Array.from(out.logits!.data as Float32Array);
    };
    const close = (a: number[], b: number[], what: string) => {
      expect(a.length, what).toBe(b.length);
      const err = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
      expect(err, `${what}: max difference ${err.toExponential(2)}`).toBeLessThanOrEqual(1e-4);
    };

    // PyTorch's default (folded) export: the importer's message, on the import section only.
    await drop('resnet18_w4_eval_default.onnx');
    await page.waitForFunction(() => document.getElementById('import-summary')?.dataset.state === 'error', undefined, { timeout: 60_000 });
    expect(await page.locator('#import-summary').innerText()).toContain('training=torch.onnx.TrainingMode.PRESERVE');
    expect(await page.locator('#import-prune').isDisabled()).toBe(true);

    const name = 'mobilenetv2_w025_op13.onnx';
    await drop(name);
    await waitImport('imported');
    const read = await readOnnx(fixture(name));
    const costs = layerCosts(read.graph, read.inputSize);
    const got = await dataset(page, 'import-summary');
    expect(Number(got.layers)).toBe(read.graph.layers().length);
    expect(Number(got.params)).toBe(costs.reduce((a, c) => a + c.params, 0));
    expect(Number(got.flops)).toBe(costs.reduce((a, c) => a + c.flops, 0));
    expect(await page.locator('#import-table tbody tr').count()).toBe(read.graph.layers().length);
    close(JSON.parse(got.logits!) as number[], await probeLogits(fixture(name), read.inputSize), 'imported logits vs onnxruntime on the file');

    await page.click('#import-prune');
    await waitImport('pruned');
    const pruned = await dataset(page, 'import-summary');
    expect(Number(pruned.flopsReached)).toBeLessThanOrEqual(0.5);
    expect(Number(pruned.paramsAfter)).toBeLessThan(Number(got.params));
    const [ox] = await Promise.all([page.waitForEvent('download'), page.click('#import-download-onnx')]);
    expect(ox.suggestedFilename()).toBe('mobilenetv2_w025_op13-slim.onnx');
    close(JSON.parse(pruned.prunedLogits!) as number[], await probeLogits(new Uint8Array(readFileSync(await ox.path())), read.inputSize), 'pruned logits vs onnxruntime on the download');
    const [st] = await Promise.all([page.waitForEvent('download'), page.click('#import-download-safetensors')]);
    const file = parseSafetensors(new Uint8Array(readFileSync(await st.path())), st.suggestedFilename());
    const { graph } = checkpointGraph(file, st.suggestedFilename());
    expect(layerCosts(graph, read.inputSize).reduce((a, c) => a + c.params, 0)).toBe(Number(pruned.paramsAfter));
    expect(errors).toEqual([]);
    await context.close();
  }, 300_000);
});
