/**
 * Kernels: a WGSL entry point from one of `shaders/*.wgsl`, specialised by the defines its file
 * declares (src/gpu/wgsl-preprocess.ts), compiled once per device and cached by exactly what
 * selects its variant (file, entry point, defines). Bind group layouts and the uniform block's
 * layout of the built-in files were reflected at build time (build/wgsl-plugin.mjs), never
 * written by hand; shapes go in uniforms so a pruned model reuses the same pipelines. Only
 * shaders registered at run time are reflected here, with wgsl_reflect loaded on demand.
 */
import { ShaderCompileError } from '../errors.js';
import { REFLECTION, SHADERS, type BindingInfo, type EntryReflection, type UniformMember } from '../shaders.js';
import type { ShaderDefines, ShaderUniforms } from './shader-types.js';
import { expandShader, resolveDefines, shaderDefines, workgroupSizeOf, type DefineDecl, type DefineValue } from './wgsl-preprocess.js';

/** What selects one pipeline: the shader file, its entry point and the values of its defines. */
export interface KernelSpec {
  /** File name under `shaders/` (e.g. `conv2d_forward.wgsl`) or one given to registerShader. */
  shader: string;
  /** Compute entry point. */
  entry: string;
  /** Values of the file's `#define`s (switches left out are off), or of a registered file's `{{NAME}}` tokens. */
  defines?: Record<string, DefineValue | string>;
}

/** A spec of a built-in shader file, typed by the file's defines and entry points. */
export interface BuiltinKernelSpec<F extends keyof ShaderUniforms, E extends keyof ShaderUniforms[F] & string> extends KernelSpec {
  shader: F;
  entry: E;
  defines?: ShaderDefines[F];
}

/**
 * A compiled entry point with its bindings. `U` is its uniform struct: a kernel of a built-in file
 * takes exactly the members its WGSL declares (see ShaderUniforms).
 */
export interface Kernel<U extends object = Record<string, number>> {
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
  /** Type only: the uniform struct (never set). */
  readonly uniforms?: U;
}

const userShaders = new Map<string, string>();
const lookup = (file: string): string | undefined => SHADERS[file] ?? userShaders.get(file);
const declCache = new Map<string, DefineDecl[]>();

function declsOf(file: string): DefineDecl[] {
  let d = declCache.get(file);
  if (!d) declCache.set(file, (d = shaderDefines(file, lookup)));
  return d;
}

/** The spec's defines, checked and completed against what its file declares. */
function definesOf(spec: KernelSpec): Record<string, DefineValue | string> {
  if (lookup(spec.shader) === undefined) return { ...spec.defines };
  return resolveDefines(spec.shader, declsOf(spec.shader), spec.defines);
}

/**
 * The cache key of a spec: exactly what selects its variant (a built-in file's declared defines,
 * defaults filled in; a registered file's given defines).
 *
 * @example
 * ```ts
 * import { kernelKey } from 'netslim';
 *
 * console.log(kernelKey({ shader: 'conv2d_forward.wgsl', entry: 'conv_regblock', defines: { ROWS: 8 } }));
 * // conv2d_forward.wgsl:conv_regblock[SG=false,BN=false,RELU=false,ADD=false,PERPIX=false,ROWS=8,WG=16,TN=8,TAP1=false]
 * ```
 */
export function kernelKey(spec: KernelSpec): string {
  const defs = definesOf(spec);
  const names = SHADERS[spec.shader] !== undefined ? Object.keys(defs) : Object.keys(defs).sort();
  const text = names.map((k) => `${k}=${String(defs[k])}`).join(',');
  return `${spec.shader}:${spec.entry}${text ? `[${text}]` : ''}`;
}

type Reflector = typeof import('wgsl_reflect').WgslReflect;
let reflector: Reflector | undefined;

