// Builds dist/index.js (browser entry: no Node module reachable from it) and dist/node.js (Node
// entry: Dawn via `webgpu`), with every .wgsl file embedded as a string.
import typescript from '@rollup/plugin-typescript';
import wgsl from './build/wgsl-plugin.mjs';

const external = (id) => id === 'webgpu' || id.startsWith('wgsl_reflect') || id.startsWith('node:');

export default {
  input: { index: 'src/index.ts', node: 'src/node.ts' },
  external,
  plugins: [wgsl(), typescript({ tsconfig: './tsconfig.build.json', declaration: false, declarationMap: false, outDir: 'dist', rootDir: 'src' })],
  output: { dir: 'dist', format: 'es', sourcemap: true, chunkFileNames: 'chunks/[name]-[hash].js' },
};
