// The package as a user gets it: `npm pack` (which builds dist through `prepack`), the tarball
// installed into a scratch project in the OS temp dir with npm beside `webgpu` (Dawn, an optional
// peer dependency: `npm i netslim webgpu`), then (a) the `netslim` command, (b) a Node script that
// imports `netslim/node` and prunes a VGG, (c) a browser bundle of `netslim` made with rollup,
// which must hold no Node module, and (d) `tsc --noEmit` on consumers of both entries. The same
// tarball is also (f) installed alone, as a browser app gets it (`npm i netslim`: no Dawn
// binaries), where `netslim` loads, `netslim/node` and the CLI say in one line what to install,
// and (g) installed globally beside a global `webgpu` (`npm i -g netslim webgpu`, into a scratch
// prefix), where the CLI runs a model. Nothing here skips: a missing tool, a failed install or a
// file missing from the tarball fails the test with the command's output.
//
// Needs the npm registry (or npm's cache) for netslim's runtime dependencies and webgpu; the
// scratch projects install nothing else. npm 11 runs no dependency install scripts unless
// approved; netslim and webgpu (on Linux) need none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rollup, type RollupLog } from 'rollup';
import { rolldown } from 'rolldown';
import { gzipSync } from 'node:zlib';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';
import { parseSafetensors, serializeSafetensors, type SafeTensor } from '../../src/io/safetensors.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
/** The webgpu version netslim declares as its optional peer (and tests with). */
const WEBGPU = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> }).peerDependencies.webgpu!;
/** The one line netslim/node's DawnMissingError carries, and the CLI prints after `netslim: `. */
const DAWN_MISSING = 'netslim/node needs the `webgpu` package (Dawn): npm i webgpu (and for the global CLI: npm i -g netslim webgpu)';
const SETUP_TIMEOUT = 900_000;

/** Every file the tarball may hold: the built code, the bundled datasets and the docs npm wants. */
const ALLOWED = /^(package\.json|README\.md|CHANGELOG\.md|LICENSE|dist\/.+|data\/.+)$/;
/** What dist/ may weigh unpacked (code, declarations, source maps); today about 1 MB. */
const DIST_BUDGET = 2_500_000;

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number }[];
}

// vitest started through npm/npx passes npm_config_* variables (prefix, local prefix, …) that
// would point the scratch project's npm at this repository: drop them all.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

/** Runs a command and returns what it did, whatever its exit status. */
function run(cmd: string, args: string[], cwd: string, timeout = 600_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
}

