/**
 * `netslim export`: a checkpoint (pruned or not) as an ONNX file, written atomically. The batch
 * dimension is dynamic; H and W are too unless --input-size fixes them (and checks the model
 * accepts that size).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { init } from '../node.js';
import { ShapeError } from '../errors.js';
import { writeFileAtomic } from '../io/files.node.js';
import { ONNX_MAX_OPSET, ONNX_MIN_OPSET, exportOnnxModel } from '../io/onnx.js';
import type { Model } from '../nn/model.js';
import { CliError, inputSizeOption, intOption, loadModelFile, readModelFile } from './common.js';

interface ExportFlags {
  model: string;
  onnx: string;
  inputSize?: [number, number, number];
  opset: number;
}

function opsetOption(v: string): number {
  const n = intOption('--opset', ONNX_MIN_OPSET)(v);
  if (n > ONNX_MAX_OPSET) throw new InvalidArgumentError(`--opset must be an integer from ${ONNX_MIN_OPSET} to ${ONNX_MAX_OPSET}.`);
  return n;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a model (pruned or not) as ONNX')
    .requiredOption('--model <ckpt>', 'model checkpoint (.safetensors)')
    .requiredOption('--onnx <file>', 'ONNX file to write')
    .option('--input-size <C,H,W>', 'fix the input size (default: H and W dynamic)', inputSizeOption)
    .option('--opset <n>', `ai.onnx opset, ${ONNX_MIN_OPSET} to ${ONNX_MAX_OPSET}`, opsetOption, ONNX_MIN_OPSET)
    .action(async (f: ExportFlags) => {
      if (f.onnx === f.model) throw new CliError(`--onnx ${f.onnx} would overwrite the model`, 2);
      const modelFile = await readModelFile(f.model);
      // Size checks on the graph alone, before any GPU work: bad input fails fast.
      if (f.inputSize) {
        const graph = modelFile.graph;
        if (f.inputSize[0] !== graph.inChannels) {
          throw new CliError(`--input-size ${f.inputSize.join(',')}: the model takes ${graph.inChannels} input channels, not ${f.inputSize[0]}`, 2);
        }
        try {
          graph.shapes([1, ...f.inputSize]);
        } catch (e) {
          if (e instanceof ShapeError) throw new CliError(`--input-size ${f.inputSize.join(',')}: ${e.message}`, 2); // names the layer
          throw e;
        }
      }
      const ctx = await init();
      let model: Model | undefined;
      try {
        model = loadModelFile(ctx, modelFile);
        const out = await exportOnnxModel(model, { opset: f.opset, ...(f.inputSize ? { inputSize: f.inputSize } : {}) });
        await writeFileAtomic(f.onnx, out.bytes);
        console.log(`netslim export: wrote ${f.onnx} (${out.bytes.byteLength} bytes, ONNX opset ${out.opset}, ${out.nodes} nodes)`);
      } finally {
        model?.destroy();
        ctx.destroy();
      }
    });
}
