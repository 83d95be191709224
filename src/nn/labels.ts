/**
 * What a model knows of its classes and inputs beyond its shapes: class names in label order and
 * the per-channel mean/std of its training pixels. Checked against the model's classes and input
 * channels wherever they enter (model builders, `new Model`, checkpoint and ONNX metadata), and
 * stored as the metadata `class_names`, `mean` and `std` (JSON arrays). Browser-safe.
 */
import { classNames as datasetClassNames, normalization } from '../data/datasets.js';
import type { ModelMeta } from './model.js';

/** The label fields of {@link ModelMeta}. */
export type LabelMeta = Pick<ModelMeta, 'classNames' | 'mean' | 'std'>;

/** The metadata key of each label field. */
export const LABEL_KEYS = { classNames: 'class_names', mean: 'mean', std: 'std' } as const;

/** A value for a message: JSON, except that numbers (Infinity too) print as numbers; cut at 80 characters. */
const show = (v: unknown): string => {
  const item = (x: unknown): string => (typeof x === 'number' ? String(x) : (JSON.stringify(x) ?? String(x)));
  const s = Array.isArray(v) ? `[${v.map(item).join(',')}]` : item(v);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
};

const count = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * What is wrong with label fields for a model of `numClasses` classes and `inChannels` input
 * channels, or null. `name` gives each field's name in the message (`meta.classNames`,
 * `metadata class_names`, …).
 */
export function labelMetaProblem(
  fields: { classNames?: unknown; mean?: unknown; std?: unknown },
  numClasses: number,
  inChannels: number,
  name: (field: keyof LabelMeta) => string,
): string | null {
  const { classNames, mean, std } = fields;
  if (classNames !== undefined) {
    if (!Array.isArray(classNames) || !classNames.every((c) => typeof c === 'string')) return `${name('classNames')}=${show(classNames)} is not an array of strings`;
    if (classNames.length !== numClasses) return `${name('classNames')} has ${count(classNames.length, 'name')}, the model has ${count(numClasses, 'class', 'classes')}`;
  }
  if ((mean === undefined) !== (std === undefined)) {
    const [has, lacks] = mean === undefined ? (['std', 'mean'] as const) : (['mean', 'std'] as const);
    return `${name(has)} is given without ${name(lacks)} (normalising takes both)`;
  }
  for (const key of ['mean', 'std'] as const) {
    const v = fields[key];
    if (v === undefined) continue;
    if (!Array.isArray(v)) return `${name(key)}=${show(v)} is not an array of numbers`;
    if (v.length !== inChannels) return `${name(key)}=${show(v)} has ${count(v.length, 'value')}, the model takes ${count(inChannels, 'input channel')}`;
    const i = v.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x) || (key === 'std' && x <= 0));
    if (i >= 0) return `${name(key)}=${show(v)}: value ${i} (${show(v[i])}) is not a ${key === 'std' ? 'positive ' : ''}finite number`;
  }
  return null;
}

/**
 * The label fields of string metadata (checkpoint `__metadata__`, ONNX `metadata_props`): each
 * key that is present parsed as JSON and checked; `fail` is called with what is wrong, which
 * names the key after `where`.
 */
export function readLabelMetadata(md: Record<string, string>, numClasses: number, inChannels: number, fail: (detail: string) => never, where = 'metadata'): LabelMeta {
  const parsed: { classNames?: unknown; mean?: unknown; std?: unknown } = {};
  for (const field of ['classNames', 'mean', 'std'] as const) {
    const text = md[LABEL_KEYS[field]];
    if (text === undefined) continue;
    try {
      parsed[field] = JSON.parse(text);
    } catch {
      fail(`${where} ${LABEL_KEYS[field]} is not JSON: ${text.slice(0, 80)}`);
    }
  }
  const bad = labelMetaProblem(parsed, numClasses, inChannels, (f) => `${where} ${LABEL_KEYS[f]}`);
  if (bad) fail(bad);
  return pickLabelMeta(parsed as LabelMeta);
}

/** The label fields as metadata strings (JSON arrays), those that are set. */
export function labelMetadata(meta: LabelMeta): Record<string, string> {
  const md: Record<string, string> = {};
  for (const field of ['classNames', 'mean', 'std'] as const) if (meta[field] !== undefined) md[LABEL_KEYS[field]] = JSON.stringify(meta[field]);
  return md;
}

/** The label fields that are set, copied (for building one meta from another). */
export function pickLabelMeta(meta: LabelMeta): LabelMeta {
  return {
    ...(meta.classNames ? { classNames: [...meta.classNames] } : {}),
    ...(meta.mean ? { mean: [...meta.mean] } : {}),
    ...(meta.std ? { std: [...meta.std] } : {}),
  };
}

/**
 * The label fields a known dataset gives a model of `numClasses` classes and `inChannels`
 * channels: its class names when it has that many, its mean/std when it has that many channels.
 */
export function datasetLabelMeta(dataset: string | undefined, numClasses: number, inChannels: number): LabelMeta {
  if (!dataset) return {};
  const names = datasetClassNames(dataset);
  const norm = normalization(dataset);
  return {
    ...(names && names.length === numClasses ? { classNames: [...names] } : {}),
    ...(norm && norm.mean.length === inChannels ? { mean: [...norm.mean], std: [...norm.std] } : {}),
  };
}
