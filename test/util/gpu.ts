/**
 * One context per test file on the current lane (`#lane` is aliased per vitest project to
 * test/lane/node.ts or test/lane/browser.ts). A missing adapter fails every test of the file:
 * nothing is skipped. After each test the context is synced, so any GPU error fails that test.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { createContext, lane, saveArtifact } from '#lane';
import { takeRecords } from './lane-record.js';
import type { Context, ContextOptions, Tensor } from '../../src/core.js';

export { lane };

export function useContext(options: ContextOptions = {}): () => Context {
  let ctx: Context | undefined;
  beforeAll(async () => {
    ctx = await createContext(options);
  }, 60_000);
  afterEach(async () => {
    if (ctx) await ctx.sync();
  });
  afterAll(async () => {
    ctx?.destroy();
    const file = (expect.getState().testPath ?? 'unknown').replace(/^.*\/test\//, '').replace(/[^\w.-]+/g, '_');
    await saveArtifact(`lanes/${lane}/${file}.json`, JSON.stringify(takeRecords()));
  });
  return () => {
    if (!ctx) throw new Error(`no WebGPU context on lane ${lane}: see the beforeAll error`);
    return ctx;
  };
}

/** Uploads float data as a tensor. */
export function f32(ctx: Context, shape: number[], data: ArrayLike<number>, label = 'test'): Tensor {
  return ctx.tensor(shape, Float32Array.from(data), 'f32', label);
}
