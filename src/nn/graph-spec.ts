/**
 * A graph as versioned JSON: what a checkpoint's `__metadata__` `graph` holds, so any model —
 * a reference architecture, a graph built with the `Graph` API, a pruned or an imported one —
 * loads back without knowing how it was made. Node 0 (the input) is implicit; every other node
 * is `{ kind, name, inputs, options }` in topological order, `inputs` naming earlier node ids.
 * Reading checks everything (format, kinds, ids, option types and ranges) and throws a
 * GraphSpecError naming the node and the field; shapes are checked against the tensors by the
 * loader.
 */
import { NetslimError } from '../errors.js';
import { Graph } from './graph.js';
import { Add, AvgPool2d, BatchNorm2d, ChannelSelection, Concat, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU, ReLU6, type Layer, type LayerKind } from './layers.js';

/** The format string of version 1. */
export const GRAPH_FORMAT = 'netslim-graph/1';

/** One node of a {@link GraphSpec}. */
export interface GraphNodeSpec {
  kind: LayerKind;
  /** The PyTorch module path (state_dict prefix); empty for functional ops. */
  name: string;
  /** Ids of the nodes that feed this one (0 is the input; node i of `nodes` has id i + 1). */
  inputs: number[];
  options: Record<string, number | string | boolean>;
}

/** A graph as plain JSON. */
export interface GraphSpec {
  format: typeof GRAPH_FORMAT;
  inChannels: number;
  nodes: GraphNodeSpec[];
}

/**
 * A graph description that cannot be read: not JSON, an unknown format or kind, a node reading
 * a node that does not come before it, an option of the wrong type or range. `where` names the
 * node (`node 3 (Conv2d feature.0)`) and `field` the option.
 *
 * @example
 * ```ts
 * import { graphFromSpec, GraphSpecError } from 'netslim';
 *
 * try {
 *   graphFromSpec({ format: 'netslim-graph/1', inChannels: 3, nodes: [{ kind: 'Conv2d', name: 'c', inputs: [0], options: { inChannels: 3, outChannels: -1, kernel: 3 } }] });
 * } catch (e) {
 *   if (e instanceof GraphSpecError) console.log(e.message); // graph node 1 (Conv2d c): outChannels -1 is not a positive integer
 * }
 * ```
 */
export class GraphSpecError extends NetslimError {
  override name = 'GraphSpecError';
}

type Options = Record<string, unknown>;

/** Reads the option `key` as an integer ≥ `min` (or returns `fallback` when it is absent and one is given). */
function int(o: Options, key: string, where: string, min = 1, fallback?: number): number {
  const v = o[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 2 ** 31) {
    throw new GraphSpecError(`${where}: ${key} ${v === undefined ? 'is missing: it must be' : `${JSON.stringify(v)?.slice(0, 40)} is not`} ${min === 1 ? 'a positive integer' : `an integer ≥ ${min}`}`);
  }
  return v;
}

function real(o: Options, key: string, where: string, fallback: number, lo: number, hi: number): number {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw new GraphSpecError(`${where}: ${key} ${JSON.stringify(v)} is not a number in [${lo}, ${hi}]`);
  return v;
}

