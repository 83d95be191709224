// The API reference: `npm run docs` (typedoc over src/index.ts and src/node.ts, typedoc.json)
// must build with no warning (typedoc.json treats warnings as errors, so an undocumented export,
// a broken {@link} or a referenced type that is not exported fails it), every public function and
// class must carry an @example, and every example must type-check (strict) against the sources,
// with `netslim` and `netslim/node` mapped to the two entries as a user's import resolves them.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
const typedoc = path.join(path.dirname(require.resolve('typedoc/package.json')), 'bin/typedoc');
const tsc = require.resolve('typescript/bin/tsc');

interface Reflection {
  name: string;
  kind: number;
  children?: Reflection[];
  signatures?: { comment?: Comment }[];
  comment?: Comment;
}
interface Comment {
  blockTags?: { tag: string; content: { kind: string; text: string }[] }[];
}

// typedoc's ReflectionKind values.
const KIND = { Module: 2, Namespace: 4, Function: 64, Class: 128 } as const;

interface Documented {
  name: string;
  examples: string[];
}

function examplesOf(r: Reflection): string[] {
  const comments = [r.comment, ...(r.signatures ?? []).map((s) => s.comment)];
  const out: string[] = [];
  for (const c of comments) {
    for (const tag of c?.blockTags ?? []) {
      if (tag.tag !== '@example') continue;
      const text = tag.content.map((p) => p.text).join('');
      for (const m of text.matchAll(/```(?:ts|typescript|js)\n([\s\S]*?)```/g)) out.push(m[1]!);
    }
  }
  return out;
}

/** Every function and class of the two modules and their namespaces (re-exports are references, kind 0x400000, and skipped). */
function publicCallables(project: Reflection): Documented[] {
  const out: Documented[] = [];
  const walk = (r: Reflection, prefix: string) => {
    for (const c of r.children ?? []) {
      const name = `${prefix}${c.name}`;
      if (c.kind === KIND.Namespace) walk(c, `${name}.`);
      else if (c.kind === KIND.Function || c.kind === KIND.Class) out.push({ name, examples: examplesOf(c) });
    }
  };
  for (const m of project.children ?? []) walk(m, `${m.name}:`);
  return out;
}

let dir = '';
let logs = '';
let status: number | null = null;
let callables: Documented[] = [];

beforeAll(() => {
  mkdirSync(path.join(root, 'test/artifacts'), { recursive: true });
  dir = mkdtempSync(path.join(root, 'test/artifacts/docs-'));
  const r = spawnSync(process.execPath, [typedoc, '--out', path.join(dir, 'html'), '--json', path.join(dir, 'api.json')], { cwd: root, encoding: 'utf8', timeout: 600_000 });
  status = r.status;
  // eslint-disable-next-line no-control-regex -- strips the ANSI colour codes of typedoc's log
  logs = `${r.stdout}\n${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
  if (status === 0) callables = publicCallables(JSON.parse(readFileSync(path.join(dir, 'api.json'), 'utf8')) as Reflection);
  return () => rmSync(dir, { recursive: true, force: true });
}, 600_000);

describe('API reference (typedoc)', () => {
  it('builds with no warning', () => {
    expect(status, logs).toBe(0);
    expect(logs.split('\n').filter((l) => /\[(warning|error)\]/.test(l)), logs).toEqual([]);
  });

  it('has a runnable @example on every public function and class', () => {
    expect(callables.length, 'public functions and classes found').toBeGreaterThan(100);
    expect(callables.filter((c) => c.examples.length === 0).map((c) => c.name)).toEqual([]);
  });

  it('every example type-checks against the public entries (strict)', () => {
    const files: string[] = [];
    callables.forEach((c, i) =>
      c.examples.forEach((code, j) => {
        const file = path.join(dir, `example-${i}-${j}.ts`);
        writeFileSync(file, `// ${c.name}\n${code}${/\bimport\b|\bexport\b/.test(code) ? '' : '\nexport {};\n'}`);
        files.push(file);
      }),
    );
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'Bundler',
          lib: ['ES2022', 'DOM'],
          types: ['@webgpu/types', 'node'],
          skipLibCheck: true,
          noUnusedLocals: false,
          paths: { netslim: [path.join(root, 'src/index.ts')], 'netslim/node': [path.join(root, 'src/node.ts')] },
        },
        files: [...files, path.join(root, 'src/wgsl_reflect.d.ts'), path.join(root, 'src/wgsl-virtual.d.ts')],
      }),
    );
    const r = spawnSync(process.execPath, [tsc, '-p', dir], { cwd: root, encoding: 'utf8', timeout: 600_000 });
    // Name the function each failing example documents.
    const report = (r.stdout + r.stderr).replace(/^(.*example-(\d+)-\d+\.ts)/gm, (line, _f, i: string) => `${callables[Number(i)]!.name}: ${line}`);
    expect(r.status, report).toBe(0);
  }, 600_000);
});
