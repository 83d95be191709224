// Removes files of an earlier build from the output folder once the new bundle is written:
// chunk names carry content hashes, so without it dist/chunks keeps every old chunk and `npm
// pack` ships them. Only files under `dir` (default dist/chunks) are candidates, and only .js and
// .js.map files, so nothing else in dist (dist/types) is touched. Nothing is deleted before the
// new files exist, so a CLI run that starts during a rebuild never finds dist empty.
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

export default function pruneStale({ dir = 'chunks' } = {}) {
  return {
    name: 'netslim-prune-stale',
    writeBundle(options, bundle) {
      const outDir = options.dir;
      if (!outDir) return;
      const fresh = new Set(Object.keys(bundle).map((f) => path.normalize(f)));
      const sub = path.join(outDir, dir);
      let names;
      try {
        names = readdirSync(sub);
      } catch {
        return;
      }
      for (const name of names) {
        const rel = path.normalize(path.join(dir, name));
        if (/\.js(\.map)?$/.test(name) && !fresh.has(rel)) rmSync(path.join(sub, name), { force: true });
      }
    },
  };
}
