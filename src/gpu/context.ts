/**
 * The GPU context: one device, its kernel cache, one open command encoder that ops record into,
 * and the bookkeeping that keeps the device honest (live-buffer count, error scopes around every
 * submit, device loss). Ops record many dispatches into one compute pass; nothing is submitted
 * until `flush()`, `sync()` or `read()`.
 */
import { DeviceLostError, GpuOpError, NetslimError, ShapeError } from '../errors.js';
import { buildKernelAsync, buildKernelSync, kernelKey, packUniforms, type BuiltinKernelSpec, type Kernel, type KernelSpec, type PendingCheck } from './kernel.js';
import type { ShaderUniforms } from './shader-types.js';
import { Tensor, numel, type DType } from './tensor.js';

/** Which implementation of a kernel family runs. `auto` picks per adapter. */
export interface KernelVariants {
  /**
   * conv2d and linear GEMMs: `tiled` stages tiles in workgroup memory (wins on real GPUs);
   * `regblock` keeps a block of outputs in registers with no workgroup memory or barriers
   * (wins on SwiftShader, which maps invocations onto CPU SIMD lanes).
   */
  gemm: 'tiled' | 'regblock';
}

export interface ContextOptions {
  /** Force kernel variants instead of choosing them from the adapter. */
  variants?: Partial<KernelVariants>;
  /** Print a line to this function when something noteworthy happens (fallbacks). Default console.warn. */
  log?: (msg: string) => void;
}

/** What we know about the adapter behind the device. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for SwiftShader, the CPU implementation of Vulkan that Chromium ships. */
  isSwiftShader: boolean;
}

export type Bindable = Tensor | GPUBuffer;

// WebGPU flag values (spec constants), so this module needs no GPU globals at import time.
const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80, QUERY_RESOLVE: 0x200 } as const;
const MAP_MODE_READ = 0x1;
/** Timestamps a GPU timer can hold: two per compute pass. */
const TIMER_QUERIES = 1024;
const STORAGE_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
const MAX_CACHED_UNIFORMS = 4096;
/** What each context keeps alive with it (Dawn's GPU instance in Node, which must outlive the device). */
const KEPT_ALIVE = new WeakMap<object, unknown>();

function describeAdapter(info: GPUAdapterInfo | undefined): AdapterDescription {
  const d = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
  };
  const all = `${d.vendor} ${d.architecture} ${d.device} ${d.description}`;
  return { ...d, isSwiftShader: /swiftshader/i.test(all) };
}

/** Extracts the op label (`file.wgsl:entry`) that WebGPU error messages quote. */
function opFromMessage(message: string): string {
  const m = /"([\w-]+\.wgsl:\w+)"/.exec(message);
  return m?.[1] ?? 'unlabelled GPU work';
}

/** Pipelines per device, so two contexts on one device share them and a lost device drops them. */
const kernelCaches = new WeakMap<GPUDevice, Map<string, Kernel<object>>>();

/**
 * A WebGPU device with netslim's kernel cache and one open command encoder: `init()` makes one.
 * Tensors are allocated with `tensor()`; ops record into the encoder, and nothing runs until
 * `flush()`, `sync()` or a read.
 *
 * @example
 * ```ts
 * import { init } from 'netslim/node';
 *
 * const ctx = await init();
 * const a = ctx.tensor([2, 2], [1, 2, 3, 4]);
 * const b = ctx.tensor([2, 2]); // zero-filled
 * ctx.copy(a, b);
 * console.log(await ctx.readF32(b), ctx.liveBuffers); // Float32Array [1, 2, 3, 4] 2
 * ctx.destroy();
 * ```
 */
export class Context {
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  /** The `subgroups` feature is enabled on the device. */
  readonly subgroups: boolean;
  /** The `timestamp-query` feature is enabled on the device. */
  readonly timestamps: boolean;
  readonly variants: KernelVariants;
  /** Where notices go (`options.log`, default `console.warn`). */
  readonly log: (msg: string) => void;

  #kernels: Map<string, Kernel<object>>;
  #checks: PendingCheck[] = [];
  #errors: NetslimError[] = [];
  #lost: DeviceLostError | null = null;
  #destroyed = false;
  #buffers = new Set<GPUBuffer>();
  #uniforms = new Map<string, GPUBuffer>();
  #scratchFree = new Map<number, GPUBuffer[]>();
  #scratchInFlight: GPUBuffer[] = [];
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #dispatches = 0;
  /** The open GPU timer: its query set and the number of timestamps written so far. */
  #timer: { set: GPUQuerySet; used: number } | null = null;

