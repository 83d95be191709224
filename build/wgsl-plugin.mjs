// Embeds every shaders/*.wgsl file into the bundle as text, with the layouts its entry points
// need, reflected here at build time so that no WGSL parser ships to users:
//
//   import { files, reflection } from 'virtual:netslim-shaders';
//
// For every file with compute entry points, each combination of its `#define … : bool` switches
// is expanded by the project's own preprocessor (src/gpu/wgsl-preprocess.ts, the one kernelSource
// runs) and reflected with wgsl_reflect: per entry, the uniform block (name, size, members) and
// the storage and uniform bindings it uses, which depend on the switches (a BatchNorm epilogue
// binds γ, β and the statistics). Numeric defines may only change numbers, never the layout:
// each of their values is reflected too, and a difference fails the build. The workgroup size
// is read at run time from the expanded text by workgroupSizeOf, which is checked here against
// wgsl_reflect for every variant.
//
// `node build/wgsl-plugin.mjs --types` writes src/gpu/shader-types.ts (each entry's uniform struct
// as a TypeScript type, each file's defines); the plugin fails the build when that file is stale.
//
// Works as a rollup plugin and as a vite/vitest plugin, so the Node build, the browser bundle and
// both test lanes read the same text and the same layouts.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import ts from 'typescript';
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';

const VIRTUAL = 'virtual:netslim-shaders';
const RESOLVED = '\0netslim-shaders';
const root = fileURLToPath(new URL('../', import.meta.url));
const shaderDir = path.join(root, 'shaders');
const preprocessTs = path.join(root, 'src/gpu/wgsl-preprocess.ts');
const typesFile = path.join(root, 'src/gpu/shader-types.ts');

