// Embeds every shaders/*.wgsl file into the bundle as text. `import SHADERS from
// 'virtual:netslim-shaders'` gives { 'conv2d.wgsl': '…', … }. Works as a rollup plugin and as a
// vite/vitest plugin, so the Node build, the browser bundle and both test lanes read the same
// text, and nothing reads a .wgsl file at run time.
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const VIRTUAL = 'virtual:netslim-shaders';
const RESOLVED = '\0netslim-shaders';
const shaderDir = fileURLToPath(new URL('../shaders/', import.meta.url));

export default function wgsl() {
  return {
    name: 'netslim-wgsl',
    resolveId(id) {
      return id === VIRTUAL ? RESOLVED : null;
    },
    async load(id) {
      if (id !== RESOLVED) return null;
      const files = (await readdir(shaderDir)).filter((f) => f.endsWith('.wgsl')).sort();
      const entries = [];
      for (const f of files) {
        const full = path.join(shaderDir, f);
        this.addWatchFile?.(full);
        entries.push(`  ${JSON.stringify(f)}: ${JSON.stringify(await readFile(full, 'utf8'))}`);
      }
      return { code: `export default {\n${entries.join(',\n')}\n};\n`, map: { mappings: '' } };
    },
  };
}
