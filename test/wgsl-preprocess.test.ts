// The WGSL preprocessor (src/gpu/wgsl-preprocess.ts): declarations, conditionals, includes, the
// errors a malformed file gets, and what the kernel cache key holds for the built-in files.
import { describe, expect, it } from 'vitest';
import { expandShader, kernelKey, kernelSource, shaderDefines, workgroupSizeOf } from '../src/core.js';
import { resolveDefines } from '../src/gpu/wgsl-preprocess.js';
import { REFLECTION, SHADERS } from '../src/shaders.js';

const lookupOf = (files: Record<string, string>) => (f: string) => files[f];

/** Non-empty lines of the expansion (directives leave empty lines). */
function lines(files: Record<string, string>, file: string, defs: Record<string, number | boolean>): string[] {
  return expandShader(file, lookupOf(files), defs)
    .split('\n')
    .filter((l) => l.trim() !== '');
}

describe('wgsl preprocessor', () => {
  const files = {
    'a.wgsl': [
      '#define SG: bool',
      '#define ROWS: 4 | 8 | 16 = 16',
      '#define TN: 4 | 8',
      '#include "b.wgsl"',
      '#if SG',
      'sg;',
      '#elif ROWS >= 8 && !(TN == 4)',
      'rows8tn8;',
      '#elif ROWS >= 8',
      'rows8;',
      '#else',
      'other;',
      '#endif',
      '#if ROWS == 16 || TN < 8',
      '#if SG',
      'nested-sg;',
      '#endif',
      'r16-or-tn4 {{ROWS}} {{TN}} {{SG}};',
      '#endif',
    ].join('\n'),
    'b.wgsl': '#define B: bool = true\n#if B\nb-on;\n#else\nb-off;\n#endif',
  };

  it('reads declarations in order, with the includes', () => {
    expect(shaderDefines('a.wgsl', lookupOf(files))).toEqual([
      { name: 'SG', values: [false, true], default: false },
      { name: 'ROWS', values: [4, 8, 16], default: 16 },
      { name: 'TN', values: [4, 8] },
      { name: 'B', values: [false, true], default: true },
    ]);
  });

  it('keeps exactly the lines whose conditions hold, first matching branch only', () => {
    expect(lines(files, 'a.wgsl', { SG: true, ROWS: 16, TN: 8, B: true })).toEqual(['b-on;', 'sg;', 'nested-sg;', 'r16-or-tn4 16 8 true;']);
    expect(lines(files, 'a.wgsl', { SG: false, ROWS: 8, TN: 8, B: false })).toEqual(['b-off;', 'rows8tn8;']);
    expect(lines(files, 'a.wgsl', { SG: false, ROWS: 8, TN: 4, B: true })).toEqual(['b-on;', 'rows8;', 'r16-or-tn4 8 4 false;']);
    expect(lines(files, 'a.wgsl', { SG: false, ROWS: 4, TN: 8, B: true })).toEqual(['b-on;', 'other;']);
  });

  it('keeps line numbers: directives become empty lines', () => {
    const out = expandShader('b.wgsl', lookupOf(files), { B: false }).split('\n');
    expect(out).toEqual(['', '', '', '', 'b-off;', '']);
  });

  it('fills defaults and refuses unknown names, values outside the set and missing values', () => {
    const decls = shaderDefines('a.wgsl', lookupOf(files));
    expect(resolveDefines('a.wgsl', decls, { TN: 4 })).toEqual({ SG: false, ROWS: 16, TN: 4, B: true });
    expect(() => resolveDefines('a.wgsl', decls, { TN: 4, FAST: true })).toThrow('a.wgsl has no define FAST (it declares SG, ROWS, TN, B)');
    expect(() => resolveDefines('a.wgsl', decls, { TN: 5 })).toThrow('a.wgsl: define TN=5 is not one of 4 | 8');
    expect(() => resolveDefines('a.wgsl', decls, { TN: 4, SG: 1 })).toThrow('a.wgsl: define SG=1 is not one of false | true');
    expect(() => resolveDefines('a.wgsl', decls, {})).toThrow('a.wgsl: define TN has no value (one of 4 | 8)');
  });

  it('names the file and line of every malformed directive', () => {
    const bad: Record<string, string> = {
      'noend.wgsl': 'x;\n#if 1\ny;',
      'orphan.wgsl': '#endif',
      'twoelse.wgsl': '#if 1\n#else\n#else\n#endif',
      'unknown.wgsl': '#pragma once',
      'undeclared.wgsl': '#if FAST\n#endif',
      'syntax.wgsl': '#if (1 &&\n#endif',
      'cycle.wgsl': '#include "cycle2.wgsl"',
      'cycle2.wgsl': '#include "cycle.wgsl"',
      'missing.wgsl': '#include "nowhere.wgsl"',
      'quote.wgsl': '#include nowhere.wgsl',
      'define.wgsl': '#define X: fast | slow',
      'default.wgsl': '#define X: 1 | 2 = 3',
      'twice.wgsl': '#define X: bool\n#define X: bool',
    };
    const expand = (f: string) => () => expandShader(f, lookupOf(bad), {});
    expect(expand('noend.wgsl')).toThrow('noend.wgsl:2: #if without #endif');
    expect(expand('orphan.wgsl')).toThrow('orphan.wgsl:1: #endif without #if');
    expect(expand('twoelse.wgsl')).toThrow('twoelse.wgsl:3: #else after #else');
    expect(expand('unknown.wgsl')).toThrow('unknown.wgsl:1: unknown directive #pragma');
    expect(expand('undeclared.wgsl')).toThrow('undeclared.wgsl:1: #if FAST: FAST is not a declared define');
    expect(expand('syntax.wgsl')).toThrow('syntax.wgsl:1: #if (1 &&: expression ends early');
    expect(expand('cycle.wgsl')).toThrow('cycle2.wgsl: #include cycle through cycle.wgsl');
    expect(expand('missing.wgsl')).toThrow('missing.wgsl: #include of unknown shader file nowhere.wgsl');
    expect(expand('quote.wgsl')).toThrow('quote.wgsl:1: #include needs a quoted file name');
    const decls = (f: string) => () => shaderDefines(f, lookupOf(bad));
    expect(decls('define.wgsl')).toThrow('define.wgsl:1: X: values fast | slow are not integers');
    expect(decls('default.wgsl')).toThrow('default.wgsl:1: X: default 3 is not one of 1 | 2');
    expect(decls('twice.wgsl')).toThrow('twice.wgsl:2: X is declared twice');
  });

  it('reads workgroup sizes written as literals', () => {
    const code = '@compute @workgroup_size(16, 4)\nfn a() {}\n@compute\n@workgroup_size(8u, 1, 1) fn b() {}\n@compute @workgroup_size(64) fn c() {}';
    expect(workgroupSizeOf(code, 'a')).toEqual([16, 4, 1]);
    expect(workgroupSizeOf(code, 'b')).toEqual([8, 1, 1]);
    expect(workgroupSizeOf(code, 'c')).toEqual([64, 1, 1]);
    expect(() => workgroupSizeOf(code, 'd')).toThrow('no compute entry point d');
  });
});

