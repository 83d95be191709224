// The build-time reflection (build/wgsl-plugin.mjs) refuses shader files whose layouts the runtime
// could not look up: a uniform block that an #if changes, bindings that a numeric define changes,
// and a workgroup size the runtime would misread.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the build, without declarations
import { reflectShaders } from '../../build/wgsl-plugin.mjs';

const reflect = reflectShaders as (files: Record<string, string>) => Promise<Record<string, { entries: Record<string, { layoutOf: number[]; layouts: [string, number, string][][] }> }>>;

const HEAD = '@group(0) @binding(0) var<storage, read_write> y: array<f32>;\n@group(0) @binding(1) var<storage, read> a: array<f32>;\n';

describe('build-time shader reflection', () => {
  it('records one layout per switch combination', async () => {
    const r = await reflect({
      'k.wgsl': `#define A: bool\n#define N: 1 | 2 = 1\n${HEAD}@compute @workgroup_size({{N}}, 1, 1)\nfn main() {\n#if A\n  y[0] = a[0];\n#else\n  y[0] = 1.0;\n#endif\n}`,
    });
    const e = r['k.wgsl']!.entries.main!;
    expect(e.layoutOf.length).toBe(2);
    expect(e.layouts[e.layoutOf[0]!]!.map(([n]) => n)).toEqual(['y']);
    expect(e.layouts[e.layoutOf[1]!]!.map(([n]) => n)).toEqual(['y', 'a']);
  });

  it('refuses a uniform block that depends on a switch', async () => {
    const files = {
      'u.wgsl': '#define A: bool\n#if A\nstruct P { n: u32, k: f32 }\n#else\nstruct P { n: u32 }\n#endif\n@group(0) @binding(0) var<uniform> p: P;\n@group(0) @binding(1) var<storage, read_write> y: array<f32>;\n@compute @workgroup_size(1, 1, 1)\nfn main() { y[0] = f32(p.n); }',
    };
    await expect(reflect(files)).rejects.toThrow('u.wgsl:main: the uniform block differs between variants');
  });

  it('refuses bindings that a numeric define changes', async () => {
    const files = { 'n.wgsl': `#define N: 1 | 2\n${HEAD}@compute @workgroup_size(1, 1, 1)\nfn main() {\n#if N == 2\n  y[0] = a[0];\n#endif\n}` };
    await expect(reflect(files)).rejects.toThrow('n.wgsl:main: the bindings change with N=2');
  });

  it('refuses a workgroup size the runtime cannot read', async () => {
    const files = { 'w.wgsl': `${HEAD}const S = 8u;\n@compute @workgroup_size(S, 1, 1)\nfn main() { y[0] = a[0]; }` };
    await expect(reflect(files)).rejects.toThrow('w.wgsl');
  });
});
