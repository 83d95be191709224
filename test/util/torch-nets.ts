// Networks users ship, as test/fixtures/make_graph_fixtures.py builds them in PyTorch, written
// with netslim's Graph API: every layer with state is named as the module's state_dict prefix,
// so `loadStateDict` takes the fixture's tensors directly.
//  - resnet18: the library's models.resnet18Graph (torchvision's BasicBlock, CIFAR stem).
//  - mobileNetV2: the library's models.mobilenetV2Graph (torchvision's mobilenet_v2, stride-1 stem).
//  - flattenNet: conv-BN-ReLU-maxpool twice on 1×28×28, Flatten → Linear; the first conv has a
//    bias (nn.Conv2d's default), the second none.
//
// `fixtureModel` builds the network of a test/fixtures/graphs/*.safetensors file from its
// metadata and loads the file's initial state dict into it (strict: same names and shapes).
import type { Context } from '../../src/gpu/context.js';
import { Graph } from '../../src/nn/graph.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU } from '../../src/nn/layers.js';
import { mobilenetV2Graph, resnet18Graph } from '../../src/nn/models.js';
import { Model, type StateValues } from '../../src/nn/model.js';
import { toFloat32, toInt64, type SafetensorsFile } from '../../src/io/safetensors.js';

export interface TorchNet {
  graph: Graph;
  numClasses: number;
  inChannels: number;
}

/** The library's torchvision-style CIFAR ResNet-18 (models.resnet18Graph): what the fixtures check against PyTorch. */
export function resnet18(opts: { width?: number; blocks?: number[]; numClasses?: number; inChannels?: number } = {}): TorchNet {
  const { graph, meta } = resnet18Graph(opts);
  return { graph, numClasses: meta.numClasses, inChannels: meta.inChannels };
}

/** The library's torchvision MobileNetV2 with a stride-1 stem (models.mobilenetV2Graph). */
export function mobileNetV2(
  opts: { width?: number; settings?: [number, number, number, number][]; dropout?: number; numClasses?: number; inChannels?: number } = {},
): TorchNet {
  const { graph, meta } = mobilenetV2Graph(opts);
  return { graph, numClasses: meta.numClasses, inChannels: meta.inChannels };
}

/** features: conv(bias)-BN-ReLU-maxpool, conv-BN-ReLU-maxpool on 1×28×28; classifier: Flatten → Linear(c2·7·7). */
export function flattenNet(opts: { channels?: [number, number]; numClasses?: number } = {}): TorchNet {
  const [c1, c2] = opts.channels ?? [4, 6];
  const numClasses = opts.numClasses ?? 10;
  const g = new Graph(1);
  g.chain(
    g.input,
    new Conv2d('features.0', { inChannels: 1, outChannels: c1, kernel: 3, padding: 1, bias: true }),
    new BatchNorm2d('features.1', c1),
    new ReLU(''),
    new MaxPool2d('', { kernel: 2, stride: 2 }),
    new Conv2d('features.4', { inChannels: c1, outChannels: c2, kernel: 3, padding: 1 }),
    new BatchNorm2d('features.5', c2),
    new ReLU(''),
    new MaxPool2d('', { kernel: 2, stride: 2 }),
    new Flatten(''),
    new Linear('classifier.1', c2 * 7 * 7, numClasses),
  );
  return { graph: g, numClasses, inChannels: 1 };
}

type Meta = Record<string, string | undefined>;

/** The fixtures of test/fixtures/graphs/ and how each network is built from the file's metadata, with a given dropout p. */
export const FIXTURE_NETS: Record<string, (md: Meta, dropout: number) => TorchNet> = {
  resnet18_w4: (md) => resnet18({ width: Number(md.width), blocks: JSON.parse(md.blocks!) as number[], numClasses: Number(md.num_classes) }),
  mobilenetv2_w025: (md, dropout) =>
    mobileNetV2({ width: Number(md.width), settings: JSON.parse(md.settings!) as [number, number, number, number][], dropout, numClasses: Number(md.num_classes) }),
  flatten_net: (md) => flattenNet({ channels: JSON.parse(md.channels!) as [number, number], numClasses: Number(md.num_classes) }),
};

/** The fixture's initial state dict for `model` (every slot the model names must be in the file). */
export function fixtureState(model: Model, file: SafetensorsFile): StateValues {
  const values: StateValues = new Map();
  for (const { name, slot } of model.namedSlots()) {
    const t = file.tensors.get(name);
    if (!t) throw new Error(`fixture has no ${name}`);
    values.set(name, { shape: t.shape, data: slot.dtype === 'I64' ? toInt64(t, name) : toFloat32(t, name) });
  }
  return values;
}

/**
 * The fixture's network (`name` as in FIXTURE_NETS) with its initial state loaded. `dropout`
 * defaults to the file's `dropout` metadata (the network's own p; 0 where it has none).
 */
export function fixtureModel(ctx: Context, name: string, file: SafetensorsFile, dropout?: number): Model {
  const build = FIXTURE_NETS[name];
  if (!build) throw new Error(`no network for fixture ${name}`);
  const md = file.metadata as Meta;
  const { graph, numClasses, inChannels } = build(md, dropout ?? Number(md.dropout ?? 0));
  const model = new Model(ctx, graph, { arch: 'custom', numClasses, inChannels });
  model.loadStateDict(fixtureState(model, file), `${name}.safetensors`);
  return model;
}
