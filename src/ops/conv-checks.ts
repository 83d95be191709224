/** Argument checks and output sizes shared by the convolution op families (conv2d.ts, conv2d_grouped.ts). */
import { Tensor, shapeString } from '../gpu/tensor.js';
import { assertShape } from '../errors.js';

/** A stride or padding given as one value or [height, width], each an integer ≥ `min` (`min` when absent). */
export function pair(op: string, name: string, v: number | [number, number] | undefined, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [min, min] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  assertShape(
    p.length === 2 && p.every((d) => Number.isInteger(d) && d >= min),
    () => `${op}: ${name} ${JSON.stringify(v)} should be an integer ≥ ${min} or a pair of them`,
  );
  return p;
}

/** Output height and width of a KH×KW window over H×W with stride [sh, sw] and padding [ph, pw]; throws where it does not fit. */
export function outputSize(op: string, H: number, W: number, KH: number, KW: number, [sh, sw]: [number, number], [ph, pw]: [number, number]): [number, number] {
  const OH = Math.floor((H + 2 * ph - KH) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - KW) / sw) + 1;
  assertShape(OH >= 1 && OW >= 1, () => `${op}: kernel ${KH}×${KW} does not fit input ${H}×${W} with padding [${ph}, ${pw}]`);
  return [OH, OW];
}

export function expectF32(op: string, name: string, t: Tensor): void {
  assertShape(t.dtype === 'f32', () => `${op}: ${name} has dtype ${t.dtype}, expected f32`);
}

export function expectShape(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  expectF32(op, name, t);
  assertShape(
    t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]),
    () => `${op}: ${name} ${shapeString(t.shape)} should be ${shapeString(shape)}`,
  );
}
