import { ShapeError } from '../errors.js';

/** A GPU buffer with a shape. Activations are NCHW, weights PyTorch OIHW, all row-major. */
export type DType = 'f32' | 'u32' | 'i32';

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

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
