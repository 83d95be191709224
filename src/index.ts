/**
 * Browser entry (the package's default export): `init()` takes the device from `navigator.gpu`.
 * Everything else is the same in both entries.
 *
 * @module netslim
 */
import { contextFromDevice, contextFromGPU, type InitOptions } from './device.js';
import { NoAdapterError } from './errors.js';
import type { Context } from './gpu/context.js';

export * from './core.js';

/**
 * Creates a netslim context on the browser's WebGPU device (or on `options.device`).
 *
 * @example
 * ```ts
 * import { init } from 'netslim';
 * const ctx = await init();
 * console.log(ctx.adapter.description);
 * ```
 */
export async function init(options: InitOptions = {}): Promise<Context> {
  if (options.device) return contextFromDevice(options.device, options);
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) {
    throw new NoAdapterError(
      'WebGPU is not available here (navigator.gpu is undefined): use a browser with WebGPU enabled ' +
        '(Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu), or netslim/node in Node.',
    );
  }
  return contextFromGPU(gpu, options);
}
