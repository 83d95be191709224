/**
 * Model checkpoints as safetensors with PyTorch's state_dict keys (docs/architecture.md §5): F32 tensors,
 * I64 `num_batches_tracked`, and `__metadata__` with arch, depth, num_classes, in_channels, cfg
 * (and when known: dataset, class_names, and the input normalisation mean and std as JSON
 * arrays). Metadata may be partial or absent (`safetensors.torch.save_file` writes none): what
 * is missing is inferred from the tensor names and shapes, and metadata that contradicts the
 * tensors is rejected naming both. Browser-safe: bytes in, bytes out.
 */
import type { Context } from '../gpu/context.js';
import { NetslimError } from '../errors.js';
import { nonFiniteMessage } from '../util/finite.js';
import { Model, type ModelMeta, type StateValues } from '../nn/model.js';
import { ARCH_SIGNATURES, archInfersDepth, graphFromMeta, inferArchMeta } from '../nn/models.js';
import { GraphSpecError, graphFromSpec, graphToSpec } from '../nn/graph-spec.js';
import type { Graph } from '../nn/graph.js';
import { Linear } from '../nn/layers.js';
import { CheckpointError } from './errors.js';
import { labelMetadata, readLabelMetadata } from '../nn/labels.js';
import type { Trainer, TrainingState } from '../train/trainer.js';
import { parseSafetensors, serializeSafetensors, toFloat32, toInt64, type SafeTensor, type SafetensorsFile } from './safetensors.js';

/**
 * Serialises a model's state dict and metadata.
 *
 * @example
 * ```ts
 * import { init, models, saveModel, writeFileAtomic } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { depth: 11, numClasses: 10 });
 * await writeFileAtomic('vgg11.safetensors', await saveModel(model)); // loads in PyTorch too
 * ctx.destroy();
 * ```
 */
export async function saveModel(model: Model): Promise<Uint8Array> {
  const state = await model.stateDict();
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, v] of state) {
    tensors[name] = { dtype: v.data instanceof BigInt64Array ? 'I64' : 'F32', shape: v.shape, data: new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength) };
  }
  return serializeSafetensors(tensors, metadataOf(model.meta, model.graph));
}

/**
 * The `__metadata__` strings of a model: arch, classes, input channels, depth and cfg for the
 * reference architectures, the dataset, class names (`class_names`) and input normalisation
 * (`mean`, `std`) as JSON arrays when the model has them, and with `graph` the graph itself as versioned JSON (`graph`), which
 * is what lets any model load back.
 *
 * @example
 * ```ts
 * import { metadataOf } from 'netslim';
 *
 * console.log(metadataOf({ arch: 'vgg', depth: 11, numClasses: 10, inChannels: 3, cfg: [64, 'M', 128] }));
 * // { arch: 'vgg', num_classes: '10', in_channels: '3', depth: '11', cfg: '[64,"M",128]' }
 * ```
 */
export function metadataOf(meta: ModelMeta, graph?: Graph): Record<string, string> {
  const md: Record<string, string> = {
    arch: meta.arch,
    num_classes: String(meta.numClasses),
    in_channels: String(meta.inChannels),
  };
  if (meta.depth !== undefined) md.depth = String(meta.depth);
  if (meta.cfg) md.cfg = JSON.stringify(meta.cfg);
  if (meta.dataset) md.dataset = meta.dataset;
  Object.assign(md, labelMetadata(meta));
  if (meta.pruning) md.pruning = meta.pruning;
  if (meta.inputSize !== undefined) md.input_size = String(meta.inputSize);
  if (graph) md.graph = JSON.stringify(graphToSpec(graph));
  return md;
}

/**
 * Infers arch, depth, cfg, classes and input channels from tensor names and shapes alone (the
 * rules of each reference architecture live in src/nn/models.ts).
 *
 * @example
 * ```ts
 * import { init, models, saveModel, parseSafetensors, inferMeta } from 'netslim/node';
 *
 * const ctx = await init();
 * const bytes = await saveModel(models.resnet(ctx, { depth: 20 }));
 * const meta = inferMeta(parseSafetensors(bytes)); // the tensors alone, metadata ignored
 * console.log(meta.arch, meta.depth, meta.numClasses); // resnet 20 10
 * ctx.destroy();
 * ```
 */