  constructor(device: GPUDevice, adapterInfo: GPUAdapterInfo | undefined, options: ContextOptions = {}, keepAlive?: unknown) {
    this.device = device;
    let cache = kernelCaches.get(device);
    if (!cache) kernelCaches.set(device, (cache = new Map()));
    this.#kernels = cache;
    this.adapter = describeAdapter(adapterInfo ?? (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo);
    this.subgroups = device.features.has('subgroups');
    this.timestamps = device.features.has('timestamp-query');
    this.log = options.log ?? ((m) => console.warn(m));
    this.variants = {
      gemm: options.variants?.gemm ?? (this.adapter.isSwiftShader ? 'regblock' : 'tiled'),
    };
    // dawn.node: the object returned by create() must stay reachable while the device lives.
    KEPT_ALIVE.set(this, keepAlive);
    void device.lost.then((info) => {
      if (!this.#destroyed) this.#lost = new DeviceLostError(info.reason ?? 'unknown', info.message);
    });
    device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      const kind = err.constructor?.name === 'GPUOutOfMemoryError' ? 'out-of-memory' : 'validation';
      this.#errors.push(new GpuOpError(opFromMessage(err.message), kind, err.message));
    });
  }

  // ---------------------------------------------------------------- buffers and tensors

  /** Number of GPU buffers this context created and has not destroyed (tensors, uniforms, scratch, staging). */
  get liveBuffers(): number {
    return this.#buffers.size;
  }

  /** Number of dispatches recorded since the context was made (for tests and benchmarks). */
  get dispatchCount(): number {
    return this.#dispatches;
  }

