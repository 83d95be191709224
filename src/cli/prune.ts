/**
 * `netslim prune`: Network Slimming's pruning of a trained (sparse) checkpoint →
 * DIR/pruned.safetensors (metadata carries the new cfg) and DIR/prune.json; with --data, test
 * accuracy before and after. Both files are written together, atomically, or not at all.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Command } from 'commander';
import type { DatasetKind } from '../data/files.node.js';
import { init } from '../node.js';
import { saveModel } from '../io/checkpoint.js';
import { writeFilesAtomic } from '../io/files.node.js';
import { prune } from '../slim/prune.js';
import { evaluate } from '../train/trainer.js';
import { CliError, DATASETS, floatOption, intOption, loadData, loadModelFile, readModelFile } from './common.js';

interface PruneFlags {
  model: string;
  percent: number;
  save: string;
  data?: string;
  dataset?: DatasetKind;
  minChannels: number;
  maxLayerRatio: number;
  roundTo: number;
  strict?: boolean;
  testBatchSize: number;
}

export function registerPrune(program: Command): void {
  program
    .command('prune')
    .description('prune the channels with the smallest BatchNorm |γ| (one global threshold) into a smaller model')
    .requiredOption('--model <ckpt>', 'trained model checkpoint (.safetensors)')
    .requiredOption('--percent <f>', 'fraction of all BatchNorm channels to prune, in [0, 1)', floatOption('--percent', 0, 0.999999))
    .requiredOption('--save <dir>', 'output directory')
    .option('--data <path>', 'dataset to report test accuracy before and after')
    .option('--dataset <name>', `${DATASETS.join(' | ')} (default: detected from --data)`)
    .option('--min-channels <n>', 'channels every layer keeps at least (its largest |γ|); 0 allows empty layers', intOption('--min-channels', 0), 1)
    .option('--max-layer-ratio <f>', 'largest fraction of one layer that may be pruned', floatOption('--max-layer-ratio', 0, 1), 1)
    .option('--round-to <n>', 'round kept channel counts up to a multiple of n', intOption('--round-to', 1), 1)
    .option('--strict', 'fail, as the reference does, instead of keeping a channel in a layer the threshold empties')
    .option('--test-batch-size <n>', 'evaluation batch size', intOption('--test-batch-size', 1), 256)
    .action(async (f: PruneFlags) => {
      const file = await readModelFile(f.model);
      const data = f.data ? await loadData(f.data, f.dataset) : null;
      if (data && !data.test) throw new CliError(`--data ${f.data}: no test split to measure accuracy on`);
      const ctx = await init();
      try {
        const model = loadModelFile(ctx, file);
        const { model: pruned, report } = await prune(model, f.percent, {
          minChannels: f.minChannels,
          maxLayerRatio: f.maxLayerRatio,
          roundTo: f.roundTo,
          ...(f.strict ? { strict: true } : {}),
          inputSize: data ? [data.test!.channels, data.test!.height, data.test!.width] : [model.meta.inChannels, 32, 32],
        });
        let accuracy: { before: number; after: number } | undefined;
        if (data) {
          const before = await evaluate(model, data.test!, { batchSize: f.testBatchSize });
          const after = await evaluate(pruned, data.test!, { batchSize: f.testBatchSize });
          accuracy = { before: before.accuracy, after: after.accuracy };
        }
        const json = { model: f.model, ...report, ...(accuracy ? { accuracy } : {}) };
        mkdirSync(f.save, { recursive: true });
        await writeFilesAtomic([
          { path: path.join(f.save, 'pruned.safetensors'), bytes: await saveModel(pruned) },
          { path: path.join(f.save, 'prune.json'), bytes: new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n') },
        ]);
        const rows = report.layers.map((l) => `  ${l.name.padEnd(18)} ${String(l.before).padStart(5)} → ${String(l.after).padEnd(5)}${l.selected ? ' (kept wide, selected)' : ''}${l.safeguard ? `  ${l.safeguard}` : ''}`);
        console.log(
          [
            `netslim prune: ${(100 * f.percent).toFixed(1)} % of ${report.totalChannels} channels, threshold ${report.threshold.toPrecision(4)}`,
            ...rows,
            `params ${report.paramsBefore.toLocaleString('en')} → ${report.paramsAfter.toLocaleString('en')} (−${(100 * (1 - report.paramsAfter / report.paramsBefore)).toFixed(1)} %) · FLOPs ${report.flopsBefore.toExponential(3)} → ${report.flopsAfter.toExponential(3)}`,
            ...(accuracy ? [`test accuracy ${(100 * accuracy.before).toFixed(2)} % → ${(100 * accuracy.after).toFixed(2)} % (before fine-tuning)`] : []),
            `cfg ${JSON.stringify(report.cfg)}`,
            `wrote ${path.join(f.save, 'pruned.safetensors')} and ${path.join(f.save, 'prune.json')}`,
          ].join('\n'),
        );
        pruned.destroy();
        model.destroy();
      } finally {
        ctx.destroy();
      }
    });
}
