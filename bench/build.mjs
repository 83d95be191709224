// Bundles bench/run.ts (plus the src/ops families that exist and compile) into bench/.build/run.js,
// bench/train.ts into bench/.build/train.js and bench/prune.ts into bench/.build/prune.js, with
// rollup, @rollup/plugin-typescript and the project's wgsl plugin. Node 20 cannot run TypeScript
// directly, so `npm run bench` runs bench/bench.mjs, which runs this script and then the bundles.
//
//   node bench/build.mjs [--only kernels|train|prune]
//
// Our kernel families are being written while this harness is used: a family whose file is missing
// or does not bundle is left out (its rows say why) instead of breaking the whole benchmark. Type
// errors are only counted here; `npm run typecheck` is where they are reported.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rollup } from 'rollup';
import typescript from '@rollup/plugin-typescript';
import wgsl from '../build/wgsl-plugin.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = path.join(root, 'bench', '.build');
const FAMILIES = ['conv2d', 'conv2d_grouped', 'batchnorm2d', 'pool2d', 'linear'];
const VIRTUAL = 'virtual:netslim-bench-ops';
const RESOLVED = '\0netslim-bench-ops';

const only = parseArgs({ options: { only: { type: 'string' } }, strict: true }).values.only;
if (only !== undefined && !['kernels', 'train', 'prune', 'soak'].includes(only)) {
  console.error(`bench build: --only must be kernels, train, prune or soak, got ${only}`);
  process.exit(2);
}

const familyFile = (f) => path.join(root, 'src', 'ops', `${f}.ts`);

/** The virtual module run.ts imports: `families[f]` is the module namespace or null, `missing[f]` why. */
function opsPlugin(excluded) {
  return {
    name: 'netslim-bench-ops',
    resolveId: (id) => (id === VIRTUAL ? RESOLVED : null),
    load(id) {
      if (id !== RESOLVED) return null;
      const imports = [];
      const fams = [];
      const missing = [];
      for (const f of FAMILIES) {
        const file = familyFile(f);
        if (excluded.has(f)) {
          fams.push(`${f}: null`);
          missing.push(`${f}: ${JSON.stringify(excluded.get(f))}`);
        } else if (!existsSync(file)) {
          fams.push(`${f}: null`);
          missing.push(`${f}: ${JSON.stringify(`src/ops/${f}.ts does not exist yet`)}`);
        } else {
          imports.push(`import * as fam_${f} from ${JSON.stringify(file)};`);
          fams.push(`${f}: fam_${f}`);
        }
      }
      return `${imports.join('\n')}\nexport const families = { ${fams.join(', ')} };\nexport const missing = { ${missing.join(', ')} };\n`;
    },
  };
}

// The package's runtime dependencies, its optional peer webgpu and the tfjs peers stay imports (resolved from node_modules at run time).
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const deps = [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})];
const external = (id) => id.startsWith('node:') || id.startsWith('@tensorflow/') || deps.some((d) => id === d || id.startsWith(`${d}/`));

async function bundle(excluded, write, entry = 'run') {
  const diagnostics = [];
  const bundleObj = await rollup({
    input: path.join(root, 'bench', `${entry}.ts`),
    external,
    onwarn(w) {
      if (w.plugin === 'typescript') diagnostics.push(w);
      else if (w.code !== 'CIRCULAR_DEPENDENCY') console.warn(`bench build: ${w.message}`);
    },
    plugins: [
      opsPlugin(excluded),
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
    if (write) {
      await bundleObj.write({ dir: outDir, format: 'es', sourcemap: true, inlineDynamicImports: true, entryFileNames: `${entry}.js` });
    }
  } finally {
    await bundleObj.close();
  }
  return diagnostics;
}

function blame(err) {
  const file = err.id ?? err.loc?.file ?? '';
  return FAMILIES.find((f) => path.resolve(file) === familyFile(f));
}

function firstLine(err) {
  return String(err.message ?? err).split('\n')[0].slice(0, 300);
}

const excluded = new Map();
let diagnostics = [];
for (let attempt = 0; only === undefined || only === 'kernels'; attempt++) {
  try {
    diagnostics = await bundle(excluded, true);
    break;
  } catch (err) {
    const present = FAMILIES.filter((f) => !excluded.has(f) && existsSync(familyFile(f)));
    if (present.length === 0 || attempt > FAMILIES.length) throw err;
    let culprits = [blame(err)].filter(Boolean);
    if (culprits.length === 0) {
      // Not attributable to one file (e.g. a helper module a family imports): bundle each family
      // alone to find which ones fail.
      for (const f of present) {
        const probe = new Map(FAMILIES.filter((g) => g !== f).map((g) => [g, 'not in this probe']));
        try {
          await bundle(probe, false);
        } catch {
          culprits.push(f);
        }
      }
    }
    if (culprits.length === 0) throw err;
    if (culprits.some((f) => excluded.has(f))) throw err; // leaving it out did not help
    for (const f of culprits) {
      const why = `src/ops/${f}.ts did not bundle: ${firstLine(err)}`;
      excluded.set(f, why);
      console.warn(`bench build: leaving out ${f} (${why})`);
    }
  }
}
// The training, prune and soak benchmarks need the whole model stack (src/nn, src/train, src/slim
// and every op family), so there is nothing to leave out: one that does not bundle is reported and
// not run.
const failed = new Set();
for (const [entry, title] of [['train', 'training'], ['prune', 'prune'], ['soak', 'soak']]) {
  if (only !== undefined && only !== entry) continue;
  const js = path.join(outDir, `${entry}.js`);
  try {
    diagnostics.push(...(await bundle(new Map(), true, entry)));
  } catch (err) {
    failed.add(entry);
    rmSync(js, { force: true });
    rmSync(`${js}.map`, { force: true });
    console.error(`bench build: bench/${entry}.ts did not bundle, so the ${title} benchmark cannot run: ${firstLine(err)}`);
  }
}
if (diagnostics.length && process.env.BENCH_BUILD_VERBOSE) for (const d of diagnostics) console.warn(d.message);
if (diagnostics.length) {
  console.warn(`bench build: ${diagnostics.length} TypeScript diagnostic(s) ignored for the bundle; run \`npm run typecheck\` to see them.`);
}
writeFileSync(path.join(outDir, 'package.json'), '{ "type": "module" }\n');
if (existsSync(path.join(outDir, 'bench'))) rmSync(path.join(outDir, 'bench'), { recursive: true, force: true });
const wants = (which) => only === undefined || only === which;
const wrote = [wants('kernels') && 'run.js', ...['train', 'prune', 'soak'].map((e) => wants(e) && !failed.has(e) && `${e}.js`)].filter(Boolean);
console.log(`bench build: wrote ${wrote.map((f) => path.relative(root, path.join(outDir, f))).join(', ') || 'nothing'}`);
if (only !== undefined && failed.has(only)) process.exitCode = 1;
