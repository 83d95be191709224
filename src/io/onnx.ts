/**
 * ONNX export of a model, pruned or not: the graph walked node by node into standard ONNX ops
 * (opset ≥ 13), the weights read back from the GPU into initializers. Browser-safe: the protobuf
 * writer (`onnx-proto`, protobufjs underneath) is imported on first use, so code that never
 * exports never loads it.
 *
 * Mapping (inference semantics, as PyTorch's own exporter writes them):
 * - Conv2d → Conv (kernel, strides, pads from the layer; bias when the layer has one);
 * - BatchNorm2d → BatchNormalization with the running statistics and the layer's eps;
 * - ReLU → Relu; MaxPool2d → MaxPool; AvgPool2d → AveragePool (count_include_pad = 1, PyTorch's
 *   default); Add → Add; Concat → Concat(axis 1); Flatten → Flatten(axis 1);
 * - Linear → Gemm(transB = 1), weight [out, in] as PyTorch stores it;
 * - ChannelSelection → Gather(axis 1) over the kept channels (non-zero `indexes`), INT64.
 * The input is `input` [batch, C, H, W] (batch dynamic unless fixed; H and W dynamic unless an
 * input size is given), the output `logits`.
 */
import type { onnx } from 'onnx-proto';
import { loadOnnxProto } from './onnx-proto.js';
import { NetslimError } from '../errors.js';
import { nonFiniteMessage } from '../util/finite.js';
import type { AvgPool2d, BatchNorm2d, ChannelSelection, Conv2d, Layer, Linear, MaxPool2d } from '../nn/layers.js';
import type { Model, StateValues } from '../nn/model.js';
import { labelMetadata } from '../nn/labels.js';

/**
 * The model cannot be written as ONNX (a layer kind with no mapping, bad options, a state that does not fit).
 *
 * @example
 * ```ts
 * import { init, models, exportOnnx, OnnxExportError } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { cfg: [8, 'M', 16] });
 * try {
 *   await exportOnnx(model, { opset: 9 });
 * } catch (e) {
 *   if (e instanceof OnnxExportError) console.log(e.message); // names the supported opsets
 * }
 * await ctx.sync(); // let queued GPU work finish before destroy()
 * ctx.destroy();
 * ```
 */
export class OnnxExportError extends NetslimError {
  override name = 'OnnxExportError';
}

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /** Input [C, H, W]: fixes H and W in the ONNX input and checks the model accepts them (default: H and W dynamic). */
  inputSize?: [number, number, number];
  /** ai.onnx opset, ONNX_MIN_OPSET…ONNX_MAX_OPSET (default 13). */
  opset?: number;
  /** `'dynamic'` (default) or a fixed batch size. */
  batch?: 'dynamic' | number;
}

/** The exported bytes and what they hold. */
export interface OnnxExport {
  bytes: Uint8Array;
  opset: number;
  irVersion: number;
  /** Number of ONNX nodes in the graph. */
  nodes: number;
  /** Number of initializers (weights, statistics, kept-channel indices). */
  initializers: number;
}

/** The oldest opset written (13: Squeeze and ReduceSum take their axes as inputs from there on). */
export const ONNX_MIN_OPSET = 13;
/** The newest opset written (and checked against onnxruntime): every op used here keeps its float semantics up to it. */
export const ONNX_MAX_OPSET = 23;

/** The oldest IR version that carries `opset` (onnx's helper.VERSION_TABLE). */
function irVersionFor(opset: number): number {
  if (opset <= 14) return 7; // onnx 1.8–1.9
  if (opset <= 18) return 8; // onnx 1.10–1.13
  if (opset <= 20) return 9; // onnx 1.14–1.15
  if (opset <= 22) return 10; // onnx 1.16–1.17
  return 11; // onnx 1.18
}

// TensorProto.DataType and AttributeProto.AttributeType values (onnx.proto).
const FLOAT = 1;
const INT64 = 7;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

function pair(v: number | readonly number[] | undefined, fallback: number): [number, number] {
  if (v === undefined) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  return [v[0]!, v[1]!];
}

