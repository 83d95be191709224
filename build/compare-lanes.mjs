// Checks that the Node (Dawn) and Chromium lanes computed the same results: every result a test
// checked is summarised per lane in test/artifacts/lanes/<lane>/ (test/util/lane-record.ts).
// `--clean` removes old records before a run. Exits 1 when a lane is missing a result or the two
// disagree by more than float32 rounding (1e-5 of the tensor's scale + 1e-4 relative).
import { readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../test/artifacts/lanes/', import.meta.url));
if (process.argv.includes('--clean')) {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
const lanes = ['node', 'chromium'];
for (const l of lanes) {
  if (!existsSync(dir + l)) {
    console.error(`compare-lanes: no records for lane ${l} (did both lanes run?)`);
    process.exit(1);
  }
}
const files = new Set(lanes.flatMap((l) => readdirSync(dir + l)));
const problems = [];
let results = 0, identical = 0, maxDiff = 0;
for (const f of [...files].sort()) {
  const [a, b] = lanes.map((l) => (existsSync(`${dir}${l}/${f}`) ? JSON.parse(readFileSync(`${dir}${l}/${f}`, 'utf8')) : null));
  if (!a || !b) {
    // node-only test files have no browser counterpart
    if (!b && /node-only/.test(f)) continue;
    problems.push(`${f}: missing in lane ${a ? 'chromium' : 'node'}`);
    continue;
  }
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[key], y = b[key];
    if (!x || !y) { problems.push(`${f} ${key}: only in lane ${x ? 'node' : 'chromium'}`); continue; }
    results++;
    if (x.n !== y.n) { problems.push(`${f} ${key}: ${x.n} vs ${y.n} elements`); continue; }
    let scale = 1;
    for (const v of y.head) scale = Math.max(scale, Math.abs(v));
    let same = x.sum === y.sum;
    for (let i = 0; i < x.head.length; i++) {
      const d = Math.abs(x.head[i] - y.head[i]);
      if (d !== 0 || Object.is(x.head[i], -0) !== Object.is(y.head[i], -0)) same = false;
      maxDiff = Math.max(maxDiff, d);
      if (!(d <= 1e-5 * scale + 1e-4 * Math.abs(y.head[i]))) {
        problems.push(`${f} ${key}: element ${i} node ${x.head[i]} vs chromium ${y.head[i]}`);
        break;
      }
    }
    if (!(Math.abs(x.sum - y.sum) <= 1e-4 * Math.max(1, y.sumAbs))) problems.push(`${f} ${key}: sum node ${x.sum} vs chromium ${y.sum}`);
    if (same) identical++;
  }
}
if (problems.length) {
  console.error(`compare-lanes: the lanes disagree:\n  ${problems.slice(0, 20).join('\n  ')}`);
  process.exit(1);
}
console.log(`compare-lanes: node and chromium agree on ${results} checked results in ${files.size} files (${identical} bit-identical, max difference ${maxDiff.toExponential(2)})`);