describe('built-in shader files', () => {
  it('the cache key holds the defines the file declares, defaults filled in, nothing else', () => {
    expect(kernelKey({ shader: 'conv2d_wgrad.wgsl', entry: 'wgrad_regblock' })).toBe('conv2d_wgrad.wgsl:wgrad_regblock[SG=false]');
    expect(kernelKey({ shader: 'conv2d_wgrad.wgsl', entry: 'wgrad_regblock', defines: { SG: false } })).toBe(kernelKey({ shader: 'conv2d_wgrad.wgsl', entry: 'wgrad_regblock' }));
    expect(kernelKey({ shader: 'conv2d_tiled.wgsl', entry: 'conv_tiled', defines: { BN: true } })).toBe('conv2d_tiled.wgsl:conv_tiled[BN=true,RELU=false,ADD=false,PERPIX=false]');
    expect(kernelKey({ shader: 'sgd.wgsl', entry: 'sgd_step' })).toBe('sgd.wgsl:sgd_step');
    expect(() => kernelKey({ shader: 'conv2d_wgrad.wgsl', entry: 'wgrad_regblock', defines: { ROWS: 8 } })).toThrow('conv2d_wgrad.wgsl has no define ROWS (it declares SG)');
  });

  it('the build reflected every entry point, and a switch changes the bindings where the WGSL says so', () => {
    for (const [file, r] of Object.entries(REFLECTION)) {
      for (const [entry, e] of Object.entries(r.entries)) {
        const decls = shaderDefines(file, (f) => SHADERS[f]);
        const defines = Object.fromEntries(decls.map((d) => [d.name, d.default ?? d.values[0]!]));
        expect(kernelSource({ shader: file, entry, defines }), `${file}:${entry}`).toContain(`fn ${entry}(`);
        const switches = decls.filter((d) => typeof d.values[0] === 'boolean');
        expect(e.layoutOf.length, `${file}:${entry}`).toBe(2 ** switches.length);
      }
    }
    // conv2d_forward's switches, in declaration order: SG, BN, RELU, ADD, PERPIX, TAP1
    const fwd = REFLECTION['conv2d_forward.wgsl']!.entries.conv_regblock!;
    const names = (bits: number) => fwd.layouts[fwd.layoutOf[bits]!]!.map(([n]) => n);
    expect(names(0)).toEqual(['p', 'x', 'w', 'y']);
    expect(names(0b10)).toEqual(['p', 'x', 'w', 'y', 'bn_gamma', 'bn_beta', 'bn_mean', 'bn_var']);
    expect(names(0b1000)).toEqual(['p', 'x', 'w', 'y', 'residual']);
    expect(names(0b1)).toEqual(names(0)); // subgroups change code, not bindings
  });
});