function ints(name: string, values: readonly number[]): onnx.IAttributeProto {
  return { name, type: ATTR_INTS, ints: [...values] };
}

function int(name: string, value: number): onnx.IAttributeProto {
  return { name, type: ATTR_INT, i: value };
}

function float(name: string, value: number): onnx.IAttributeProto {
  return { name, type: ATTR_FLOAT, f: value };
}

function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  // ONNX raw_data is little-endian; WebGPU readbacks are in host order, little-endian on every platform with WebGPU.
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function describe(layer: Layer): string {
  return `${layer.kind}${layer.name ? ` ${layer.name}` : ''}`;
}

function checkOptions(model: Model, options: OnnxExportOptions): { opset: number; batch: 'dynamic' | number; inputSize: [number, number, number] | null } {
  const opset = options.opset ?? ONNX_MIN_OPSET;
  if (!(Number.isInteger(opset) && opset >= ONNX_MIN_OPSET && opset <= ONNX_MAX_OPSET)) {
    throw new OnnxExportError(`exportOnnx: opset ${opset} is not supported (use an integer from ${ONNX_MIN_OPSET} to ${ONNX_MAX_OPSET})`);
  }
  const batch = options.batch ?? 'dynamic';
  if (batch !== 'dynamic' && !(Number.isInteger(batch) && batch >= 1)) {
    throw new OnnxExportError(`exportOnnx: batch ${batch} must be 'dynamic' or a positive integer`);
  }
  const size = options.inputSize ?? null;
  if (size) {
    if (!(size.length === 3 && size.every((d) => Number.isInteger(d) && d >= 1))) {
      throw new OnnxExportError(`exportOnnx: input size [${size.join(', ')}] must be three positive integers [C, H, W]`);
    }
    if (size[0] !== model.graph.inChannels) {
      throw new OnnxExportError(`exportOnnx: input size [${size.join(', ')}] has ${size[0]} channels, the ${model.meta.arch} model takes ${model.graph.inChannels}`);
    }
    model.graph.shapes([1, ...size]); // a ShapeError names the first layer the size does not fit
  }
  return { opset, batch, inputSize: size };
}

/**
 * Exports `model` as ONNX and returns the bytes with a summary (opset, node count). The weights
 * are read from the GPU (`model.stateDict()`); the model is not changed.
 */
