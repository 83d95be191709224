// Browser lane: headless Chromium's navigator.gpu (SwiftShader when the machine has no GPU).
import { init } from '../../src/index.js';
import type { Context, ContextOptions } from '../../src/core.js';

export const lane = 'chromium';

/** The repository root, defined by vitest.config.mjs for the browser project. */
declare const __NETSLIM_ROOT__: string;

export function createContext(options: ContextOptions = {}): Promise<Context> {
  return init(options);
}

/** Writes a text artifact under test/artifacts/ through vitest's browser file commands. */
export async function saveArtifact(relPath: string, text: string): Promise<void> {
  const { commands } = await import('vitest/browser');
  // Paths of browser commands resolve against the running test file; absolute paths work.
  await commands.writeFile(`${__NETSLIM_ROOT__}/test/artifacts/${relPath}`, text);
}

/** Reads a file under test/ (fixtures), served by vitest's dev server. */
export async function readFixture(relPath: string): Promise<Uint8Array> {
  const res = await fetch(`/test/${relPath}`);
  if (!res.ok) throw new Error(`fixture test/${relPath}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}
