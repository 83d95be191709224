// Bundles the benchmarks — bench/run.ts (kernels), bench/train.ts, bench/prune.ts and
// bench/soak.ts — into bench/.build/run.js, train.js, prune.js and soak.js with rollup,
// @rollup/plugin-typescript and the project's wgsl plugin. Node 20 cannot run TypeScript directly,
// so `npm run bench` runs bench/bench.mjs, which runs this script and then the bundles.
//
//   node bench/build.mjs [--only kernels|train|prune|soak]
//
// A bundle that fails to build fails this script. Type errors do not stop a bundle: they are
// counted here, and `npm run typecheck` (whose tsconfig includes bench/) reports them.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rollup } from 'rollup';
import typescript from '@rollup/plugin-typescript';
import wgsl from '../build/wgsl-plugin.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = path.join(root, 'bench', '.build');
/** Benchmark name (as `--only` takes it) → its entry file in bench/ and its bundle. */
const ENTRIES = { kernels: 'run', train: 'train', prune: 'prune', soak: 'soak' };

const only = parseArgs({ options: { only: { type: 'string' } }, strict: true }).values.only;
if (only !== undefined && !(only in ENTRIES)) {
  console.error(`bench build: --only must be ${Object.keys(ENTRIES).join(', ')}, got ${only}`);
  process.exit(2);
}

// The package's runtime dependencies, its optional peer webgpu and the tfjs peers stay imports (resolved from node_modules at run time).
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const deps = [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})];
const external = (id) => id.startsWith('node:') || id.startsWith('@tensorflow/') || deps.some((d) => id === d || id.startsWith(`${d}/`));

/** Writes bench/.build/<entry>.js; returns the TypeScript diagnostics it ignored. */
async function bundle(entry) {
  const diagnostics = [];
  const bundleObj = await rollup({
    input: path.join(root, 'bench', `${entry}.ts`),
    external,
    onwarn(w) {
      if (w.plugin === 'typescript') diagnostics.push(w);
      else if (w.code !== 'CIRCULAR_DEPENDENCY') console.warn(`bench build: ${w.message}`);
    },
    plugins: [
      wgsl(),
      typescript({
        tsconfig: path.join(root, 'tsconfig.json'),
        include: ['bench/**/*.ts', 'src/**/*.ts'],
        compilerOptions: { outDir, rootDir: root, declaration: false, declarationMap: false, sourceMap: true, noEmitOnError: false },
        outputToFilesystem: false,
      }),
    ],
  });
  try {
    await bundleObj.write({ dir: outDir, format: 'es', sourcemap: true, inlineDynamicImports: true, entryFileNames: `${entry}.js` });
  } finally {
    await bundleObj.close();
  }
  return diagnostics;
}

const diagnostics = [];
const wrote = [];
for (const [name, entry] of Object.entries(ENTRIES)) {
  if (only !== undefined && only !== name) continue;
  diagnostics.push(...(await bundle(entry)));
  wrote.push(path.relative(root, path.join(outDir, `${entry}.js`)));
}
if (diagnostics.length && process.env.BENCH_BUILD_VERBOSE) for (const d of diagnostics) console.warn(d.message);
if (diagnostics.length) {
  console.warn(`bench build: ${diagnostics.length} TypeScript diagnostic(s) ignored for the bundle; run \`npm run typecheck\` to see them.`);
}
writeFileSync(path.join(outDir, 'package.json'), '{ "type": "module" }\n');
if (existsSync(path.join(outDir, 'bench'))) rmSync(path.join(outDir, 'bench'), { recursive: true, force: true });
console.log(`bench build: wrote ${wrote.join(', ')}`);
