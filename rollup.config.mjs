// Builds dist/index.js (browser entry: no Node module reachable from it), dist/node.js (Node
// entry: Dawn via `webgpu`) and dist/cli.js (the `netslim` command), with every .wgsl file
// embedded as a string. Comments are stripped from the JS: the declarations in dist/types carry
// the docs (build/emit-types.mjs), and the source maps carry the TypeScript sources.
import typescript from '@rollup/plugin-typescript';
import wgsl from './build/wgsl-plugin.mjs';
import pruneStale from './build/prune-stale.mjs';

import { readFileSync } from 'node:fs';

// Every runtime dependency stays an import (users' bundlers resolve it), and so does the optional
// peer `webgpu` (Dawn, imported by netslim/node on first use); only our code is bundled.
const manifest = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const deps = [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})];
const external = (id) => id.startsWith('node:') || deps.some((d) => id === d || id.startsWith(`${d}/`));

export default {
  input: { index: 'src/index.ts', node: 'src/node.ts', cli: 'src/cli/main.ts' },
  external,
  plugins: [wgsl(), typescript({ tsconfig: './tsconfig.build.json', declaration: false, declarationMap: false, removeComments: true, outDir: 'dist', rootDir: 'src' }), pruneStale()],
  output: {
    dir: 'dist',
    format: 'es',
    sourcemap: true,
    chunkFileNames: 'chunks/[name]-[hash].js',
    banner: (chunk) => (chunk.name === 'cli' ? '#!/usr/bin/env node' : ''),
  },
};
