/**
 * A model graph: layers in topological order (which is also PyTorch's module order for the
 * reference models), each naming the nodes that feed it. Node 0 is the input. Passes walk it:
 * the executor runs it, checkpoints name its state, the slimming pass follows channels through it.
 */
import { Input, type Layer } from './layers.js';

/** One node of a {@link Graph}: its id, its layer and the nodes that feed it. */
export interface GraphNode {
  readonly id: number;
  readonly layer: Layer;
  /** Ids of the nodes whose outputs are this node's inputs, in order. */
  readonly inputs: readonly number[];
}

/**
 * Layers in topological order with the nodes that feed each one; node 0 is the input. The
 * `models.*Graph` builders make the paper's networks; a `Model` runs any graph on a context.
 *
 * @example
 * ```ts
 * import { init, Graph, Model, layers, models } from 'netslim/node';
 *
 * const g = new Graph(1); // one input channel
 * g.chain(
 *   g.input,
 *   new layers.Conv2d('conv', { inChannels: 1, outChannels: 4, kernel: 3, padding: 1 }),
 *   new layers.BatchNorm2d('bn', 4),
 *   new layers.ReLU(''),
 *   new layers.AvgPool2d('', { kernel: 8 }),
 *   new layers.Flatten(''),
 *   new layers.Linear('fc', 4, 2),
 * );
 * console.log(g.shapes([5, 1, 8, 8]).at(-1)); // [5, 2]
 *
 * const ctx = await init();
 * const model = new Model(ctx, g, { arch: 'custom', numClasses: 2, inChannels: 1 });
 * models.initialize(model);
 * const x = ctx.tensor([5, 1, 8, 8], new Float32Array(5 * 64).fill(1));
 * console.log(await ctx.readF32(model.forward(x, false))); // 10 logits
 * ctx.destroy();
 * ```
 */
export class Graph {
  readonly nodes: GraphNode[] = [];

  constructor(inChannels: number) {
    this.nodes.push({ id: 0, layer: new Input(inChannels), inputs: [] });
  }

  /** The input node's id (always 0). */
  get input(): number {
    return 0;
  }

  /** The last node added is the output. */
  get output(): number {
    return this.nodes.length - 1;
  }

  /** Channels of the input node. */
  get inChannels(): number {
    return (this.nodes[0]!.layer as Input).channels;
  }

  /** Adds a layer fed by `inputs` (node ids) and returns its id. */
  add(layer: Layer, ...inputs: number[]): number {
    for (const i of inputs) {
      if (!(i >= 0 && i < this.nodes.length)) throw new Error(`graph: ${layer.kind} ${layer.name} takes node ${i}, which does not exist yet`);
    }
    const id = this.nodes.length;
    this.nodes.push({ id, layer, inputs });
    return id;
  }

  /** Adds layers one after another starting from `from`; returns the last id. */
  chain(from: number, ...layers: Layer[]): number {
    let id = from;
    for (const l of layers) id = this.add(l, id);
    return id;
  }

  /** For each node, the (node, input position) pairs that consume its output. */
  consumers(): { node: number; slot: number }[][] {
    const out: { node: number; slot: number }[][] = this.nodes.map(() => []);
    for (const n of this.nodes) n.inputs.forEach((src, slot) => out[src]!.push({ node: n.id, slot }));
    return out;
  }

  /** Layers with state, in module order. */
  layers(): Layer[] {
    return this.nodes.map((n) => n.layer).filter((l) => l.kind !== 'Input');
  }

  /** Shapes of every node's output for an input shape [N, C, H, W]. Throws ShapeError naming the layer that does not fit. */
  shapes(inputShape: readonly number[]): number[][] {
    const shapes: number[][] = [];
    for (const n of this.nodes) {
      shapes.push(n.id === 0 ? n.layer.outputShape([inputShape]) : n.layer.outputShape(n.inputs.map((i) => shapes[i]!)));
    }
    return shapes;
  }
}
