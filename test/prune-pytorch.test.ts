// The slimming pass against PyTorch: test/fixtures/prune/*.json record what the reference scripts
// (vggprune.py, resprune.py, denseprune.py, ported in test/fixtures/make_prune_fixtures.py and run
// with torch 1.13) make of VGG-11 at 1/8 width, ResNet-20 and DenseNet-40 whose weights come from
// a hash formula both sides compute (test/util/hashed-weights.ts): γ on 41 levels, so the
// threshold falls on ties. At each ratio the threshold, the cfg, the per-layer counts and every
// tensor of the pruned model (by SHA-256 of its bytes) must be the reference's. In one case per
// model a BN has tiny γ and the threshold empties it: the reference then fails (VGG, ResNet) or
// writes a broken model (DenseNet); strict mode must refuse, the default keeps that layer's
// largest |γ| and otherwise matches the reference.
import { afterAll, describe, expect, it } from 'vitest';
import { readFixture } from '#lane';
import type { Context } from '../src/gpu/context.js';
import type { Model, StateValues } from '../src/nn/model.js';
import { densenet, resnet, vgg } from '../src/nn/models.js';
import { PruneError, prune } from '../src/slim/prune.js';
import { useContext } from './util/gpu.js';
import { hashedStateDict } from './util/hashed-weights.js';

const getCtx = useContext();

interface TensorRecord {
  shape: number[];
  sha256: string;
  head: number[];
}

interface Case {
  percent: number;
  tiny: boolean;
  total: number;
  k: number;
  /** Shortest decimal of the float32 threshold (Math.fround gives it back). */
  threshold: number;
  thresholdBits: string;
  ties: { atOrBelowK: number; aboveK: number };
  cfg: (number | 'M')[];
  layers: { name: string; before: number; after: number }[];
  emptied: string[];
  /** Tiny cases: what the unmodified reference does, and its tensors that differ from `tensors`. */
  reference?: { cfg: (number | 'M')[]; emptied: string[]; error?: string; forward?: string; differs?: Record<string, TensorRecord> };
  tensors: Record<string, TensorRecord>;
}

interface Fixture {
  arch: 'vgg' | 'resnet' | 'densenet';
  depth: number;
  inputSize: [number, number, number];
  cfg: (number | 'M')[];
  tinyBn: string;
  input: { sha256: string; tinySha256: string };
  cases: Case[];
}

const FILES = ['vgg11', 'resnet20', 'densenet40'];
const fixtures = new Map<string, Fixture>();
for (const f of FILES) fixtures.set(f, JSON.parse(new TextDecoder().decode(await readFixture(`fixtures/prune/${f}.json`))) as Fixture);