export function inferMeta(file: SafetensorsFile, fileName = 'checkpoint'): ModelMeta {
  const meta = inferArchMeta({
    has: (k) => file.tensors.has(k),
    keys: () => [...file.tensors.keys()],
    shape: (k) => {
      const t = file.tensors.get(k);
      if (!t) throw new CheckpointError(fileName, k, 'missing');
      return t.shape;
    },
  });
  if (!meta) throw new CheckpointError(fileName, undefined, `not a netslim model: no graph metadata, and no ${ARCH_SIGNATURES}`);
  return meta;
}

/**
 * The model description of a checkpoint: its metadata, checked against and completed from its tensors.
 *
 * @example
 * ```ts
 * import { readFileBytes, parseSafetensors, checkpointMeta, init, models, saveModel, writeFileAtomic } from 'netslim/node';
 *
 * const ctx = await init();
 * await writeFileAtomic('vgg.safetensors', await saveModel(models.vgg(ctx, { cfg: [8, 'M', 16], inChannels: 1 })));
 * const meta = checkpointMeta(parseSafetensors(await readFileBytes('vgg.safetensors'), 'vgg.safetensors'));
 * console.log(meta.arch, meta.cfg, meta.inChannels); // vgg [8, 'M', 16] 1
 * ctx.destroy();
 * ```
 */
export function checkpointMeta(file: SafetensorsFile, fileName = 'checkpoint'): ModelMeta {
  const inferred = inferMeta(file, fileName);
  const md = file.metadata;
  const contradict = (key: string, given: string, actual: string): never => {
    throw new CheckpointError(fileName, undefined, `metadata ${key}=${given} contradicts the tensors, which describe ${key}=${actual}`);
  };
  if (md.arch !== undefined && md.arch !== inferred.arch) contradict('arch', md.arch, inferred.arch);
  const intField = (key: string, actual: number): void => {
    if (md[key] !== undefined && Number(md[key]) !== actual) contradict(key, md[key]!, String(actual));
  };
  intField('num_classes', inferred.numClasses);
  intField('in_channels', inferred.inChannels);
  if (archInfersDepth(inferred.arch)) intField('depth', inferred.depth!);
  if (md.cfg !== undefined) {
    let cfg: unknown;
    try {
      cfg = JSON.parse(md.cfg);
    } catch {
      throw new CheckpointError(fileName, undefined, `metadata cfg is not JSON: ${md.cfg.slice(0, 80)}`);
    }
    if (JSON.stringify(cfg) !== JSON.stringify(inferred.cfg)) contradict('cfg', md.cfg, JSON.stringify(inferred.cfg));
  }
  const depth = !archInfersDepth(inferred.arch) && md.depth !== undefined ? Number(md.depth) : inferred.depth;
  if (md.pruning !== undefined && md.pruning !== 'mask') throw new CheckpointError(fileName, undefined, `metadata pruning=${md.pruning} is not "mask"`);
  const labels = readLabelMetadata(md, inferred.numClasses, inferred.inChannels, (detail) => {
    throw new CheckpointError(fileName, undefined, detail);
  });
  return { ...inferred, ...(depth !== undefined ? { depth } : {}), ...(md.dataset ? { dataset: md.dataset } : {}), ...labels, ...(md.pruning ? { pruning: 'mask' as const } : {}) };
}

/** The state values of a parsed checkpoint, converted to F32 / I64 as the model wants them. */
/** Throws a CheckpointError naming the tensors of `values` that hold NaN or ±Inf. */
export function expectFinite(values: StateValues, fileName: string): void {
  const bad = nonFiniteMessage(values);
  if (bad) throw new CheckpointError(fileName, bad.first, `${bad.message} (a damaged file, or training that diverged; loadModel(..., { allowNonFinite: true }) loads it anyway)`);
}