function sh(cmd: string, args: string[], cwd: string, timeout = 600_000): SpawnSyncReturns<string> {
  const r = run(cmd, args, cwd, timeout);
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}${r.error ? `: ${r.error.message}` : ''}\n` +
        `--- stdout\n${r.stdout?.slice(-4000)}\n--- stderr\n${r.stderr?.slice(-4000)}`,
    );
  }
  return r;
}

const kB = (n: number) => `${(n / 1024).toFixed(1)} kB`;

/**
 * Up-front bytes (minified, gzip -9) of a browser app that trains and prunes (test (e)). Measured
 * 76.6 kB on 2026-12-05: 73.6 kB once shader layouts were reflected at build time (108.4 kB with
 * wgsl_reflect in the bundle; 195.9 kB before the charts loaded on demand, with Observable Plot and
 * d3 in the one chunk), then +3 kB for the datasets' class names (CIFAR-100's 100 among them) and
 * the predict and slimming additions (the slimming run itself loads on demand). What is left is
 * netslim itself, shader text and layouts included. The budget is the 80 kB aimed for (the
 * measurement plus 4 %): a change that adds more must say why here.
 */
const APP_BUDGET = 80 * 1024;

let work = '';
let app = '';
let pack: PackResult;
const installed = () => path.join(app, 'node_modules/netslim');

/**
 * A PyTorch-made VGG checkpoint from test/fixtures, split into a model file and an input file in
 * `dir` as a user would have them; `logits` are PyTorch's for that input.
 */
function vggFiles(dir: string): { model: string; input: string; logits: Float32Array } {
  const fx = parseSafetensors(new Uint8Array(readFileSync(path.join(root, 'test/fixtures/models/vgg_tiny.safetensors'))), 'vgg_tiny');
  const state = new Map<string, SafeTensor>([...fx.tensors].filter(([k]) => !/^(input|labels|eval\.|step0\.|grad\.|loss\.|after\.)/.test(k)));
  mkdirSync(dir, { recursive: true });
  const model = path.join(dir, 'model.safetensors');
  const input = path.join(dir, 'x.safetensors');
  writeFileSync(model, serializeSafetensors(state));
  writeFileSync(input, serializeSafetensors({ input: fx.tensors.get('input')! }));
  return { model, input, logits: new Float32Array(fx.tensors.get('eval.logits')!.data.slice().buffer) };
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'netslim-package-'));
  const t0 = performance.now();
  pack = (JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', work], root).stdout) as PackResult[])[0]!;
  const t1 = performance.now();
  app = path.join(work, 'app');
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'netslim-consumer', private: true, type: 'module' }, null, 2));
  sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(work, pack.filename), `webgpu@${WEBGPU}`], app);
  const dataBytes = pack.files.filter((f) => f.path.startsWith('data/')).reduce((s, f) => s + f.size, 0);
  console.log(
    `netslim tarball: ${pack.filename} ${kB(pack.size)} packed, ${kB(pack.unpackedSize)} unpacked, ${pack.entryCount} files ` +
      `(data/ ${kB(dataBytes)} unpacked); pack+build ${((t1 - t0) / 1000).toFixed(1)} s, install ${((performance.now() - t1) / 1000).toFixed(1)} s`,
  );
}, SETUP_TIMEOUT);

afterAll(() => {
  if (work && !process.env.NETSLIM_KEEP_PACKAGE_TEST) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('holds dist/, data/, README, CHANGELOG and LICENSE only, and every file the manifest names', () => {
    const files = pack.files.map((f) => f.path);
    expect(files.filter((f) => !ALLOWED.test(f)), 'files outside the allowed list').toEqual([]);
    expect(files.filter((f) => f.startsWith('dist/') && f.endsWith('.ts') && !f.endsWith('.d.ts')), 'TypeScript sources').toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(installed(), 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      exports: Record<string, string | Record<string, string>>;
      main: string;
      types: string;
    };
    const named = [manifest.main, manifest.types, ...Object.values(manifest.bin)];
    for (const e of Object.values(manifest.exports)) named.push(...(typeof e === 'string' ? [e] : Object.values(e)));
    for (const f of [...named.map((p) => path.posix.normalize(p)), 'README.md', 'LICENSE', 'CHANGELOG.md']) expect(files, f).toContain(f);
    const dist = pack.files.filter((f) => f.path.startsWith('dist/')).reduce((s, f) => s + f.size, 0);
    expect(dist, `dist/ is ${dist} bytes unpacked`).toBeLessThan(DIST_BUDGET);
  });

  it('declares webgpu (Dawn, 132 MB of binaries) as an optional peer dependency, not a dependency', () => {
    const manifest = JSON.parse(readFileSync(path.join(installed(), 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    expect(manifest.dependencies?.webgpu).toBeUndefined();
    expect(manifest.peerDependencies?.webgpu).toBe(WEBGPU);
    expect(manifest.peerDependenciesMeta?.webgpu?.optional).toBe(true);
  });

  it('ships exactly the chunks the entry points import (no stale chunk of an earlier build)', () => {
    const js = pack.files.map((f) => f.path).filter((f) => f.startsWith('dist/') && f.endsWith('.js'));
    const chunks = js.filter((f) => f.startsWith('dist/chunks/'));
    const referenced = new Set<string>();
    for (const f of js) {
      const code = readFileSync(path.join(installed(), f), 'utf8');
      for (const m of code.matchAll(/(?:from\s*|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) referenced.add(path.posix.join(path.posix.dirname(f), m[1]!));
    }
    expect(chunks.length).toBeGreaterThan(0);
    expect([...referenced].filter((f) => !js.includes(f)), 'imported but missing').toEqual([]);
    expect(chunks.filter((f) => !referenced.has(f)), 'shipped but never imported').toEqual([]);
  });
});

describe('installed from the tarball', () => {
  it('(a) runs the netslim command', () => {
    const help = sh('npx', ['--no-install', 'netslim', '--help'], app, 120_000);
    expect(help.stdout).toContain('Usage: netslim');
    const predict = sh('npx', ['--no-install', 'netslim', 'predict', '--help'], app, 120_000);
    expect(predict.stdout).toContain('Usage: netslim predict');
    expect(predict.stdout).toContain('--model');
  });

  it('(b) imports netslim/node in plain Node, prunes a VGG and runs the pruned model', () => {
    // γ of BatchNorm l, channel j is (j + 1)/C_l, so the global threshold cuts every layer
    // differently and the expected cfg can be computed here.
    const cfg: (number | 'M')[] = [8, 'M', 8, 'M', 16, 'M', 16, 'M', 16];
    writeFileSync(
      path.join(app, 'prune.mjs'),
      `import { init, models, slim } from 'netslim/node';

