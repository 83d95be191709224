/**
 * A model graph: layers in topological order (which is also PyTorch's module order for the
 * reference models), each naming the nodes that feed it. Node 0 is the input. Passes walk it:
 * the executor runs it, checkpoints name its state, the slimming pass follows channels through it.
 */
import { Input, type Layer } from './layers.js';

export interface GraphNode {
  readonly id: number;
  readonly layer: Layer;
  /** Ids of the nodes whose outputs are this node's inputs, in order. */
  readonly inputs: readonly number[];
}

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
