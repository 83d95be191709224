// `npm run bench`: builds the benchmark bundles (bench/build.mjs), then runs the kernel benchmark
// (bench/.build/run.js) and the training-step benchmark (bench/.build/train.js) one after the other.
//
//   node bench/bench.mjs [--only kernels|train] [flags]
//
// Flags both benchmarks know (--quick, --peers, --sleep-frac, --help) go to both. A flag only one
// of them knows selects that one (e.g. `--ops conv` runs the kernel benchmark alone, as before the
// training benchmark existed); mixing the two kinds is an error, and --out needs one benchmark.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const BOOLEAN = new Set(['quick', 'help', 'h']);
const SHARED = new Set(['quick', 'peers', 'sleep-frac', 'help', 'h']);
const KERNELS = new Set(['ops', 'repeats', 'warmups', 'batch', 'max-row-s', 'rtol', 'variant', 'filter']);
const TRAIN = new Set(['models', 'batches', 'steps', 'max-peer-s', 'loss-rtol']);
const USAGE = `usage: npm run bench -- [--only kernels|train] [flags]
  (no --only)     both benchmarks, kernels first; shared flags: --quick, --peers, --sleep-frac
  --only kernels  the kernel benchmark (bench/run.ts): --ops --repeats --warmups --batch --max-row-s --rtol --variant --filter --out
  --only train    the training-step benchmark (bench/train.ts): --models --batches --steps --max-peer-s --loss-rtol --out
  A flag of one benchmark implies --only for it. --help with --only shows that benchmark's flags.`;

function die(msg) {
  console.error(`bench: ${msg}\n${USAGE}`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const pass = [];
let only;
const seen = { kernels: [], train: [] };
let out = false;
let help = false;
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  const m = /^--?([\w-]+)(=.*)?$/.exec(arg);
  if (!m) die(`unexpected argument ${arg}`);
  const name = m[1];
  const inline = m[2] !== undefined;
  const takesValue = !BOOLEAN.has(name);
  if (takesValue && !inline && i + 1 >= argv.length) die(`--${name} needs a value`);
  const value = takesValue ? (inline ? m[2].slice(1) : argv[++i]) : undefined;
  if (name === 'only') {
    if (value !== 'kernels' && value !== 'train') die(`--only must be kernels or train, got ${value}`);
    only = value;
    continue;
  }
  if (name === 'help' || name === 'h') help = true;
  else if (name === 'out') out = true;
  else if (KERNELS.has(name)) seen.kernels.push(`--${name}`);
  else if (TRAIN.has(name)) seen.train.push(`--${name}`);
  else if (!SHARED.has(name)) die(`unknown flag --${name}`);
  pass.push(arg);
  if (takesValue && !inline) pass.push(value);
}

if (!only) {
  if (seen.kernels.length && seen.train.length) {
    die(`${seen.kernels.join(', ')} (kernel benchmark) and ${seen.train.join(', ')} (training benchmark) cannot be mixed: run them separately with --only`);
  }
  if (seen.kernels.length) only = 'kernels';
  else if (seen.train.length) only = 'train';
} else {
  const foreign = only === 'kernels' ? seen.train : seen.kernels;
  if (foreign.length) die(`${foreign.join(', ')} ${foreign.length > 1 ? 'are' : 'is'} not a flag of the ${only} benchmark`);
}
if (out && !only) die('--out needs --only kernels or --only train (the two benchmarks write different files)');
if (help && !only) {
  console.log(USAGE);
  process.exit(0);
}

const node = process.execPath;
const run = (args) => spawnSync(node, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

const built = run([path.join(root, 'bench', 'build.mjs'), ...(only ? ['--only', only] : [])]);
if (built !== 0) process.exit(built);

let status = 0;
for (const [which, file] of [
  ['kernels', 'run.js'],
  ['train', 'train.js'],
]) {
  if (only && only !== which) continue;
  const bundle = path.join(root, 'bench', '.build', file);
  if (!existsSync(bundle)) {
    console.error(`bench: ${path.relative(root, bundle)} was not built; the ${which} benchmark did not run`);
    status = 1;
    continue;
  }
  if (!only && which === 'train') console.log('\n==================== training-step benchmark ====================\n');
  status = Math.max(status, run([bundle, ...pass]));
}
process.exit(status);
