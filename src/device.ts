/**
 * Device acquisition shared by every entry point: request an adapter's device with the limits and
 * features netslim uses, or wrap a device the caller already has.
 */
import { Context, type ContextOptions } from './gpu/context.js';
import { NoAdapterError } from './errors.js';

export interface InitOptions extends ContextOptions {
  /** Use this device instead of requesting one (its limits are used as they are). */
  device?: GPUDevice;
  /** Passed to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
}

/** Limits raised to what the adapter offers: big activations and many bindings per kernel. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

const WANTED_FEATURES: GPUFeatureName[] = ['subgroups' as GPUFeatureName, 'timestamp-query'];

/**
 * Requests a device from `adapter` with the limits and optional features netslim uses.
 *
 * @example
 * ```ts
 * import { contextFromAdapter } from 'netslim';
 *
 * const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
 * if (!adapter) throw new Error('no WebGPU adapter');
 * const ctx = await contextFromAdapter(adapter);
 * console.log(ctx.adapter.description, ctx.subgroups);
 * ctx.destroy();
 * ```
 */
export async function contextFromAdapter(adapter: GPUAdapter, options: ContextOptions = {}, keepAlive?: unknown): Promise<Context> {
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ label: 'netslim', requiredLimits, requiredFeatures });
  return new Context(device, adapter.info, options, keepAlive);
}

/**
 * Wraps a device the caller made.
 *
 * @example
 * ```ts
 * import { contextFromDevice } from 'netslim';
 *
 * const adapter = await navigator.gpu.requestAdapter();
 * if (!adapter) throw new Error('no WebGPU adapter');
 * const device = await adapter.requestDevice(); // a device your app already uses
 * const ctx = contextFromDevice(device, { log: (m) => console.info(m) });
 * const t = ctx.tensor([4], [1, 2, 3, 4]);
 * console.log(await ctx.readF32(t));
 * ctx.destroy(); // also destroys `device`
 * ```
 */
export function contextFromDevice(device: GPUDevice, options: ContextOptions = {}): Context {
  return new Context(device, undefined, options);
}

/**
 * Requests an adapter from a `GPU` object (browser `navigator.gpu` or Dawn's).
 *
 * @example
 * ```ts
 * import { contextFromGPU } from 'netslim';
 *
 * const ctx = await contextFromGPU(navigator.gpu, { powerPreference: 'high-performance' });
 * console.log(ctx.adapter.vendor, ctx.variants.gemm);
 * ctx.destroy();
 * ```
 */
export async function contextFromGPU(gpu: GPU, options: InitOptions = {}, keepAlive?: unknown): Promise<Context> {
  if (options.device) return contextFromDevice(options.device, options);
  const adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : undefined);
  if (!adapter) throw new NoAdapterError('navigator.gpu.requestAdapter() returned null: this browser has WebGPU but no usable adapter.');
  return contextFromAdapter(adapter, options, keepAlive);
}
