import { ShapeError } from '../errors.js';

/** A GPU buffer with a shape. Activations are NCHW, weights PyTorch OIHW, all row-major. */
export type DType = 'f32' | 'u32' | 'i32';

/**
 * A GPU buffer with a shape and a dtype, made by `ctx.tensor()` (see {@link DType} for the layouts).
 *
 * @example
 * ```ts
 * import { init } from 'netslim/node';
 *
 * const ctx = await init();
 * const t = ctx.tensor([2, 3], [1, 2, 3, 4, 5, 6]);
 * const flat = t.reshape([6]); // a view of the same buffer
 * console.log(t.size, flat.shape, await ctx.readF32(flat)); // 6 [6] Float32Array [1, 2, 3, 4, 5, 6]
 * t.destroy();
 * console.log(t.destroyed); // true
 * ctx.destroy();
 * ```
 */
export class Tensor {
  #destroyed = false;
  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    private readonly onDestroy: (t: Tensor) => void,
  ) {}

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  /** True once `destroy()` has released the memory. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * A view of the same buffer with another shape of the same size (e.g. flattening [N,C,H,W] to
   * [N,C·H·W] before a linear layer). Destroying the view does nothing; the original owns the memory.
   */
  reshape(shape: readonly number[]): Tensor {
    if (numel(shape) !== this.size) {
      throw new ShapeError(`reshape: ${shapeString(this.shape)} has ${this.size} elements, ${shapeString(shape)} has ${numel(shape)}`);
    }
    return new Tensor(this.buffer, [...shape], this.dtype, () => {});
  }

  /** Releases the GPU memory. Commands already recorded with this tensor must be submitted first. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.onDestroy(this);
  }
}

/**
 * Number of elements of a shape (1 for `[]`).
 *
 * @example
 * ```ts
 * import { numel } from 'netslim';
 *
 * console.log(numel([8, 3, 32, 32]), numel([])); // 24576 1
 * ```
 */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
