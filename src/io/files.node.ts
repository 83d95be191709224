/**
 * Checkpoint files on disk (Node only). Writes are atomic: the bytes go to a temporary file
 * beside the target (`<path>.tmp-<pid>-<random>`), which is fsynced and then renamed over the
 * target, so a reader sees the old file or the new one, never a partial one. On failure the
 * temporary file is removed and the old file is left as it was.
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, readFile, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CheckpointError } from './errors.js';

/** A short reason for a Node fs error, e.g. `no such file or directory (ENOENT)`. */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const known: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOSPC: 'no space left on the device',
    EROFS: 'read-only file system',
    EEXIST: 'already exists',
  };
  if (err && typeof err.code === 'string') return `${known[err.code] ?? err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(e);
}

function tempPathFor(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // Already gone, or never created.
  }
}

/** Writes `bytes` to a new file `temp` (which must not exist) and fsyncs it. */
async function writeTemp(temp: string, bytes: Uint8Array): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(temp, 'wx', 0o644);
    let done = 0;
    while (done < bytes.byteLength) {
      const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done);
      done += bytesWritten;
    }
    await fh.sync();
  } finally {
    await fh?.close();
  }
}

/** fsyncs a directory so a rename in it survives a crash; best effort (not every OS allows it). */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // e.g. Windows cannot open directories; the rename itself is still atomic.
  } finally {
    await fh?.close().catch(() => {});
  }
}

/**
 * Writes `bytes` to `path` atomically (temp file, fsync, rename). Throws a CheckpointError naming
 * `path` when it cannot; then no temporary file remains and an existing `path` is unchanged.
 *
 * @example
 * ```ts
 * import { writeFileAtomic, readFileBytes } from 'netslim/node';
 *
 * await writeFileAtomic('hello.bin', new Uint8Array([1, 2, 3]));
 * console.log(await readFileBytes('hello.bin')); // Uint8Array [1, 2, 3]
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await writeFilesAtomic([{ path, bytes }]);
}

/**
 * Writes several files, all or nothing as far as the file system allows: every temporary file is
 * written and fsynced first, the targets are checked (none may be a directory), and only then is
 * each renamed into place. A failure before the renames leaves every target unchanged and removes
 * every temporary file. A rename can still fail midway (e.g. the disk is removed); the error then
 * says which targets were already replaced.
 *
 * @example
 * ```ts
 * import { writeFilesAtomic } from 'netslim/node';
 *
 * await writeFilesAtomic([
 *   { path: 'a.bin', bytes: new Uint8Array([1]) },
 *   { path: 'b.bin', bytes: new Uint8Array([2]) },
 * ]); // both replaced, or neither
 * ```
 */
export async function writeFilesAtomic(files: { path: string; bytes: Uint8Array }[]): Promise<void> {
  const seen = new Set<string>();
  for (const f of files) {
    const full = resolve(f.path);
    if (seen.has(full)) throw new CheckpointError(f.path, undefined, 'named twice in one atomic write');
    seen.add(full);
  }
  const temps: { path: string; temp: string }[] = [];
  try {
    for (const f of files) {
      const temp = tempPathFor(f.path);
      temps.push({ path: f.path, temp });
      try {
        await writeTemp(temp, f.bytes);
      } catch (e) {
        throw new CheckpointError(f.path, undefined, `cannot write ${temp}: ${fsReason(e)}`, { cause: e });
      }
    }
    for (const { path } of temps) {
      let isDir = false;
      try {
        isDir = (await lstat(path)).isDirectory();
      } catch {
        // Missing is fine: the rename creates it.
      }
      if (isDir) throw new CheckpointError(path, undefined, 'cannot replace it: it is a directory');
    }
  } catch (e) {
    await Promise.all(temps.map(({ temp }) => removeQuietly(temp)));
    throw e;
  }

  const replaced: string[] = [];
  for (let i = 0; i < temps.length; i++) {
    const { path, temp } = temps[i]!;
    try {
      await rename(temp, path);
    } catch (e) {
      await Promise.all(temps.slice(i).map(({ temp: t }) => removeQuietly(t)));
      const partial = replaced.length ? `; already replaced: ${replaced.join(', ')}` : '';
      throw new CheckpointError(path, undefined, `cannot rename ${temp} onto it: ${fsReason(e)}${partial}`, { cause: e });
    }
    replaced.push(path);
  }
  for (const dir of new Set(temps.map(({ path }) => dirname(resolve(path))))) await syncDir(dir);
}

/**
 * Reads a whole file. Throws a CheckpointError naming `path` when it is missing, a directory or
 * unreadable.
 *
 * @example
 * ```ts
 * import { readFileBytes, CheckpointError } from 'netslim/node';
 *
 * try {
 *   await readFileBytes('missing.safetensors');
 * } catch (e) {
 *   if (e instanceof CheckpointError) console.log(e.message); // missing.safetensors: …
 * }
 * ```
 */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw new CheckpointError(path, undefined, `cannot read: ${fsReason(e)}`, { cause: e });
  }
}
