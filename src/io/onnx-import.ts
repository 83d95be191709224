/**
 * ONNX import: a CNN exported by PyTorch (`torch.onnx.export`, opsets 11–21) or anything else that
 * writes standard ONNX becomes a netslim graph with its weights, ready to train, slim and export
 * again. Browser-safe: the protobuf reader (`onnx-proto`) is imported on first use.
 *
 * Mapping (the inverse of src/io/onnx.ts, plus what PyTorch's exporter writes):
 * - Conv → Conv2d (square kernel, equal strides and pads, dilation 1, group, optional bias);
 * - BatchNormalization → BatchNorm2d (inference or training-mode node; ONNX momentum m is
 *   PyTorch's 1 − m);
 * - Relu → ReLU; Clip(0, 6) → ReLU6, Clip(0, ∞) → ReLU; MaxPool → MaxPool2d; AveragePool →
 *   AvgPool2d (count_include_pad, or no padding); GlobalAveragePool and ReduceMean over H and W →
 *   GlobalAvgPool2d (then Flatten when keepdims = 0);
 * - Gemm (transA 0, alpha = beta = 1) → Linear; MatMul by a constant followed by Add of a
 *   constant → Linear (weight transposed back to PyTorch's [out, in]);
 * - Gather of channels (axis 1) by constant increasing indices → ChannelSelection (what netslim
 *   exports for the reference ResNet and DenseNet);
 * - Flatten(axis 1), and Reshape to [N, −1] → Flatten; Add → Add; Concat(axis 1) → Concat;
 *   Dropout → Dropout (ratio > 0) or nothing; Identity → nothing;
 * - Constant, Transpose of a constant matrix (what `x @ W.t()` exports), and Shape / Gather /
 *   Unsqueeze / Concat chains over constants and shapes (what `x.view(x.size(0), -1)` exports)
 *   are folded on the host.
 *
 * Names: a parameter keeps its initializer's name, which PyTorch's exporter sets to the state_dict
 * key (`layer1.0.conv1.weight`), so the layer is `layer1.0.conv1` and the imported file loads into
 * the PyTorch module with `load_state_dict(strict=True)`. Where an initializer has another name
 * (`onnx::MatMul_123`), the layer's name comes from a sibling parameter (a Linear's bias) or, failing
 * that, from the op and its position; `OnnxImport.renamed` lists each such case.
 */
import type { onnx } from 'onnx-proto';
import { loadOnnxProto } from './onnx-proto.js';
import type { Context } from '../gpu/context.js';
import { NetslimError, ShapeError } from '../errors.js';
import { nonFiniteMessage } from '../util/finite.js';
import { Graph } from '../nn/graph.js';
import { Add, AvgPool2d, BatchNorm2d, ChannelSelection, Concat, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU, ReLU6, type Layer } from '../nn/layers.js';
import { Model, type ModelMeta, type StateValues } from '../nn/model.js';
import { datasetLabelMeta, pickLabelMeta, readLabelMetadata } from '../nn/labels.js';

/** Where in the ONNX graph an import error is: the node's name, op type and position. */
export interface OnnxNodeRef {
  name: string;
  opType: string;
  /** Position of the node in the file's node list (0-based). */
  index: number;
}

/**
 * An ONNX file netslim cannot import: malformed bytes, an unsupported op or attribute, a weight
 * that is not a constant, a second input. `node` says where, when a node is to blame.
 *
 * @example
 * ```ts
 * import { init, importOnnx, OnnxImportError } from 'netslim/node';
 *
 * const ctx = await init();
 * try {
 *   await importOnnx(ctx, new Uint8Array([1, 2, 3]), { fileName: 'broken.onnx' });
 * } catch (e) {
 *   if (e instanceof OnnxImportError) console.log(e.message); // broken.onnx: not an ONNX model …
 * }
 * ctx.destroy();
 * ```
 */
export class OnnxImportError extends NetslimError {
  override name = 'OnnxImportError';
  constructor(
    message: string,
    readonly node?: OnnxNodeRef,
  ) {
    super(message);
  }
}

/** The oldest ai.onnx opset imported (Clip takes its bounds as inputs from 11 on, as PyTorch exports them). */
export const ONNX_IMPORT_MIN_OPSET = 11;
/** The newest ai.onnx opset imported: every op read keeps the semantics read here up to it. */
export const ONNX_IMPORT_MAX_OPSET = 21;

/** The ops `importOnnx` reads (folded ones included). */
export const ONNX_IMPORT_OPS = [
  'Conv', 'BatchNormalization', 'Relu', 'Clip', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'ReduceMean', 'Gemm', 'MatMul', 'Add',
  'Flatten', 'Reshape', 'Concat', 'Identity', 'Dropout', 'Constant', 'Shape', 'Gather', 'Unsqueeze', 'Transpose',
] as const;

/** Options of {@link readOnnx} and {@link importOnnx}. */
export interface OnnxImportOptions {
  /** The file's name in messages (default `model.onnx`). */
  fileName?: string;
  /**
   * Input [C, H, W] to size the graph with when the ONNX input's height and width are dynamic
   * (default [C, 32, 32]); a fixed ONNX input must agree with it.
   */
  inputSize?: [number, number, number];
  /**
   * Dataset name for the model's metadata (default: the file's `dataset` metadata_props entry, as
   * netslim's export writes it). A dataset netslim knows also gives the model its class names and
   * input mean/std where the file's metadata_props (`class_names`, `mean`, `std`) do not.
   */
  dataset?: string;
}

/** A parameter whose ONNX initializer did not carry a module path, and the name it was given. */
export interface OnnxRenamed {
  /** The initializer's name in the ONNX file. */
  onnx: string;
  /** The state_dict name in netslim. */
  name: string;
  /** Where the name came from. */
  from: string;
}

/** What {@link readOnnx} found: the graph, its weights on the host, and how it was read. */
export interface OnnxImport {
  graph: Graph;
  meta: ModelMeta;
  state: StateValues;
  /** The input size the graph was sized with ([C, H, W]); `fixed` when the ONNX input fixes H and W. */
  inputSize: [number, number, number];
  fixed: boolean;
  opset: number;
  /** `producer_name producer_version` of the file. */
  producer: string;
  renamed: OnnxRenamed[];
  /** ONNX nodes that became no layer (Identity, inference Dropout, shape arithmetic, Constant). */
  folded: number;
}

