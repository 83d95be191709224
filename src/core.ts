/** Everything both entry points export; only `init` differs between the browser and Node. */
export { Context, foldGrid, type ContextOptions, type KernelVariants, type AdapterDescription, type Bindable } from './gpu/context.js';
export { Tensor, numel, type DType } from './gpu/tensor.js';
export { kernelKey, kernelSource, registerShader, type Kernel, type KernelSpec } from './gpu/kernel.js';
export { contextFromAdapter, contextFromDevice, contextFromGPU, type InitOptions } from './device.js';
export * from './errors.js';
export * as ops from './ops/index.js';
