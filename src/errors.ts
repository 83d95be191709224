/**
 * Typed errors. Every message names the value or the GPU object that is wrong, so a user can act
 * on it without a debugger.
 */

/**
 * Base class of every error netslim throws on purpose.
 *
 * @example
 * ```ts
 * import { parseSafetensors, NetslimError } from 'netslim';
 *
 * try {
 *   parseSafetensors(new Uint8Array(4), 'broken.safetensors');
 * } catch (e) {
 *   if (e instanceof NetslimError) console.log(e.name, e.message); // CheckpointError broken.safetensors: …
 * }
 * ```
 */
export class NetslimError extends Error {
  override name = 'NetslimError';
}

/**
 * No WebGPU adapter could be found; `message` says what to install.
 *
 * @example
 * ```ts
 * import { init, NoAdapterError } from 'netslim';
 *
 * try {
 *   const ctx = await init();
 *   console.log(ctx.adapter.description);
 *   ctx.destroy();
 * } catch (e) {
 *   if (!(e instanceof NoAdapterError)) throw e;
 *   console.log(e.message); // what is missing, e.g. "WebGPU is not available here …"
 * }
 * ```
 */
export class NoAdapterError extends NetslimError {
  override name = 'NoAdapterError';
}

/**
 * `netslim/node` could not load Dawn: the `webgpu` package, an optional peer dependency (browser
 * installs do without its binaries), is not installed where netslim can resolve it. `message` is
 * the one line that says what to install. A NoAdapterError, since Node then has no WebGPU at all.
 *
 * @example
 * ```ts
 * import { init, DawnMissingError } from 'netslim/node';
 *
 * try {
 *   const ctx = await init();
 *   ctx.destroy();
 * } catch (e) {
 *   if (!(e instanceof DawnMissingError)) throw e;
 *   console.log(e.message); // netslim/node needs the `webgpu` package (Dawn): npm i webgpu …
 * }
 * ```
 */
export class DawnMissingError extends NoAdapterError {
  override name = 'DawnMissingError';
}

/**
 * A tensor shape or an op argument does not fit the op.
 *
 * @example
 * ```ts
 * import { init, ops, ShapeError } from 'netslim/node';
 *
 * const ctx = await init();
 * const x = ctx.tensor([1, 3, 8, 8]);
 * const w = ctx.tensor([4, 2, 3, 3]); // expects 2 input channels, x has 3
 * try {
 *   ops.conv2dForward(ctx, x, w);
 * } catch (e) {
 *   if (e instanceof ShapeError) console.log(e.message);
 * }
 * ctx.destroy();
 * ```
 */
export class ShapeError extends NetslimError {
  override name = 'ShapeError';
}

/**
 * A WGSL module failed to compile or a pipeline failed to build.
 *
 * @example
 * ```ts
 * import { init, registerShader, ShaderCompileError } from 'netslim/node';
 *
 * await registerShader('broken.wgsl', ['', '@compute @workgroup_size(1, 1, 1)', 'fn main() { let x: f32 = true; }'].join('\n'));
 * const ctx = await init();
 * try {
 *   await ctx.prepare([{ shader: 'broken.wgsl', entry: 'main' }]);
 * } catch (e) {
 *   if (e instanceof ShaderCompileError) console.log(e.shader, e.entry, e.messages[0]);
 * }
 * ctx.destroy();
 * ```
 */
export class ShaderCompileError extends NetslimError {
  override name = 'ShaderCompileError';
  constructor(
    /** The shader file, e.g. `conv2d_forward.wgsl`. */
    readonly shader: string,
    /** The entry point. */
    readonly entry: string,
    /** Compiler messages (`file:line:col message`). */
    readonly messages: string[],
  ) {
    super(`${shader} (entry ${entry}) failed to compile:\n  ${messages.join('\n  ')}`);
  }
}

/**
 * The GPU reported a validation, out-of-memory or internal error while running an op.
 *
 * @example
 * ```ts
 * import { init, GpuOpError } from 'netslim/node';
 *
 * const ctx = await init();
 * const a = ctx.tensor([4]);
 * const b = ctx.tensor([4]);
 * ctx.copy(a, b, 64); // 64 bytes from 16-byte buffers: the GPU rejects the copy
 * try {
 *   await ctx.sync();
 * } catch (e) {
 *   if (e instanceof GpuOpError) console.log(e.kind, e.op); // validation …
 * }
 * ctx.destroy();
 * ```
 */
export class GpuOpError extends NetslimError {
  override name = 'GpuOpError';
  constructor(
    /** The op that was running (the label of its pipeline, e.g. `conv2d_forward.wgsl:conv_regblock`). */
    readonly op: string,
    /** The WebGPU error type: `validation`, `out-of-memory` or `internal`. */
    readonly kind: string,
    detail: string,
  ) {
    super(`GPU ${kind} error in ${op}: ${detail}`);
  }
}

/**
 * The GPU device was lost (driver reset, `destroy()`, or the tab lost its GPU).
 *
 * @example
 * ```ts
 * import { init, DeviceLostError } from 'netslim/node';
 *
 * const ctx = await init();
 * ctx.destroy();
 * try {
 *   ctx.flush();
 * } catch (e) {
 *   if (e instanceof DeviceLostError) console.log(e.reason); // destroyed
 * }
 * ```
 */
export class DeviceLostError extends NetslimError {
  override name = 'DeviceLostError';
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(`GPU device lost (${reason}): ${detail}`);
  }
}

/**
 * Throws a ShapeError with a lazily built message when `cond` is false.
 *
 * @example
 * ```ts
 * import { assertShape } from 'netslim';
 *
 * function pixelsPerImage(shape: readonly number[]): number {
 *   assertShape(shape.length === 4, () => `expected [N, C, H, W], got [${shape.join(', ')}]`);
 *   return shape[1]! * shape[2]! * shape[3]!;
 * }
 * console.log(pixelsPerImage([8, 3, 32, 32])); // 3072
 * ```
 */
export function assertShape(cond: boolean, message: () => string): asserts cond {
  if (!cond) throw new ShapeError(message());
}

/**
 * Training produced a non-finite loss (NaN or ±Inf): the weights after `step` are not usable.
 * `epoch` (0-based) and `step` (1-based, within the epoch) name the first such step.
 *
 * @example
 * ```ts
 * import { init, models, datasetFromTensors, Trainer, TrainingDivergedError } from 'netslim/node';
 *
 * const ctx = await init();
 * const data = datasetFromTensors(new Float32Array(8 * 64).fill(1e30), [8, 1, 8, 8], Int32Array.from({ length: 8 }, (_, i) => i % 2));
 * const trainer = new Trainer(models.vgg(ctx, { cfg: [4, 'M', 8, 'M', 8], inChannels: 1, numClasses: 2 }), data, null, { epochs: 1, batchSize: 8, lr: 1e30 });
 * try {
 *   await trainer.fit();
 * } catch (e) {
 *   if (e instanceof TrainingDivergedError) console.log(e.epoch, e.step, e.loss); // 0 1 NaN
 * }
 * ctx.destroy();
 * ```
 */
export class TrainingDivergedError extends NetslimError {
  override name = 'TrainingDivergedError';
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly loss: number,
  ) {
    super(`the training loss became ${loss} in epoch ${epoch + 1}, step ${step}: the weights from that step on are not usable (lower the learning rate or check the data)`);
  }
}
