// Node lane: Dawn through the `webgpu` package (SwiftShader when the machine has no GPU).
import { init } from '../../src/node.js';
import type { Context, ContextOptions } from '../../src/core.js';

export const lane = 'node';

export function createContext(options: ContextOptions = {}): Promise<Context> {
  return init({ ...options, log: () => {} });
}