function stateValues(model: Model, file: SafetensorsFile, fileName: string, allowNonFinite = false): StateValues {
  const values: StateValues = new Map();
  const names = new Set(model.namedSlots().map((s) => s.name));
  for (const key of file.tensors.keys()) {
    if (!names.has(key)) throw new CheckpointError(fileName, key, `unexpected tensor for a ${model.meta.arch} model (strict loading: the file must hold exactly the model's state dict)`);
  }
  for (const { name, slot } of model.namedSlots()) {
    const t = file.tensors.get(name);
    if (!t) throw new CheckpointError(fileName, name, 'missing');
    const same = t.shape.length === slot.shape.length && t.shape.every((d, i) => d === slot.shape[i]);
    if (!same) throw new CheckpointError(fileName, name, `shape [${t.shape.join(', ')}] does not match the model's [${slot.shape.join(', ')}] (${model.meta.cfg ? `cfg ${JSON.stringify(model.meta.cfg)}` : `graph layer ${name.slice(0, name.lastIndexOf('.'))}`})`);
    values.set(name, { shape: t.shape, data: slot.dtype === 'I64' ? toInt64(t, name, fileName) : toFloat32(t, name, fileName) });
  }
  if (!allowNonFinite) expectFinite(values, fileName);
  return values;
}

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /** Load tensors that hold NaN or ±Inf instead of refusing the file (to inspect a diverged run). */
  allowNonFinite?: boolean;
}

/** A checkpoint to load: its bytes, or where to read them (a URL, a URL string, a Response, a Blob or File). */
export type ModelSource = Uint8Array | URL | string | Response | Blob;

/**
 * Builds the model a checkpoint describes and loads its weights. Everything is validated before
 * the model is returned; on any problem nothing stays allocated and a CheckpointError names the
 * file and the tensor. A file whose weights or statistics hold NaN or ±Inf is refused, naming
 * those tensors, unless `options.allowNonFinite`.
 *
 * From bytes it returns the model at once; from a `URL`, a URL string, a `Response`, a `Blob` or a
 * `File` (a page's file input, a `fetch`) it returns a promise of it, reading the body first (a
 * failed fetch is a CheckpointError naming the URL and the HTTP status). `fileName` defaults to the
 * URL's or the File's name.
 *
 * @example
 * ```ts
 * import { init, models, saveModel, loadModel } from 'netslim/node';
 *
 * const ctx = await init();
 * const bytes = await saveModel(models.vgg(ctx, { depth: 11 })); // or: await readFileBytes('model.safetensors')
 * const model = loadModel(ctx, bytes, 'vgg11.safetensors');
 * console.log(model.meta.arch, model.parameterCount());
 * const again = await loadModel(ctx, new File([new Uint8Array(bytes)], 'vgg11.safetensors')); // or a URL, a Response, a Blob
 * console.log(again.parameterCount());
 * await ctx.sync(); // let queued GPU work finish before destroy()
 * ctx.destroy();
 * ```
 */
export function loadModel(ctx: Context, bytes: Uint8Array, fileName?: string, options?: LoadModelOptions): Model;
export function loadModel(ctx: Context, source: URL | string | Response | Blob, fileName?: string, options?: LoadModelOptions): Promise<Model>;
export function loadModel(ctx: Context, source: ModelSource, fileName?: string, options: LoadModelOptions = {}): Model | Promise<Model> {
  if (source instanceof Uint8Array) return loadModelBytes(ctx, source, fileName ?? 'checkpoint', options);
  return readSource(source, fileName).then(({ bytes, name }) => loadModelBytes(ctx, bytes, name, options));
}