const ctx = await init({ log: (m) => console.error(m) });
const model = models.vgg(ctx, { cfg: ${JSON.stringify(cfg)}, numClasses: 4 });
const state = await model.stateDict();
for (const bn of model.batchNorms()) {
  const w = state.get(bn.name + '.weight');
  w.data = Float32Array.from(w.data, (_, j) => (j + 1) / w.data.length);
}
model.loadStateDict(state);
const { model: pruned, report } = await slim.prune(model, 0.3);
const x = ctx.tensor([2, 3, 32, 32], new Float32Array(2 * 3 * 32 * 32).fill(0.5));
const logits = await ctx.readF32(pruned.forward(x, false));
console.log(JSON.stringify({ cfg: report.cfg, paramsBefore: report.paramsBefore, paramsAfter: report.paramsAfter, logits: Array.from(logits) }));
x.destroy();
pruned.destroy();
model.destroy();
ctx.destroy();
`,
    );
    const r = sh(process.execPath, ['prune.mjs'], app, 300_000);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { cfg: (number | 'M')[]; paramsBefore: number; paramsAfter: number; logits: number[] };
    console.log(`netslim/node from the tarball: pruned cfg ${JSON.stringify(out.cfg)}, params ${out.paramsBefore} → ${out.paramsAfter}`);

    const widths = cfg.filter((c): c is number => c !== 'M');
    const gammas = Float32Array.from(widths.flatMap((c) => Array.from({ length: c }, (_, j) => (j + 1) / c))).sort();
    const thre = gammas[Math.floor(gammas.length * 0.3)]!;
    let l = 0;
    const expected = cfg.map((c) => (c === 'M' ? c : Array.from({ length: widths[l++]! }, (_, j) => Math.fround((j + 1) / c)).filter((g) => g > thre).length));
    expect(out.cfg).toEqual(expected);
    expect(out.paramsAfter).toBeLessThan(out.paramsBefore);
    expect(out.logits).toHaveLength(2 * 4);
    expect(out.logits.every(Number.isFinite)).toBe(true);
  });

  it('(c) bundles the browser entry with rollup without any Node module', async () => {
    // Everything the entry exports, so tree-shaking hides nothing.
    writeFileSync(path.join(app, 'browser.js'), 'import * as netslim from \'netslim\';\nexport default netslim;\n');
    const warnings: RollupLog[] = [];
    const bundle = await rollup({
      input: path.join(app, 'browser.js'),
      plugins: [nodeResolve({ browser: true, preferBuiltins: false, rootDir: app }), commonjs()],
      onwarn: (w) => void warnings.push(w),
    });
    const { output } = await bundle.generate({ format: 'es' });
    await bundle.close();
    const chunks = output.flatMap((o) => (o.type === 'chunk' ? [o] : []));
    const modules = chunks.flatMap((c) => Object.keys(c.modules));
    const fromNetslim = modules.filter((m) => m.includes(`${path.sep}node_modules${path.sep}netslim${path.sep}`));
    expect(fromNetslim.length, 'the bundle holds netslim itself').toBeGreaterThan(0);

    expect(warnings.filter((w) => w.code === 'UNRESOLVED_IMPORT' || w.code === 'MISSING_NODE_BUILTINS').map((w) => w.message), 'unresolved imports').toEqual([]);
    expect(chunks.flatMap((c) => [...c.imports, ...c.dynamicImports].filter((i) => !chunks.some((k) => k.fileName === i))), 'external imports').toEqual([]);
    const nodeOnly = /[\\/]node_modules[\\/](webgpu|linkedom|cli-progress|commander|pngjs|jpeg-js)[\\/]|\.node$|files\.node|[\\/]dist[\\/](node|cli)\.js$/;
    expect(modules.filter((m) => nodeOnly.test(m)), 'Node-only modules in the bundle').toEqual([]);
    const forbidden = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](?:node:[\w/]+|fs|fs\/promises|path|os|crypto|child_process|module|url|webgpu|[^'"]*dawn[^'"]*)['"]/g;
    for (const c of chunks) expect([...c.code.matchAll(forbidden)].map((m) => m[0]), `${c.fileName} imports`).toEqual([]);
  }, 300_000);

  it(`(e) a browser app of init, models, Trainer and slim.prune loads ≤ ${kB(APP_BUDGET)} minified + gzipped, without Plot or d3`, async () => {
    // What an app that trains and prunes pays up front: the chunks its entry loads statically
    // (the charts and the ONNX writer/reader are dynamic imports, fetched only when called).
    writeFileSync(
      path.join(app, 'app.js'),
      'import { init, models, Trainer, slim } from \'netslim\';\n' +
        'const ctx = await init();\nconst model = models.vgg(ctx, { depth: 11 });\n' +
        'export const trainer = (data) => new Trainer(model, data, null, { epochs: 1 });\nexport const pruned = await slim.prune(model, 0.4);\n',
    );
    const bundle = await rolldown({ input: path.join(app, 'app.js'), cwd: app, platform: 'browser', logLevel: 'silent' });
    const { output } = await bundle.generate({ format: 'es', minify: true });
    await bundle.close();
    const chunks = new Map(output.flatMap((o) => (o.type === 'chunk' ? [[o.fileName, o] as const] : [])));
    const eager = new Set<string>();
    const visit = (name: string) => {
      if (eager.has(name)) return;
      eager.add(name);
      for (const i of chunks.get(name)!.imports) visit(i);
    };
    for (const c of chunks.values()) if (c.isEntry) visit(c.fileName);
    let min = 0;
    let gz = 0;
    const modules: string[] = [];
    for (const name of eager) {
      const c = chunks.get(name)!;
      min += c.code.length;
      gz += gzipSync(c.code, { level: 9 }).length;
      modules.push(...Object.keys(c.modules));
    }
    console.log(`browser app (init, models, Trainer, slim.prune): ${kB(min)} minified, ${kB(gz)} minified + gzip -9, ${eager.size} chunk(s) loaded up front`);
    expect(modules.filter((m) => /node_modules[\\/](@observablehq[\\/]plot|d3-[\w-]+)[\\/]/.test(m)), 'Plot or d3 loaded up front').toEqual([]);
    expect(gz, `the app's up-front code is ${kB(gz)} gzipped`).toBeLessThanOrEqual(APP_BUDGET);
  }, 300_000);

  it('(d) type-checks consumers of both entries (strict), the browser one without @types/node', () => {
    const browser = path.join(app, 'ts-browser');
    const node = path.join(app, 'ts-node');
    mkdirSync(browser);
    mkdirSync(node);
    // The browser consumer: DOM lib (TypeScript 6 has WebGPU there), no @types/node, no
    // @webgpu/types, and skipLibCheck off so netslim's own declarations are checked too.
    writeFileSync(
      path.join(browser, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], types: [], skipLibCheck: false }, files: ['consumer.ts'] }),
    );
    writeFileSync(
      path.join(browser, 'consumer.ts'),
      `import { init, models, slim, ops, Tensor, NetslimError, parseSafetensors, type Context, type ModelMeta } from 'netslim';

// report.cfg is the reference cfg of the compact model, absent for graphs no reference cfg describes.
export async function run(): Promise<(number | 'M')[] | undefined> {
  const ctx: Context = await init({ powerPreference: 'high-performance' });
  const device: GPUDevice = ctx.device;
  const model = models.vgg(ctx, { cfg: [8, 'M', 16], numClasses: 10 });
  const meta: ModelMeta = model.meta;
  const { model: small, report } = await slim.prune(model, 0.4, { minChannels: 2 });
  const layers: slim.LayerReport[] = report.layers;
  const x: Tensor = ctx.tensor([1, 3, 8, 8]);
  const y: Float32Array = await ctx.readF32(ops.reluForward(ctx, small.forward(x, false)));
  // @ts-expect-error percent is a number: the types are real, not \`any\`.
  await slim.prune(model, '0.4');
  try {
    parseSafetensors(new Uint8Array(8));
  } catch (e) {
    if (e instanceof NetslimError) console.log(e.name, device.label, meta.arch, layers.length, y.length);
  }
  return report.cfg;
}
`,
    );
    // The Node consumer: NodeNext resolution, @types/node, no DOM lib (skipLibCheck on, as Node
    // projects have it: @webgpu/types itself names DOM types), both entries in one file.
    writeFileSync(path.join(node, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      path.join(node, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'], skipLibCheck: true }, files: ['consumer.ts'] }),
    );
    writeFileSync(
      path.join(node, 'consumer.ts'),
      `import { readFile } from 'node:fs/promises';
import type { Model } from 'netslim';
import { init, models, slim, loadModel, saveModel, loadDatasetDir, requestNodeAdapter, SWIFTSHADER_ICD, type NodeInitOptions, type Dataset } from 'netslim/node';

const options: NodeInitOptions = { dawnFlags: [], swiftshaderFallback: true };
const ctx = await init(options);
const device: GPUDevice = ctx.device;
const model: Model = models.vgg(ctx, { cfg: [8, 'M', 16], numClasses: 10 });
const pruneOptions: slim.PruneOptions = { minChannels: 2, mode: 'compact' };
const { model: small, report } = await slim.prune(model, 0.3, pruneOptions);
const bytes: Uint8Array = await saveModel(small);
const again = loadModel(ctx, bytes, 'pruned.safetensors');
const data: { train: Dataset; test: Dataset | null } = await loadDatasetDir('/data', { padTo: 32 });
const { adapter, fellBack } = await requestNodeAdapter();
const vendor: string = adapter.info.vendor;
// @ts-expect-error cfg entries are numbers or 'M'
models.vgg(ctx, { cfg: ['x'] });
console.log(device.label, report.cfg, again.meta.cfg, data.train.n, fellBack, vendor, SWIFTSHADER_ICD, (await readFile('x')).length);
ctx.destroy();
`,
    );
    const b = sh(process.execPath, [tsc, '-p', browser, '--listFiles'], app, 300_000);
    const browserFiles = b.stdout.split('\n');
    expect(browserFiles.filter((f) => /node_modules[\\/]@types[\\/]node[\\/]|node_modules[\\/]@webgpu[\\/]/.test(f)), 'type packages the browser entry pulled in').toEqual([]);
    expect(browserFiles.some((f) => f.endsWith('netslim/dist/types/index.d.ts'))).toBe(true);
    const n = sh(process.execPath, [tsc, '-p', node, '--listFiles'], app, 300_000);
    expect(n.stdout).toContain('netslim/dist/types/node.d.ts');
    expect(n.stdout).toContain('@webgpu/types/dist/index.d.ts');
  }, 300_000);
});

