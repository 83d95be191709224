// Atomic checkpoint files on disk (Node only): temp file + fsync + rename, nothing left behind on
// success or failure, the old file intact when a write fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError } from '../../src/io/errors.js';
import { readFileBytes, writeFileAtomic, writeFilesAtomic } from '../../src/io/files.node.js';
import { f32Tensor, parseSafetensors, serializeSafetensors, toFloat32 } from '../../src/io/safetensors.js';

let root: string;
let n = 0;
/** A fresh empty directory per test. */
async function freshDir(): Promise<string> {
  const d = join(root, `t${n++}`);
  await mkdir(d);
  return d;
}
const temps = async (dir: string) => (await readdir(dir)).filter((f) => f.includes('.tmp-'));

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'netslim-files-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<CheckpointError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CheckpointError);
  return e as CheckpointError;
}

describe('writeFileAtomic / readFileBytes', () => {
  it('writes the bytes, replaces an old file and leaves no temp file', async () => {
    const dir = await freshDir();
    const path = join(dir, 'checkpoint.safetensors');
    await writeFileAtomic(path, Uint8Array.of(1, 2, 3));
    expect(Array.from(await readFileBytes(path))).toEqual([1, 2, 3]);
    await writeFileAtomic(path, Uint8Array.of(9));
    expect(Array.from(await readFileBytes(path))).toEqual([9]);
    expect(await readdir(dir)).toEqual(['checkpoint.safetensors']);
    await writeFileAtomic(path, new Uint8Array(0));
    expect((await readFileBytes(path)).byteLength).toBe(0);
  });

  it('round-trips a checkpoint through the file system', async () => {
    const dir = await freshDir();
    const path = join(dir, 'model.safetensors');
    await writeFileAtomic(path, serializeSafetensors({ 'fc.weight': f32Tensor([2], Float32Array.of(0.5, -1)) }, { arch: 'vgg' }));
    const file = parseSafetensors(await readFileBytes(path), path);
    expect(Array.from(toFloat32(file.tensors.get('fc.weight')!, 'fc.weight', path))).toEqual([0.5, -1]);
    expect(file.metadata).toEqual({ arch: 'vgg' });
  });

  it('fails cleanly when the target directory is missing', async () => {
    const dir = await freshDir();
    const path = join(dir, 'missing', 'x.safetensors');
    const e = await rejection(writeFileAtomic(path, Uint8Array.of(1)));
    expect(e.file).toBe(path);
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/no such file or directory \(ENOENT\)/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('fails cleanly when the target is a directory: it stays, no temp remains', async () => {
    const dir = await freshDir();
    const path = join(dir, 'ckpt.safetensors');
    await mkdir(path);
    await writeFile(join(path, 'inside'), 'x');
    const e = await rejection(writeFileAtomic(path, Uint8Array.of(1)));
    expect(e.message).toBe(`${path}: cannot replace it: it is a directory`);
    expect(await readdir(dir)).toEqual(['ckpt.safetensors']);
    expect(await readFile(join(path, 'inside'), 'utf8')).toBe('x');
  });

  it('readFileBytes names the path when it is missing or a directory', async () => {
    const dir = await freshDir();
    const missing = join(dir, 'nope.safetensors');
    const e = await rejection(readFileBytes(missing));
    expect(e.message).toBe(`${missing}: cannot read: no such file or directory (ENOENT)`);
    expect((await rejection(readFileBytes(dir))).message).toMatch(/is a directory \(EISDIR\)/);
  });
});

describe('writeFilesAtomic', () => {
  it('writes every file and no temp remains', async () => {
    const dir = await freshDir();
    await writeFilesAtomic([
      { path: join(dir, 'a.safetensors'), bytes: Uint8Array.of(1) },
      { path: join(dir, 'a.state.safetensors'), bytes: Uint8Array.of(2, 2) },
    ]);
    expect((await readdir(dir)).sort()).toEqual(['a.safetensors', 'a.state.safetensors']);
    expect(Array.from(await readFileBytes(join(dir, 'a.state.safetensors')))).toEqual([2, 2]);
  });

  it('replaces nothing when one target cannot be written: old files intact, no temps', async () => {
    const dir = await freshDir();
    const a = join(dir, 'checkpoint.safetensors');
    await writeFile(a, 'old');
    const blocked = join(dir, 'checkpoint.state.safetensors');
    await mkdir(blocked);
    const e = await rejection(
      writeFilesAtomic([
        { path: a, bytes: Uint8Array.of(1, 2, 3) },
        { path: blocked, bytes: Uint8Array.of(4) },
      ]),
    );
    expect(e.file).toBe(blocked);
    expect(await readFile(a, 'utf8')).toBe('old');
    expect(await temps(dir)).toEqual([]);

    const missing = join(dir, 'no', 'such', 'dir.safetensors');
    await rejection(writeFilesAtomic([{ path: a, bytes: Uint8Array.of(1) }, { path: missing, bytes: Uint8Array.of(1) }]));
    expect(await readFile(a, 'utf8')).toBe('old');
    expect(await temps(dir)).toEqual([]);
  });

  it('refuses the same path twice', async () => {
    const dir = await freshDir();
    const p = join(dir, 'x.safetensors');
    const e = await rejection(writeFilesAtomic([{ path: p, bytes: Uint8Array.of(1) }, { path: `${dir}/./x.safetensors`, bytes: Uint8Array.of(2) }]));
    expect(e.message).toMatch(/named twice/);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('faults', () => {
  it('a commit interrupted after its journal is finished by the next read in the directory', async () => {
    const dir = await freshDir();
    const [a, b] = [join(dir, 'checkpoint.safetensors'), join(dir, 'checkpoint.state.safetensors')];
    await writeFilesAtomic([{ path: a, bytes: Uint8Array.of(1) }, { path: b, bytes: Uint8Array.of(1) }]);
    // What a process killed between the two renames leaves: a renamed, b's temp and the journal.
    const dead = 2 ** 22 + 12345; // above Linux's default pid_max: no such process
    await writeFile(a, Uint8Array.of(2));
    await writeFile(`${b}.tmp-${dead}-abc`, Uint8Array.of(2));
    await writeFile(join(dir, `.netslim-commit-${dead}-0a1b.json`), JSON.stringify({ renames: [{ temp: `${a}.tmp-${dead}-aaa`, path: a }, { temp: `${b}.tmp-${dead}-abc`, path: b }] }));
    expect([...(await readFileBytes(b))]).toEqual([2]); // rolled forward before reading
    expect([...(await readFileBytes(a))]).toEqual([2]);
    expect((await readdir(dir)).sort()).toEqual(['checkpoint.safetensors', 'checkpoint.state.safetensors']);
  });

  it('SIGKILL at random points of writing a checkpoint set leaves the old set or the new one, never a mix', async () => {
    const dir = await freshDir();
    const names = ['checkpoint.safetensors', 'checkpoint.state.safetensors', 'model_best.safetensors'].map((f) => join(dir, f));
    // A writer (the built dist/node.js, as users run it) that commits generation after generation
    // of the three files (each 256 kB of its number).
    const script = join(dir, 'writer.mjs');
    await writeFile(
      script,
      `import { writeFilesAtomic } from ${JSON.stringify(new URL('../../dist/node.js', import.meta.url).pathname)};\n` +
        `const names = ${JSON.stringify(names)};\n` +
        'for (let g = 1; ; g++) { await writeFilesAtomic(names.map((path) => ({ path, bytes: new Uint8Array(262144).fill(g % 251) }))); process.stdout.write(g + \'\\n\'); }\n',
    );
    const { spawn } = await import('node:child_process');
    const rand = (() => {
      let x = 12345;
      return () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    })();
    let commits = 0;
    let midCommit = 0;
    let beforeCommit = 0;
    const KILLS = 24;
    for (let k = 0; k < KILLS; k++) {
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      // Kill once it has committed a few sets, at a random moment of the next ones.
      await new Promise<void>((res, rej) => {
        child.on('exit', (code) => rej(new Error(`the writer exited by itself (${code}): ${err}`)));
        const poll = setInterval(() => {
          if (out.split('\n').length > 2) {
            clearInterval(poll);
            setTimeout(() => {
              child.kill('SIGKILL');
              res();
            }, rand() * 40);
          }
        }, 2);
      });
      await new Promise((res) => child.on('exit', res));
      commits += out.split('\n').filter(Boolean).length;
      const left = await readdir(dir);
      if (left.some((f) => /^\.netslim-commit-\d+-[0-9a-f]+\.json$/.test(f))) midCommit++;
      if (left.some((f) => f.includes('.tmp-'))) beforeCommit++;
      const gens = await Promise.all(names.map(async (p) => (await readFileBytes(p))[0]));
      expect(new Set(gens).size, `kill ${k}: generations ${gens.join(', ')}`).toBe(1);
      expect((await readdir(dir)).filter((f) => f.startsWith('.netslim-commit-') || f.includes('.tmp-'))).toEqual([]);
    }
    console.log(`SIGKILL: ${KILLS} kills over ${commits} commits; ${midCommit} left a journal (killed mid-commit, rolled forward), ${beforeCommit} left temporary files`);
    expect(commits).toBeGreaterThan(KILLS * 2);
  }, 120_000);

  it('a full disk leaves the previous checkpoint intact and says so', async () => {
    // A 1 MiB tmpfs (the test runs as root, as CI does); the new set needs 2 MiB.
    const mnt = await freshDir();
    const { execFileSync } = await import('node:child_process');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      const names = ['checkpoint.safetensors', 'checkpoint.state.safetensors'].map((f) => join(mnt, f));
      await writeFilesAtomic(names.map((path) => ({ path, bytes: new Uint8Array(200_000).fill(1) })));
      const e = await rejection(writeFilesAtomic(names.map((path) => ({ path, bytes: new Uint8Array(1 << 20).fill(2) }))));
      expect(e.message).toMatch(/no space left on the device \(ENOSPC\)/);
      for (const p of names) {
        const b = await readFileBytes(p);
        expect([b.length, b[0]]).toEqual([200_000, 1]);
      }
      expect((await readdir(mnt)).sort()).toEqual(['checkpoint.safetensors', 'checkpoint.state.safetensors']);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