function bool(o: Options, key: string, where: string): boolean {
  const v = o[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new GraphSpecError(`${where}: ${key} ${JSON.stringify(v)} is not true or false`);
  return v;
}

function pool(o: Options, where: string): { kernel: number; stride: number; padding: number } {
  const kernel = int(o, 'kernel', where);
  return { kernel, stride: int(o, 'stride', where, 1, kernel), padding: int(o, 'padding', where, 0, 0) };
}

/** How each kind is rebuilt from its name and options; the number of inputs it takes (null: two or more). */
const BUILDERS: Record<Exclude<LayerKind, 'Input'>, { arity: number | null; build: (name: string, o: Options, where: string) => Layer }> = {
  Conv2d: {
    arity: 1,
    build: (name, o, w) =>
      new Conv2d(name, {
        inChannels: int(o, 'inChannels', w),
        outChannels: int(o, 'outChannels', w),
        kernel: int(o, 'kernel', w),
        stride: int(o, 'stride', w, 1, 1),
        padding: int(o, 'padding', w, 0, 0),
        groups: int(o, 'groups', w, 1, 1),
        bias: bool(o, 'bias', w),
      }),
  },
  BatchNorm2d: { arity: 1, build: (name, o, w) => new BatchNorm2d(name, int(o, 'channels', w), real(o, 'eps', w, 1e-5, 0, 1), real(o, 'momentum', w, 0.1, 0, 1)) },
  ReLU: { arity: 1, build: (name) => new ReLU(name) },
  ReLU6: { arity: 1, build: (name) => new ReLU6(name) },
  Dropout: { arity: 1, build: (name, o, w) => new Dropout(name, real(o, 'p', w, 0.5, 0, 0.999999)) },
  GlobalAvgPool2d: { arity: 1, build: (name) => new GlobalAvgPool2d(name) },
  MaxPool2d: { arity: 1, build: (name, o, w) => new MaxPool2d(name, pool(o, w)) },
  AvgPool2d: { arity: 1, build: (name, o, w) => new AvgPool2d(name, pool(o, w)) },
  Linear: { arity: 1, build: (name, o, w) => new Linear(name, int(o, 'inFeatures', w), int(o, 'outFeatures', w)) },
  ChannelSelection: { arity: 1, build: (name, o, w) => new ChannelSelection(name, int(o, 'channels', w)) },
  Add: { arity: 2, build: (name) => new Add(name) },
  Concat: { arity: null, build: (name) => new Concat(name) },
  Flatten: { arity: 1, build: (name) => new Flatten(name) },
};

/** The layer kinds a graph description may hold. */
export const GRAPH_KINDS: readonly LayerKind[] = Object.keys(BUILDERS) as LayerKind[];

/**
 * A graph as JSON-able data (its layers' kinds, names, options and edges).
 *
 * @example
 * ```ts
 * import { models, graphToSpec, graphFromSpec } from 'netslim';
 *
 * const spec = graphToSpec(models.vggGraph({ cfg: [8, 'M', 16] }).graph);
 * console.log(spec.nodes.map((n) => n.kind).join(' ')); // Conv2d BatchNorm2d ReLU MaxPool2d Conv2d BatchNorm2d ReLU AvgPool2d Flatten Linear
 * const again = graphFromSpec(JSON.parse(JSON.stringify(spec))); // the same graph
 * ```
 */
export function graphToSpec(graph: Graph): GraphSpec {
  return {
    format: GRAPH_FORMAT,
    inChannels: graph.inChannels,
    nodes: graph.nodes.slice(1).map((n) => ({ kind: n.layer.kind, name: n.layer.name, inputs: [...n.inputs], options: n.layer.options() })),
  };
}

/**
 * Rebuilds a graph from its description (parsed JSON or the JSON text), checking every field;
 * `changeOptions` may adjust each node's options first (the slimming pass gives layers their
 * kept widths this way). Throws a GraphSpecError naming the node and the field.
 *
 * @example
 * ```ts
 * import { graphFromSpec } from 'netslim';
 *
 * const g = graphFromSpec({
 *   format: 'netslim-graph/1',
 *   inChannels: 1,
 *   nodes: [
 *     { kind: 'Conv2d', name: 'conv', inputs: [0], options: { inChannels: 1, outChannels: 4, kernel: 3, padding: 1 } },
 *     { kind: 'BatchNorm2d', name: 'bn', inputs: [1], options: { channels: 4 } },
 *     { kind: 'ReLU', name: '', inputs: [2], options: {} },
 *     { kind: 'AvgPool2d', name: '', inputs: [3], options: { kernel: 8 } },
 *     { kind: 'Flatten', name: '', inputs: [4], options: {} },
 *     { kind: 'Linear', name: 'fc', inputs: [5], options: { inFeatures: 4, outFeatures: 2 } },
 *   ],
 * });
 * console.log(g.shapes([5, 1, 8, 8]).at(-1)); // [5, 2]
 * ```
 */
export function graphFromSpec(spec: unknown, changeOptions?: (node: GraphNodeSpec, id: number) => GraphNodeSpec['options']): Graph {
  let s = spec;
  if (typeof s === 'string') {
    try {
      s = JSON.parse(s);
    } catch (e) {
      throw new GraphSpecError(`graph: not JSON (${(e as Error).message})`);
    }
  }
  if (!isObject(s)) throw new GraphSpecError(`graph: expected an object, got ${describe(s)}`);
  if (s.format !== GRAPH_FORMAT) throw new GraphSpecError(`graph: format ${s.format === undefined ? 'is missing: it must be' : `${JSON.stringify(s.format)?.slice(0, 40)} is not`} ${JSON.stringify(GRAPH_FORMAT)}`);
  const inChannels = int(s, 'inChannels', 'graph');
  if (!Array.isArray(s.nodes)) throw new GraphSpecError(`graph: nodes is ${describe(s.nodes)}, not an array`);
  if (s.nodes.length === 0) throw new GraphSpecError('graph: nodes is empty');
  if (s.nodes.length > 1_000_000) throw new GraphSpecError(`graph: ${s.nodes.length} nodes is more than 1000000`);
  const g = new Graph(inChannels);
  const seen = new Set<string>();
  s.nodes.forEach((raw: unknown, i: number) => {
    const id = i + 1;
    if (!isObject(raw)) throw new GraphSpecError(`graph node ${id}: expected an object, got ${describe(raw)}`);
    const kind = raw.kind;
    const name = raw.name ?? '';
    if (typeof name !== 'string' || name.length > 1000) throw new GraphSpecError(`graph node ${id}: name is ${describe(name)}, not a string`);
    const builder = typeof kind === 'string' && Object.hasOwn(BUILDERS, kind) ? BUILDERS[kind as keyof typeof BUILDERS] : undefined;
    if (!builder) throw new GraphSpecError(`graph node ${id} (${name || 'unnamed'}): kind ${kind === undefined ? 'is missing: it must be' : `${JSON.stringify(kind)?.slice(0, 40)} is not`} one of ${GRAPH_KINDS.join(', ')}`);
    const where = `graph node ${id} (${String(kind)}${name ? ` ${name}` : ''})`;
    const inputs = raw.inputs;
    if (!Array.isArray(inputs) || inputs.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= id)) {
      throw new GraphSpecError(`${where}: inputs ${inputs === undefined ? 'are missing: they' : JSON.stringify(inputs)?.slice(0, 80)} must be ids of earlier nodes (0 to ${id - 1})`);
    }
    if (builder.arity === null ? inputs.length < 2 : inputs.length !== builder.arity) {
      throw new GraphSpecError(`${where}: takes ${builder.arity ?? 'two or more'} input${builder.arity === 1 ? '' : 's'}, got ${inputs.length}`);
    }
    const options = raw.options ?? {};
    if (!isObject(options)) throw new GraphSpecError(`${where}: options is ${describe(options)}, not an object`);
    let layer: Layer;
    try {
      layer = builder.build(name, changeOptions ? changeOptions({ kind: kind as LayerKind, name, inputs: inputs as number[], options: options as GraphNodeSpec['options'] }, id) : (options as Options), where);
    } catch (e) {
      if (e instanceof GraphSpecError) throw e;
      throw new GraphSpecError(`${where}: ${(e as Error).message}`, { cause: e });
    }
    if (layer.state.length) {
      // A layer's name is the prefix of its state_dict keys: two layers with state may not share it.
      if (seen.has(name)) throw new GraphSpecError(`${where}: another layer with state is named ${JSON.stringify(name)}`);
      seen.add(name);
    }
    g.add(layer, ...(inputs as number[]));
  });
  return g;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(x: unknown): string {
  if (x === undefined) return 'missing';
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'string' ? `the string ${JSON.stringify(x.slice(0, 40))}` : typeof x;
}
