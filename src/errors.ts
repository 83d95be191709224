/**
 * Typed errors. Every message names the value or the GPU object that is wrong, so a user can act
 * on it without a debugger.
 */

/** Base class of every error netslim throws on purpose. */
export class NetslimError extends Error {
  override name = 'NetslimError';
}

/** No WebGPU adapter could be found; `message` says what to install. */
export class NoAdapterError extends NetslimError {
  override name = 'NoAdapterError';
}

/** A tensor shape or an op argument does not fit the op. */
export class ShapeError extends NetslimError {
  override name = 'ShapeError';
}

/** A WGSL module failed to compile or a pipeline failed to build. */
export class ShaderCompileError extends NetslimError {
  override name = 'ShaderCompileError';
  constructor(
    /** The shader file, e.g. `conv2d.wgsl`. */
    readonly shader: string,
    /** The entry point. */
    readonly entry: string,
    /** Compiler messages (`file:line:col message`). */
    readonly messages: string[],
  ) {
    super(`${shader} (entry ${entry}) failed to compile:\n  ${messages.join('\n  ')}`);
  }
}

/** The GPU reported a validation, out-of-memory or internal error while running an op. */
export class GpuOpError extends NetslimError {
  override name = 'GpuOpError';
  constructor(
    /** The op that was running (the label of its pipeline, e.g. `conv2d.wgsl:forward`). */
    readonly op: string,
    /** The WebGPU error type: `validation`, `out-of-memory` or `internal`. */
    readonly kind: string,
    detail: string,
  ) {
    super(`GPU ${kind} error in ${op}: ${detail}`);
  }
}

/** The GPU device was lost (driver reset, `destroy()`, or the tab lost its GPU). */
export class DeviceLostError extends NetslimError {
  override name = 'DeviceLostError';
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(`GPU device lost (${reason}): ${detail}`);
  }
}

/** Throws a ShapeError with a lazily built message when `cond` is false. */
export function assertShape(cond: boolean, message: () => string): asserts cond {
  if (!cond) throw new ShapeError(message());
}
