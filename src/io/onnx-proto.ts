/**
 * The ONNX protobuf classes (`onnx-proto`, protobufjs underneath), imported on first use by the
 * ONNX writer and reader so that code which never touches ONNX never loads them.
 */
import type { onnx } from 'onnx-proto';

export type OnnxRoot = typeof onnx;

/**
 * `onnx-proto` is CommonJS: Node's ESM loader gives it as `default`, bundlers may also give named
 * exports. `fail` makes the error of the caller's kind for an unexpected package layout.
 */
export async function loadOnnxProto(fail: (message: string) => Error): Promise<OnnxRoot> {
  const mod = (await import('onnx-proto')) as { onnx?: OnnxRoot; default?: { onnx?: OnnxRoot } };
  const root = mod.onnx ?? mod.default?.onnx;
  if (!root) throw fail('onnx-proto: the module has no `onnx` namespace (unexpected package layout)');
  return root;
}