/**
 * Adds a WGSL file of your own under `name` (e.g. `my_op.wgsl`), usable in a KernelSpec like the
 * built-in ones and following the same conventions (group 0, one uniform struct of scalars). Its
 * layouts are reflected when its kernels are built, by wgsl_reflect, which this loads on first use
 * (the built-in files need no parser at run time). It may `#include` built-in files and declare
 * `#define`s as they do (src/gpu/wgsl-preprocess.ts). The built-in files cannot be replaced.
 *
 * @example
 * ```ts
 * import { init, registerShader } from 'netslim/node';
 *
 * await registerShader('scale.wgsl', [
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
export async function registerShader(name: string, code: string): Promise<void> {
  if (SHADERS[name] !== undefined) throw new Error(`registerShader: ${name} is a built-in shader file`);
  reflector ??= (await import('wgsl_reflect/wgsl_reflect.module.js')).WgslReflect;
  userShaders.set(name, code);
  declCache.delete(name);
}

/**
 * Returns the WGSL module of a spec: includes inlined, `#if` blocks resolved and every `{{NAME}}`
 * replaced by its define.
 *
 * @example
 * ```ts
 * import { kernelSource, registerShader } from 'netslim';
 *
 * await registerShader('fill.wgsl', 'const VALUE: f32 = {{VALUE}};');
 * console.log(kernelSource({ shader: 'fill.wgsl', entry: 'main', defines: { VALUE: 1.5 } })); // const VALUE: f32 = 1.5;
 * ```
 */
export function kernelSource(spec: KernelSpec): string {
  if (lookup(spec.shader) === undefined) throw new Error(`unknown shader file ${spec.shader}`);
  try {
    return expandShader(spec.shader, lookup, definesOf(spec));
  } catch (e) {
    throw new Error(`${(e as Error).message} (entry ${spec.entry})`, { cause: e });
  }
}

interface Reflected {
  bindings: BindingInfo[];
  uniformName: string | undefined;
  uniformSize: number;
  uniformMembers: UniformMember[];
  workgroupSize: [number, number, number];
}

/** A built-in entry's layouts, from the build's reflection, for the variant of `defs`. */
function builtinReflection(spec: KernelSpec, code: string, defs: Record<string, DefineValue | string>): Reflected {
  const entry: EntryReflection | undefined = REFLECTION[spec.shader]?.entries[spec.entry];
  if (!entry) throw new Error(`${spec.shader} has no compute entry point ${spec.entry}`);
  let bits = 0;
  declsOf(spec.shader)
    .filter((d) => typeof d.values[0] === 'boolean')
    .forEach((d, k) => {
      if (defs[d.name] === true) bits |= 1 << k;
    });
  const bindings = entry.layouts[entry.layoutOf[bits]!]!.map(([name, binding, kind]) => ({ name, binding, kind }));
  const u = entry.uniform;
  return {
    bindings,
    uniformName: u?.name,
    uniformSize: u?.size ?? 0,
    uniformMembers: u ? u.members.map(([name, offset, type]) => ({ name, offset, type })) : [],
    workgroupSize: workgroupSizeOf(code, spec.entry),
  };
}

/** A registered file's layouts, reflected now. */
function userReflection(spec: KernelSpec, code: string): Reflected {
  const r = new reflector!(code);
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

/** Source, cache key and layouts of a spec. */
function prepareSpec(spec: KernelSpec): { key: string; label: string; code: string; refl: Reflected } {
  const defs = definesOf(spec);
  const code = kernelSource(spec);
  const refl = SHADERS[spec.shader] !== undefined ? builtinReflection(spec, code, defs) : userReflection(spec, code);
  return { key: kernelKey(spec), label: `${spec.shader}:${spec.entry}`, code, refl };
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
  const { key, label, code, refl } = prepareSpec(spec);
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
  const { key, label, code, refl } = prepareSpec(spec);
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
export function packUniforms<U extends object>(kernel: Kernel<U>, uniforms: U): ArrayBuffer {
  const values = uniforms as Record<string, number>;
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
