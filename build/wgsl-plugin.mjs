// Embeds shaders/*.wgsl into the bundle as string modules. Works as a rollup plugin and as a
// vite/vitest plugin, so the Node build, the browser bundle and both test lanes read the same
// text and nothing reads a .wgsl file at run time.
import { readFile } from 'node:fs/promises';

export default function wgsl() {
  return {
    name: 'netslim-wgsl',
    async load(id) {
      if (!id.endsWith('.wgsl')) return null;
      const text = await readFile(id, 'utf8');
      return { code: `export default ${JSON.stringify(text)};`, map: { mappings: '' } };
    },
  };
}
