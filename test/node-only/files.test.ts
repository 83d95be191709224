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