/** The preprocessor module (TypeScript, transpiled on the fly so there is one implementation). */
async function loadPreprocessor() {
  const src = await readFile(preprocessTs, 'utf8');
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  return import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`);
}

async function readShaders() {
  const names = (await readdir(shaderDir)).filter((f) => f.endsWith('.wgsl')).sort();
  const files = {};
  for (const f of names) files[f] = await readFile(path.join(shaderDir, f), 'utf8');
  return files;
}

const RESOURCE_KIND = { 0: 'uniform', 1: 'storage' };

function reflectEntries(file, code) {
  const r = new WgslReflect(code);
  const out = {};
  for (const e of r.entry.compute) {
    let uniform = null;
    const bindings = [];
    for (const v of e.resources) {
      if (v.group !== 0) throw new Error(`${file}: ${v.name} uses group ${v.group}; kernels use group 0 only`);
      const kind = RESOURCE_KIND[v.resourceType];
      if (!kind) throw new Error(`${file}: ${v.name} is not a buffer; kernels bind buffers only`);
      if (kind === 'uniform') {
        if (uniform) throw new Error(`${file}:${e.name} uses two uniform blocks`);
        const u = r.uniforms.find((x) => x.name === v.name);
        const members = (u.members ?? []).map((m) => {
          const t = m.type.name;
          if (t !== 'u32' && t !== 'i32' && t !== 'f32') throw new Error(`${file}: uniform member ${m.name} has type ${t}; only u32, i32, f32 are supported`);
          return [m.name, m.offset, t];
        });
        uniform = { name: v.name, size: Math.max(16, Math.ceil(u.size / 16) * 16), members, struct: u.type.name };
        bindings.push([v.name, v.binding, 'uniform']);
      } else {
        bindings.push([v.name, v.binding, v.access === 'read' ? 'read-only-storage' : 'storage']);
      }
    }
    bindings.sort((a, b) => a[1] - b[1]);
    const ws = e.workgroupSize ?? [1, 1, 1];
    out[e.name] = { uniform, bindings, workgroupSize: [ws[0] ?? 1, ws[1] ?? 1, ws[2] ?? 1] };
  }
  return out;
}

/**
 * Reflection of one file: { defines, entries: { name: { uniform, layouts, layoutOf } } } where
 * layoutOf[i] indexes layouts for switch combination i (bit k: the k-th switch is on).
 */
function reflectFile(pre, file, files) {
  const lookup = (f) => files[f];
  const decls = pre.shaderDefines(file, lookup);
  const switches = decls.filter((d) => typeof d.values[0] === 'boolean');
  const numbers = decls.filter((d) => typeof d.values[0] !== 'boolean');
  const base = Object.fromEntries(numbers.map((d) => [d.name, d.default ?? d.values[0]]));
  const variant = (bits, extra = {}) => {
    const defs = { ...base, ...Object.fromEntries(switches.map((d, k) => [d.name, ((bits >> k) & 1) === 1])), ...extra };
    const code = pre.expandShader(file, lookup, defs);
    const entries = reflectEntries(file, code);
    for (const [name, e] of Object.entries(entries)) {
      let ws;
      try {
        ws = pre.workgroupSizeOf(code, name);
      } catch (err) {
        throw new Error(`${file}: ${err.message}`, { cause: err });
      }
      if (ws.join() !== e.workgroupSize.join()) {
        throw new Error(`${file}:${name}: workgroup size read as [${ws}] but wgsl_reflect says [${e.workgroupSize}] (write it as three literals or {{DEFINES}})`);
      }
    }
    return entries;
  };
  const first = variant(0);
  const names = Object.keys(first);
  if (names.length === 0) return null;
  const entries = Object.fromEntries(names.map((n) => [n, { uniform: first[n].uniform, layouts: [], layoutOf: [] }]));
  const layoutKey = (b) => JSON.stringify(b);
  for (let bits = 0; bits < 1 << switches.length; bits++) {
    const refl = bits === 0 ? first : variant(bits);
    for (const n of names) {
      const r = refl[n];
      if (!r) throw new Error(`${file}: entry ${n} is missing from a variant`);
      const e = entries[n];
      if (JSON.stringify(r.uniform) !== JSON.stringify(e.uniform)) throw new Error(`${file}:${n}: the uniform block differs between variants (it must not depend on #if)`);
      let idx = e.layouts.findIndex((l) => layoutKey(l) === layoutKey(r.bindings));
      if (idx < 0) idx = e.layouts.push(r.bindings) - 1;
      e.layoutOf.push(idx);
    }
  }
  for (const d of numbers) {
    for (const v of d.values) {
      const refl = variant(0, { [d.name]: v });
      for (const n of names) {
        if (layoutKey(refl[n].bindings) !== layoutKey(entries[n].layouts[entries[n].layoutOf[0]])) {
          throw new Error(`${file}:${n}: the bindings change with ${d.name}=${v}; only #define … : bool switches may change them`);
        }
      }
    }
  }
  return { defines: decls, entries };
}

/** The reflection of every file with entry points in `files` (name → WGSL text); throws on a file the runtime could not serve. */
export async function reflectShaders(files) {
  const pre = await loadPreprocessor();
  const reflection = {};
  for (const f of Object.keys(files)) {
    const r = reflectFile(pre, f, files);
    if (r) reflection[f] = r;
  }
  return reflection;
}

async function buildModule() {
  const files = await readShaders();
  return { files, reflection: await reflectShaders(files) };
}

const tsType = (d) => (typeof d.values[0] === 'boolean' ? 'boolean' : d.values.join(' | '));

/** Items joined by `sep` into lines of at most `width` characters. */
function wrap(items, sep, width) {
  const out = [];
  let line = '';
  for (const it of items) {
    const next = line ? `${line}${sep}${it}` : it;
    if (line && next.length > width) {
      out.push(sep.trim() ? `${line}${sep.trimEnd()}` : line);
      line = it;
    } else line = next;
  }
  if (line) out.push(line);
  return out;
}

const pascal = (file) => file.replace(/\.wgsl$/, '').split('_').map((s) => s[0].toUpperCase() + s.slice(1)).join('');

