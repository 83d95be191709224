/**
 * The reference pruning algorithm on host arrays, written from the paper's method and the
 * reference scripts (vggprune.py, resprune.py, denseprune.py) independently of src/slim: global
 * threshold over |γ| of every BatchNorm in module order, keep |γ| > sorted[floor(total·percent)],
 * a layer left empty keeps its largest |γ| (netslim's default safeguard), then per-architecture
 * gathers. Returns the new cfg, the masks and the pruned state dict.
 */
export type HostState = Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>;

export interface RefModel {
  arch: 'vgg' | 'resnet' | 'densenet';
  depth: number;
  cfg: (number | 'M')[];
}

/** BatchNorm prefixes in module order. */
export function bnOrder(m: RefModel): string[] {
  if (m.arch === 'vgg') {
    const out: string[] = [];
    let i = 0;
    for (const v of m.cfg) {
      if (v === 'M') i += 1;
      else {
        out.push(`feature.${i + 1}`);
        i += 3;
      }
    }
    return out;
  }
  if (m.arch === 'resnet') {
    const n = (m.depth - 2) / 9;
    const out: string[] = [];
    for (let s = 1; s <= 3; s++) for (let b = 0; b < n; b++) out.push(`layer${s}.${b}.bn1`, `layer${s}.${b}.bn2`, `layer${s}.${b}.bn3`);
    return [...out, 'bn'];
  }
  const n = (m.depth - 4) / 3;
  const out: string[] = [];
  for (let b = 1; b <= 3; b++) {
    for (let i = 0; i < n; i++) out.push(`dense${b}.${i}.bn1`);
    if (b < 3) out.push(`trans${b}.bn1`);
  }
  return [...out, 'bn'];
}

function f32(s: HostState, k: string): { shape: number[]; data: Float32Array } {
  const v = s.get(k);
  if (!v || !(v.data instanceof Float32Array)) throw new Error(`reference prune: no F32 ${k}`);
  return v as { shape: number[]; data: Float32Array };
}

/** Gathers `idx` along `dim` (0 or 1) of a row-major tensor. */
function take(t: { shape: number[]; data: Float32Array }, dim: 0 | 1, idx: number[]): { shape: number[]; data: Float32Array } {
  const shape = [...t.shape];
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const c = shape[dim]!;
  const data = new Float32Array(outer * idx.length * inner);
  for (let o = 0; o < outer; o++) {
    idx.forEach((j, jj) => data.set(t.data.subarray((o * c + j) * inner, (o * c + j + 1) * inner), (o * idx.length + jj) * inner));
  }
  shape[dim] = idx.length;
  return { shape, data };
}

export function referencePrune(m: RefModel, state: HostState, percent: number): { cfg: (number | 'M')[]; masks: Map<string, boolean[]>; state: HostState; threshold: number } {
  const bns = bnOrder(m);
  const all: number[] = [];
  for (const b of bns) for (const v of f32(state, `${b}.weight`).data) all.push(Math.abs(v));
  const sorted = Float32Array.from(all).sort();
  const k = Math.floor(all.length * percent);
  const threshold = sorted[k]!;
  const masks = new Map<string, boolean[]>();
  for (const b of bns) {
    const g = Array.from(f32(state, `${b}.weight`).data, Math.abs);
    const mask = g.map((v) => v > threshold);
    if (!mask.some(Boolean)) mask[g.indexOf(Math.max(...g))] = true;
    masks.set(b, mask);
  }
  const keep = (b: string) => masks.get(b)!.flatMap((v, i) => (v ? [i] : []));
  const count = (b: string) => keep(b).length;
  const out: HostState = new Map();
  const put = (k: string, v: { shape: number[]; data: Float32Array }) => out.set(k, v);
  const copy = (k: string) => out.set(k, state.get(k)!);
  const bnGather = (b: string) => {
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) put(`${b}.${p}`, take(f32(state, `${b}.${p}`), 0, keep(b)));
    out.set(`${b}.num_batches_tracked`, { shape: [], data: BigInt64Array.of(0n) });
  };
  const bnMaskedWithSelect = (b: string, select: string) => {
    const mask = masks.get(b)!;
    for (const p of ['weight', 'bias']) {
      const t = f32(state, `${b}.${p}`);
      put(`${b}.${p}`, { shape: t.shape, data: Float32Array.from(t.data, (v, i) => v * (mask[i] ? 1 : 0)) });
    }
    copy(`${b}.running_mean`);
    copy(`${b}.running_var`);
    out.set(`${b}.num_batches_tracked`, { shape: [], data: BigInt64Array.of(0n) });
    put(`${select}.indexes`, { shape: [mask.length], data: Float32Array.from(mask, (v) => (v ? 1 : 0)) });
  };
  let cfg: (number | 'M')[];
  if (m.arch === 'vgg') {
    cfg = [];
    let i = 0;
    let prev: string | null = null;
    for (const v of m.cfg) {
      if (v === 'M') {
        cfg.push('M');
        i += 1;
        continue;
      }
      const bn = `feature.${i + 1}`;
      let w = take(f32(state, `feature.${i}.weight`), 0, keep(bn));
      if (prev) w = take(w, 1, keep(prev));
      put(`feature.${i}.weight`, w);
      bnGather(bn);
      cfg.push(count(bn));
      prev = bn;
      i += 3;
    }
    put('classifier.weight', take(f32(state, 'classifier.weight'), 1, keep(prev!)));
    copy('classifier.bias');
  } else if (m.arch === 'resnet') {
    const n = (m.depth - 2) / 9;
    cfg = [];
    copy('conv1.weight');
    for (let s = 1; s <= 3; s++) {
      for (let b = 0; b < n; b++) {
        const p = `layer${s}.${b}`;
        bnMaskedWithSelect(`${p}.bn1`, `${p}.select`);
        put(`${p}.conv1.weight`, take(take(f32(state, `${p}.conv1.weight`), 0, keep(`${p}.bn2`)), 1, keep(`${p}.bn1`)));
        bnGather(`${p}.bn2`);
        put(`${p}.conv2.weight`, take(take(f32(state, `${p}.conv2.weight`), 0, keep(`${p}.bn3`)), 1, keep(`${p}.bn2`)));
        bnGather(`${p}.bn3`);
        put(`${p}.conv3.weight`, take(f32(state, `${p}.conv3.weight`), 1, keep(`${p}.bn3`)));
        if (state.has(`${p}.downsample.0.weight`)) copy(`${p}.downsample.0.weight`);
        cfg.push(count(`${p}.bn1`), count(`${p}.bn2`), count(`${p}.bn3`));
      }
    }
    bnMaskedWithSelect('bn', 'select');
    cfg.push(count('bn'));
    put('fc.weight', take(f32(state, 'fc.weight'), 1, keep('bn')));
    copy('fc.bias');
  } else {
    cfg = [];
    copy('conv1.weight');
    for (const b of bns) {
      const p = b.replace(/\.bn1$|^bn$/, '');
      const select = p ? `${p}.select` : 'select';
      bnMaskedWithSelect(b, select);
      cfg.push(count(b));
      if (p) put(`${p}.conv1.weight`, take(f32(state, `${p}.conv1.weight`), 1, keep(b)));
    }
    put('fc.weight', take(f32(state, 'fc.weight'), 1, keep('bn')));
    copy('fc.bias');
  }
  return { cfg, masks, state: out, threshold };
}
