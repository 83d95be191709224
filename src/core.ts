/** Everything both entry points export; only `init` differs between the browser and Node. */
export { Context, foldGrid, type ContextOptions, type KernelVariants, type AdapterDescription, type Bindable } from './gpu/context.js';
export { Tensor, numel, type DType } from './gpu/tensor.js';
export { measureLatency, type LatencyOptions } from './gpu/wait.js';
export { kernelKey, kernelSource, registerShader, type Kernel, type KernelSpec, type BuiltinKernelSpec } from './gpu/kernel.js';
export { expandShader, shaderDefines, workgroupSizeOf, type DefineDecl, type DefineValue, type ShaderLookup } from './gpu/wgsl-preprocess.js';
export type { BindingInfo, UniformMember } from './shaders.js';
export type * from './gpu/shader-types.js';
export { contextFromAdapter, contextFromDevice, contextFromGPU, type InitOptions } from './device.js';
export * from './errors.js';
export * from './io/errors.js';
export * from './data/datasets.js';
export { gunzip, isGzip } from './data/gunzip.js';
export * from './io/safetensors.js';
export { saveModel, loadModel, inferMeta, checkpointMeta, checkpointGraph, metadataOf, saveTrainingState, loadTrainingState, type LoadModelOptions, type ModelSource } from './io/checkpoint.js';
export { exportOnnx, OnnxExportError, ONNX_MIN_OPSET, ONNX_MAX_OPSET, type OnnxExportOptions } from './io/onnx.js';
export {
  importOnnx,
  readOnnx,
  OnnxImportError,
  ONNX_IMPORT_MIN_OPSET,
  ONNX_IMPORT_MAX_OPSET,
  ONNX_IMPORT_OPS,
  type OnnxImportOptions,
  type OnnxImport,
  type OnnxRenamed,
  type OnnxNodeRef,
} from './io/onnx-import.js';
export { Model, type ModelMeta, type NamedSlot, type StateValues } from './nn/model.js';
export type { PredictImage, PredictInput, PredictOptions, Prediction } from './nn/predict.js';
export { Graph, type GraphNode } from './nn/graph.js';
export { graphToSpec, graphFromSpec, GraphSpecError, GRAPH_FORMAT, GRAPH_KINDS, type GraphSpec, type GraphNodeSpec } from './nn/graph-spec.js';
export * as layers from './nn/layers.js';
export * as models from './nn/models.js';
export { SGD, type SgdConfig } from './train/sgd.js';
export * as slim from './slim/index.js';
export { Trainer, evaluate, type TrainOptions, type StepProgress, type EpochResult, type TrainingState } from './train/trainer.js';
export * as ops from './ops/index.js';