// TensorProto.DataType values (onnx.proto).
const DT = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;
const DT_NAME: Record<number, string> = { 1: 'FLOAT', 2: 'UINT8', 3: 'INT8', 5: 'INT16', 6: 'INT32', 7: 'INT64', 9: 'BOOL', 10: 'FLOAT16', 11: 'DOUBLE', 16: 'BFLOAT16' };
/** Largest tensor accepted (elements): 2^28 floats is 1 GiB, past anything a browser can hold twice. */
const MAX_ELEMENTS = 2 ** 28;

type Long = { toNumber(): number };

const num = (v: number | Long | null | undefined): number => (v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber());

/** A constant tensor: an initializer or a Constant node's value. */
interface Const {
  name: string;
  dims: number[];
  /** Float data (FLOAT or DOUBLE tensors), or integers (INT32/INT64) as numbers. */
  f32: Float32Array | null;
  ints: number[] | null;
}

/** What an ONNX value is while the graph is read. */
type Value =
  | { kind: 'node'; id: number }
  | { kind: 'const'; c: Const }
  /** A small integer vector computed from shapes and constants: numbers, or 'N' for the batch. */
  | { kind: 'ints'; v: (number | string)[]; scalar: boolean }
  /** A MatMul by a constant, waiting for the Add of its bias. */
  | { kind: 'matmul'; input: number; w: Const; at: OnnxNodeRef };

function tensorOf(t: onnx.ITensorProto, file: string, where: string): Const {
  const name = t.name ?? '';
  const dims = (t.dims ?? []).map(num);
  if (dims.some((d) => !(Number.isInteger(d) && d >= 0))) throw new OnnxImportError(`${file}: ${where} ${JSON.stringify(name)} has dims [${dims.join(', ')}]: not non-negative integers`);
  const n = dims.reduce((a, b) => a * b, 1);
  if (n > MAX_ELEMENTS) throw new OnnxImportError(`${file}: ${where} ${JSON.stringify(name)} has dims [${dims.join(', ')}]: ${n} elements, over the ${MAX_ELEMENTS} netslim reads`);
  if (t.dataLocation === 1) throw new OnnxImportError(`${file}: ${where} ${JSON.stringify(name)} is stored as external data, which netslim does not read (export into one file)`);
  const type = t.dataType ?? 0;
  const raw = t.rawData && t.rawData.byteLength ? t.rawData : null;
  const sizeOf: Record<number, number> = { [DT.FLOAT]: 4, [DT.INT32]: 4, [DT.INT64]: 8, [DT.BOOL]: 1, [DT.DOUBLE]: 8 };
  if (!(type in sizeOf)) throw new OnnxImportError(`${file}: ${where} ${JSON.stringify(name)} has data type ${DT_NAME[type] ?? type}; netslim reads FLOAT weights and INT32/INT64/BOOL/DOUBLE constants`);
  if (raw && raw.byteLength !== n * sizeOf[type]!) {
    throw new OnnxImportError(`${file}: ${where} ${JSON.stringify(name)} has ${raw.byteLength} bytes of data for dims [${dims.join(', ')}] of ${DT_NAME[type]} (${n * sizeOf[type]!} expected)`);
  }
  // raw_data is little-endian; a copy aligns it.
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  const count = (len: number) => {
    if (len !== n) throw new OnnxImportError(`${file}: ${where} ${JSON.stringify(name)} has ${len} values for dims [${dims.join(', ')}] (${n} expected)`);
  };
  if (type === DT.FLOAT || type === DT.DOUBLE) {
    let f32: Float32Array;
    if (view) {
      f32 = new Float32Array(n);
      for (let i = 0; i < n; i++) f32[i] = type === DT.FLOAT ? view.getFloat32(i * 4, true) : view.getFloat64(i * 8, true);
    } else {
      const src = type === DT.FLOAT ? (t.floatData ?? []) : (t.doubleData ?? []);
      count(src.length);
      f32 = Float32Array.from(src);
    }
    return { name, dims, f32, ints: null };
  }
  let ints: number[];
  if (view) {
    ints = Array.from({ length: n }, (_, i) => (type === DT.INT64 ? Number(view.getBigInt64(i * 8, true)) : type === DT.BOOL ? view.getUint8(i) : view.getInt32(i * 4, true)));
  } else {
    ints = type === DT.INT64 ? (t.int64Data ?? []).map(num) : [...(t.int32Data ?? [])]; // BOOL values are stored in int32_data
    count(ints.length);
  }
  return { name, dims, f32: null, ints };
}

/** Attributes of a node by name, with typed getters that name the node on a wrong type. */
function attributes(node: onnx.INodeProto, ref: OnnxNodeRef, file: string) {
  const byName = new Map<string, onnx.IAttributeProto>();
  for (const a of node.attribute ?? []) byName.set(a.name ?? '', a);
  const err = (name: string, what: string) => new OnnxImportError(`${file}: ${at(ref)}: attribute ${name} ${what}`, ref);
  return {
    has: (name: string) => byName.has(name),
    int(name: string, fallback: number): number {
      const a = byName.get(name);
      if (!a) return fallback;
      if (a.type !== 2) throw err(name, 'is not an INT');
      return num(a.i);
    },
    float(name: string, fallback: number): number {
      const a = byName.get(name);
      if (!a) return fallback;
      if (a.type !== 1) throw err(name, 'is not a FLOAT');
      return a.f ?? 0;
    },
    ints(name: string): number[] | null {
      const a = byName.get(name);
      if (!a) return null;
      if (a.type !== 7) throw err(name, 'is not INTS');
      return (a.ints ?? []).map(num);
    },
    string(name: string, fallback: string): string {
      const a = byName.get(name);
      if (!a) return fallback;
      if (a.type !== 3) throw err(name, 'is not a STRING');
      return new TextDecoder().decode(a.s ?? new Uint8Array());
    },
    tensor(name: string): onnx.ITensorProto | null {
      const a = byName.get(name);
      return a && a.type === 4 ? (a.t ?? null) : null;
    },
    names: () => [...byName.keys()],
  };
}

