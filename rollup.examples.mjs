// Builds the browser example (examples/browser/main.ts → examples/browser/dist/main.js) against
// the package as users get it: `import … from 'netslim'` resolves to the built dist/index.js (run
// `npm run build` first; `npm run build:examples` does), and every dependency (Observable Plot,
// onnx-proto) is bundled for the browser, the charts and ONNX in chunks loaded on
// demand. `npm run serve` builds and serves it (examples/browser/serve.mjs).
import typescript from '@rollup/plugin-typescript';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';
import { fileURLToPath } from 'node:url';
import pruneStale from './build/prune-stale.mjs';

// The TypeScript plugin resolves these against the tsconfig's folder: give them absolute.
const abs = (p) => fileURLToPath(new URL(p, import.meta.url));

export default {
  input: { main: 'examples/browser/main.ts' },
  plugins: [
    // The package's own entry, as a consumer's bundler resolves `netslim` (package.json exports ".").
    { name: 'netslim-self', resolveId: (id) => (id === 'netslim' ? abs('./dist/index.js') : null) },
    typescript({
      tsconfig: './examples/browser/tsconfig.json',
      noEmit: false,
      declaration: false,
      declarationMap: false,
      removeComments: true,
      outDir: abs('./examples/browser/dist'),
      rootDir: abs('.'),
      // A type error fails the build instead of shipping a page that was never checked.
      noEmitOnError: true,
    }),
    nodeResolve({ browser: true, preferBuiltins: false }),
    commonjs(),
    pruneStale(),
  ],
  onwarn(warning, warn) {
    // protobufjs (under onnx-proto) has a harmless import cycle of its own.
    if (warning.code === 'CIRCULAR_DEPENDENCY' && (warning.ids ?? []).every((id) => id.includes('/node_modules/'))) return;
    warn(warning);
  },
  output: {
    dir: 'examples/browser/dist',
    format: 'es',
    sourcemap: true,
    chunkFileNames: 'chunks/[name]-[hash].js',
  },
};
