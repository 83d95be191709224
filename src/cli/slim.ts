/**
 * `netslim slim`: a model (a file, or `--arch …` from scratch) slimmed to a FLOPs and/or parameters
 * target in one command — sparse training, the prune, fine-tuning (slim.slimToTarget) — with every
 * stage's model saved, a progress bar per phase, Ctrl-C and `--resume`, a final table and the HTML
 * report. DIR/slim.json records the settings, the phase reached, the stages measured and every
 * epoch, so `--resume` continues where the run stopped.
 */
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { DatasetKind } from '../data/files.node.js';
import { init } from '../node.js';
import type { Model } from '../nn/model.js';
import type { EpochResult } from '../train/trainer.js';
import { loadTrainingState, saveModel, saveTrainingState } from '../io/checkpoint.js';
import { readFileBytes, writeFileAtomic, writeFilesAtomic } from '../io/files.node.js';
import { slimToTarget, type SlimPhase, type SlimResume, type SlimStage } from '../slim/pipeline.js';
import { SLIM_RECIPE, slimRecipe, type SlimRecipe } from '../slim/recipe.js';
import { formatPruneTable, batchNormGammas } from '../slim/report.js';
import type { PruneReport } from '../slim/prune.js';
import { measureLatency } from '../gpu/wait.js';
import { ShapeError } from '../errors.js';
import { checkOutputDir, CliError, DATASETS, floatOption, intOption, loadData, loadModelFile, makeOutputDir, progressBar, readModelFile, textTable } from './common.js';
import { checkArchFlags, modelFromArch } from './train.js';
import { pc, reportHtml, type Phase, type Stage } from './report-html.js';

interface SlimFlags {
  model?: string;
  arch?: string;
  depth?: number;
  width?: number;
  cfg?: string;
  data: string;
  dataset?: DatasetKind;
  save: string;
  resume?: boolean;
  targetFlops?: number;
  targetParams?: number;
  epochs: number;
  finetuneEpochs: number;
  sparsity: number;
  warmupEpochs: number;
  gradualEpochs?: number;
  lr: number;
  finetuneLr: number;
  lrSchedule: string;
  compensate: boolean;
  costExponent: number;
  finetuneAugment?: boolean;
  coupled: string;
  batchSize: number;
  seed: number;
  latencyBatch: number;
}

/** What DIR/slim.json holds. */
interface SlimRecord {
  format: 'netslim-slim/1';
  /** The settings of the run (a resumed run takes them from here). */
  settings: { recipe: SlimRecipe; targetFlops?: number; targetParams?: number; coupled: 'keep' | 'prune'; batchSize: number; seed: number; from: string };
  phase: 'sparse' | 'finetune' | 'done';
  stages: SlimStage[];
  report?: PruneReport;
  epochs: ({ phase: 'sparse' | 'finetune' } & EpochResult)[];
  warnings: string[];
}

const FORMAT = 'netslim-slim/1';

