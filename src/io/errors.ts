/**
 * Errors of checkpoint files (safetensors bytes and the files that hold them). Browser-safe.
 */
import { NetslimError } from '../errors.js';

/**
 * A checkpoint could not be read, parsed or written. The message names the file (or
 * `safetensors data` when the bytes came without a name) and, where it applies, the tensor.
 *
 * @example
 * ```ts
 * import { parseSafetensors, CheckpointError } from 'netslim';
 *
 * try {
 *   parseSafetensors(new Uint8Array(10), 'model.safetensors');
 * } catch (e) {
 *   if (e instanceof CheckpointError) console.log(e.file, e.tensor, e.detail); // model.safetensors undefined …
 * }
 * ```
 */
export class CheckpointError extends NetslimError {
  override name = 'CheckpointError';
  constructor(
    /** The file the bytes came from or go to; `undefined` for unnamed in-memory bytes. */
    readonly file: string | undefined,
    /** The tensor (its `state_dict` key) the problem is in; `undefined` when it is file-wide. */
    readonly tensor: string | undefined,
    /** What is wrong, without the file and tensor prefix. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${file ?? 'safetensors data'}${tensor === undefined ? '' : `: tensor ${JSON.stringify(tensor)}`}: ${detail}`,
      options,
    );
  }
}