function at(ref: OnnxNodeRef): string {
  return `node ${ref.index} ${JSON.stringify(ref.name)} (${ref.opType})`;
}

/** The state_dict prefix of a parameter named `prefix.key`, or null when the name is not such a path. */
function modulePrefix(tensor: string, key: string): string | null {
  if (!tensor.endsWith(`.${key}`)) return null;
  const p = tensor.slice(0, -key.length - 1);
  return /^[A-Za-z_][\w.]*$/.test(p) && !p.startsWith('onnx') ? p : null;
}

/**
 * Reads an ONNX model into a netslim graph and host-side weights, without a GPU (the CLI checks a
 * file this way before it starts one). Throws an {@link OnnxImportError} naming the node, attribute
 * or tensor it cannot take.
 *
 * @example
 * ```ts
 * import { init, models, exportOnnx, readOnnx } from 'netslim/node';
 *
 * const ctx = await init();
 * const bytes = await exportOnnx(models.vgg(ctx, { cfg: [8, 'M', 16] }));
 * const read = await readOnnx(bytes, { fileName: 'vgg.onnx' });
 * console.log(read.graph.layers().map((l) => l.kind).join(' ')); // Input Conv2d BatchNorm2d ReLU MaxPool2d …
 * ctx.destroy();
 * ```
 */