export function registerSlim(program: Command): void {
  program
    .command('slim')
    .description('slim a model to a FLOPs/parameters target in one run: sparse training, prune, fine-tune (every stage saved; --resume continues)')
    .requiredOption('--data <path>', 'dataset directory (CIFAR binaries, IDX files) or tensor file (safetensors x, y)')
    .requiredOption('--save <dir>', 'output directory: sparse, pruned and finetuned .safetensors, prune.json, slim.json, report.html')
    .option('--model <file>', 'the model to slim (a trained checkpoint, a pruned or imported model); or --arch to start from scratch')
    .option('--arch <name>', 'start from scratch: vgg | resnet | densenet | resnet18 | mobilenetv2')
    .option('--depth <n>', 'with --arch: network depth', intOption('--depth', 1))
    .option('--width <f>', 'with --arch: scale the channel counts', floatOption('--width', 0.01, 8))
    .option('--cfg <json>', 'with --arch: explicit cfg')
    .option('--dataset <name>', `${DATASETS.join(' | ')} (default: detected from --data)`)
    .option('--target-flops <f>', 'keep at most this fraction of the FLOPs', floatOption('--target-flops', 0, 1))
    .option('--target-params <f>', 'keep at most this fraction of the parameters', floatOption('--target-params', 0, 1))
    .option('--epochs <n>', 'epochs in all: sparse training + fine-tuning', intOption('--epochs', 2), SLIM_RECIPE.epochs)
    .option('--finetune-epochs <n>', 'of which fine-tuning', intOption('--finetune-epochs', 1), SLIM_RECIPE.finetuneEpochs)
    .option('--sparsity <f>', 'sparsity rate s of the L1 penalty on BatchNorm γ', floatOption('--sparsity', 0, 1), SLIM_RECIPE.sparsity)
    .option('--warmup-epochs <n>', 'sparse-phase epochs first trained at s = 0', intOption('--warmup-epochs', 0), SLIM_RECIPE.warmupEpochs)
    .option('--lr <f>', 'learning rate of sparse training', floatOption('--lr', 0), SLIM_RECIPE.lr)
    .option('--finetune-lr <f>', 'learning rate of fine-tuning', floatOption('--finetune-lr', 0), SLIM_RECIPE.finetuneLr)
    .option('--lr-schedule <name>', 'step (×0.1 at 50 % and 75 % of each phase) | cosine', SLIM_RECIPE.lrSchedule)
    .option('--gradual-epochs <n>', `mask a growing share of the target over the last n sparse epochs (the whole of it one epoch before the end; default ${SLIM_RECIPE.gradualEpochs}, at most the sparse epochs − 1)`, intOption('--gradual-epochs', 0))
    .option('--cost-exponent <a>', 'rank channels by |γ| / c^a, c the FLOPs one channel costs relative to the mean (0: |γ| alone)', floatOption('--cost-exponent', 0, 16), SLIM_RECIPE.costExponent)
    .option('--finetune-augment', 'augment (pad 4, random crop, flip) while fine-tuning too (default: only during sparse training)')
    .option('--no-compensate', 'do not fold the pruned channels\' constant output into the next layer')
    .option('--coupled <mode>', 'channels tied by residual adds or concatenations: keep | prune', 'prune')
    .option('--batch-size <n>', 'training batch size', intOption('--batch-size', 1), 64)
    .option('--latency-batch <n>', 'batch of the latency measurement in the report', intOption('--latency-batch', 1), 64)
    .option('--seed <n>', 'random seed (initialisation, shuffling, augmentation)', intOption('--seed', 0), 1)
    .option('--resume', 'continue the run recorded in --save (its settings come from slim.json)')
    .action(async (f: SlimFlags) => {
      await slimCommand(f);
    });
}

function settingsOf(f: SlimFlags): SlimRecord['settings'] {
  if (f.targetFlops === undefined && f.targetParams === undefined) throw new CliError('give --target-flops, --target-params or both', 2);
  if ((f.model === undefined) === (f.arch === undefined)) throw new CliError('give exactly one of --model and --arch', 2);
  if (f.arch !== undefined) checkArchFlags({ arch: f.arch, seed: f.seed, ...(f.depth !== undefined ? { depth: f.depth } : {}), ...(f.width !== undefined ? { width: f.width } : {}), ...(f.cfg !== undefined ? { cfg: f.cfg } : {}) });
  else if (f.depth !== undefined || f.width !== undefined || f.cfg !== undefined) throw new CliError('--depth, --width and --cfg go with --arch, not --model', 2);
  if (f.coupled !== 'keep' && f.coupled !== 'prune') throw new CliError(`--coupled ${f.coupled}: expected keep or prune`, 2);
  if (f.lrSchedule !== 'step' && f.lrSchedule !== 'cosine') throw new CliError(`--lr-schedule ${f.lrSchedule}: expected step or cosine`, 2);
  let recipe: SlimRecipe;
  try {
    const { epochs, finetuneEpochs, sparsity, warmupEpochs, gradualEpochs, lr, finetuneLr, lrSchedule, compensate, costExponent } = f;
    recipe = slimRecipe({ epochs, finetuneEpochs, sparsity, warmupEpochs, gradualEpochs, lr, finetuneLr, lrSchedule, compensate, costExponent, finetuneAugment: f.finetuneAugment === true });
  } catch (e) {
    if (e instanceof ShapeError) throw new CliError(e.message.replace(/^slim: /, ''), 2);
    throw e;
  }
  const from = f.model ?? `--arch ${f.arch}${f.depth !== undefined ? ` --depth ${f.depth}` : ''}${f.width !== undefined ? ` --width ${f.width}` : ''}${f.cfg !== undefined ? ` --cfg ${f.cfg}` : ''}`;
  return {
    recipe,
    ...(f.targetFlops !== undefined ? { targetFlops: f.targetFlops } : {}),
    ...(f.targetParams !== undefined ? { targetParams: f.targetParams } : {}),
    coupled: f.coupled,
    batchSize: f.batchSize,
    seed: f.seed,
    from,
  };
}