describe('installed without webgpu (npm i netslim, as a browser app has it)', () => {
  let bare = '';
  beforeAll(() => {
    bare = path.join(work, 'bare');
    mkdirSync(bare);
    writeFileSync(path.join(bare, 'package.json'), JSON.stringify({ name: 'netslim-browser-app', private: true, type: 'module' }, null, 2));
    sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(work, pack.filename)], bare);
  }, SETUP_TIMEOUT);

  it('(f) netslim loads without Dawn and no file it can load imports webgpu; netslim/node loads and init() rejects with DawnMissingError', () => {
    expect(existsSync(path.join(bare, 'node_modules/webgpu')), 'npm installed the optional peer webgpu').toBe(false);
    // Every file the browser entry can load (static and dynamic imports): none imports webgpu.
    const dist = path.join(bare, 'node_modules/netslim/dist');
    const reachable = new Set<string>();
    const todo = ['index.js'];
    const importsWebgpu: string[] = [];
    while (todo.length) {
      const f = todo.pop()!;
      if (reachable.has(f)) continue;
      reachable.add(f);
      const code = readFileSync(path.join(dist, f), 'utf8');
      if (/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]webgpu['"]/.test(code)) importsWebgpu.push(f);
      for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) todo.push(path.posix.join(path.posix.dirname(f), m[1]!));
    }
    expect(reachable.size, 'the browser entry loads chunks').toBeGreaterThan(1);
    expect(importsWebgpu, 'files the browser entry can load that import webgpu').toEqual([]);

    writeFileSync(
      path.join(bare, 'no-dawn.mjs'),
      `import * as netslim from 'netslim';

const out = { exports: Object.keys(netslim).length };
try {
  await netslim.init();
  out.browserInit = 'resolved';
} catch (e) {
  out.browserInit = e.name; // no navigator.gpu in Node: NoAdapterError, not a failed import of Dawn
}
const node = await import('netslim/node');
out.nodeExports = Object.keys(node).length;
try {
  await node.init();
  out.nodeInit = 'resolved';
} catch (e) {
  out.nodeInit = { name: e.name, message: e.message, dawnMissing: e instanceof netslim.DawnMissingError, noAdapter: e instanceof netslim.NoAdapterError };
}
console.log(JSON.stringify(out));
`,
    );
    const r = sh(process.execPath, ['no-dawn.mjs'], bare, 120_000);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { exports: number; browserInit: string; nodeExports: number; nodeInit: unknown };
    expect(out.exports).toBeGreaterThan(20);
    expect(out.browserInit).toBe('NoAdapterError');
    expect(out.nodeExports).toBeGreaterThan(out.exports);
    expect(out.nodeInit).toEqual({ name: 'DawnMissingError', message: DAWN_MISSING, dawnMissing: true, noAdapter: true });
  }, 300_000);

  it('(f) the CLI shows its help, and a command that needs the GPU prints the one line to install webgpu, exit 1, no stack, nothing written', () => {
    const bin = path.join(bare, 'node_modules/.bin/netslim');
    expect(sh(bin, ['--help'], bare, 120_000).stdout).toContain('Usage: netslim');
    const files = vggFiles(path.join(work, 'bare-predict'));
    const y = path.join(work, 'bare-predict/y.safetensors');
    const r = run(bin, ['predict', '--model', files.model, '--input', files.input, '--output', y], bare, 120_000);
    expect({ status: r.status, stderr: r.stderr.trim(), stdout: r.stdout }).toEqual({ status: 1, stderr: `netslim: ${DAWN_MISSING}`, stdout: '' });
    expect(existsSync(y)).toBe(false);
  }, 300_000);
});

