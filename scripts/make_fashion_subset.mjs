#!/usr/bin/env node
// Makes data/fashion-mnist-subset/: the small Fashion-MNIST subset that ships with netslim for
// `netslim demo`. Reads Debian's dataset-fashion-mnist (`apt-get install dataset-fashion-mnist`:
// IDX, gzip, under /usr/share/datasets/fashion-mnist/) and writes a class-balanced, seeded
// subset — TRAIN images from the training split, TEST from the test split, the same number of
// each class, in their original order — as gzipped IDX files with the names loadDatasetDir()
// reads, plus README.md (source, selection, SHA-256 of every file) and LICENSE (MIT, Zalando SE).
//
// Deterministic: the selection depends only on the seed, the IDX bytes only on the selection, and
// the gzip member has mtime 0, no file name and OS byte 3 (Unix) at level 9; re-running gives
// identical bytes with the same zlib (Node's bundled one). README.md records the SHA-256 of the
// uncompressed IDX files too, which no zlib can change: `--check` verifies them against the
// source without writing anything.
//
//   node scripts/make_fashion_subset.mjs [--src DIR] [--out DIR] [--train N] [--test N] [--seed S] [--check]
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync, constants } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
function flag(name, fallback) {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) die(`${name} needs a value`);
  return v;
}
function die(msg) {
  console.error(`make_fashion_subset: ${msg}`);
  process.exit(1);
}
for (const a of args) if (a.startsWith('--') && !['--src', '--out', '--train', '--test', '--seed', '--check'].includes(a)) die(`unknown option ${a}`);

const SRC = flag('--src', '/usr/share/datasets/fashion-mnist');
const OUT = flag('--out', join(root, 'data', 'fashion-mnist-subset'));
const TRAIN = Number(flag('--train', '3000'));
const TEST = Number(flag('--test', '1000'));
const SEED = Number(flag('--seed', '20171'));
const CHECK = args.includes('--check');
const CLASSES = 10;
const NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
for (const [k, v] of [['--train', TRAIN], ['--test', TEST]]) {
  if (!Number.isInteger(v) || v <= 0 || v % CLASSES !== 0) die(`${k} ${v}: a positive multiple of ${CLASSES} (the subset is class-balanced)`);
}
if (!Number.isInteger(SEED) || SEED < 0) die(`--seed ${SEED}: a non-negative integer`);

/** Mulberry32: a small seeded generator (same as src/util/random.ts), uniform in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readIdx(file, magic) {
  const path = join(SRC, file);
  if (!existsSync(path)) die(`${path}: missing (apt-get install dataset-fashion-mnist, or pass --src DIR)`);
  const raw = readFileSync(path);
  const b = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (view.getUint32(0) !== magic) die(`${path}: magic 0x${view.getUint32(0).toString(16)}, expected 0x${magic.toString(16)}`);
  const dims = magic & 0xff;
  const shape = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i));
  const data = b.subarray(4 + 4 * dims);
  if (data.length !== shape.reduce((x, y) => x * y, 1)) die(`${path}: ${data.length} bytes for shape [${shape}]`);
  return { shape, data };
}

/** Indices of `perClass` samples of each class, chosen by a seeded Fisher–Yates shuffle per class, in original order. */
function select(labels, perClass, seed) {
  const rand = mulberry32(seed);
  const picked = [];
  for (let c = 0; c < CLASSES; c++) {
    const idx = [];
    for (let i = 0; i < labels.length; i++) if (labels[i] === c) idx.push(i);
    if (idx.length < perClass) die(`class ${c} has ${idx.length} samples, fewer than ${perClass}`);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    picked.push(...idx.slice(0, perClass));
  }
  return picked.sort((a, b) => a - b);
}

function idxBytes(magic, shape, data) {
  const head = Buffer.alloc(4 + 4 * shape.length);
  head.writeUInt32BE(magic, 0);
  shape.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}