function build(ctx: Context, fx: Fixture): Model {
  if (fx.arch === 'vgg') return vgg(ctx, { depth: fx.depth, cfg: fx.cfg });
  if (fx.arch === 'resnet') return resnet(ctx, { depth: fx.depth });
  return densenet(ctx, { depth: fx.depth });
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Little-endian bytes of a state tensor (F32 or I64; every lane here is little-endian). */
function bytesOf(data: Float32Array | BigInt64Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}

async function sha256(...parts: Uint8Array<ArrayBuffer>[]): Promise<string> {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return hex(await crypto.subtle.digest('SHA-256', all));
}

/** Every tensor of `got` against the fixture's records: same keys, shapes and SHA-256. */
async function expectTensors(got: StateValues, want: Record<string, TensorRecord>, what: string, keys = Object.keys(want)): Promise<void> {
  const faults: string[] = [];
  for (const k of keys) {
    const g = got.get(k);
    const w = want[k]!;
    if (!g) {
      faults.push(`${k}: missing`);
      continue;
    }
    if (g.shape.join() !== w.shape.join()) {
      faults.push(`${k}: shape [${g.shape}], expected [${w.shape}]`);
      continue;
    }
    const digest = await sha256(bytesOf(g.data));
    if (digest !== w.sha256) {
      const head = Array.from(g.data.slice(0, 6) as ArrayLike<number | bigint>, (v) => (typeof v === 'number' ? String(Number(v.toPrecision(9))) : String(v))).join(', ');
      faults.push(`${k}: SHA-256 ${digest.slice(0, 12)}…, expected ${w.sha256.slice(0, 12)}…; first values [${head}], expected [${w.head.join(', ')}, …]`);
    }
  }
  if (faults.length) throw new Error(`${what}: ${faults.length} of ${keys.length} tensors differ from PyTorch:\n  ${faults.slice(0, 12).join('\n  ')}`);
}

for (const name of FILES) {
  const fx = fixtures.get(name)!;
  describe(`${name} against PyTorch`, () => {
    let model: Model | undefined;
    let loaded: 'plain' | 'tiny' | undefined;
    const stateOrder = Object.keys(fx.cases[0]!.tensors);

    /** The unpruned model with the formula's weights (`tiny`: with the tiny-γ BN). */
    async function source(tiny: boolean): Promise<Model> {
      model ??= build(getCtx(), fx);
      const want = tiny ? 'tiny' : 'plain';
      if (loaded !== want) {
        const state = hashedStateDict(await model.stateDict(), model.batchNorms().map((b) => b.name), tiny ? fx.tinyBn : undefined);
        const parts = stateOrder.map((k) => state.get(k)!.data).filter((d): d is Float32Array => d instanceof Float32Array);
        expect(await sha256(...parts.map(bytesOf)), 'the formula gives the fixture script\'s input weights').toBe(tiny ? fx.input.tinySha256 : fx.input.sha256);
        model.loadStateDict(state);
        loaded = want;
      }
      return model;
    }

    afterAll(() => model?.destroy());

    for (const c of fx.cases.filter((x) => !x.tiny)) {
      it(`${name} at ${c.percent}: threshold, cfg and every pruned tensor are PyTorch's`, async () => {
        const { model: pruned, report } = await prune(await source(false), c.percent, { inputSize: fx.inputSize });
        try {
          expect(report.totalChannels).toBe(c.total);
          expect(report.threshold).toBe(Math.fround(c.threshold));
          expect(new Uint32Array(Float32Array.of(report.threshold).buffer)[0]).toBe(Number(c.thresholdBits));
          expect(report.cfg).toEqual(c.cfg);
          expect(pruned.meta.cfg).toEqual(c.cfg);
          expect(report.layers.map(({ name: n, before, after }) => ({ name: n, before, after }))).toEqual(c.layers);
          expect(report.layers.filter((l) => l.safeguard)).toEqual([]);
          const got = await pruned.stateDict();
          expect([...got.keys()].sort()).toEqual(Object.keys(c.tensors).sort());
          await expectTensors(got, c.tensors, `${name}@${c.percent}`);
        } finally {
          pruned.destroy();
        }
      });
    }

    const c = fx.cases.find((x) => x.tiny)!;
    const ref = c.reference!;
    it(`${name} at ${c.percent} with ${fx.tinyBn} emptied: strict refuses; the default keeps one channel, the rest is PyTorch's`, async () => {
      const bnIndex = c.layers.findIndex((l) => l.name === fx.tinyBn);
      const before = c.layers[bnIndex]!.before;
      expect(ref.emptied).toEqual([fx.tinyBn]);
      expect(c.emptied).toEqual([fx.tinyBn]);
      const src = await source(true);
      await expect(prune(src, c.percent, { strict: true, inputSize: fx.inputSize })).rejects.toThrow(PruneError);
      await expect(prune(src, c.percent, { strict: true, inputSize: fx.inputSize })).rejects.toThrow(`removes all ${before} channels of ${fx.tinyBn}`);

      const { model: pruned, report } = await prune(src, c.percent, { inputSize: fx.inputSize });
      try {
        expect(report.threshold).toBe(Math.fround(c.threshold));
        // The reference's cfg (a 0 for the emptied BN), with 1 there instead.
        expect(ref.cfg.filter((v) => v !== 'M')[bnIndex]).toBe(0);
        let bn = 0;
        const expectedCfg = ref.cfg.map((v) => (v === 'M' ? v : bn++ === bnIndex ? 1 : v));
        expect(report.cfg).toEqual(expectedCfg);
        expect(c.cfg).toEqual(expectedCfg);
        expect(report.layers.filter((l) => l.safeguard).map((l) => [l.name, l.safeguard])).toEqual([[fx.tinyBn, 'min-channels: kept 1 instead of 0']]);
        expect(report.layers.map(({ name: n, before: b, after }) => ({ name: n, before: b, after }))).toEqual(c.layers);
        const got = await pruned.stateDict();
        expect([...got.keys()].sort()).toEqual(Object.keys(c.tensors).sort());
        // Everything, the emptied layer included, as the script's reference-plus-min-channels run.
        await expectTensors(got, c.tensors, `${name}@${c.percent} safeguarded`);
        if (ref.differs) {
          // Where the reference built a model (DenseNet): every tensor outside the emptied layer's
          // module (the BN, its selection and its convolution) whose shape agrees is the unmodified
          // reference's own.
          const refTensors = { ...c.tensors, ...ref.differs };
          const module = fx.arch === 'vgg' ? `${fx.tinyBn}.` : fx.tinyBn.slice(0, fx.tinyBn.lastIndexOf('.') + 1);
          const same = Object.keys(refTensors).filter((k) => !k.startsWith(module) && refTensors[k]!.shape.join() === got.get(k)!.shape.join());
          expect(Object.keys(refTensors).filter((k) => !same.includes(k))).toEqual(Object.keys(refTensors).filter((k) => k.startsWith(module)));
          await expectTensors(got, refTensors, `${name}@${c.percent} vs the unmodified reference`, same);
        } else {
          expect(ref.error).toMatch(/ZeroDivisionError/);
        }
      } finally {
        pruned.destroy();
      }
    });
  });
}