/** The bytes of a non-byte source and the name to give it in messages. */
async function readSource(source: URL | string | Response | Blob, fileName: string | undefined): Promise<{ bytes: Uint8Array; name: string }> {
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = fileName ?? ((source as Blob & { name?: string }).name || 'checkpoint');
    return { bytes: new Uint8Array(await source.arrayBuffer()), name };
  }
  let response: Response;
  let name: string;
  if (typeof Response !== 'undefined' && source instanceof Response) {
    response = source;
    name = fileName ?? (source.url || 'checkpoint');
  } else {
    const url = String(source);
    name = fileName ?? (url.startsWith('data:') ? 'checkpoint' : url);
    try {
      response = await fetch(url);
    } catch (e) {
      throw new CheckpointError(name, undefined, `cannot fetch: ${(e as Error).message}`, { cause: e });
    }
  }
  if (!response.ok) throw new CheckpointError(name, undefined, `fetch answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
  try {
    return { bytes: new Uint8Array(await response.arrayBuffer()), name };
  } catch (e) {
    throw new CheckpointError(name, undefined, `cannot read the response body: ${(e as Error).message}`, { cause: e });
  }
}

function loadModelBytes(ctx: Context, bytes: Uint8Array, fileName: string, options: LoadModelOptions): Model {
  const file = parseSafetensors(bytes, fileName);
  const { meta, graph } = checkpointGraph(file, fileName);
  const model = new Model(ctx, graph, meta);
  try {
    model.loadStateDict(stateValues(model, file, fileName, options.allowNonFinite), fileName);
  } catch (e) {
    model.destroy();
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(fileName, undefined, (e as NetslimError).message, { cause: e });
  }
  return model;
}

/**
 * The graph and model description of a checkpoint: from its `graph` metadata when it has one
 * (any model netslim wrote), else from the reference architecture its tensor names describe
 * (files PyTorch wrote). Metadata that contradicts the graph, or a malformed graph, is a
 * CheckpointError naming both.
 *
 * @example
 * ```ts
 * import { init, models, saveModel, parseSafetensors, checkpointGraph } from 'netslim/node';
 *
 * const ctx = await init();
 * const bytes = await saveModel(models.vgg(ctx, { cfg: [8, 'M', 16] }));
 * const { meta, graph } = checkpointGraph(parseSafetensors(bytes));
 * console.log(meta.arch, graph.layers().length); // vgg 9
 * ctx.destroy();
 * ```
 */
export function checkpointGraph(file: SafetensorsFile, fileName = 'checkpoint'): { meta: ModelMeta; graph: Graph } {
  const md = file.metadata;
  if (md.graph === undefined) {
    const meta = checkpointMeta(file, fileName);
    try {
      return { meta, graph: graphFromMeta(meta).graph };
    } catch (e) {
      throw new CheckpointError(fileName, undefined, (e as Error).message, { cause: e });
    }
  }
  let graph: Graph;
  try {
    graph = graphFromSpec(md.graph);
  } catch (e) {
    if (e instanceof GraphSpecError) throw new CheckpointError(fileName, undefined, `metadata ${e.message}`, { cause: e });
    throw new CheckpointError(fileName, undefined, `metadata graph: ${(e as Error).message}`, { cause: e });
  }
  const contradict = (key: string, given: string, actual: string): never => {
    throw new CheckpointError(fileName, undefined, `metadata ${key}=${given} contradicts the graph, which describes ${key}=${actual}`);
  };
  const last = graph.nodes[graph.output]!.layer;
  const numClasses = last instanceof Linear ? last.outFeatures : Number(md.num_classes);
  if (!(Number.isInteger(numClasses) && numClasses > 0)) throw new CheckpointError(fileName, undefined, `metadata num_classes=${JSON.stringify(md.num_classes)} is missing or not a positive integer, and the graph does not end in a Linear layer`);
  if (md.num_classes !== undefined && Number(md.num_classes) !== numClasses) contradict('num_classes', md.num_classes, String(numClasses));
  if (md.in_channels !== undefined && Number(md.in_channels) !== graph.inChannels) contradict('in_channels', md.in_channels, String(graph.inChannels));
  if (md.pruning !== undefined && md.pruning !== 'mask') throw new CheckpointError(fileName, undefined, `metadata pruning=${md.pruning} is not "mask"`);
  const meta: ModelMeta = {
    arch: md.arch ?? 'custom',
    numClasses,
    inChannels: graph.inChannels,
    ...(md.dataset ? { dataset: md.dataset } : {}),
    ...readLabelMetadata(md, numClasses, graph.inChannels, (detail) => {
      throw new CheckpointError(fileName, undefined, detail);
    }),
    ...(md.pruning ? { pruning: 'mask' as const } : {}),
  };
  if (md.input_size !== undefined) {
    const size = Number(md.input_size);
    if (!(Number.isInteger(size) && size > 0)) throw new CheckpointError(fileName, undefined, `metadata input_size=${md.input_size} is not a positive integer`);
    meta.inputSize = size;
  }
  if (md.depth !== undefined) {
    const depth = Number(md.depth);
    if (!Number.isInteger(depth)) throw new CheckpointError(fileName, undefined, `metadata depth=${md.depth} is not an integer`);
    meta.depth = depth;
  }
  if (md.cfg !== undefined) {
    try {
      meta.cfg = JSON.parse(md.cfg) as ModelMeta['cfg'];
    } catch {
      throw new CheckpointError(fileName, undefined, `metadata cfg is not JSON: ${md.cfg.slice(0, 80)}`);
    }
    // A reference architecture's cfg must build exactly the graph the file holds.
    let built: string;
    try {
      built = JSON.stringify(graphToSpec(graphFromMeta(meta).graph));
    } catch (e) {
      throw new CheckpointError(fileName, undefined, `metadata arch=${meta.arch} cfg=${md.cfg.slice(0, 80)} does not describe a model: ${(e as Error).message}`);
    }
    if (built !== JSON.stringify(graphToSpec(graph))) contradict('cfg', md.cfg.slice(0, 200), '(a different network: the graph metadata and arch/cfg disagree)');
  }
  return { meta, graph };
}

// ------------------------------------------------------------------------------ training state

const STATE_FORMAT = 'netslim-training-state/1';

/**
 * The optimizer side of a checkpoint (momentum buffers under `momentum.<param>`, epoch, lr, best
 * accuracy, optimizer steps, shuffling RNG state, seed) for `checkpoint.state.safetensors`; with the
 * model file it is enough for `--resume` to continue exactly.
 *
 * @example
 * ```ts
 * import { init, models, datasetFromTensors, Trainer, saveModel, saveTrainingState, writeFilesAtomic } from 'netslim/node';
 *
 * const ctx = await init();
 * const data = datasetFromTensors(new Float32Array(16 * 64).fill(0.5), [16, 1, 8, 8], Int32Array.from({ length: 16 }, (_, i) => i % 2));
 * const model = models.vgg(ctx, { cfg: [4, 'M', 8, 'M', 8], inChannels: 1, numClasses: 2 });
 * const trainer = new Trainer(model, data, null, { epochs: 2, batchSize: 8 });
 * await trainer.trainEpoch();
 * trainer.epoch += 1; // what fit() does after each epoch
 * await writeFilesAtomic([
 *   { path: 'checkpoint.safetensors', bytes: await saveModel(model) },
 *   { path: 'checkpoint.state.safetensors', bytes: await saveTrainingState(trainer) },
 * ]);
 * trainer.destroy();
 * ctx.destroy();
 * ```
 */
export async function saveTrainingState(trainer: Trainer): Promise<Uint8Array> {
  const tensors: Record<string, SafeTensor> = {};
  for (const { name, slot } of trainer.model.parameters()) {
    const m = await trainer.ctx.readF32(slot.momentum!);
    tensors[`momentum.${name}`] = { dtype: 'F32', shape: [...slot.shape], data: new Uint8Array(m.buffer) };
  }
  const s = trainer.state();
  return serializeSafetensors(tensors, {
    format: STATE_FORMAT,
    epoch: String(s.epoch),
    lr: String(s.lr),
    best_prec1: String(s.best),
    optimizer_steps: String(s.optimizerSteps),
    rng: String(s.rng),
    seed: String(s.seed),
    dropout_seeds: JSON.stringify(s.dropoutSeeds),
  });
}

/** `dropout_seeds` of a training state: a JSON object of u32 seeds by layer name (absent in files from models without dropout). */
function dropoutSeedsOf(md: Record<string, string>, fileName: string): Record<string, number> {
  const raw = md.dropout_seeds;
  if (raw === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new CheckpointError(fileName, undefined, `metadata dropout_seeds=${JSON.stringify(raw)} is not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CheckpointError(fileName, undefined, `metadata dropout_seeds=${JSON.stringify(raw)} is not an object of seeds by layer name`);
  for (const [k, seed] of Object.entries(v)) {
    if (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) > 0xffffffff) throw new CheckpointError(fileName, undefined, `metadata dropout_seeds[${JSON.stringify(k)}]=${JSON.stringify(seed)} is not a u32 seed`);
  }
  return v as Record<string, number>;
}