  #createBuffer(size: number, usage: number, label: string, mappedAtCreation = false): GPUBuffer {
    this.#checkAlive();
    const bytes = Math.max(4, Math.ceil(size / 4) * 4);
    if (bytes > this.device.limits.maxBufferSize) {
      throw new ShapeError(`${label}: ${bytes} bytes exceeds the device's maxBufferSize ${this.device.limits.maxBufferSize}`);
    }
    const b = this.device.createBuffer({ size: bytes, usage, label, mappedAtCreation });
    this.#buffers.add(b);
    return b;
  }

  #destroyBuffer(b: GPUBuffer): void {
    if (this.#buffers.delete(b)) b.destroy();
  }

  /** Allocates a tensor; `data` (if given) is uploaded, else the tensor is zero-filled. */
  tensor(shape: readonly number[], data?: ArrayLike<number> | ArrayBufferView, dtype: DType = 'f32', label = 'tensor'): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${label}: bad shape [${shape.join(', ')}]`);
    }
    const n = numel(shape);
    const buffer = this.#createBuffer(n * 4, STORAGE_USAGE, label);
    if (data !== undefined) {
      const len = ArrayBuffer.isView(data) ? (data as unknown as ArrayLike<number>).length : data.length;
      if (len !== n) throw new ShapeError(`${label}: ${len} values given for shape [${shape.join(', ')}] (${n} elements)`);
      let typed: Float32Array | Uint32Array | Int32Array;
      const src = data as ArrayLike<number>;
      if (dtype === 'f32') typed = src instanceof Float32Array ? src : Float32Array.from(src);
      else if (dtype === 'u32') typed = src instanceof Uint32Array ? src : Uint32Array.from(src);
      else typed = src instanceof Int32Array ? src : Int32Array.from(src);
      if (n > 0) this.device.queue.writeBuffer(buffer, 0, typed.buffer, typed.byteOffset, typed.byteLength);
    }
    return new Tensor(buffer, [...shape], dtype, (t) => this.#destroyBuffer(t.buffer));
  }

  /**
   * A temporary buffer of at least `bytes` bytes for use inside recorded work; it returns to a
   * pool after the next submit, so do not keep it across `flush()`.
   */
  scratch(bytes: number, label = 'scratch'): GPUBuffer {
    const size = Math.max(4, Math.ceil(bytes / 256) * 256);
    const free = this.#scratchFree.get(size);
    const b = free?.pop() ?? this.#createBuffer(size, STORAGE_USAGE, label);
    this.#scratchInFlight.push(b);
    return b;
  }

  /** Releases pooled scratch buffers (e.g. after a shape change). */
  releaseScratch(): void {
    this.flush();
    for (const list of this.#scratchFree.values()) for (const b of list) this.#destroyBuffer(b);
    this.#scratchFree.clear();
  }

  #uniformBuffer<U extends object>(kernel: Kernel<U>, values: U): GPUBuffer {
    const data = packUniforms(kernel, values);
    const key = `${data.byteLength}:${Array.from(new Uint32Array(data)).join(',')}`;
    let b = this.#uniforms.get(key);
    if (!b) {
      b = this.#createBuffer(data.byteLength, USAGE.UNIFORM, `${kernel.label} uniforms`, true);
      new Uint8Array(b.getMappedRange()).set(new Uint8Array(data));
      b.unmap();
      this.#uniforms.set(key, b);
    }
    return b;
  }

  // ---------------------------------------------------------------- kernels and recording

  /**
   * The kernel for a spec, built on first use (synchronously; see `prepare`). A spec of a built-in
   * file gives a kernel typed by that entry's uniform struct.
   */
  kernel<F extends keyof ShaderUniforms, E extends keyof ShaderUniforms[F] & string>(spec: BuiltinKernelSpec<F, E>): Kernel<ShaderUniforms[F][E] & object>;
  kernel(spec: KernelSpec): Kernel;
  kernel(spec: KernelSpec): Kernel<object> {
    const key = kernelKey(spec);
    let k = this.#kernels.get(key);
    if (!k) {
      this.#checkAlive();
      const built = buildKernelSync(this.device, spec);
      k = built.kernel;
      this.#checks.push(built.check);
      this.#kernels.set(key, k);
    }
    return k;
  }

  /** Compiles kernels ahead of use, in parallel, with `createComputePipelineAsync`. */
  async prepare(specs: readonly KernelSpec[]): Promise<void> {
    this.#checkAlive();
    const todo = specs.filter((s, i) => !this.#kernels.has(kernelKey(s)) && specs.findIndex((t) => kernelKey(t) === kernelKey(s)) === i);
    const built = await Promise.all(todo.map((s) => buildKernelAsync(this.device, s)));
    for (const k of built) if (!this.#kernels.has(k.key)) this.#kernels.set(k.key, k);
  }

  /** Number of compiled kernels. */
  get kernelCount(): number {
    return this.#kernels.size;
  }

  #computePass(): GPUComputePassEncoder {
    this.#checkAlive();
    if (!this.#encoder) this.#encoder = this.device.createCommandEncoder({ label: 'netslim' });
    if (!this.#pass) {
      const t = this.#timer;
      if (t && t.used + 2 > TIMER_QUERIES) throw new Error(`GPU timer: more than ${TIMER_QUERIES / 2} compute passes recorded`);
      const timestampWrites = t ? { querySet: t.set, beginningOfPassWriteIndex: t.used, endOfPassWriteIndex: t.used + 1 } : undefined;
      if (t) t.used += 2;
      this.#pass = this.#encoder.beginComputePass({ label: 'netslim', timestampWrites });
    }
    return this.#pass;
  }

  #commandEncoder(): GPUCommandEncoder {
    this.#checkAlive();
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
    if (!this.#encoder) this.#encoder = this.device.createCommandEncoder({ label: 'netslim' });
    return this.#encoder;
  }

  /**
   * Records one dispatch of `kernel` with buffers bound by their WGSL variable names and the
   * uniform block filled by member name. `grid` is in workgroups; each dimension must fit the
   * device limit (use `dispatchFlat` for 1-D work that may not).
   */
  dispatch<U extends object>(kernel: Kernel<U>, bindings: Record<string, Bindable>, uniforms: U, grid: readonly [number, number?, number?]): void {
    const [x, y = 1, z = 1] = grid;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new ShapeError(`${kernel.label}: grid [${x}, ${y}, ${z}] exceeds ${max} workgroups per dimension`);
    }
    const entries: GPUBindGroupEntry[] = [];
    for (const b of kernel.bindings) {
      if (b.kind === 'uniform') {
        entries.push({ binding: b.binding, resource: { buffer: this.#uniformBuffer(kernel, uniforms) } });
      } else {
        const t = bindings[b.name];
        if (t === undefined) throw new Error(`${kernel.label}: no buffer given for ${b.name}`);
        if (t instanceof Tensor && t.destroyed) throw new Error(`${kernel.label}: ${b.name} was destroyed`);
        entries.push({ binding: b.binding, resource: { buffer: t instanceof Tensor ? t.buffer : t } });
      }
    }
    if (kernel.uniformName === undefined && Object.keys(uniforms).length > 0) {
      throw new Error(`${kernel.label}: has no uniform block but uniforms were given`);
    }
    const group = this.device.createBindGroup({ label: kernel.label, layout: kernel.layout, entries });
    const pass = this.#computePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
    this.#dispatches++;
  }

  /**
   * Records a 1-D dispatch of `workgroups` workgroups, folded into x·y when it exceeds the
   * per-dimension limit. Kernels dispatched this way compute their linear workgroup index as
   * `wid.x + wid.y * nwg.x` and guard against the overshoot of the fold.
   */
  dispatchFlat<U extends object>(kernel: Kernel<U>, bindings: Record<string, Bindable>, uniforms: U, workgroups: number): void {
    this.dispatch(kernel, bindings, uniforms, foldGrid(workgroups, this.device.limits.maxComputeWorkgroupsPerDimension));
  }

  /** Records a buffer copy. */
  copy(src: Bindable, dst: Bindable, bytes?: number, srcOffset = 0, dstOffset = 0): void {
    const s = src instanceof Tensor ? src.buffer : src;
    const d = dst instanceof Tensor ? dst.buffer : dst;
    const n = bytes ?? Math.min(s.size - srcOffset, d.size - dstOffset);
    if (n === 0) return;
    this.#commandEncoder().copyBufferToBuffer(s, srcOffset, d, dstOffset, n);
  }

  /** Records a zero fill. */
  clear(t: Bindable): void {
    this.#commandEncoder().clearBuffer(t instanceof Tensor ? t.buffer : t);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.#checkAlive();
    if (this.#encoder) {
      if (this.#pass) this.#pass.end();
      this.#pass = null;
      const enc = this.#encoder;
      this.#encoder = null;
      this.device.pushErrorScope('validation');
      this.device.pushErrorScope('out-of-memory');
      this.device.queue.submit([enc.finish()]);
      const oom = this.device.popErrorScope();
      const val = this.device.popErrorScope();
      this.#checks.push(
        Promise.all([oom, val]).then(([o, v]) => {
          if (o) this.#errors.push(new GpuOpError(opFromMessage(o.message), 'out-of-memory', o.message));
          if (v) this.#errors.push(new GpuOpError(opFromMessage(v.message), 'validation', v.message));
          return null;
        }),
      );
    }
    for (const b of this.#scratchInFlight) {
      const list = this.#scratchFree.get(b.size) ?? [];
      list.push(b);
      this.#scratchFree.set(b.size, list);
    }
    this.#scratchInFlight = [];
    if (this.#uniforms.size > MAX_CACHED_UNIFORMS) {
      for (const b of this.#uniforms.values()) this.#destroyBuffer(b);
      this.#uniforms.clear();
    }
  }

  /** Submits and waits until the GPU has finished; throws the first GPU error since the last sync. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.#throwPending();
  }

  async #throwPending(): Promise<void> {
    const checks = this.#checks;
    this.#checks = [];
    // Compile errors first: a broken module also makes every later dispatch report "Invalid ComputePipeline".
    const compile = (await Promise.all(checks)).filter((c): c is NonNullable<typeof c> => c !== null);
    this.#errors.unshift(...compile);
    if (this.#lost) throw this.#lost;
    const e = this.#errors.shift();
    if (e) {
      this.#errors = [];
      throw e;
    }
  }

  /**
   * Starts a GPU timer: every compute pass recorded until `stopGpuTimer()` writes a GPU timestamp
   * at its start and end. Needs the `timestamp-query` feature (`ctx.timestamps`).
   */
  startGpuTimer(): void {
    this.#checkAlive();
    if (!this.timestamps) throw new Error('startGpuTimer: the device has no timestamp-query feature');
    if (this.#timer) throw new Error('startGpuTimer: a GPU timer is already running');
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
    this.#timer = { set: this.device.createQuerySet({ type: 'timestamp', count: TIMER_QUERIES, label: 'netslim timer' }), used: 0 };
  }

  /**
   * Stops the GPU timer and submits the recorded work. The returned function resolves to the GPU
   * milliseconds from the start of the first timed pass to the end of the last (0 when none was
   * recorded): the time the device spent, free of how the host waited for it. (dawn.node spins
   * while a promise is pending, taking a core from SwiftShader: sleep through most of the expected
   * time before calling it.)
   */
  stopGpuTimer(): () => Promise<number> {
    this.#checkAlive();
    const t = this.#timer;
    if (!t) throw new Error('stopGpuTimer: no GPU timer is running');
    this.#timer = null;
    if (t.used === 0) {
      t.set.destroy();
      return () => Promise.resolve(0);
    }
    const bytes = t.used * 8;
    const resolved = this.#createBuffer(bytes, USAGE.QUERY_RESOLVE | USAGE.COPY_SRC, 'timer resolve');
    const staging = this.#createBuffer(bytes, USAGE.MAP_READ | USAGE.COPY_DST, 'timer readback');
    const enc = this.#commandEncoder();
    enc.resolveQuerySet(t.set, 0, t.used, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    this.flush();
    return async () => {
      try {
        await staging.mapAsync(MAP_MODE_READ);
        const ns = new BigUint64Array(staging.getMappedRange(0, bytes).slice(0));
        staging.unmap();
        let first = ns[0]!;
        let last = ns[1]!;
        for (let i = 0; i < ns.length; i += 2) {
          if (ns[i]! < first) first = ns[i]!;
          if (ns[i + 1]! > last) last = ns[i + 1]!;
        }
        return last > first ? Number(last - first) / 1e6 : 0;
      } finally {
        this.#destroyBuffer(resolved);
        this.#destroyBuffer(staging);
        t.set.destroy();
      }
    };
  }

  /** Copies a tensor back to JavaScript (submits recorded work first). */
  async read(t: Tensor): Promise<Float32Array | Uint32Array | Int32Array>;
  async read(t: Tensor): Promise<Float32Array | Uint32Array | Int32Array> {
    const bytes = t.size * 4;
    const out = t.dtype === 'f32' ? new Float32Array(t.size) : t.dtype === 'u32' ? new Uint32Array(t.size) : new Int32Array(t.size);
    if (bytes === 0) {
      await this.sync();
      return out;
    }
    const staging = this.#createBuffer(bytes, USAGE.MAP_READ | USAGE.COPY_DST, 'readback');
    try {
      this.#commandEncoder().copyBufferToBuffer(t.buffer, 0, staging, 0, bytes);
      this.flush();
      await staging.mapAsync(MAP_MODE_READ);
      const src = staging.getMappedRange(0, bytes);
      new Uint8Array(out.buffer).set(new Uint8Array(src));
      staging.unmap();
    } finally {
      this.#destroyBuffer(staging);
    }
    await this.#throwPending();
    return out;
  }

  /** Reads a float tensor. */
  async readF32(t: Tensor): Promise<Float32Array> {
    if (t.dtype !== 'f32') throw new ShapeError(`readF32: tensor has dtype ${t.dtype}`);
    return (await this.read(t)) as Float32Array;
  }

  #checkAlive(): void {
    if (this.#lost) throw this.#lost;
    if (this.#destroyed) throw new DeviceLostError('destroyed', 'this context was destroyed');
  }

  /**
   * Destroys every buffer and the device; in Node this lets the process exit. Call `await
   * sync()` first when work may still be queued (uploads, a prune's compaction): with `webgpu`
   * 0.6.2 on SwiftShader, destroying a device with work in flight made Node abort, segfault or
   * hang at exit in most runs.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const b of this.#buffers) b.destroy();
    this.#buffers.clear();
    this.#uniforms.clear();
    this.#scratchFree.clear();
    kernelCaches.delete(this.device);
    this.device.destroy();
    KEPT_ALIVE.delete(this);
  }
}

/**
 * Folds a 1-D workgroup count into [x, y] with x ≤ max.
 *
 * @example
 * ```ts
 * import { foldGrid } from 'netslim';
 *
 * console.log(foldGrid(1000, 65535)); // [1000, 1]
 * console.log(foldGrid(100000, 65535)); // [50000, 2]
 * ```
 */
export function foldGrid(workgroups: number, max: number): [number, number] {
  if (workgroups <= max) return [workgroups, 1];
  const y = Math.ceil(workgroups / max);
  const x = Math.ceil(workgroups / y);
  if (y > max) throw new ShapeError(`${workgroups} workgroups exceed ${max}×${max}`);
  return [x, y];
}