export async function readOnnx(bytes: Uint8Array, options: OnnxImportOptions = {}): Promise<OnnxImport> {
  const file = options.fileName ?? 'model.onnx';
  const proto = await loadOnnxProto((m) => new OnnxImportError(m));
  let model: onnx.ModelProto;
  try {
    model = proto.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxImportError(`${file}: not an ONNX model (${(e as Error).message}; ${bytes.byteLength} bytes)`);
  }
  const g = model.graph;
  if (!g || !(g.node ?? []).length) throw new OnnxImportError(`${file}: not an ONNX model (no graph with nodes in ${bytes.byteLength} bytes)`);

  // Opset of the default domain.
  const opsets = (model.opsetImport ?? []).filter((o) => !o.domain || o.domain === 'ai.onnx');
  if (opsets.length !== 1) throw new OnnxImportError(`${file}: ${opsets.length ? 'several' : 'no'} ai.onnx opset imports (one expected)`);
  const opset = num(opsets[0]!.version);
  if (!(opset >= ONNX_IMPORT_MIN_OPSET && opset <= ONNX_IMPORT_MAX_OPSET)) {
    throw new OnnxImportError(`${file}: opset ${opset} is not supported (netslim imports opsets ${ONNX_IMPORT_MIN_OPSET} to ${ONNX_IMPORT_MAX_OPSET}; PyTorch: torch.onnx.export(..., opset_version=17))`);
  }

  // Initializers, then the one real input.
  const consts = new Map<string, Const>();
  for (const t of g.initializer ?? []) {
    const c = tensorOf(t, file, 'initializer');
    if (!c.name) throw new OnnxImportError(`${file}: an initializer has no name`);
    if (consts.has(c.name)) throw new OnnxImportError(`${file}: two initializers are named ${JSON.stringify(c.name)}`);
    consts.set(c.name, c);
  }
  const inputs = (g.input ?? []).filter((i) => !consts.has(i.name ?? ''));
  if (inputs.length !== 1) {
    throw new OnnxImportError(`${file}: the graph has ${inputs.length} inputs (${inputs.map((i) => JSON.stringify(i.name)).join(', ') || 'none'}); netslim imports a network with one image input`);
  }
  const input = inputs[0]!;
  const inName = input.name ?? '';
  const tt = input.type?.tensorType;
  if (!tt || (tt.elemType ?? 0) !== DT.FLOAT) throw new OnnxImportError(`${file}: input ${JSON.stringify(inName)} is not a FLOAT tensor (${tt ? (DT_NAME[tt.elemType ?? 0] ?? tt.elemType) : 'no tensor type'})`);
  const dims = (tt.shape?.dim ?? []).map((d) => (d.dimValue !== null && d.dimValue !== undefined && num(d.dimValue) > 0 ? num(d.dimValue) : null));
  if (dims.length !== 4) throw new OnnxImportError(`${file}: input ${JSON.stringify(inName)} has rank ${dims.length}; netslim imports image networks with input [N, C, H, W]`);
  const channels = dims[1];
  if (channels === null || channels === undefined) throw new OnnxImportError(`${file}: input ${JSON.stringify(inName)} has a dynamic channel count; export with a fixed one`);
  const fixed = dims[2] !== null && dims[3] !== null;
  let inputSize: [number, number, number];
  if (fixed) {
    inputSize = [channels, dims[2]!, dims[3]!];
    if (options.inputSize && options.inputSize.join() !== inputSize.join()) {
      throw new OnnxImportError(`${file}: input size [${options.inputSize.join(', ')}] was asked for, the ONNX input is fixed at [${inputSize.join(', ')}]`);
    }
  } else {
    inputSize = options.inputSize ?? [channels, 32, 32];
    if (inputSize[0] !== channels) throw new OnnxImportError(`${file}: input size [${inputSize.join(', ')}] has ${inputSize[0]} channels, the ONNX input takes ${channels}`);
  }

  // Nodes: check each reads what exists, then order them (the file should be sorted; a cycle is an error).
  const nodes = g.node ?? [];
  const refs: OnnxNodeRef[] = nodes.map((n, index) => ({ name: n.name ?? '', opType: n.opType ?? '', index }));
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) {
      if (!o) continue;
      if (producer.has(o) || consts.has(o) || o === inName) throw new OnnxImportError(`${file}: ${at(refs[i]!)} writes ${JSON.stringify(o)}, which is already defined`, refs[i]);
      producer.set(o, i);
    }
  });
  const outputs = (g.output ?? []).map((o) => o.name ?? '');
  if (outputs.length !== 1) throw new OnnxImportError(`${file}: the graph has ${outputs.length} outputs; netslim imports a classifier with one output`);
  const outName = outputs[0]!;
  if (!producer.has(outName)) throw new OnnxImportError(`${file}: the graph's output ${JSON.stringify(outName)} is written by no node`);
  // Only the nodes the output depends on (training-mode BatchNorm's statistics outputs, dead branches: ignored).
  const needed = new Set<number>();
  const stack = [producer.get(outName)!];
  while (stack.length) {
    const i = stack.pop()!;
    if (needed.has(i)) continue;
    needed.add(i);
    for (const name of nodes[i]!.input ?? []) {
      if (!name) continue;
      const p = producer.get(name);
      if (p !== undefined) stack.push(p);
      else if (!consts.has(name) && name !== inName) {
        throw new OnnxImportError(`${file}: ${at(refs[i]!)} reads ${JSON.stringify(name)}, which no node, initializer or input provides`, refs[i]);
      }
    }
  }
  const order: number[] = [];
  {
    const indegree = new Map<number, number>();
    const dependents = new Map<number, number[]>();
    for (const i of needed) {
      const deps = new Set((nodes[i]!.input ?? []).map((n) => producer.get(n)).filter((p): p is number => p !== undefined));
      indegree.set(i, deps.size);
      for (const d of deps) dependents.set(d, [...(dependents.get(d) ?? []), i]);
    }
    const ready = [...needed].filter((i) => indegree.get(i) === 0).sort((a, b) => a - b);
    while (ready.length) {
      // The lowest file position first: the layers keep the file's order wherever it is valid.
      ready.sort((a, b) => a - b);
      const i = ready.shift()!;
      order.push(i);
      for (const d of dependents.get(i) ?? []) {
        indegree.set(d, indegree.get(d)! - 1);
        if (indegree.get(d) === 0) ready.push(d);
      }
    }
    if (order.length !== needed.size) {
      const stuck = [...needed].filter((i) => indegree.get(i)! > 0).sort((a, b) => a - b);
      throw new OnnxImportError(`${file}: the graph has a cycle through ${stuck.slice(0, 3).map((i) => at(refs[i]!)).join(', ')}${stuck.length > 3 ? ` and ${stuck.length - 3} more` : ''}`, refs[stuck[0]!]);
    }
  }
  for (const i of order) {
    const op = refs[i]!.opType;
    if (!(ONNX_IMPORT_OPS as readonly string[]).includes(op) || (nodes[i]!.domain && nodes[i]!.domain !== 'ai.onnx')) {
      throw new OnnxImportError(`${file}: ${at(refs[i]!)}: op ${nodes[i]!.domain ? `${nodes[i]!.domain}.` : ''}${op} is not supported (netslim imports ${ONNX_IMPORT_OPS.join(', ')})`, refs[i]);
    }
  }

  const reader = new GraphReader(file, channels, inputSize, consts, opset);
  reader.values.set(inName, { kind: 'node', id: 0 });
  for (const i of order) reader.node(nodes[i]!, refs[i]!);
  const out = reader.values.get(outName)!;
  if (out.kind !== 'node' || out.id === 0) throw new OnnxImportError(`${file}: the graph's output ${JSON.stringify(outName)} is ${out.kind === 'node' ? 'the input itself' : 'a constant'}`);
  const graph = reader.graph;
  if (out.id !== graph.output) throw new OnnxImportError(`${file}: the graph's output ${JSON.stringify(outName)} is not its last layer`);
  const shapes = reader.shapes();
  const outShape = shapes[graph.output]!;
  if (outShape.length !== 2) throw new OnnxImportError(`${file}: the output ${JSON.stringify(outName)} has shape [${outShape.join(', ')}] for one image; netslim imports classifiers with output [N, classes]`);

  // PyTorch's default eval-mode export folds BatchNorm into the convs: nothing is left to slim.
  const layers = graph.layers();
  if (!layers.some((l) => l instanceof BatchNorm2d) && layers.some((l) => l instanceof Conv2d && l.hasBias)) {
    throw new OnnxImportError(
      `${file}: no BatchNormalization, and the convs have biases: the BatchNorms were folded into the convs (PyTorch's default eval-mode export), ` +
        'so there is nothing to slim and the parameter names are lost. Export with the model in eval mode and ' +
        'torch.onnx.export(model, x, path, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False), which keeps BatchNormalization and the names',
    );
  }

  const bad = nonFiniteMessage(reader.state);
  if (bad) throw new OnnxImportError(`${file}: ${bad.message}`);

  const numClasses = outShape[1]!;
  // What netslim's export records beside the graph: the dataset, class names, input normalisation.
  const props: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) if (p.key) props[p.key] = p.value ?? '';
  const dataset = options.dataset ?? (props.dataset || undefined);
  const labels = readLabelMetadata(
    props,
    numClasses,
    channels,
    (detail) => {
      throw new OnnxImportError(`${file}: ${detail}`);
    },
    'metadata_props',
  );
  // A dataset netslim knows gives what the file does not say (its class names, its mean/std).
  const known = datasetLabelMeta(dataset, numClasses, channels);
  const meta: ModelMeta = {
    arch: 'custom',
    numClasses,
    inChannels: channels,
    ...(dataset ? { dataset } : {}),
    ...pickLabelMeta({ classNames: labels.classNames ?? known.classNames, ...(labels.mean ? { mean: labels.mean, std: labels.std } : { mean: known.mean, std: known.std }) }),
    ...(fixed && inputSize[1] === inputSize[2] && inputSize[1] !== 32 ? { inputSize: inputSize[1] } : {}),
  };
  const prod = [model.producerName, model.producerVersion].filter(Boolean).join(' ');
  return { graph, meta, state: reader.state, inputSize, fixed, opset, producer: prod, renamed: reader.renamed, folded: reader.folded };
}

/**
 * Imports an ONNX model onto `ctx`: {@link readOnnx}, then the weights uploaded. The model trains,
 * prunes, saves (`saveModel`, the graph in its metadata) and exports like any other.
 *
 * @example
 * ```ts
 * import { init, models, exportOnnx, importOnnx } from 'netslim/node';
 *
 * const ctx = await init();
 * const original = models.resnet(ctx, { depth: 11 });
 * const model = await importOnnx(ctx, await exportOnnx(original), { fileName: 'resnet11.onnx' });
 * const x = ctx.tensor([1, 3, 32, 32], new Float32Array(3 * 32 * 32).fill(0.5));
 * console.log(await ctx.readF32(model.forward(x, false))); // the original's logits
 * ctx.destroy();
 * ```
 */
