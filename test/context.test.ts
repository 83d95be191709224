import { describe, expect, it } from 'vitest';
import { DeviceLostError, GpuOpError, ShaderCompileError, ShapeError, foldGrid, kernelKey, ops, registerShader } from '../src/core.js';
import { createContext } from '#lane';
import { useContext } from './util/gpu.js';

const getCtx = useContext();

await registerShader(
  'test_broken.wgsl',
  `@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64, 1, 1)
fn broken(@builtin(global_invocation_id) g: vec3u) {
  out[g.x] = undefined_name;
}`,
);
await registerShader(
  'test_fixed.wgsl',
  `struct Params { n: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32, 64>;
@compute @workgroup_size(64, 1, 1)
fn fill(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { out[g.x] = p.scale * f32(g.x); }
}`,
);

describe('context', () => {
  it('names the shader file and line when WGSL fails to compile (async prepare)', async () => {
    const ctx = getCtx();
    const err = await ctx.prepare([{ shader: 'test_broken.wgsl', entry: 'broken' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShaderCompileError);
    expect((err as ShaderCompileError).shader).toBe('test_broken.wgsl');
    expect((err as Error).message).toMatch(/test_broken\.wgsl:4:\d+ .*undefined_name/);
  });

  it('names the shader file when a kernel built on first use fails (reported at the next sync)', async () => {
    const ctx = await createContext();
    try {
      ctx.kernel({ shader: 'test_broken.wgsl', entry: 'broken' });
      const err = await ctx.sync().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ShaderCompileError);
      expect((err as Error).message).toContain('test_broken.wgsl (entry broken) failed to compile');
    } finally {
      ctx.destroy();
    }
  });

  it('reports a GPU validation error as GpuOpError naming the op', async () => {
    const ctx = getCtx();
    const k = ctx.kernel({ shader: 'test_fixed.wgsl', entry: 'fill' });
    const small = ctx.tensor([1]); // the shader needs 256 bytes: binding 4 is a validation error
    ctx.dispatch(k, { out: small }, { n: 64, scale: 1 }, [1]);
    const err = await ctx.sync().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuOpError);
    expect((err as GpuOpError).op).toBe('test_fixed.wgsl:fill');
    expect((err as GpuOpError).kind).toBe('validation');
    small.destroy();
  });

  it('fills uniforms by reflected member name and rejects unknown or missing ones', async () => {
    const ctx = getCtx();
    const k = ctx.kernel({ shader: 'test_fixed.wgsl', entry: 'fill' });
    expect(k.uniformMembers.map((m) => `${m.name}:${m.type}@${m.offset}`)).toEqual(['n:u32@0', 'scale:f32@4']);
    expect(k.bindings.map((b) => `${b.binding}:${b.name}:${b.kind}`)).toEqual(['0:p:uniform', '1:out:storage']);
    const out = ctx.tensor([64]);
    expect(() => ctx.dispatch(k, { out }, { n: 3 }, [1])).toThrow('test_fixed.wgsl:fill: uniform scale not given');
    expect(() => ctx.dispatch(k, { out }, { n: 3, scale: 1, m: 2 }, [1])).toThrow('has no uniform member m');
    expect(() => ctx.dispatch(k, {}, { n: 3, scale: 1 }, [1])).toThrow('no buffer given for out');
    ctx.dispatch(k, { out }, { n: 5, scale: 0.5 }, [1]);
    const y = await ctx.readF32(out);
    expect(Array.from(y.slice(0, 6))).toEqual([0, 0.5, 1, 1.5, 2, 0]);
    out.destroy();
  });

  it('caches pipelines by file, entry and defines, and uniform buffers by content', async () => {
    const ctx = getCtx();
    const a = ctx.kernel({ shader: 'elementwise.wgsl', entry: 'add' });
    expect(ctx.kernel({ shader: 'elementwise.wgsl', entry: 'add' })).toBe(a);
    expect(kernelKey({ shader: 'x.wgsl', entry: 'f', defines: { B: 2, A: 1 } })).toBe('x.wgsl:f[A=1,B=2]');
    const x = ctx.tensor([100], new Float32Array(100).fill(1));
    const y = ctx.tensor([100]);
    ops.add(ctx, x, x, y);
    await ctx.sync();
    const live = ctx.liveBuffers;
    const kernels = ctx.kernelCount;
    for (let i = 0; i < 5; i++) ops.add(ctx, x, x, y);
    await ctx.sync();
    expect(ctx.liveBuffers).toBe(live);
    expect(ctx.kernelCount).toBe(kernels);
    x.destroy();
    y.destroy();
    expect(ctx.liveBuffers).toBe(live - 2);
  });

  it('checks tensor data against the shape', () => {
    const ctx = getCtx();
    expect(() => ctx.tensor([2, 3], [1, 2, 3], 'f32', 'w')).toThrow(ShapeError);
    expect(() => ctx.tensor([2, 3], [1, 2, 3], 'f32', 'w')).toThrow('w: 3 values given for shape [2, 3] (6 elements)');
    expect(() => ctx.tensor([2, -1])).toThrow('bad shape [2, -1]');
  });

  it('rejects a grid over the per-dimension limit and folds flat grids', () => {
    const ctx = getCtx();
    const k = ctx.kernel({ shader: 'elementwise.wgsl', entry: 'add' });
    const max = ctx.device.limits.maxComputeWorkgroupsPerDimension;
    const t = ctx.tensor([4]);
    expect(() => ctx.dispatch(k, { a: t, b: t, out: ctx.scratch(16) }, { n: 4 }, [max + 1])).toThrow(ShapeError);
    t.destroy();
    expect(foldGrid(10, 65535)).toEqual([10, 1]);
    const [fx, fy] = foldGrid(65536 * 3 + 1, 65535);
    expect(fx).toBeLessThanOrEqual(65535);
    expect(fx * fy).toBeGreaterThanOrEqual(65536 * 3 + 1);
    expect(fx * (fy - 1)).toBeLessThan(65536 * 3 + 1);
  });

  it('throws DeviceLostError after the context is destroyed', async () => {
    const ctx = await createContext();
    ctx.destroy();
    expect(() => ctx.tensor([1])).toThrow(DeviceLostError);
  });

  it('times recorded GPU work with timestamps between startGpuTimer and stopGpuTimer', async () => {
    const ctx = getCtx();
    if (!ctx.timestamps) {
      // a device without the feature says so instead of returning a made-up time
      expect(() => ctx.startGpuTimer()).toThrow('startGpuTimer: the device has no timestamp-query feature');
      return;
    }
    expect(() => ctx.stopGpuTimer()).toThrow('stopGpuTimer: no GPU timer is running');
    const x = ctx.tensor([8, 16, 16, 16], new Float32Array(8 * 16 * 256).fill(0.5));
    const w = ctx.tensor([16, 16, 3, 3], new Float32Array(16 * 16 * 9).fill(0.25));
    const y = ctx.tensor([8, 16, 16, 16]);
    const z = ctx.tensor([8, 16, 16, 16], new Float32Array(8 * 16 * 256).fill(1));
    await ctx.sync();
    const t0 = performance.now();
    ctx.startGpuTimer();
    expect(() => ctx.startGpuTimer()).toThrow('startGpuTimer: a GPU timer is already running');
    ops.conv2dForward(ctx, x, w, { padding: 1 }, y);
    ctx.clear(x); // a copy or clear between dispatches starts a second compute pass
    ops.conv2dForward(ctx, x, w, { padding: 1 }, z);
    const read = ctx.stopGpuTimer();
    const ms = await read();
    const wall = performance.now() - t0;
    // the span of both passes: more than nothing, no more than the host waited for it
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(wall);
    // the work ran in order: the first convolution read x, the second the cleared x
    expect((await ctx.readF32(y))[0]).toBe(4 * 16 * 0.5 * 0.25);
    expect((await ctx.readF32(z)).every((v) => v === 0)).toBe(true);
    // a timer around nothing reads 0, and timing leaves no buffers behind
    const live = ctx.liveBuffers;
    ctx.startGpuTimer();
    expect(await ctx.stopGpuTimer()()).toBe(0);
    expect(ctx.liveBuffers).toBe(live);
    for (const t of [x, w, y, z]) t.destroy();
  });

  it('describes the adapter it runs on', () => {
    const ctx = getCtx();
    expect(typeof ctx.adapter.isSwiftShader).toBe('boolean');
    expect(['tiled', 'regblock']).toContain(ctx.variants.gemm);
    expect(ctx.variants.gemm).toBe(ctx.adapter.isSwiftShader ? 'regblock' : 'tiled');
  });
});
