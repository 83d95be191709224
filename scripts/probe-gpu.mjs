// Exit 0 when Dawn (the `webgpu` package) finds a hardware GPU adapter, 1 otherwise (no adapter,
// or only a CPU one such as SwiftShader). scripts/setup.sh uses it to install nothing on machines
// with a GPU.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const gpu = create([]);
let adapter;
try {
  adapter = await gpu.requestAdapter();
} catch {
  adapter = null;
}
const info = adapter?.info;
const cpu = !adapter || adapter.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(`${info?.architecture} ${info?.description} ${info?.device}`);
console.log(cpu ? 'netslim setup: no GPU adapter (WebGPU will run on the CPU through SwiftShader)' : `netslim setup: GPU adapter ${info?.vendor} ${info?.architecture} ${info?.description}`);
process.exit(cpu ? 1 : 0);
