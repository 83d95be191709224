/** `netslim predict`: logits of a model for the `input` tensor [N,C,H,W] of a safetensors file. */
import type { Command } from 'commander';
import { init } from '../node.js';
import { parseSafetensors, serializeSafetensors, toFloat32 } from '../io/safetensors.js';
import { CheckpointError } from '../io/errors.js';
import { readFileBytes, writeFileAtomic } from '../io/files.node.js';
import { CliError, intOption, loadModelFile, readModelFile } from './common.js';

interface PredictFlags {
  model: string;
  input: string;
  output: string;
  batchSize: number;
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('write the logits of a model for an input tensor')
    .requiredOption('--model <ckpt>', 'model checkpoint (.safetensors)')
    .requiredOption('--input <file>', 'safetensors file with tensor `input` [N, C, H, W] (F32)')
    .requiredOption('--output <file>', 'safetensors file to write tensor `logits` [N, classes] to')
    .option('--batch-size <n>', 'images per forward pass', intOption('--batch-size', 1), 256)
    .action(async (f: PredictFlags) => {
      if (f.output === f.input || f.output === f.model) throw new CliError(`--output ${f.output} would overwrite an input`, 2);
      const modelFile = await readModelFile(f.model);
      const file = parseSafetensors(await readFileBytes(f.input), f.input);
      const t = file.tensors.get('input');
      if (!t) throw new CheckpointError(f.input, 'input', 'missing (expected [N, C, H, W] F32)');
      if (t.shape.length !== 4) throw new CheckpointError(f.input, 'input', `shape [${t.shape.join(', ')}] should be [N, C, H, W]`);
      const x = toFloat32(t, 'input', f.input);
      const ctx = await init();
      let model: ReturnType<typeof loadModelFile> | undefined;
      try {
        model = loadModelFile(ctx, modelFile);
        const [n, c, h, w] = t.shape as [number, number, number, number];
        if (c !== model.meta.inChannels) throw new CliError(`${f.input}: input has ${c} channels, the model takes ${model.meta.inChannels}`);
        const k = model.meta.numClasses;
        const logits = new Float32Array(n * k);
        const per = c * h * w;
        for (let i = 0; i < n; i += f.batchSize) {
          const b = Math.min(f.batchSize, n - i);
          const xb = ctx.tensor([b, c, h, w], x.subarray(i * per, (i + b) * per), 'f32', 'input');
          logits.set(await ctx.readF32(model.forward(xb, false)), i * k);
          xb.destroy();
        }
        await writeFileAtomic(f.output, serializeSafetensors({ logits: { dtype: 'F32', shape: [n, k], data: new Uint8Array(logits.buffer) } }));
        console.log(`netslim predict: ${n} inputs → ${f.output} (logits [${n}, ${k}])`);
      } finally {
        // The model goes before the device, also on failure (Dawn can crash at exit otherwise).
        model?.destroy();
        ctx.destroy();
      }
    });
}
