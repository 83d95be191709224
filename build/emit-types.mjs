// Emits the declarations of the public entries (src/index.ts, src/node.ts and what they reach)
// into dist/types with tsconfig.types.json, after removing what an earlier build left there.
//
// The public types name GPUDevice, GPUBuffer… The browser entry relies on the consumer's `dom`
// lib for them (TypeScript 6 ships WebGPU there, and @webgpu/types beside it conflicts unless
// skipLibCheck is on); with an older TypeScript, add "@webgpu/types" to `types`. The Node entry's
// declaration gets `/// <reference types="@webgpu/types" />`, as the `webgpu` package's own types
// import it: Node projects usually have no `dom` lib. TypeScript writes no such directive by
// itself (5.5+ never synthesises one), and writing it in src/node.ts would pull the globals into
// every file of this repository that imports the entry.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const out = `${root}dist/types`;
rmSync(out, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', `${root}tsconfig.types.json`], { stdio: 'inherit' });
const REF = '/// <reference types="@webgpu/types" />\n';
const nodeEntry = `${out}/node.d.ts`;
writeFileSync(nodeEntry, REF + readFileSync(nodeEntry, 'utf8'));
