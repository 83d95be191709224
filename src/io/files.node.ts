/**
 * Checkpoint files on disk (Node only). Writes are atomic: the bytes go to a temporary file
 * beside the target (`<path>.tmp-<pid>-<random>`), which is fsynced and then renamed over the
 * target, so a reader sees the old file or the new one, never a partial one. On failure the
 * temporary file is removed and the old file is left as it was.
 *
 * A set of files (a checkpoint, its training state and the best model) is committed with a
 * journal: once every temporary file is on disk, a journal listing the renames is written and
 * fsynced (`.netslim-commit-<pid>-<random>.json` beside the first file), then the renames run and
 * the journal is removed. A process killed after the journal exists leaves it behind, and the
 * next netslim read or write in that directory finishes the renames: the set on disk is the old
 * one or the new one, never a mix.
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
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

const JOURNAL = /^\.netslim-commit-(\d+)-[0-9a-f]+\.json$/;
/** A temporary file (`<file>.tmp-<pid>-<hex>`) or a journal being written (`….json.tmp`), by writer pid. */
const LEFTOVER = /(?:\.tmp-(\d+)-[0-9a-f]{12}|^\.netslim-commit-(\d+)-[0-9a-f]+\.json\.tmp)$/;

/** Whether process `pid` is running (a journal of a live writer is its own to finish). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Finishes the commits that a killed writer left in `dir`: for each journal of a process no longer
 * running, renames every temporary file that is still there onto its target, then removes the
 * journal; then removes the temporary files of dead writers that never reached their commit
 * point. Run before any netslim read or write in a directory.
 */
export async function recoverCommits(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // no such directory yet
  }
  for (const name of names) {
    const m = JOURNAL.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    const journal = join(dir, name);
    let renames: { temp: string; path: string }[];
    try {
      renames = (JSON.parse(await readFile(journal, 'utf8')) as { renames: { temp: string; path: string }[] }).renames;
    } catch {
      // A journal is created whole by a rename; one that does not parse is not ours to act on.
      continue;
    }
    for (const { temp, path } of renames) {
      try {
        await rename(temp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CheckpointError(path, undefined, `cannot finish an interrupted write (rename ${temp}): ${fsReason(e)}`, { cause: e });
      }
    }
    await removeQuietly(journal);
    await syncDir(dir);
  }
  // What a killed writer left before its commit point: its temporary files and a half-written journal.
  for (const name of names) {
    const m = LEFTOVER.exec(name);
    if (m && !alive(Number(m[1] ?? m[2]))) await removeQuietly(join(dir, name));
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
  for (const dir of new Set(files.map((f) => dirname(resolve(f.path))))) await recoverCommits(dir);
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

  // The commit point: from the journal on, a killed process's set is finished by the next netslim
  // read or write in the directory (recoverCommits); before it, the old set stands.
  const journal = temps.length > 1 ? join(dirname(resolve(temps[0]!.path)), `.netslim-commit-${process.pid}-${randomBytes(6).toString('hex')}.json`) : null;
  if (journal) {
    const staged = `${journal}.tmp`;
    try {
      await writeTemp(staged, new TextEncoder().encode(JSON.stringify({ renames: temps.map(({ temp, path }) => ({ temp: resolve(temp), path: resolve(path) })) })));
      await rename(staged, journal);
      await syncDir(dirname(journal));
    } catch (e) {
      await Promise.all([...temps.map(({ temp }) => removeQuietly(temp)), removeQuietly(staged), removeQuietly(journal)]);
      throw new CheckpointError(temps[0]!.path, undefined, `cannot write the commit journal ${basename(journal)}: ${fsReason(e)}`, { cause: e });
    }
  }
  const replaced: string[] = [];
  for (let i = 0; i < temps.length; i++) {
    const { path, temp } = temps[i]!;
    try {
      await rename(temp, path);
    } catch (e) {
      await Promise.all([...temps.slice(i).map(({ temp: t }) => removeQuietly(t)), ...(journal ? [removeQuietly(journal)] : [])]);
      const partial = replaced.length ? `; already replaced: ${replaced.join(', ')}` : '';
      throw new CheckpointError(path, undefined, `cannot rename ${temp} onto it: ${fsReason(e)}${partial}`, { cause: e });
    }
    replaced.push(path);
  }
  for (const dir of new Set(temps.map(({ path }) => dirname(resolve(path))))) await syncDir(dir);
  if (journal) {
    await removeQuietly(journal);
    await syncDir(dirname(journal));
  }
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
  await recoverCommits(dirname(resolve(path)));
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw new CheckpointError(path, undefined, `cannot read: ${fsReason(e)}`, { cause: e });
  }
}
