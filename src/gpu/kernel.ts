/**
 * Kernels: a WGSL entry point from one of `shaders/*.wgsl`, specialised by text defines, compiled
 * once per device and cached by exactly what changes its text (file, entry point, defines).
 * Bind group layouts and the uniform block's layout come from wgsl_reflect, never from hand-written
 * tables; shapes go in uniforms so a pruned model reuses the same pipelines.
 */
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { ShaderCompileError } from '../errors.js';
import { SHADERS } from '../shaders.js';

/** What selects one pipeline: the shader file, its entry point and the values of its `{{NAME}}` defines. */
export interface KernelSpec {
  /** File name under `shaders/`, e.g. `conv2d.wgsl`. */
  shader: string;
  /** Compute entry point. */
  entry: string;
  /** Values substituted for `{{NAME}}` tokens in the file (tile sizes, workgroup sizes). */
  defines?: Record<string, number | string | boolean>;
}

type ScalarType = 'u32' | 'i32' | 'f32';

interface UniformMember {
  name: string;
  offset: number;
  type: ScalarType;
}

interface BindingInfo {
  name: string;
  binding: number;
  kind: 'uniform' | 'storage' | 'read-only-storage';
}

/** A compiled entry point with its reflected bindings. */
export interface Kernel {
  readonly key: string;
  /** `file:entry`, used as the label of every GPU object made for it. */
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly bindings: readonly BindingInfo[];
  /** Name of the uniform variable, if the entry point uses one. */
  readonly uniformName: string | undefined;
  readonly uniformSize: number;
  readonly uniformMembers: readonly UniformMember[];
  readonly workgroupSize: readonly [number, number, number];
}

/**
 * The cache key of a spec: exactly what changes the WGSL text.
 *
 * @example
 * ```ts
 * import { kernelKey } from 'netslim';
 *
 * console.log(kernelKey({ shader: 'conv2d.wgsl', entry: 'forward', defines: { TILE: 64, VEC: true } }));
 * // conv2d.wgsl:forward[TILE=64,VEC=true]
 * ```
 */
export function kernelKey(spec: KernelSpec): string {
  const defs = spec.defines
    ? Object.keys(spec.defines)
        .sort()
        .map((k) => `${k}=${String(spec.defines![k])}`)
        .join(',')
    : '';
  return `${spec.shader}:${spec.entry}${defs ? `[${defs}]` : ''}`;
}

const userShaders = new Map<string, string>();

/**
 * Adds a WGSL file of your own under `name` (e.g. `my_op.wgsl`), usable in a KernelSpec like the
 * built-in ones and following the same conventions (group 0, one uniform struct of scalars).
 * The built-in files cannot be replaced.
 *
 * @example
 * ```ts
 * import { init, registerShader } from 'netslim/node';
 *
 * registerShader('scale.wgsl', [
 *   'struct Params { n: u32, k: f32 }',
 *   '@group(0) @binding(0) var<uniform> p: Params;',
 *   '@group(0) @binding(1) var<storage, read_write> x: array<f32>;',
 *   '@compute @workgroup_size(64, 1, 1)',
 *   'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {',
 *   '  let i = (wid.x + wid.y * nwg.x) * 64u + lid.x;',
 *   '  if (i >= p.n) { return; }',
 *   '  x[i] = x[i] * p.k;',
 *   '}',
 * ].join('\n'));
 * const ctx = await init();
 * const x = ctx.tensor([3], [1, 2, 3]);
 * ctx.dispatchFlat(ctx.kernel({ shader: 'scale.wgsl', entry: 'main' }), { x }, { n: 3, k: 10 }, 1);
 * console.log(await ctx.readF32(x)); // Float32Array [10, 20, 30]
 * ctx.destroy();
 * ```
 */
export function registerShader(name: string, code: string): void {
  if (SHADERS[name] !== undefined) throw new Error(`registerShader: ${name} is a built-in shader file`);
  userShaders.set(name, code);
}

/**
 * Returns the WGSL text of a spec with every `{{NAME}}` replaced by its define.
 *
 * @example
 * ```ts
 * import { kernelSource, registerShader } from 'netslim';
 *
 * registerShader('fill.wgsl', 'const VALUE: f32 = {{VALUE}};');
 * console.log(kernelSource({ shader: 'fill.wgsl', entry: 'main', defines: { VALUE: 1.5 } })); // const VALUE: f32 = 1.5;
 * ```
 */
export function kernelSource(spec: KernelSpec): string {
  const text = SHADERS[spec.shader] ?? userShaders.get(spec.shader);
  if (text === undefined) throw new Error(`unknown shader file ${spec.shader}`);
  const out = text.replace(/\{\{(\w+)\}\}/g, (_m, name: string) => {
    const v = spec.defines?.[name];
    if (v === undefined) throw new Error(`${spec.shader}: define {{${name}}} has no value (entry ${spec.entry})`);
    return typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v);
  });
  return out;
}

interface Reflected {
  bindings: BindingInfo[];
  uniformName: string | undefined;
  uniformSize: number;
  uniformMembers: UniformMember[];
  workgroupSize: [number, number, number];
}

