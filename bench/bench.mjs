// `npm run bench`: builds the benchmark bundles (bench/build.mjs), then runs the kernel benchmark
// (bench/.build/run.js), the training-step benchmark (bench/.build/train.js) and the prune
// benchmark (bench/.build/prune.js) one after the other.
//
//   node bench/bench.mjs [--only kernels|train|prune|soak] [flags]
//
// Flags every benchmark knows (--quick, --sleep-frac, --help) go to all of them; --peers goes to
// the two that have peers (kernels, train). A flag only one benchmark knows selects that one (e.g.
// `--ops conv` runs the kernel benchmark alone, as before the other benchmarks existed); mixing
// flags of two benchmarks is an error, and --out needs one benchmark.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const BOOLEAN = new Set(['quick', 'profile', 'help', 'h']);
const COMMON = new Set(['quick', 'sleep-frac', 'help', 'h', 'out']);
/** Each benchmark's bundle, banner and own flags (besides COMMON). */
const BENCHES = {
  kernels: { file: 'run.js', title: 'kernel benchmark', flags: new Set(['peers', 'ops', 'repeats', 'warmups', 'batch', 'max-row-s', 'rtol', 'variant', 'filter']) },
  train: { file: 'train.js', title: 'training-step benchmark', flags: new Set(['peers', 'models', 'batches', 'steps', 'max-peer-s', 'loss-rtol']) },
  prune: { file: 'prune.js', title: 'prune benchmark', flags: new Set(['nets', 'vgg-percent', 'resnet-percent', 'gamma', 'infer-batch', 'runs', 'prune-runs', 'profile']) },
  soak: { file: 'soak.js', title: 'soak benchmark', flags: new Set(['steps', 'prunes', 'every', 'max-heap-mb']) },
};
const NAMES = Object.keys(BENCHES);
const USAGE = `usage: npm run bench -- [--only kernels|train|prune|soak] [flags]
  (no --only)     all four benchmarks, kernels, train, prune, soak; shared flags: --quick, --sleep-frac, --peers (kernels and train)
  --only kernels  the kernel benchmark (bench/run.ts): --peers --ops --repeats --warmups --batch --max-row-s --rtol --variant --filter --out
  --only train    the training-step benchmark (bench/train.ts): --peers --models --batches --steps --max-peer-s --loss-rtol --out
  --only prune    the prune benchmark (bench/prune.ts): --nets --vgg-percent --resnet-percent --gamma --infer-batch --runs --prune-runs --profile --out
  --only soak     the soak benchmark (bench/soak.ts): --steps --prunes --every --max-heap-mb --out
  A flag of one benchmark implies --only for it. --help with --only shows that benchmark's flags.`;

function die(msg) {
  console.error(`bench: ${msg}\n${USAGE}`);
  process.exit(2);
}

const argv = process.argv.slice(2);
/** [flag name, argv tokens] in order, to hand each benchmark the ones it knows. */
const given = [];
let only;
const seen = Object.fromEntries(NAMES.map((n) => [n, []]));
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
    if (!NAMES.includes(value)) die(`--only must be one of ${NAMES.join(', ')}, got ${value}`);
    only = value;
    continue;
  }
  if (name === 'help' || name === 'h') help = true;
  else if (name === 'out') out = true;
  else if (!COMMON.has(name)) {
    const owners = NAMES.filter((n) => BENCHES[n].flags.has(name));
    if (owners.length === 0) die(`unknown flag --${name}`);
    if (owners.length === 1) seen[owners[0]].push(`--${name}`);
  }
  given.push([name, takesValue && !inline ? [arg, value] : [arg]]);
}

const selecting = NAMES.filter((n) => seen[n].length);
if (!only) {
  if (selecting.length > 1) {
    die(`${selecting.map((n) => `${seen[n].join(', ')} (${BENCHES[n].title})`).join(' and ')} cannot be mixed: run them separately with --only`);
  }
  only = selecting[0];
}
if (only) {
  const foreign = given.map(([name]) => name).filter((name) => !COMMON.has(name) && !BENCHES[only].flags.has(name)).map((name) => `--${name}`);
  if (foreign.length) die(`${foreign.join(', ')} ${foreign.length > 1 ? 'are' : 'is'} not a flag of the ${only} benchmark`);
}
if (out && !only) die(`--out needs --only ${NAMES.join('|')} (the benchmarks write different files)`);
if (help && !only) {
  console.log(USAGE);
  process.exit(0);
}

const node = process.execPath;
const run = (args) => spawnSync(node, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

const built = run([path.join(root, 'bench', 'build.mjs'), ...(only ? ['--only', only] : [])]);
if (built !== 0) process.exit(built);

let status = 0;
for (const which of NAMES) {
  if (only && only !== which) continue;
  const { file, title, flags } = BENCHES[which];
  const bundle = path.join(root, 'bench', '.build', file);
  if (!existsSync(bundle)) {
    console.error(`bench: ${path.relative(root, bundle)} was not built; the ${which} benchmark did not run`);
    status = 1;
    continue;
  }
  if (!only && which !== NAMES[0]) console.log(`\n==================== ${title} ====================\n`);
  const pass = given.filter(([name]) => COMMON.has(name) || flags.has(name)).flatMap(([, tokens]) => tokens);
  status = Math.max(status, run([bundle, ...pass]));
}
process.exit(status);
