// Browser lane: headless Chromium's navigator.gpu (SwiftShader when the machine has no GPU).
import { init } from '../../src/index.js';
import type { Context, ContextOptions } from '../../src/core.js';

export const lane = 'chromium';

export function createContext(options: ContextOptions = {}): Promise<Context> {
  return init(options);
}