export async function importOnnx(ctx: Context, bytes: Uint8Array, options: OnnxImportOptions = {}): Promise<Model> {
  const read = await readOnnx(bytes, options);
  const model = new Model(ctx, read.graph, read.meta);
  try {
    model.loadStateDict(read.state, options.fileName ?? 'model.onnx');
  } catch (e) {
    model.destroy();
    throw e;
  }
  return model;
}

/** Walks ONNX nodes in order, adding layers to a graph and their weights to a state dict. */
class GraphReader {
  readonly graph: Graph;
  readonly values = new Map<string, Value>();
  readonly state: StateValues = new Map();
  readonly renamed: OnnxRenamed[] = [];
  folded = 0;
  #names = new Set<string>();
  #used = new Set<string>();
  #counters = new Map<string, number>();
  #shapes: number[][];

  constructor(
    readonly file: string,
    channels: number,
    readonly inputSize: [number, number, number],
    readonly consts: Map<string, Const>,
    readonly opset: number,
  ) {
    this.graph = new Graph(channels);
    this.#shapes = [this.#shapeOf(this.graph.nodes[0]!.layer, [[1, ...inputSize]])];
    for (const [name, c] of consts) this.values.set(name, { kind: 'const', c });
  }

  /** Shapes of every graph node for one image of the input size, kept as nodes are added. */
  shapes(): readonly number[][] {
    return this.#shapes;
  }

