/**
 * `netslim prune`: Network Slimming's pruning of a trained (sparse) checkpoint →
 * DIR/pruned.safetensors (metadata carries the new cfg), DIR/prune.json and DIR/prune.svg (γ
 * histogram, channels per layer); the report as a table on the terminal; with --data, test
 * accuracy before and after (and, with --compensate, after pruning without compensation too).
 * The files are written together, atomically, or not at all.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Command } from 'commander';
import type { DatasetKind } from '../data/files.node.js';
import { init } from '../node.js';
import { saveModel } from '../io/checkpoint.js';
import { writeFilesAtomic } from '../io/files.node.js';
import { parseHTML } from 'linkedom';
import { prune, type PruneOptions } from '../slim/prune.js';
import { batchNormGammas, formatPruneTable, pruneAccuracyNote, pruneReportSvg } from '../slim/report.js';
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
  compensate?: boolean;
  mask?: boolean;
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
    .option('--compensate', "fold the pruned channels' constant output relu(β) into the next layer (BatchNorm running mean or linear bias)")
    .option('--mask', 'mask mode: keep the shapes, set the pruned channels\' γ and β to zero (fine-tuning keeps them at zero)')
    .option('--test-batch-size <n>', 'evaluation batch size', intOption('--test-batch-size', 1), 256)
    .action(async (f: PruneFlags) => {
      const file = await readModelFile(f.model);
      const data = f.data ? await loadData(f.data, f.dataset) : null;
      if (data && !data.test) throw new CliError(`--data ${f.data}: no test split to measure accuracy on`);
      const ctx = await init();
      const models: { destroy(): void }[] = [];
      try {
        const model = loadModelFile(ctx, file);
        models.push(model);
        const options: PruneOptions = {
          minChannels: f.minChannels,
          maxLayerRatio: f.maxLayerRatio,
          roundTo: f.roundTo,
          ...(f.strict ? { strict: true } : {}),
          ...(f.compensate ? { compensate: true } : {}),
          ...(f.mask ? { mode: 'mask' as const } : {}),
          inputSize: data ? [data.test!.channels, data.test!.height, data.test!.width] : [model.meta.inChannels, 32, 32],
        };
        const { model: pruned, report } = await prune(model, f.percent, options);
        models.push(pruned);
        let accuracy: { before: number; after: number; afterWithoutCompensation?: number } | undefined;
        if (data) {
          const acc = async (m: typeof model) => (await evaluate(m, data.test!, { batchSize: f.testBatchSize })).accuracy;
          accuracy = { before: await acc(model), after: await acc(pruned) };
          if (f.compensate) {
            const plain = await prune(model, f.percent, { ...options, compensate: false });
            models.push(plain.model);
            accuracy.afterWithoutCompensation = await acc(plain.model);
          }
        }
        const note = accuracy ? pruneAccuracyNote(accuracy.before, accuracy.after, model.meta.numClasses, report.threshold) : null;
        const json = { model: f.model, ...report, ...(accuracy ? { accuracy } : {}), ...(note ? { notes: [note] } : {}) };
        const { document } = parseHTML('<!doctype html><html><body></body></html>');
        const svg = pruneReportSvg(report, await batchNormGammas(model), { document: document as unknown as Document, title: `netslim prune ${path.basename(f.model)} at ${f.percent}` });
        mkdirSync(f.save, { recursive: true });
        const files = ['pruned.safetensors', 'prune.json', 'prune.svg'].map((n) => path.join(f.save, n));
        await writeFilesAtomic([
          { path: files[0]!, bytes: await saveModel(pruned) },
          { path: files[1]!, bytes: new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n') },
          { path: files[2]!, bytes: new TextEncoder().encode(`<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`) },
        ]);
        const pc = (x: number) => `${(100 * x).toFixed(2)} %`;
        console.log(
          [
            formatPruneTable(report),
            ...(accuracy
              ? [
                  `test accuracy ${pc(accuracy.before)} → ${pc(accuracy.after)} before fine-tuning` +
                    (accuracy.afterWithoutCompensation !== undefined ? ` (with compensation; ${pc(accuracy.afterWithoutCompensation)} without)` : ''),
                ]
              : []),
            ...(note ? [note] : []),
            ...(report.compensation?.skipped.length ? [`not compensated: ${report.compensation.skipped.map((s) => s.through).join(', ')} (their outputs feed no BatchNorm)`] : []),
            `cfg ${JSON.stringify(report.cfg)}`,
            `wrote ${files.join(', ')}`,
          ].join('\n'),
        );
      } finally {
        // Every model goes before the device, also on failure (Dawn can crash at exit otherwise).
        for (const m of models.reverse()) m.destroy();
        ctx.destroy();
      }
    });
}