export async function exportOnnxModel(model: Model, options: OnnxExportOptions = {}): Promise<OnnxExport> {
  const { opset, batch, inputSize } = checkOptions(model, options);
  const g = model.graph;
  // Refuse unknown layers before any GPU readback.
  const known = new Set(['Input', 'Conv2d', 'BatchNorm2d', 'ReLU', 'ReLU6', 'Dropout', 'GlobalAvgPool2d', 'MaxPool2d', 'AvgPool2d', 'Linear', 'ChannelSelection', 'Add', 'Concat', 'Flatten']);
  for (const n of g.nodes) {
    if (!known.has(n.layer.kind)) throw new OnnxExportError(`exportOnnx: no ONNX mapping for layer ${describe(n.layer)} (node ${n.id})`);
  }
  const proto = await loadOnnxProto((m) => new OnnxExportError(m));
  const state: StateValues = await model.stateDict();
  const bad = nonFiniteMessage(state);
  if (bad) throw new OnnxExportError(`exportOnnx: ${bad.message}`);

  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  const f32 = (name: string, expectShape?: readonly number[]): string => {
    const v = state.get(name);
    if (!v || !(v.data instanceof Float32Array)) throw new OnnxExportError(`exportOnnx: state ${name} is missing or not F32`);
    if (expectShape && !(v.shape.length === expectShape.length && v.shape.every((d, i) => d === expectShape[i]))) {
      throw new OnnxExportError(`exportOnnx: state ${name} has shape [${v.shape.join(', ')}], expected [${expectShape.join(', ')}]`);
    }
    initializers.push({ name, dims: [...v.shape], dataType: FLOAT, rawData: bytesOf(v.data) });
    return name;
  };
  const stateName = (layer: Layer, key: string) => (layer.name ? `${layer.name}.${key}` : key);

  // One value per graph node; the output node's value is `logits`.
  const value = g.nodes.map((n) => (n.id === 0 ? 'input' : n.id === g.output ? 'logits' : `${n.layer.name || n.layer.kind}:${n.id}`));
  for (const n of g.nodes) {
    if (n.id === 0) continue;
    const l = n.layer;
    const inputs = n.inputs.map((i) => value[i]!);
    const node = (opType: string, extraInputs: string[], attribute: onnx.IAttributeProto[] = []): void => {
      nodes.push({ name: `${l.name || l.kind}:${n.id}`, opType, input: [...inputs, ...extraInputs], output: [value[n.id]!], attribute });
    };
    switch (l.kind) {
      case 'Conv2d': {
        const conv = l as Conv2d;
        const [, , kh, kw] = conv.slot('weight').shape as [number, number, number, number];
        const [sh, sw] = pair(conv.stride, 1);
        const [ph, pw] = pair(conv.padding, 0);
        const extra = [f32(stateName(l, 'weight'), conv.slot('weight').shape)];
        if (l.state.some((s) => s.key === 'bias')) extra.push(f32(stateName(l, 'bias')));
        node('Conv', extra, [ints('kernel_shape', [kh, kw]), ints('strides', [sh, sw]), ints('pads', [ph, pw, ph, pw]), ints('dilations', [1, 1]), int('group', conv.groups)]);
        break;
      }
      case 'BatchNorm2d': {
        const bn = l as BatchNorm2d;
        const c = [bn.channels];
        const extra = ['weight', 'bias', 'running_mean', 'running_var'].map((k) => f32(stateName(l, k), c));
        // ONNX's momentum weighs the running value (PyTorch's weighs the batch); unused in inference.
        node('BatchNormalization', extra, [float('epsilon', bn.eps), float('momentum', 1 - bn.momentum)]);
        break;
      }
      case 'ReLU':
        node('Relu', []);
        break;
      case 'ReLU6': {
        // Clip takes its bounds as inputs from opset 11 on (PyTorch exports ReLU6 this way).
        if (!initializers.some((t) => t.name === 'clip.min')) {
          initializers.push({ name: 'clip.min', dims: [], dataType: FLOAT, rawData: bytesOf(Float32Array.of(0)) });
          initializers.push({ name: 'clip.max', dims: [], dataType: FLOAT, rawData: bytesOf(Float32Array.of(6)) });
        }
        node('Clip', ['clip.min', 'clip.max']);
        break;
      }
      case 'Dropout':
        node('Identity', []); // inference
        break;
      case 'GlobalAvgPool2d':
        node('GlobalAveragePool', []);
        break;
      case 'MaxPool2d':
      case 'AvgPool2d': {
        const cfg = (l as MaxPool2d | AvgPool2d).config;
        const [kh, kw] = pair(cfg.kernel, 1);
        const [sh, sw] = pair(cfg.stride, kh);
        const [ph, pw] = pair(cfg.padding, 0);
        const attrs = [ints('kernel_shape', [kh, kw]), ints('strides', [sh, sw]), ints('pads', [ph, pw, ph, pw]), int('ceil_mode', 0)];
        if (l.kind === 'AvgPool2d') node('AveragePool', [], [...attrs, int('count_include_pad', 1)]);
        else node('MaxPool', [], attrs);
        break;
      }
      case 'Linear': {
        const lin = l as Linear;
        const extra = [f32(stateName(l, 'weight'), [lin.outFeatures, lin.inFeatures]), f32(stateName(l, 'bias'), [lin.outFeatures])];
        node('Gemm', extra, [float('alpha', 1), float('beta', 1), int('transA', 0), int('transB', 1)]);
        break;
      }
      case 'ChannelSelection': {
        const sel = l as ChannelSelection;
        const name = stateName(l, 'indexes');
        const mask = state.get(name);
        if (!mask || !(mask.data instanceof Float32Array)) throw new OnnxExportError(`exportOnnx: state ${name} is missing`);
        // The GPU mask is the truth: after a GPU prune the layer's host copy may be stale.
        const kept: bigint[] = [];
        for (let i = 0; i < mask.data.length; i++) if (mask.data[i] !== 0) kept.push(BigInt(i));
        if (kept.length !== sel.keptCount) throw new OnnxExportError(`exportOnnx: ${name} keeps ${kept.length} channels, the layer computes ${sel.keptCount}`);
        if (!kept.length) throw new OnnxExportError(`exportOnnx: ${name} keeps no channel`);
        const keptName = stateName(l, 'kept');
        initializers.push({ name: keptName, dims: [kept.length], dataType: INT64, rawData: bytesOf(BigInt64Array.from(kept)) });
        node('Gather', [keptName], [int('axis', 1)]);
        break;
      }
      case 'Add':
        node('Add', []);
        break;
      case 'Concat':
        node('Concat', [], [int('axis', 1)]);
        break;
      case 'Flatten':
        node('Flatten', [], [int('axis', 1)]);
        break;
      default:
        throw new OnnxExportError(`exportOnnx: no ONNX mapping for layer ${describe(l)} (node ${n.id})`);
    }
  }

  const dim = (d: number | string): onnx.TensorShapeProto.IDimension => (typeof d === 'number' ? { dimValue: d } : { dimParam: d });
  const batchDim = batch === 'dynamic' ? 'batch' : batch;
  const inDims = inputSize ? [batchDim, ...inputSize] : [batchDim, g.inChannels, 'height', 'width'];
  let outDims: (number | string)[] | null = null;
  if (inputSize) outDims = [batchDim, ...g.shapes([1, ...inputSize])[g.output]!.slice(1)];
  else {
    const last = g.nodes[g.output]!.layer;
    if (last.kind === 'Linear') outDims = [batchDim, (last as Linear).outFeatures];
  }
  const tensorType = (dims: (number | string)[] | null): onnx.ITypeProto => ({
    tensorType: { elemType: FLOAT, ...(dims ? { shape: { dim: dims.map(dim) } } : {}) },
  });

  const meta = model.meta;
  const props: Record<string, string | undefined> = {
    arch: meta.arch,
    depth: meta.depth === undefined ? undefined : String(meta.depth),
    cfg: meta.cfg ? JSON.stringify(meta.cfg) : undefined,
    num_classes: String(meta.numClasses),
    in_channels: String(meta.inChannels),
    dataset: meta.dataset,
    ...labelMetadata(meta),
  };
  const irVersion = irVersionFor(opset);
  const message: onnx.IModelProto = {
    irVersion,
    producerName: 'netslim',
    opsetImport: [{ domain: '', version: opset }],
    metadataProps: Object.entries(props)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([key, v]) => ({ key, value: v })),
    graph: {
      name: `${meta.arch}${meta.depth ?? ''}`,
      node: nodes,
      initializer: initializers,
      input: [{ name: 'input', type: tensorType(inDims) }],
      output: [{ name: 'logits', type: tensorType(outDims) }],
    },
  };
  const bytes = proto.ModelProto.encode(message).finish();
  // protobuf messages are limited to 2 GiB; larger models need ONNX external data, which this writer does not do.
  if (bytes.byteLength > 2 ** 31 - 1) throw new OnnxExportError(`exportOnnx: the model is ${bytes.byteLength} bytes, over protobuf's 2 GiB limit`);
  return { bytes, opset, irVersion, nodes: nodes.length, initializers: initializers.length };
}

/**
 * The model as ONNX bytes (opset 13 by default; dynamic batch; input `input`, output `logits`;
 * metadata_props arch, depth, cfg, num_classes, in_channels, and when the model has them dataset,
 * class_names, mean and std). Works for pruned models: each channel
 * selection becomes a Gather over its kept channels.
 *
 * @example
 * ```ts
 * import { init, models, exportOnnx, writeFileAtomic } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { depth: 11 });
 * const bytes = await exportOnnx(model, { inputSize: [3, 32, 32] });
 * await writeFileAtomic('vgg11.onnx', bytes); // or: await ort.InferenceSession.create(bytes) (onnxruntime)
 * ctx.destroy();
 * ```
 */
export async function exportOnnx(model: Model, options: OnnxExportOptions = {}): Promise<Uint8Array> {
  return (await exportOnnxModel(model, options)).bytes;
}
