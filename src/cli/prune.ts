/**
 * `netslim prune`: Network Slimming's pruning of a trained (sparse) checkpoint →
 * DIR/pruned.safetensors (metadata carries the new cfg), DIR/prune.json and DIR/prune.svg (γ
 * histogram, channels per layer); the report as a table on the terminal; with --data, test
 * accuracy before and after (and, with --compensate, after pruning without compensation too).
 * The files are written together, atomically, or not at all.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { DatasetKind } from '../data/files.node.js';
import { init } from '../node.js';
import { saveModel } from '../io/checkpoint.js';
import { analyseChannels } from '../slim/channels.js';
import { writeFilesAtomic } from '../io/files.node.js';
import { parseHTML } from 'linkedom';
import { prune, type PruneAmount, type PruneOptions } from '../slim/prune.js';
import { batchNormGammas, formatPruneTable, pruneAccuracyNote, pruneReportSvg } from '../slim/report.js';
import { sparsityWarning } from '../slim/recipe.js';
import { evaluate } from '../train/trainer.js';
import { checkOutputDir, CliError, DATASETS, floatOption, intOption, loadData, loadModelFile, makeOutputDir, readModelFile } from './common.js';

interface PruneFlags {
  model: string;
  percent?: number;
  targetFlops?: number;
  targetParams?: number;
  coupled: 'keep' | 'prune';
  groupImportance: 'mean' | 'sum' | 'max';
  ignore?: string;
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
  costExponent: number;
}

export function registerPrune(program: Command): void {
  program
    .command('prune')
    .description('prune the channels with the smallest BatchNorm |γ| (one global threshold) into a smaller model')
    .requiredOption('--model <ckpt>', 'trained model checkpoint (.safetensors)')
    .option('--percent <f>', 'fraction of the ranked BatchNorm channels to prune, in [0, 1)', floatOption('--percent', 0, 0.999999))
    .option('--target-flops <f>', 'instead of --percent: prune until at most this fraction of the FLOPs is left, in (0, 1]', floatOption('--target-flops', 1e-9, 1))
    .option('--target-params <f>', 'instead of --percent (or with --target-flops): prune until at most this fraction of the parameters is left, in (0, 1]', floatOption('--target-params', 1e-9, 1))
    .option('--cost-exponent <a>', 'rank channels by |γ| / c^a, c the FLOPs one channel costs relative to the mean (0: |γ| alone, the reference)', floatOption('--cost-exponent', 0, 16), 0)
    .option('--coupled <mode>', 'channels tied across BatchNorms (residual streams, shared concatenations): keep (never removed, the reference) | prune (scored as a group, removed everywhere at once)', 'keep')
    .option('--group-importance <r>', "with --coupled prune, how a group's |γ| are reduced: mean | sum | max", 'mean')
    .option('--ignore <names>', 'comma-separated layer names whose channels are never removed')
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
      const targets = f.targetFlops !== undefined || f.targetParams !== undefined;
      if ((f.percent !== undefined) === targets) throw new CliError('give --percent, or --target-flops and/or --target-params', 2);
      if (f.coupled !== 'keep' && f.coupled !== 'prune') throw new CliError(`--coupled ${f.coupled}: expected keep or prune`, 2);
      if (!['mean', 'sum', 'max'].includes(f.groupImportance)) throw new CliError(`--group-importance ${f.groupImportance}: expected mean, sum or max`, 2);
      checkOutputDir(f.save, '--save');
      const amount = (f.percent !== undefined ? f.percent : { ...(f.targetFlops !== undefined ? { flops: f.targetFlops } : {}), ...(f.targetParams !== undefined ? { params: f.targetParams } : {}) }) as PruneAmount;
      const file = await readModelFile(f.model);
      const ignore = f.ignore ? f.ignore.split(',').map((x) => x.trim()).filter(Boolean) : [];
      // Whether the pass can follow the graph (and the ignored names exist), before any GPU work.
      analyseChannels(file.graph, ignore);
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
          coupled: f.coupled,
          groupImportance: f.groupImportance,
          costExponent: f.costExponent,
          ...(ignore.length ? { ignore } : {}),
          inputSize: data ? [data.test!.channels, data.test!.height, data.test!.width] : [model.meta.inChannels, model.meta.inputSize ?? 32, model.meta.inputSize ?? 32],
        };
        const { model: pruned, report } = await prune(model, amount, options);
        models.push(pruned);
        let accuracy: { before: number; after: number; afterWithoutCompensation?: number } | undefined;
        if (data) {
          const acc = async (m: typeof model) => (await evaluate(m, data.test!, { batchSize: f.testBatchSize })).accuracy;
          accuracy = { before: await acc(model), after: await acc(pruned) };
          if (f.compensate) {
            const plain = await prune(model, report.percent, { ...options, compensate: false });
            models.push(plain.model);
            accuracy.afterWithoutCompensation = await acc(plain.model);
          }
        }
        const gammas = await batchNormGammas(model);
        const notes = [sparsityWarning(report), accuracy ? pruneAccuracyNote(accuracy.before, accuracy.after, model.meta.numClasses, report.threshold) : null].filter((n): n is string => n !== null);
        const json = { model: f.model, ...report, ...(accuracy ? { accuracy } : {}), ...(notes.length ? { notes } : {}) };
        const { document } = parseHTML('<!doctype html><html><body></body></html>');
        const svg = await pruneReportSvg(report, gammas, { document: document as unknown as Document, title: `netslim prune ${path.basename(f.model)} at ${typeof amount === 'number' ? amount : JSON.stringify(amount)}` });
        makeOutputDir(f.save, '--save');
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
            ...notes.map((n) => `warning: ${n}`),
            ...(report.compensation?.skipped.length ? [`not compensated: ${report.compensation.skipped.map((s) => s.through).join(', ')} (their outputs feed no BatchNorm)`] : []),
            ...(report.target ? [`target ${JSON.stringify(amount)}: reached ${report.target.reached.flops.toFixed(4)} of the FLOPs, ${report.target.reached.params.toFixed(4)} of the parameters (percent ${report.percent.toFixed(4)})`] : []),
            report.cfg ? `cfg ${JSON.stringify(report.cfg)}` : `graph: ${pruned.meta.arch} (the compact model's graph is in the checkpoint metadata)`,
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
