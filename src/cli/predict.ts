/**
 * `netslim predict`: either the logits of a model for the `input` tensor [N,C,H,W] of a
 * safetensors file (`--input`, `--output`), or the top classes of image files (`--image`: PNG or
 * JPEG, resampled to the model's input size, normalised as the model says), one line per image.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { init } from '../node.js';
import { parseSafetensors, serializeSafetensors, toFloat32 } from '../io/safetensors.js';
import { CheckpointError } from '../io/errors.js';
import { fsReason, readFileBytes, writeFileAtomic } from '../io/files.node.js';
import type { Context } from '../gpu/context.js';
import type { Model } from '../nn/model.js';
import type { Prediction } from '../nn/predict.js';
import { CliError, intOption, loadModelFile, readModelFile, type ModelFile } from './common.js';
import { decodeImage, imagePixels, type RgbaImage } from './images.js';

interface PredictFlags {
  model: string;
  input?: string;
  output?: string;
  image?: string[];
  topK?: number;
  batchSize: number;
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('classify images (--image: the top classes of each, one line per image), or write the logits for an input tensor (--input, --output)')
    .requiredOption('--model <ckpt>', 'model checkpoint (.safetensors)')
    .option('--image <files...>', 'PNG or JPEG images, resized to the model\'s input size (bilinear); prints each one\'s top classes')
    .option('--top-k <k>', 'classes printed per image, most probable first (default 1; with --image)', intOption('--top-k', 1))
    .option('--input <file>', 'safetensors file with tensor `input` [N, C, H, W] (F32)')
    .option('--output <file>', 'safetensors file to write tensor `logits` [N, classes] to (with --input)')
    .option('--batch-size <n>', 'images per forward pass', intOption('--batch-size', 1), 256)
    .action(async (f: PredictFlags) => {
      if ((f.input === undefined) === (f.image === undefined)) throw new CliError('predict takes exactly one of --input (a tensor file) or --image (image files)', 2);
      if (f.image) {
        if (f.output !== undefined) throw new CliError('--output goes with --input; --image prints its results', 2);
        await predictImageFiles(f.model, f.image, f.topK ?? 1, f.batchSize);
      } else {
        if (f.topK !== undefined) throw new CliError('--top-k goes with --image', 2);
        if (f.output === undefined) throw new CliError('--input needs --output (the safetensors file for the logits)', 2);
        await predictTensorFile(f.model, f.input!, f.output, f.batchSize);
      }
    });
}

async function predictTensorFile(modelPath: string, input: string, output: string, batchSize: number): Promise<void> {
  if (output === input || output === modelPath) throw new CliError(`--output ${output} would overwrite an input`, 2);
  const modelFile = await readModelFile(modelPath);
  const file = parseSafetensors(await readFileBytes(input), input);
  const t = file.tensors.get('input');
  if (!t) throw new CheckpointError(input, 'input', 'missing (expected [N, C, H, W] F32)');
  if (t.shape.length !== 4) throw new CheckpointError(input, 'input', `shape [${t.shape.join(', ')}] should be [N, C, H, W]`);
  const x = toFloat32(t, 'input', input);
  await withModel(modelFile, async (model, ctx) => {
    const [n, c, h, w] = t.shape as [number, number, number, number];
    if (c !== model.meta.inChannels) throw new CliError(`${input}: input has ${c} channels, the model takes ${model.meta.inChannels}`);
    const k = model.meta.numClasses;
    const logits = new Float32Array(n * k);
    const per = c * h * w;
    for (let i = 0; i < n; i += batchSize) {
      const b = Math.min(batchSize, n - i);
      const xb = ctx.tensor([b, c, h, w], x.subarray(i * per, (i + b) * per), 'f32', 'input');
      logits.set(await ctx.readF32(model.forward(xb, false)), i * k);
      xb.destroy();
    }
    await writeFileAtomic(output, serializeSafetensors({ logits: { dtype: 'F32', shape: [n, k], data: new Uint8Array(logits.buffer) } }));
    console.log(`netslim predict: ${n} inputs → ${output} (logits [${n}, ${k}])`);
  });
}

/** Every image file read and decoded before the GPU starts, so a bad file fails fast. */
async function readImages(files: string[]): Promise<RgbaImage[]> {
  const images: RgbaImage[] = [];
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(file));
    } catch (e) {
      throw new CliError(`${file}: cannot read: ${fsReason(e)}`, 1);
    }
    images.push(await decodeImage(bytes, file));
  }
  return images;
}

/** One image's result line: `file: name 81.23%, name 10.10%` (class indices when the model has no class names). */
function predictionLine(file: string, p: Prediction): string {
  const classes = p.classes.map((c, i) => `${p.labels ? p.labels[i] : `class ${c}`} ${(100 * p.probabilities[i]!).toFixed(2)}%`);
  return `${file}: ${classes.join(', ')}`;
}

async function predictImageFiles(modelPath: string, files: string[], topK: number, batchSize: number): Promise<void> {
  const modelFile = await readModelFile(modelPath);
  const { inChannels: c, numClasses } = modelFile.meta;
  const size = modelFile.meta.inputSize ?? 32;
  if (topK > numClasses) throw new CliError(`--top-k ${topK}: the model has ${numClasses} classes`, 2);
  const images = await readImages(files);
  const per = c * size * size;
  const pixels = new Float32Array(images.length * per);
  images.forEach((image, i) => pixels.set(imagePixels(image, c, size, files[i]!), i * per));
  await withModel(modelFile, async (model) => {
    const predictions = await model.predict(pixels, { topK, batchSize });
    predictions.forEach((p, i) => console.log(predictionLine(files[i]!, p)));
  });
}

/**
 * Runs `body` with the model of `file` on a fresh device. Also on failure, queued GPU work (the
 * weights' and images' uploads) finishes and the model goes before the device: Dawn can abort or
 * crash at exit otherwise.
 */
async function withModel(file: ModelFile, body: (model: Model, ctx: Context) => Promise<void>): Promise<void> {
  const ctx = await init();
  let model: Model | undefined;
  try {
    model = loadModelFile(ctx, file);
    await body(model, ctx);
  } finally {
    await ctx.sync().catch(() => {}); // the error that got here, if any, is the one to report
    model?.destroy();
    ctx.destroy();
  }
}
