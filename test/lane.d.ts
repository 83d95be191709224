declare module '#lane' {
  import type { Context, ContextOptions } from '../src/core.js';
  export const lane: string;
  export function createContext(options?: ContextOptions): Promise<Context>;
  export function saveArtifact(relPath: string, text: string): Promise<void>;
  export function readFixture(relPath: string): Promise<Uint8Array>;
}