function reflect(spec: KernelSpec, code: string): Reflected {
  const r = new WgslReflect(code);
  const entry = r.entry.compute.find((e) => e.name === spec.entry);
  if (!entry) throw new Error(`${spec.shader} has no compute entry point ${spec.entry}`);
  const bindings: BindingInfo[] = [];
  let uniformName: string | undefined;
  let uniformSize = 0;
  let uniformMembers: UniformMember[] = [];
  for (const v of entry.resources) {
    if (v.group !== 0) throw new Error(`${spec.shader}: ${v.name} uses group ${v.group}; kernels use group 0 only`);
    if (v.resourceType === 0) {
      if (uniformName !== undefined) throw new Error(`${spec.shader}:${spec.entry} uses two uniform blocks`);
      uniformName = v.name;
      const u = r.uniforms.find((x) => x.name === v.name);
      if (!u) throw new Error(`${spec.shader}: uniform ${v.name} not reflected`);
      uniformSize = Math.max(16, Math.ceil(u.size / 16) * 16);
      uniformMembers = (u.members ?? []).map((m) => {
        const t = m.type.name;
        if (t !== 'u32' && t !== 'i32' && t !== 'f32') {
          throw new Error(`${spec.shader}: uniform member ${m.name} has type ${t}; only u32, i32, f32 are supported`);
        }
        return { name: m.name, offset: m.offset, type: t };
      });
      bindings.push({ name: v.name, binding: v.binding, kind: 'uniform' });
    } else if (v.resourceType === 1) {
      bindings.push({ name: v.name, binding: v.binding, kind: v.access === 'read' ? 'read-only-storage' : 'storage' });
    } else {
      throw new Error(`${spec.shader}: ${v.name} is not a buffer; kernels bind buffers only`);
    }
  }
  bindings.sort((a, b) => a.binding - b.binding);
  const ws = entry.workgroupSize ?? [1, 1, 1];
  return { bindings, uniformName, uniformSize, uniformMembers, workgroupSize: [ws[0] ?? 1, ws[1] ?? 1, ws[2] ?? 1] };
}

function makeLayout(device: GPUDevice, label: string, bindings: BindingInfo[]): GPUBindGroupLayout {
  return device.createBindGroupLayout({
    label,
    entries: bindings.map((b) => ({
      binding: b.binding,
      visibility: 0x4, // GPUShaderStage.COMPUTE
      buffer: { type: b.kind },
    })),
  });
}

/** Collects compile problems of pipelines built synchronously; checked at the next sync point. */
export type PendingCheck = Promise<ShaderCompileError | null>;

async function compileMessages(module: GPUShaderModule, spec: KernelSpec): Promise<string[]> {
  const info = await module.getCompilationInfo();
  return info.messages
    .filter((m) => m.type === 'error')
    .map((m) => `${spec.shader}:${m.lineNum}:${m.linePos} ${m.message}`);
}

/**
 * Builds a kernel synchronously (the pipeline is usable at once). Compile errors are captured in an
 * error scope; the returned check resolves to a ShaderCompileError naming the file, or null.
 */
export function buildKernelSync(device: GPUDevice, spec: KernelSpec): { kernel: Kernel; check: PendingCheck } {
  const key = kernelKey(spec);
  const label = `${spec.shader}:${spec.entry}`;
  const code = kernelSource(spec);
  const refl = reflect(spec, code);
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label, code });
  const layout = makeLayout(device, label, refl.bindings);
  const pipeline = device.createComputePipeline({
    label,
    layout: device.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: spec.entry },
  });
  const check: PendingCheck = device.popErrorScope().then(async (err) => {
    if (!err) return null;
    const msgs = await compileMessages(module, spec);
    return new ShaderCompileError(spec.shader, spec.entry, msgs.length ? msgs : [err.message]);
  });
  return { kernel: { key, label, pipeline, layout, ...refl }, check };
}

/** Builds a kernel with `createComputePipelineAsync`; rejects with a ShaderCompileError. */
export async function buildKernelAsync(device: GPUDevice, spec: KernelSpec): Promise<Kernel> {
  const key = kernelKey(spec);
  const label = `${spec.shader}:${spec.entry}`;
  const code = kernelSource(spec);
  const refl = reflect(spec, code);
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label, code });
  const layout = makeLayout(device, label, refl.bindings);
  const moduleError = device.popErrorScope();
  try {
    if (await moduleError) throw new Error('shader module creation failed');
    const pipeline = await device.createComputePipelineAsync({
      label,
      layout: device.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: spec.entry },
    });
    return { key, label, pipeline, layout, ...refl };
  } catch (e) {
    const msgs = await compileMessages(module, spec);
    throw new ShaderCompileError(spec.shader, spec.entry, msgs.length ? msgs : [(e as Error).message]);
  }
}

/** Packs uniform values by member name into the reflected struct layout. */
export function packUniforms(kernel: Kernel, values: Record<string, number>): ArrayBuffer {
  const buf = new ArrayBuffer(kernel.uniformSize);
  const view = new DataView(buf);
  const seen = new Set<string>();
  for (const m of kernel.uniformMembers) {
    const v = values[m.name];
    if (v === undefined) throw new Error(`${kernel.label}: uniform ${m.name} not given`);
    seen.add(m.name);
    if (m.type === 'f32') view.setFloat32(m.offset, v, true);
    else if (m.type === 'i32') view.setInt32(m.offset, v, true);
    else {
      if (!(v >= 0 && v <= 0xffffffff && Number.isInteger(v))) throw new Error(`${kernel.label}: uniform ${m.name}=${v} is not a u32`);
      view.setUint32(m.offset, v, true);
    }
  }
  for (const k of Object.keys(values)) {
    if (!seen.has(k)) throw new Error(`${kernel.label}: has no uniform member ${k}`);
  }
  return buf;
}
