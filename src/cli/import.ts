/**
 * `netslim import`: an ONNX model (a CNN exported from PyTorch with BatchNormalization kept) as
 * DIR/model.safetensors, its graph in the metadata, ready for `train --refine`, `prune`,
 * `predict` and `export`. Prints the layer table; the file is checked before the GPU starts, and
 * nothing is written when it cannot be imported.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { init } from '../node.js';
import { saveModel } from '../io/checkpoint.js';
import { readFileBytes, writeFileAtomic } from '../io/files.node.js';
import { readOnnx } from '../io/onnx-import.js';
import { Model } from '../nn/model.js';
import { layerCosts } from '../slim/prune.js';
import { checkOutputDir, inputSizeOption, makeOutputDir, textTable } from './common.js';

interface ImportFlags {
  onnx: string;
  save: string;
  inputSize?: [number, number, number];
  dataset?: string;
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('read an ONNX model (exported from PyTorch with BatchNorm kept) into DIR/model.safetensors')
    .requiredOption('--onnx <file>', 'ONNX file (torch.onnx.export(..., training=torch.onnx.TrainingMode.PRESERVE))')
    .requiredOption('--save <dir>', 'output directory')
    .option('--input-size <C,H,W>', 'the image size, when the ONNX input leaves H and W dynamic (default C,32,32)', inputSizeOption)
    .option('--dataset <name>', 'dataset name to record in the metadata')
    .action(async (f: ImportFlags) => {
      checkOutputDir(f.save, '--save');
      const bytes = await readFileBytes(f.onnx);
      const read = await readOnnx(bytes, { fileName: path.basename(f.onnx), ...(f.inputSize ? { inputSize: f.inputSize } : {}), ...(f.dataset ? { dataset: f.dataset } : {}) });
      const costs = layerCosts(read.graph, read.inputSize);
      const shapes = read.graph.shapes([1, ...read.inputSize]);
      const rows = [['layer', 'kind', 'output', 'params']];
      for (const n of read.graph.nodes) {
        if (n.id === 0) continue;
        const params = n.layer.state.reduce((a, s) => a + (s.countsAsParameter ? s.shape.reduce((x, y) => x * y, 1) : 0), 0);
        rows.push([n.layer.name, n.layer.kind, shapes[n.id]!.slice(1).join('×'), params ? params.toLocaleString('en') : '']);
      }
      const params = costs.reduce((a, c) => a + c.params, 0);
      const flops = costs.reduce((a, c) => a + c.flops, 0);
      console.log(textTable(rows, [1, 2]));
      // Names the file did not carry (merged or unnamed initializers): each, up to a screenful.
      for (const r of read.renamed.slice(0, 20)) console.log(`named ${r.name} (ONNX ${JSON.stringify(r.onnx)}, from the ${r.from})`);
      if (read.renamed.length > 20) console.log(`… and ${read.renamed.length - 20} more parameters named the same way`);
      const save = path.join(f.save, 'model.safetensors');
      const ctx = await init();
      let model: Model | undefined;
      try {
        model = new Model(ctx, read.graph, read.meta);
        model.loadStateDict(read.state, f.onnx);
        const out = await saveModel(model);
        makeOutputDir(f.save, '--save');
        await writeFileAtomic(save, out);
      } finally {
        model?.destroy();
        ctx.destroy();
      }
      console.log(
        `netslim import: wrote ${save} — ${read.graph.layers().length} layers, ${params.toLocaleString('en')} params, ` +
          `${(flops / 1e6).toFixed(2)} MFLOPs per ${read.inputSize.join('×')} image (${read.fixed ? 'fixed' : 'dynamic'} input size), ` +
          `opset ${read.opset}${read.producer ? `, from ${read.producer}` : ''}${read.renamed.length ? `; ${read.renamed.length} parameter name${read.renamed.length === 1 ? '' : 's'} derived` : ''}`,
      );
    });
}