/**
 * Restores what `saveTrainingState` wrote; checks every name and shape before changing anything.
 *
 * @example
 * ```ts
 * import { init, models, datasetFromTensors, Trainer, saveModel, loadModel, saveTrainingState, loadTrainingState } from 'netslim/node';
 *
 * const ctx = await init();
 * const data = datasetFromTensors(new Float32Array(16 * 64).fill(0.5), [16, 1, 8, 8], Int32Array.from({ length: 16 }, (_, i) => i % 2));
 * const first = new Trainer(models.vgg(ctx, { cfg: [4, 'M', 8, 'M', 8], inChannels: 1, numClasses: 2 }), data, null, { epochs: 2, batchSize: 8 });
 * await first.trainEpoch();
 * first.epoch += 1;
 * const weights = await saveModel(first.model);
 * const state = await saveTrainingState(first);
 * // Later, e.g. in another process: the same data and options, then the two files.
 * const resumed = new Trainer(loadModel(ctx, weights), data, null, { epochs: 2, batchSize: 8 });
 * loadTrainingState(resumed, state);
 * await resumed.fit(); // runs epoch 2 only, exactly as an uninterrupted run would
 * ctx.destroy();
 * ```
 */
export function loadTrainingState(trainer: Trainer, bytes: Uint8Array, fileName = 'checkpoint.state.safetensors'): void {
  const file = parseSafetensors(bytes, fileName);
  const md = file.metadata;
  if (md.format !== STATE_FORMAT) throw new CheckpointError(fileName, undefined, `not a netslim training state (format ${JSON.stringify(md.format)}, expected ${STATE_FORMAT})`);
  const num = (k: string): number => {
    const v = Number(md[k]);
    if (md[k] === undefined || !Number.isFinite(v)) throw new CheckpointError(fileName, undefined, `metadata ${k}=${JSON.stringify(md[k])} is not a number`);
    return v;
  };
  const state: TrainingState = { epoch: num('epoch'), lr: num('lr'), best: num('best_prec1'), optimizerSteps: num('optimizer_steps'), rng: num('rng'), seed: num('seed'), dropoutSeeds: dropoutSeedsOf(md, fileName) };
  const dropouts = new Set(trainer.model.graph.layers().filter((l) => l.kind === 'Dropout').map((l) => l.name));
  for (const name of dropouts) if (!(name in state.dropoutSeeds)) throw new CheckpointError(fileName, undefined, `metadata dropout_seeds has no seed for the Dropout layer ${JSON.stringify(name)}`);
  for (const name of Object.keys(state.dropoutSeeds)) if (!dropouts.has(name)) throw new CheckpointError(fileName, undefined, `metadata dropout_seeds names ${JSON.stringify(name)}, which is no Dropout layer of this model`);
  if (state.seed !== trainer.seed) throw new CheckpointError(fileName, undefined, `was written with --seed ${state.seed}, this run uses ${trainer.seed}`);
  const params = trainer.model.parameters();
  const values = new Map<string, Float32Array>();
  for (const { name, slot } of params) {
    const key = `momentum.${name}`;
    const t = file.tensors.get(key);
    if (!t) throw new CheckpointError(fileName, key, 'missing');
    if (t.shape.length !== slot.shape.length || t.shape.some((d, i) => d !== slot.shape[i])) {
      throw new CheckpointError(fileName, key, `shape [${t.shape.join(', ')}] does not match the model's [${slot.shape.join(', ')}]`);
    }
    values.set(name, toFloat32(t, key, fileName));
  }
  if (file.tensors.size !== params.length) {
    const extra = [...file.tensors.keys()].find((k) => !values.has(k.replace(/^momentum\./, '')));
    throw new CheckpointError(fileName, extra, 'unexpected tensor (not a momentum buffer of this model)');
  }
  for (const { name, slot } of params) {
    const v = values.get(name)!;
    if (v.length) trainer.ctx.device.queue.writeBuffer(slot.momentum!.buffer, 0, v);
  }
  trainer.restore(state);
}