  /** The output shape of `layer` on `inputs` (node ids); a misfit is an OnnxImportError naming the layer. */
  #shapeOf(layer: Layer, inputShapes: number[][]): number[] {
    try {
      return layer.outputShape(inputShapes);
    } catch (e) {
      if (e instanceof ShapeError) {
        throw new OnnxImportError(`${this.file}: the network does not take [${this.inputSize.join(', ')}] images: ${e.message} (give the input size the model was made for)`);
      }
      throw e;
    }
  }

  #add(layer: Layer, ...inputs: number[]): number {
    if (layer.name) {
      if (this.#names.has(layer.name)) throw new OnnxImportError(`${this.file}: two layers would be named ${JSON.stringify(layer.name)}`);
      this.#names.add(layer.name);
    }
    const shape = this.#shapeOf(layer, inputs.map((i) => this.#shapes[i]!));
    const id = this.graph.add(layer, ...inputs);
    this.#shapes.push(shape);
    return id;
  }

  /**
   * The module path of a node's scope as PyTorch's exporter writes node names: each module by its
   * attribute, or by its path from the enclosing Sequential's attribute (`/layer2/layer2.0/conv1/Conv`
   * → `layer2.0.conv1`, `/features/features.1/conv/conv.0/conv.0.1/BatchNormalization` →
   * `features.1.conv.0.1`); '' for other names.
   */
  static scopePath(nodeName: string): string {
    const parts = nodeName.startsWith('/') ? nodeName.split('/').filter(Boolean).slice(0, -1) : [];
    // A segment that extends the previous one (`conv` → `conv.0`) is that module's child under a
    // Sequential and replaces it; any other segment is an attribute of the module before it.
    const path: string[] = [];
    for (const seg of parts) {
      if (path.length && seg.startsWith(`${path[path.length - 1]}.`)) path[path.length - 1] = seg;
      else path.push(seg);
    }
    const scope = path.join('.');
    return /^[A-Za-z_][\w.]*$/.test(scope) ? scope : '';
  }

  /**
   * A layer's name: the module path its parameters' initializers name (`layer1.0.conv1.weight` →
   * `layer1.0.conv1`) unless another layer has it already — PyTorch's exporter merges
   * initializers of equal values, so a fresh BatchNorm's running_var may be stored under another
   * layer's weight — preferring the one that agrees with the node's scope; else the node's scope;
   * else the op and a counter (`dropout_0`). `source` says which.
   */
  #layerName(ref: OnnxNodeRef, candidates: [Const | null, string][], source: (s: string) => void): string {
    const scope = GraphReader.scopePath(ref.name);
    const named = candidates
      .map(([c, key]) => ({ c, p: c ? modulePrefix(c.name, key) : null }))
      .filter((x): x is { c: Const; p: string } => x.p !== null && !this.#names.has(x.p));
    const pick = named.find((x) => x.p === scope) ?? named[0];
    if (pick) {
      source(`initializer ${pick.c.name}`);
      return pick.p;
    }
    if (scope && !this.#names.has(scope)) {
      source(`node name ${ref.name}`);
      return scope;
    }
    const base = ref.opType.toLowerCase();
    let k = this.#counters.get(base) ?? 0;
    while (this.#names.has(`${base}_${k}`)) k++;
    this.#counters.set(base, k + 1);
    source(`op ${ref.opType} and its position`);
    return `${base}_${k}`;
  }

  node(n: onnx.INodeProto, ref: OnnxNodeRef): void {
    const file = this.file;
    const fail = (what: string): never => {
      throw new OnnxImportError(`${file}: ${at(ref)}: ${what}`, ref);
    };
    const a = attributes(n, ref, file);
    const ins = n.input ?? [];
    const value = (k: number): Value | null => {
      const name = ins[k];
      if (!name) return null;
      return this.values.get(name)!;
    };
    const act = (k: number): number => {
      const v = value(k);
      if (!v) fail(`input ${k} is missing`);
      if (v!.kind === 'node') return v!.id;
      if (v!.kind === 'matmul') fail(`reads the MatMul at ${at(v!.at)}, which netslim imports only when an Add of a bias follows it`);
      return fail(`input ${k} (${JSON.stringify(ins[k])}) must be computed from the image, but is a constant`);
    };
    const constant = (k: number, what: string): Const => {
      const v = value(k);
      if (!v) fail(`${what} (input ${k}) is missing`);
      if (v!.kind !== 'const') fail(`${what} (input ${k}, ${JSON.stringify(ins[k])}) is not a constant: netslim imports weights stored as initializers`);
      return (v as { c: Const }).c;
    };
    const intsOf = (k: number, what: string): (number | string)[] => {
      const v = value(k);
      if (v?.kind === 'ints') return v.v;
      if (v?.kind === 'const' && v.c.ints) return v.c.ints;
      if (v?.kind === 'const' && v.c.f32 && v.c.f32.every((x) => Number.isInteger(x))) return [...v.c.f32];
      return fail(`${what} (input ${k}) is not a constant integer vector`);
    };
    const scalarOf = (k: number, what: string): number | null => {
      if (!ins[k]) return null;
      const iv = value(k);
      if (iv?.kind === 'ints') {
        if (iv.v.length !== 1 || typeof iv.v[0] !== 'number') fail(`${what} must be a constant scalar`);
        return iv.v[0] as number;
      }
      const c = constant(k, what);
      const v = c.f32 ? c.f32 : c.ints;
      if (!v || v.length !== 1) fail(`${what} must be a scalar`);
      return v![0]!;
    };
    const output = (v: Value): void => {
      this.values.set((n.output ?? [])[0]!, v);
    };
    const emit = (layer: Layer, ...inputs: number[]): void => output({ kind: 'node', id: this.#add(layer, ...inputs) });
    const alias = (k: number): void => {
      this.folded++;
      output({ kind: 'node', id: act(k) });
    };
    const param = (layerName: string, key: string, c: Const, shape: number[], data?: Float32Array): void => {
      const full = `${layerName}.${key}`;
      // An initializer read by several layers (tied weights, or equal values the exporter merged)
      // gives each its own copy, as PyTorch's state_dict lists a tied parameter under each name.
      const values = data ?? (this.#used.has(c.name) ? c.f32?.slice() : c.f32);
      this.#used.add(c.name);
      if (!values) fail(`${key} ${JSON.stringify(c.name)} is an integer tensor, not FLOAT`);
      const count = shape.reduce((x, y) => x * y, 1);
      if (values!.length !== count) fail(`${key} ${JSON.stringify(c.name)} has dims [${c.dims.join(', ')}], expected ${count} values as [${shape.join(', ')}]`);
      this.state.set(full, { shape, data: values! });
      if (c.name !== full) this.renamed.push({ onnx: c.name, name: full, from: nameSource });
    };
    // Where the current layer's name came from (for `renamed`).
    let nameSource = '';
    /** A layer's name from its parameters' initializer names in order of preference, else the node's scope, else op and position. */
    const nameFrom = (candidates: [Const | null, string][]): string => this.#layerName(ref, candidates, (src) => (nameSource = src));
    const square = (name: string, v: number[] | null, fallback: number, len = 2): number => {
      if (!v) return fallback;
      if (v.length !== len || v.some((x) => x !== v[0])) fail(`${name} [${v.join(', ')}] is not supported (netslim takes equal values on every side)`);
      return v[0]!;
    };
    const noDilation = () => {
      const d = a.ints('dilations');
      if (d && d.some((x) => x !== 1)) fail(`dilations [${d.join(', ')}] are not supported (dilation 1 only)`);
    };
    const noAutoPad = () => {
      const p = a.string('auto_pad', 'NOTSET');
      if (p !== 'NOTSET' && p !== 'VALID') fail(`auto_pad ${p} is not supported (give explicit pads)`);
    };

    switch (ref.opType) {
      case 'Conv': {
        const x = act(0);
        const w = constant(1, 'weight');
        const b = ins[2] ? constant(2, 'bias') : null;
        if (w.dims.length !== 4) fail(`weight ${JSON.stringify(w.name)} has dims [${w.dims.join(', ')}]; netslim imports 2-D convolutions`);
        noDilation();
        noAutoPad();
        const [out, inPerGroup, kh, kw] = w.dims as [number, number, number, number];
        if (kh !== kw) fail(`kernel ${kh}×${kw} is not supported (square kernels only)`);
        const group = a.int('group', 1);
        const stride = square('strides', a.ints('strides'), 1);
        const pad = square('pads', a.ints('pads'), 0, 4);
        const xc = this.shapes()[x]![1];
        if (xc !== inPerGroup * group || out % group !== 0) fail(`weight [${w.dims.join(', ')}] with group ${group} does not fit its input's ${xc} channels`);
        const name = nameFrom([[w, 'weight'], [b, 'bias']]);
        const layer = new Conv2d(name, { inChannels: inPerGroup * group, outChannels: out, kernel: kh, stride, padding: pad, groups: group, bias: b !== null });
        param(name, 'weight', w, [...w.dims]);
        if (b) param(name, 'bias', b, [out]);
        emit(layer, x);
        return;
      }
      case 'BatchNormalization': {
        const x = act(0);
        const [scale, bias, mean, vr] = [1, 2, 3, 4].map((k, i) => constant(k, ['scale', 'B', 'input_mean', 'input_var'][i]!));
        const c = scale!.dims[0] ?? 0;
        for (const t of [scale, bias, mean, vr]) if (t!.dims.length !== 1 || t!.dims[0] !== c) fail(`${JSON.stringify(t!.name)} has dims [${t!.dims.join(', ')}], expected [${c}]`);
        const round = (v: number) => Number(Math.fround(v).toPrecision(6));
        const eps = round(a.float('epsilon', 1e-5));
        const momentum = round(1 - a.float('momentum', 0.9));
        const name = nameFrom([[scale!, 'weight'], [bias!, 'bias'], [mean!, 'running_mean'], [vr!, 'running_var']]);
        const layer = new BatchNorm2d(name, c, eps, momentum);
        param(name, 'weight', scale!, [c]);
        param(name, 'bias', bias!, [c]);
        param(name, 'running_mean', mean!, [c]);
        param(name, 'running_var', vr!, [c]);
        this.state.set(`${name}.num_batches_tracked`, { shape: [], data: BigInt64Array.of(0n) });
        emit(layer, x);
        return;
      }
      case 'Relu':
        emit(new ReLU(''), act(0));
        return;
      case 'Clip': {
        const x = act(0);
        const lo = scalarOf(1, 'min');
        const hi = scalarOf(2, 'max');
        if (lo === 0 && hi === 6) emit(new ReLU6(''), x);
        else if (lo === 0 && (hi === null || hi === Infinity)) emit(new ReLU(''), x);
        else fail(`Clip(${lo ?? '−∞'}, ${hi ?? '∞'}) is not supported (Clip(0, 6) as ReLU6 and Clip(0, ∞) as ReLU)`);
        return;
      }
      case 'MaxPool':
      case 'AveragePool': {
        const x = act(0);
        noAutoPad();
        noDilation();
        if (a.int('ceil_mode', 0) !== 0) fail('ceil_mode 1 is not supported (floor mode only)');
        if ((n.output ?? []).filter(Boolean).length > 1) fail('the indices output is not supported');
        const k = square('kernel_shape', a.ints('kernel_shape'), -1);
        if (k < 1) fail('kernel_shape is missing');
        const stride = square('strides', a.ints('strides'), 1);
        const pad = square('pads', a.ints('pads'), 0, 4);
        if (ref.opType === 'AveragePool' && pad > 0 && a.int('count_include_pad', 0) !== 1) {
          fail('padding with count_include_pad 0 is not supported (netslim averages over the padded window, as PyTorch does by default)');
        }
        const config = { kernel: k, stride, padding: pad };
        emit(ref.opType === 'MaxPool' ? new MaxPool2d('', config) : new AvgPool2d('', config), x);
        return;
      }
      case 'GlobalAveragePool':
        emit(new GlobalAvgPool2d(''), act(0));
        return;
      case 'ReduceMean': {
        const x = act(0);
        const rank = this.shapes()[x]!.length;
        const axes = (this.opset >= 18 ? (ins[1] ? intsOf(1, 'axes') : null) : a.ints('axes')) ?? [];
        const norm = axes.map((v) => (typeof v === 'number' && v < 0 ? v + rank : v)).sort();
        if (rank !== 4 || norm.join() !== '2,3') fail(`ReduceMean over axes [${axes.join(', ')}] of a rank-${rank} tensor is not supported (over H and W, axes [2, 3], only)`);
        const id = this.#add(new GlobalAvgPool2d(''), x);
        output({ kind: 'node', id: a.int('keepdims', 1) ? id : this.#add(new Flatten(''), id) });
        return;
      }
      case 'Gemm': {
        const x = act(0);
        if (a.int('transA', 0) !== 0) fail('transA 1 is not supported');
        if (a.float('alpha', 1) !== 1 || a.float('beta', 1) !== 1) fail(`alpha ${a.float('alpha', 1)} and beta ${a.float('beta', 1)} are not supported (1 and 1, as nn.Linear exports)`);
        const w = constant(1, 'B');
        if (!ins[2]) fail('a Gemm without C (nn.Linear(bias=False)) is not supported: netslim\'s Linear has a bias');
        const b = constant(2, 'C');
        if (w.dims.length !== 2) fail(`B ${JSON.stringify(w.name)} has dims [${w.dims.join(', ')}], expected 2-D`);
        const transB = a.int('transB', 0) === 1;
        const [out, inF] = transB ? [w.dims[0]!, w.dims[1]!] : [w.dims[1]!, w.dims[0]!];
        const name = nameFrom([[w, 'weight'], [b, 'bias']]);
        param(name, 'weight', w, [out, inF], transB ? undefined : transpose(w, fail));
        this.#linearBias(name, b, out, fail, param);
        emit(new Linear(name, inF, out), x);
        return;
      }
      case 'MatMul': {
        const x = act(0);
        const w = constant(1, 'B');
        if (w.dims.length !== 2) fail(`B ${JSON.stringify(w.name)} has dims [${w.dims.join(', ')}], expected 2-D`);
        this.folded++;
        output({ kind: 'matmul', input: x, w, at: ref });
        return;
      }
      case 'Add': {
        const [u, v] = [value(0), value(1)];
        const mm = u?.kind === 'matmul' ? u : v?.kind === 'matmul' ? v : null;
        if (mm) {
          const b = constant(u === mm ? 1 : 0, 'bias');
          const [inF, out] = mm.w.dims as [number, number];
          const name = nameFrom([[b, 'bias'], [mm.w, 'weight']]);
          param(name, 'weight', mm.w, [out, inF], transpose(mm.w, fail));
          this.#linearBias(name, b, out, fail, param);
          emit(new Linear(name, inF, out), mm.input);
          return;
        }
        emit(new Add(''), act(0), act(1));
        return;
      }
      case 'Flatten': {
        const x = act(0);
        const rank = this.shapes()[x]!.length;
        const axis = a.int('axis', 1);
        if (axis !== 1 && axis !== 1 - rank) fail(`axis ${axis} is not supported (axis 1 only)`);
        emit(new Flatten(''), x);
        return;
      }
      case 'Reshape': {
        const x = act(0);
        const target = intsOf(1, 'shape');
        const shape = this.shapes()[x]!;
        const features = shape.slice(1).reduce((p, q) => p * q, 1);
        const batchLike = (d: number | string) => d === 'N' || d === 0 || d === -1;
        const ok = target.length === 2 && batchLike(target[0]!) && (target[1] === -1 || target[1] === features) && !(target[0] === -1 && target[1] === -1);
        if (!ok) fail(`reshape to [${target.join(', ')}] is not supported (to [N, −1] only: a flatten of [${shape.slice(1).join(', ')}])`);
        if (shape.length === 2) alias(0);
        else emit(new Flatten(''), x);
        return;
      }
      case 'Concat': {
        const vs = ins.map((_, k) => value(k));
        if (vs.every((v) => v && (v.kind === 'ints' || (v.kind === 'const' && v.c.ints)))) {
          this.folded++;
          output({ kind: 'ints', v: vs.flatMap((_, k) => intsOf(k, 'operand')), scalar: false });
          return;
        }
        const axis = a.int('axis', 0);
        if (axis !== 1 && axis !== -3) fail(`axis ${axis} is not supported (channels, axis 1, only)`);
        emit(new Concat(''), ...ins.map((_, k) => act(k)));
        return;
      }
      case 'Identity':
        if (value(0)?.kind === 'node') alias(0);
        else {
          this.folded++;
          output(value(0)!);
        }
        return;
      case 'Dropout': {
        const ratio = this.opset >= 12 ? (scalarOf(1, 'ratio') ?? 0.5) : a.float('ratio', 0.5);
        const trainingMode = this.opset >= 12 && ins[2] ? scalarOf(2, 'training_mode') : null;
        if ((n.output ?? []).filter(Boolean).length > 1) fail('the mask output is not supported');
        if (ratio === 0 || trainingMode === 0) {
          alias(0);
          return;
        }
        emit(new Dropout(this.#layerName(ref, [], () => {}), ratio), act(0));
        return;
      }
      case 'Constant': {
        this.folded++;
        const t = a.tensor('value');
        if (t) {
          output({ kind: 'const', c: { ...tensorOf(t, file, `${at(ref)} value`), name: (n.output ?? [])[0]! } });
        } else if (a.has('value_int') || a.has('value_ints')) {
          const v = a.has('value_int') ? [a.int('value_int', 0)] : a.ints('value_ints')!;
          output({ kind: 'ints', v, scalar: a.has('value_int') });
        } else if (a.has('value_float')) {
          output({ kind: 'const', c: { name: (n.output ?? [])[0]!, dims: [], f32: Float32Array.of(a.float('value_float', 0)), ints: null } });
        } else fail(`value ${a.names().join(', ') || '(none)'} is not supported (a tensor, value_int(s) or value_float)`);
        return;
      }
      case 'Transpose': {
        const v = value(0);
        if (v?.kind !== 'const' || !v.c.f32 || v.c.dims.length !== 2) fail('Transpose is supported on constant matrices only (a weight written as W.t())');
        const perm = a.ints('perm') ?? [1, 0];
        if (perm.join() !== '1,0') fail(`perm [${perm.join(', ')}] of a matrix is not supported`);
        const c = (v as { c: Const }).c;
        this.folded++;
        // Keeps the source's name: the weight is that initializer, laid out the other way.
        output({ kind: 'const', c: { name: c.name, dims: [c.dims[1]!, c.dims[0]!], f32: transpose(c, fail), ints: null } });
        return;
      }
      case 'Shape': {
        this.folded++;
        const x = act(0);
        const shape: (number | string)[] = ['N', ...this.shapes()[x]!.slice(1)];
        const rank = shape.length;
        const clampAxis = (v: number) => Math.min(rank, Math.max(0, v < 0 ? v + rank : v));
        const start = clampAxis(a.int('start', 0));
        const end = clampAxis(a.int('end', rank));
        output({ kind: 'ints', v: shape.slice(start, end), scalar: false });
        return;
      }
      case 'Gather': {
        const data = value(0);
        if (data?.kind === 'node') {
          // Channels picked by constant indices (a ChannelSelection, as netslim exports it).
          const x = data.id;
          const shape = this.shapes()[x]!;
          const axis = a.int('axis', 0);
          if (shape.length !== 4 || (axis !== 1 && axis !== -3)) fail(`Gather over axis ${axis} of a rank-${shape.length} tensor is not supported (channels of [N, C, H, W] only)`);
          const idx = constant(1, 'indices');
          const c = shape[1]!;
          if (!idx.ints || idx.dims.length !== 1) fail(`indices ${JSON.stringify(idx.name)} must be a 1-D integer constant`);
          const mask = new Float32Array(c);
          idx.ints!.forEach((v, i) => {
            if (!(v >= 0 && v < c) || (i > 0 && v <= idx.ints![i - 1]!)) fail(`indices ${JSON.stringify(idx.name)} must increase strictly within [0, ${c}) (index ${i} is ${v})`);
            mask[v] = 1;
          });
          if (!idx.ints!.length) fail(`indices ${JSON.stringify(idx.name)} keep no channel`);
          const name = nameFrom([[idx, 'kept']]);
          const layer = new ChannelSelection(name, c);
          layer.setMask(mask);
          this.state.set(`${name}.indexes`, { shape: [c], data: mask });
          emit(layer, x);
          return;
        }
        if (!data || (data.kind !== 'ints' && !(data.kind === 'const' && data.c.ints))) {
          fail('Gather is supported on shapes, integer constants and channels (axis 1, constant indices) only');
        }
        if (a.int('axis', 0) !== 0) fail('axis must be 0 on a shape');
        this.folded++;
        const v = intsOf(0, 'data');
        const idxValue = value(1);
        const idx = intsOf(1, 'indices');
        const pick = idx.map((i) => {
          if (typeof i !== 'number' || i < -v.length || i >= v.length) fail(`index ${i} is outside the ${v.length} values`);
          return v[(i as number) < 0 ? (i as number) + v.length : (i as number)]!;
        });
        const scalar = idxValue?.kind === 'const' ? idxValue.c.dims.length === 0 : idxValue?.kind === 'ints' ? idxValue.scalar : false;
        output({ kind: 'ints', v: pick, scalar });
        return;
      }
      case 'Unsqueeze': {
        const v = value(0);
        if (!v || (v.kind !== 'ints' && !(v.kind === 'const' && v.c.ints))) fail('Unsqueeze is supported on shapes and integer constants only (a Reshape target)');
        const axes = this.opset >= 13 ? intsOf(1, 'axes') : (a.ints('axes') ?? []);
        const scalar = v!.kind === 'ints' ? v!.scalar : (v as { c: Const }).c.dims.length === 0;
        if (!(scalar && axes.length === 1 && (axes[0] === 0 || axes[0] === -1))) fail(`Unsqueeze of a ${scalar ? 'scalar' : 'vector'} over axes [${axes.join(', ')}] is not supported (a scalar to [1] only)`);
        this.folded++;
        output({ kind: 'ints', v: intsOf(0, 'data'), scalar: false });
        return;
      }
      default:
        fail(`op ${ref.opType} is not supported`);
    }
  }

  #linearBias(name: string, b: Const, out: number, fail: (w: string) => never, param: (l: string, k: string, c: Const, s: number[]) => void): void {
    const n = b.dims.reduce((p, q) => p * q, 1);
    if (n !== out || b.dims.length > 2) fail(`bias ${JSON.stringify(b.name)} has dims [${b.dims.join(', ')}], expected [${out}]`);
    param(name, 'bias', b, [out]);
  }
}

/** A constant 2-D matrix transposed (ONNX MatMul / Gemm transB 0 store [in, out]; PyTorch's Linear [out, in]). */
function transpose(c: Const, fail: (w: string) => never): Float32Array {
  if (!c.f32) return fail(`${JSON.stringify(c.name)} is not FLOAT`);
  const [r, k] = c.dims as [number, number];
  const t = new Float32Array(r * k);
  for (let i = 0; i < r; i++) for (let j = 0; j < k; j++) t[j * r + i] = c.f32[i * k + j]!;
  return t;
}
