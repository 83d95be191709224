// Node lane: Dawn through the `webgpu` package (SwiftShader when the machine has no GPU).
import { init } from '../../src/node.js';
import type { Context, ContextOptions } from '../../src/core.js';

export const lane = 'node';

export function createContext(options: ContextOptions = {}): Promise<Context> {
  return init({ ...options, log: () => {} });
}

/** Writes a text artifact under test/artifacts/ (the cross-lane comparison reads them). */
export async function saveArtifact(relPath: string, text: string): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const path = await import('node:path');
  const full = path.resolve(import.meta.dirname, '../artifacts', relPath);
  await mkdir(path.dirname(full), { recursive: true });
  await writeFile(full, text);
}

/** Reads a file under test/ (fixtures). */
export async function readFixture(relPath: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  const path = await import('node:path');
  return new Uint8Array(await readFile(path.resolve(import.meta.dirname, '..', relPath)));
}