describe('installed globally beside a global webgpu (npm i -g netslim webgpu)', () => {
  let prefix = '';
  beforeAll(() => {
    // `--prefix` puts both in <prefix>/lib/node_modules, as `npm i -g` does in npm's own prefix.
    prefix = path.join(work, 'global');
    sh('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', path.join(work, pack.filename), `webgpu@${WEBGPU}`], work);
  }, SETUP_TIMEOUT);

  it("(g) netslim finds webgpu as its sibling: the CLI shows its help and predict gives PyTorch's logits", () => {
    const lib = path.join(prefix, 'lib/node_modules');
    expect(existsSync(path.join(lib, 'webgpu/package.json')), 'webgpu beside netslim').toBe(true);
    expect(existsSync(path.join(lib, 'netslim/node_modules/webgpu')), 'a copy of webgpu inside netslim').toBe(false);
    const bin = path.join(prefix, 'bin/netslim');
    expect(sh(bin, ['--help'], work, 120_000).stdout).toContain('Usage: netslim');
    const files = vggFiles(path.join(work, 'global-predict'));
    const y = path.join(work, 'global-predict/y.safetensors');
    const r = sh(bin, ['predict', '--model', files.model, '--input', files.input, '--output', y], work, 300_000);
    expect(r.stdout).toContain('netslim predict: 4 inputs');
    const logits = parseSafetensors(new Uint8Array(readFileSync(y)), 'y').tensors.get('logits')!;
    const got = new Float32Array(logits.data.slice().buffer);
    expect(logits.shape).toEqual([4, 10]);
    const worst = Math.max(...Array.from(got, (v, i) => Math.abs(v - files.logits[i]!) - 1e-4 * Math.abs(files.logits[i]!)));
    expect(worst, `max |ours − PyTorch| − 1e-4·|PyTorch| over ${got.length} logits`).toBeLessThan(1e-4);
  }, 300_000);
});