function readRecord(file: string): SlimRecord {
  let r: SlimRecord;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as SlimRecord;
  } catch (e) {
    throw new CliError(`--resume: ${file}: ${(e as Error).message}`);
  }
  if (r?.format !== FORMAT) throw new CliError(`--resume: ${file} is not a netslim slim record (format ${JSON.stringify(r?.format)}, expected ${FORMAT})`);
  if (r.phase === 'done') throw new CliError(`--resume: the run in ${path.dirname(file)} has finished (its fine-tuned model is finetuned.safetensors)`);
  return r;
}

const fraction = (n: number, of: number): string => `${n.toLocaleString('en')} (${((100 * n) / of).toFixed(1)} %)`;

async function slimCommand(f: SlimFlags): Promise<void> {
  if (f.dataset !== undefined && !DATASETS.includes(f.dataset)) throw new CliError(`--dataset ${f.dataset}: expected one of ${DATASETS.join(', ')}`, 2);
  checkOutputDir(f.save, '--save');
  const file = (n: string) => path.join(f.save, n);
  const files = {
    original: file('original.safetensors'),
    sparse: file('sparse.safetensors'),
    sparseState: file('sparse.state.safetensors'),
    pruned: file('pruned.safetensors'),
    pruneJson: file('prune.json'),
    finetuned: file('finetuned.safetensors'),
    finetunedState: file('finetuned.state.safetensors'),
    record: file('slim.json'),
    report: file('report.html'),
  };
  let record: SlimRecord;
  if (f.resume) {
    if (!existsSync(files.record)) throw new CliError(`--resume: ${f.save} holds no slim.json (no run to continue)`);
    record = readRecord(files.record);
  } else {
    record = { format: FORMAT, settings: settingsOf(f), phase: 'sparse', stages: [], epochs: [], warnings: [] };
  }
  const s = record.settings;
  const modelFile = f.resume ? null : f.model ? await readModelFile(f.model) : null;
  const { train: trainSet, test } = await loadData(f.data, f.dataset);
  const size: [number, number, number] = [trainSet.channels, trainSet.height, trainSet.width];

  const ctx = await init();
  const models: Model[] = [];
  const own = (m: Model): Model => (models.push(m), m);
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  const bars: Record<'sparse' | 'finetune', ReturnType<typeof progressBar>> = { sparse: progressBar('sparse'), finetune: progressBar('fine-tune') };
  const saveRecord = () => writeFileAtomic(files.record, new TextEncoder().encode(JSON.stringify(record, null, 2) + '\n'));
  try {
    // The model to start (or continue) from, and where the run continues.
    let model: Model;
    let resume: SlimResume | undefined;
    if (f.resume && record.phase === 'finetune') {
      const tuned = existsSync(files.finetunedState);
      const from = tuned ? files.finetuned : files.pruned;
      model = own(loadModelFile(ctx, await readModelFile(from)));
      const state = tuned ? await readFileBytes(files.finetunedState) : null;
      resume = { phase: 'finetune', stages: record.stages, ...(record.report ? { report: record.report } : {}), ...(state ? { restore: (t) => loadTrainingState(t, state, files.finetunedState) } : {}) };
      console.log(`netslim slim: resuming fine-tuning from ${from}`);
    } else if (f.resume) {
      const sparse = existsSync(files.sparseState);
      const from = sparse ? files.sparse : files.original;
      model = own(loadModelFile(ctx, await readModelFile(from)));
      const state = sparse ? await readFileBytes(files.sparseState) : null;
      resume = { phase: 'sparse', stages: record.stages, ...(state ? { restore: (t) => loadTrainingState(t, state, files.sparseState) } : {}) };
      console.log(`netslim slim: resuming sparse training from ${from}`);
    } else {
      const arch = { arch: f.arch!, seed: f.seed, ...(f.depth !== undefined ? { depth: f.depth } : {}), ...(f.width !== undefined ? { width: f.width } : {}), ...(f.cfg !== undefined ? { cfg: f.cfg } : {}) };
      model = own(modelFile ? loadModelFile(ctx, modelFile) : modelFromArch(ctx, arch, trainSet));
      try {
        model.graph.shapes([1, ...size]);
      } catch (e) {
        if (e instanceof ShapeError) throw new CliError(`${trainSet.name} images of ${size.join('×')} do not fit the model: ${e.message}`, 2);
        throw e;
      }
      makeOutputDir(f.save, '--save');
      await writeFileAtomic(files.original, await saveModel(model));
      await saveRecord();
    }
    const r = s.recipe;
    console.log(
      `netslim slim: ${s.from} → ${[s.targetFlops !== undefined ? `≤ ${(100 * s.targetFlops).toFixed(1)} % of the FLOPs` : '', s.targetParams !== undefined ? `≤ ${(100 * s.targetParams).toFixed(1)} % of the parameters` : ''].filter(Boolean).join(', ')} · ` +
        `${r.epochs - r.finetuneEpochs} sparse epochs (s = ${r.sparsity}${r.warmupEpochs ? `, ${r.warmupEpochs} at s = 0 first` : ''}, lr ${r.lr}, ${r.lrSchedule}${r.gradualEpochs ? `, pruned gradually over the last ${r.gradualEpochs}` : ''}) + ${r.finetuneEpochs} fine-tuning (lr ${r.finetuneLr}${r.finetuneAugment ? ', augmented' : ', no augmentation'})${r.compensate ? ' · bias compensation' : ''}${r.costExponent ? ` · channels ranked by |γ|/c^${r.costExponent}` : ''} · ` +
        `${trainSet.name} ${trainSet.n} train / ${test ? `${test.n} test` : 'no test split'} · adapter ${ctx.adapter.description || ctx.adapter.architecture}${ctx.adapter.isSwiftShader ? ' (CPU)' : ''}`,
    );
    let phase: SlimPhase = resume?.phase ?? 'sparse';
    const result = await slimToTarget(model, trainSet, test, {
      ...r,
      ...(s.targetFlops !== undefined ? { targetFlops: s.targetFlops } : {}),
      ...(s.targetParams !== undefined ? { targetParams: s.targetParams } : {}),
      prune: { coupled: s.coupled },
      batchSize: s.batchSize,
      seed: s.seed,
      signal: abort.signal,
      ...(resume ? { resume } : {}),
      onStep: (ph, p) => {
        phase = ph;
        if (ph !== 'prune') bars[ph].update(p);
      },
      onEpoch: async (ph, e, trainer) => {
        bars[ph].stop();
        const [m, st] = ph === 'sparse' ? [files.sparse, files.sparseState] : [files.finetuned, files.finetunedState];
        record.epochs.push({ phase: ph, ...e });
        await writeFilesAtomic([
          { path: m, bytes: await saveModel(trainer.model) },
          { path: st, bytes: await saveTrainingState(trainer) },
        ]);
        await saveRecord();
        const acc = e.testAccuracy === null ? '' : ` · test acc ${pc(e.testAccuracy)}`;
        console.log(`${ph === 'sparse' ? 'sparse' : 'fine-tune'} epoch ${e.epoch + 1}/${ph === 'sparse' ? r.epochs - r.finetuneEpochs : r.finetuneEpochs} · lr ${e.lr.toPrecision(3)} · train loss ${e.trainLoss.toFixed(4)} acc ${pc(e.trainAccuracy)}${acc} · ${e.imagesPerSec.toFixed(1)} img/s`);
      },
      onStage: async (stage, m, report) => {
        record.stages = [...record.stages.filter((x) => x.stage !== stage.stage), stage];
        if (stage.stage === 'pruned' && report) {
          record.report = report;
          record.phase = 'finetune';
          await writeFilesAtomic([
            { path: files.pruned, bytes: await saveModel(m) },
            { path: files.pruneJson, bytes: new TextEncoder().encode(JSON.stringify(report, null, 2) + '\n') },
          ]);
          console.log(formatPruneTable(report));
          console.log(`right after pruning: test acc ${pc(stage.accuracy)}`);
        }
        if (stage.stage === 'finetuned') record.phase = 'done';
        await saveRecord();
      },
      onWarning: (msg) => {
        if (!record.warnings.includes(msg)) record.warnings.push(msg);
        console.error(`netslim slim: warning: ${msg}`);
      },
    }).catch((e: unknown) => {
      if (abort.signal.aborted) {
        const where = phase === 'finetune' ? 'fine-tuning' : phase === 'prune' ? 'the prune' : 'sparse training';
        throw new CliError(`slim: interrupted during ${where}; ${f.save} holds the last finished epoch (continue with netslim slim --resume --save ${f.save} --data ${f.data})`, 130);
      }
      throw e;
    });
    if (!models.includes(result.model)) own(result.model);
    record.stages = result.stages;
    record.phase = 'done';
    await saveRecord();

    // The report: latency of the unpruned and the pruned network, γ before and after the prune.
    const sparseModel = own(loadModelFile(ctx, await readModelFile(files.sparse)));
    const prunedModel = own(loadModelFile(ctx, await readModelFile(files.pruned)));
    const [fullMs, slimMs] = await measureLatency(ctx, [sparseModel, result.model], [f.latencyBatch, ...size], { runs: 5 });
    const stageFile: Record<SlimStage['stage'], string> = { original: files.original, sparse: files.sparse, pruned: files.pruned, finetuned: files.finetuned };
    const stages: Stage[] = result.stages.map((x) => ({
      name: x.stage === 'finetuned' ? 'fine-tuned' : x.stage,
      accuracy: x.accuracy ?? NaN,
      params: x.params,
      flops: x.flops,
      latencyMs: x.stage === 'original' || x.stage === 'sparse' ? fullMs! : slimMs!,
      file: stageFile[x.stage],
    }));
    const sum = (ph: 'sparse' | 'finetune') => record.epochs.filter((e) => e.phase === ph);
    const phaseOf = (ph: 'sparse' | 'finetune', name: string, what: string): Phase => {
      const es = sum(ph);
      const seconds = es.reduce((a, e) => a + e.seconds, 0);
      return { name, epochs: es.length, seconds, imagesPerSec: es.length ? es.reduce((a, e) => a + e.imagesPerSec, 0) / es.length : 0, what };
    };
    const phases: Phase[] = [phaseOf('sparse', 'sparse', `training with L1 on γ (s = ${r.sparsity})`), phaseOf('finetune', 'fine-tune', 'training the pruned model')];
    const pruned = result.stages.find((x) => x.stage === 'pruned')!;
    const html = reportHtml({
      title: `netslim slim: ${s.from} on ${trainSet.name}`,
      subtitle: `${trainSet.n} training / ${test?.n ?? 0} test images (${size.join('×')}); ${r.epochs - r.finetuneEpochs} sparse + ${r.finetuneEpochs} fine-tuning epochs; ${new Date().toISOString().slice(0, 10)}.`,
      stages,
      phases,
      latencyBatch: f.latencyBatch,
      report: result.report,
      gammasBefore: await batchNormGammas(sparseModel),
      gammasAfter: await batchNormGammas(prunedModel),
      curves: [
        { phase: 'sparse', history: sum('sparse') },
        { phase: 'fine-tune', history: sum('finetune') },
      ],
      prunedAccuracy: pruned.accuracy ?? NaN,
      files: Object.values(files).filter((x) => x !== files.sparseState && x !== files.finetunedState),
    });
    await writeFileAtomic(files.report, new TextEncoder().encode(html));

    const orig = result.stages[0]!;
    console.log(
      '\n' +
        textTable([
          ['stage', 'test acc', 'params', 'FLOPs/image', `latency (batch ${f.latencyBatch})`],
          ...stages.map((x, i) => [x.name, pc(result.stages[i]!.accuracy), fraction(x.params, orig.params), fraction(x.flops, orig.flops), `${x.latencyMs.toFixed(1)} ms`]),
        ]),
    );
    for (const w of result.warnings) console.error(`netslim slim: warning: ${w}`);
    console.log(`wrote ${Object.values(files).join(', ')}`);
  } finally {
    process.off('SIGINT', onSigint);
    bars.sparse.stop();
    bars.finetune.stop();
    for (const m of models) m.destroy();
    ctx.destroy();
  }
}