/** For a struct in several files (an included part), their common name prefix (`conv2d`); else null. */
function familyOf(reflection, key) {
  const files = Object.entries(reflection)
    .filter(([, r]) => Object.values(r.entries).some((e) => e.uniform && `${e.uniform.struct}:${JSON.stringify(e.uniform.members)}` === key))
    .map(([f]) => f);
  if (files.length < 2) return null;
  let prefix = files[0];
  for (const f of files) while (!f.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.replace(/_+$/, '') || null;
}

/** src/gpu/shader-types.ts for a reflection: one interface per uniform struct, maps by file and entry. */
function typesSource(reflection) {
  const lines = [
    '// Generated by `node build/wgsl-plugin.mjs --types` from shaders/*.wgsl: do not edit. The',
    '// build fails when this file no longer matches the shaders.',
    '',
  ];
  const uniforms = ['/** The uniform struct of every entry point of the built-in shader files, by file and entry. */', 'export interface ShaderUniforms {'];
  const structs = new Map();
  for (const [file, r] of Object.entries(reflection)) {
    uniforms.push(`  '${file}': {`);
    for (const [entry, e] of Object.entries(r.entries)) {
      if (!e.uniform) {
        uniforms.push(`    ${entry}: Record<string, never>;`);
        continue;
      }
      // one interface per struct, however many files include it (conv2d_common's Conv)
      const key = `${e.uniform.struct}:${JSON.stringify(e.uniform.members)}`;
      let name = structs.get(key);
      if (!name) {
        name = `${pascal(familyOf(reflection, key) ?? file)}${e.uniform.struct}`;
        structs.set(key, name);
        const wgsl = wrap(e.uniform.members.map(([n, , ty]) => `${n}: ${ty}`), ', ', 96);
        const ts = wrap(e.uniform.members.map(([n]) => `${n}: number;`), ' ', 96);
        lines.push('/**', ` * \`struct ${e.uniform.struct}\` of ${file}${familyOf(reflection, key) ? ' and the files that include it too' : ''}:`, ...wgsl.map((l) => ` *   ${l}`), ' */', `export interface ${name} {`, ...ts.map((l) => `  ${l}`), '}', '');
      }
      uniforms.push(`    ${entry}: ${name};`);
    }
    uniforms.push('  };');
  }
  uniforms.push('}', '');
  const defines = ['/** The defines of every built-in shader file that has entry points (a switch left out is off). */', 'export interface ShaderDefines {'];
  for (const [file, r] of Object.entries(reflection)) {
    const ds = r.defines.map((d) => `${d.name}${typeof d.values[0] === 'boolean' || d.default !== undefined ? '?' : ''}: ${tsType(d)};`);
    if (!ds.length) defines.push(`  '${file}': Record<string, never>;`);
    else defines.push(`  '${file}': {`, ...wrap(ds, ' ', 92).map((l) => `    ${l}`), '  };');
  }
  defines.push('}', '');
  return [...lines, ...uniforms, ...defines].join('\n');
}

export default function wgsl() {
  return {
    name: 'netslim-wgsl',
    resolveId(id) {
      return id === VIRTUAL ? RESOLVED : null;
    },
    async load(id) {
      if (id !== RESOLVED) return null;
      for (const f of await readdir(shaderDir)) if (f.endsWith('.wgsl')) this.addWatchFile?.(path.join(shaderDir, f));
      this.addWatchFile?.(preprocessTs);
      const { files, reflection } = await buildModule();
      const want = typesSource(reflection);
      const have = await readFile(typesFile, 'utf8').catch(() => '');
      if (have !== want) throw new Error('src/gpu/shader-types.ts does not match shaders/*.wgsl: run `node build/wgsl-plugin.mjs --types`');
      return {
        code: `export const files = ${JSON.stringify(files)};\nexport const reflection = ${JSON.stringify(reflection)};\n`,
        map: { mappings: '' },
      };
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--types')) {
  const { reflection } = await buildModule();
  await writeFile(typesFile, typesSource(reflection));
  console.log(`wrote ${path.relative(root, typesFile)}`);
}