/** gzip with nothing that varies between runs: mtime 0 and no name (Node writes neither), OS byte pinned to 3. */
function gzip(bytes) {
  const gz = Buffer.from(gzipSync(bytes, { level: 9, memLevel: 9, strategy: constants.Z_DEFAULT_STRATEGY }));
  gz.writeUInt32LE(0, 4);
  gz[9] = 3;
  return gz;
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

const splits = [
  { prefix: 'train', n: TRAIN, seed: SEED },
  { prefix: 't10k', n: TEST, seed: SEED + 1 },
];
const files = [];
for (const s of splits) {
  const images = readIdx(`${s.prefix}-images-idx3-ubyte.gz`, 0x803);
  const labels = readIdx(`${s.prefix}-labels-idx1-ubyte.gz`, 0x801);
  const [, rows, cols] = images.shape;
  const pick = select(labels.data, s.n / CLASSES, s.seed);
  const px = rows * cols;
  const img = Buffer.alloc(pick.length * px);
  const lab = Buffer.alloc(pick.length);
  pick.forEach((src, i) => {
    img.set(images.data.subarray(src * px, (src + 1) * px), i * px);
    lab[i] = labels.data[src];
  });
  files.push({ name: `${s.prefix}-images-idx3-ubyte`, raw: idxBytes(0x803, [pick.length, rows, cols], img), from: images.shape[0] });
  files.push({ name: `${s.prefix}-labels-idx1-ubyte`, raw: idxBytes(0x801, [pick.length], lab), from: labels.shape[0] });
}

const readme = (rows) => `# Fashion-MNIST subset

${TRAIN} training and ${TEST} test images of Fashion-MNIST (Zalando Research,
https://github.com/zalandoresearch/fashion-mnist), 28×28 greyscale, 10 classes
(${NAMES.map((n, i) => `${i} ${n}`).join(', ')}): the built-in dataset of \`netslim demo\`.

Made by \`scripts/make_fashion_subset.mjs\` from Debian's \`dataset-fashion-mnist\`
(/usr/share/datasets/fashion-mnist/): ${TRAIN / CLASSES} images of each class from the 60 000
training images and ${TEST / CLASSES} of each class from the 10 000 test images, chosen by a
Fisher–Yates shuffle per class seeded with ${SEED} (training) and ${SEED + 1} (test), kept in their
original order. Same IDX format and file names as the original (gzip). Re-running the script gives
the same bytes; \`node scripts/make_fashion_subset.mjs --check\` verifies the uncompressed files
against the source.

| file | images | SHA-256 of the uncompressed IDX file |
| --- | --- | --- |
${rows.join('\n')}

Fashion-MNIST is released under the MIT License, Copyright (c) 2017 Zalando SE; see LICENSE.
`;

const LICENSE = `The MIT License (MIT)

Copyright © 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the “Software”), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED “AS IS”, WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
`;

const rows = files.map((f) => `| \`${f.name}.gz\` | ${f.name.includes('labels') ? '' : (f.raw.length - 16) / 784} | \`${sha256(f.raw)}\` |`);
if (CHECK) {
  let bad = 0;
  for (const f of files) {
    const path = join(OUT, `${f.name}.gz`);
    const ok = existsSync(path) && gunzipSync(readFileSync(path)).equals(f.raw);
    if (!ok) bad++;
    console.log(`${ok ? 'ok     ' : 'DIFFERS'} ${relative(process.cwd(), path)}`);
  }
  process.exit(bad ? 1 : 0);
}
mkdirSync(OUT, { recursive: true });
let total = 0;
for (const f of files) {
  const gz = gzip(f.raw);
  total += gz.length;
  writeFileSync(join(OUT, `${f.name}.gz`), gz);
  console.log(`${relative(process.cwd(), join(OUT, `${f.name}.gz`))}: ${gz.length} bytes (sha256 ${sha256(gz).slice(0, 16)}…)`);
}
writeFileSync(join(OUT, 'README.md'), readme(rows));
writeFileSync(join(OUT, 'LICENSE'), LICENSE);
console.log(`${(total / 1e6).toFixed(2)} MB in ${files.length} files, README.md, LICENSE`);
