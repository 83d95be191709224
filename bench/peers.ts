/**
 * The tfjs peers: @tensorflow/tfjs-backend-webgpu on a Dawn device from the same adapter as ours,
 * and @tensorflow/tfjs-backend-wasm (SIMD). Loaded with require() so that the core and both
 * backends share one tfjs-core instance, and so that the webgpu backend is imported only after
 * `navigator.gpu` and the WebGPU globals exist (it registers itself only if they do).
 */
import { createRequire } from 'node:module';
import type * as TF from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { Context, ContextOptions } from '../src/core.js';
import { contextFromAdapter } from '../src/device.js';
import { requestNodeAdapter } from '../src/node.js';
import type { PeerName } from './cases.js';
import { sleep } from './util.js';

const require = createRequire(import.meta.url);

export interface Peer {
  name: PeerName;
  /** Printed name. */
  label: string;
  tf: typeof TF;
  info: Record<string, unknown>;
  /** Makes this peer's backend the current tfjs backend (new tensors go there). */
  activate(): Promise<void>;
  /**
   * Runs `run` once and returns the wall-clock milliseconds until its work is complete
   * (webgpu: submit + queue fence; wasm: the call returns when done), and `recordMs`, the part
   * spent in JavaScript before the final submit (wasm: all of it). Throws on a GPU error.
   */
  time<T extends TF.Tensor[]>(run: () => T, sleepMs: number): Promise<{ ms: number; recordMs: number; outs: T }>;
  /** Makes the inputs resident on the backend (upload) and waits for it. */
  upload(ts: readonly TF.Tensor[]): Promise<void>;
  dispose(): void;
}

/** Keeps Dawn's GPU object reachable for the device's life (dawn.node crashes otherwise). */
let keepGpu: unknown = null;

let tfCore: typeof TF | null = null;
function core(): typeof TF {
  if (!tfCore) {
    tfCore = require('@tensorflow/tfjs-core') as typeof TF;
  }
  return tfCore;
}

/**
 * Our context, on the adapter `init()` would pick (Dawn's default, else SwiftShader), keeping the
 * Dawn instance so that tfjs-webgpu can be given the same one.
 */
export async function openContext(options: ContextOptions): Promise<{ ctx: Context; fellBack: boolean }> {
  const { gpu, adapter, fellBack, keepAlive } = await requestNodeAdapter({ ...options, log: () => {} });
  keepGpu = gpu;
  return { ctx: await contextFromAdapter(adapter, options, keepAlive), fellBack };
}

export async function loadWebgpuPeer(): Promise<Peer> {
  // The same Dawn instance as ours (openContext), so tfjs-webgpu gets the same adapter.
  const gpu = keepGpu as GPU | null;
  if (!gpu) throw new Error('openContext() must run before loadWebgpuPeer()');
  (globalThis as { navigator?: unknown }).navigator = { gpu };
  const tf = core();
  require('@tensorflow/tfjs-backend-webgpu');
  // Run every kernel on the GPU: by default tfjs-webgpu computes small ops whose inputs are still on
  // the CPU there, which would not be a GPU timing.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs-backend-webgpu did not initialise');
  const backend = tf.backend() as WebGPUBackend;
  const device = backend.device;
  const uncaptured: string[] = [];
  device.addEventListener('uncapturederror', (ev) => uncaptured.push((ev as GPUUncapturedErrorEvent).error.message));
  const rawInfo = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const info: Record<string, unknown> = {
    tfjs: (tf as unknown as { version_core?: string }).version_core ?? null,
    backend: 'webgpu',
    adapterInfo: { ...(backend.adapterInfo as unknown as Record<string, unknown>) },
    deviceAdapterInfo: rawInfo
      ? { vendor: rawInfo.vendor, architecture: rawInfo.architecture, device: rawInfo.device, description: rawInfo.description }
      : null,
    timestampQuery: device.features.has('timestamp-query'),
    flags: { WEBGPU_CPU_FORWARD: false, WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') },
  };
  const flush = () => {
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.submitQueue();
  };
  return {
    name: 'webgpu',
    label: 'tfjs-webgpu',
    tf,
    info,
    async activate() {
      if (tf.getBackend() !== 'webgpu') await tf.setBackend('webgpu');
    },
    async time(run, sleepMs) {
      device.pushErrorScope('validation');
      device.pushErrorScope('out-of-memory');
      const t0 = performance.now();
      const outs = tf.tidy(run);
      flush();
      const recordMs = performance.now() - t0;
      const oom = device.popErrorScope();
      const val = device.popErrorScope();
      // dawn.node busy-polls while a promise is pending: sleep through most of the expected time.
      if (sleepMs > 0) await sleep(sleepMs);
      await device.queue.onSubmittedWorkDone();
      const ms = performance.now() - t0;
      const errs = [(await oom)?.message, (await val)?.message, ...uncaptured.splice(0)].filter(Boolean);
      if (errs.length) {
        tf.dispose(outs);
        throw new Error(`tfjs-webgpu reported GPU errors: ${errs.join(' | ')}`);
      }
      return { ms, recordMs, outs };
    },
    async upload(ts) {
      for (const t of ts) backend.uploadToGPU(t.dataId);
      flush();
      await device.queue.onSubmittedWorkDone();
    },
    dispose() {
      try {
        tf.removeBackend('webgpu');
      } catch {
        /* already gone */
      }
      device.destroy();
    },
  };
}

export async function loadWasmPeer(): Promise<Peer> {
  const tf = core();
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs-backend-wasm did not initialise');
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const info: Record<string, unknown> = {
    tfjs: (tf as unknown as { version_core?: string }).version_core ?? null,
    backend: 'wasm',
    simd,
    multithread: threads,
    threads: threads ? wasm.getThreadsCount() : 1,
    note: 'tfjs-backend-wasm 4.x disables threads in Node, so this is one CPU thread',
  };
  return {
    name: 'wasm',
    label: 'tfjs-wasm',
    tf,
    info,
    async activate() {
      if (tf.getBackend() !== 'wasm') await tf.setBackend('wasm');
    },
    async time(run) {
      const t0 = performance.now();
      const outs = tf.tidy(run); // wasm kernels are synchronous: done when the call returns
      const ms = performance.now() - t0;
      return { ms, recordMs: ms, outs };
    },
    async upload() {
      /* wasm tensors live in the module's heap from creation */
    },
    dispose() {
      try {
        tf.removeBackend('wasm');
      } catch {
        /* already gone */
      }
    },
  };
}

/** Drops the Dawn instance once every device made from it is destroyed. */
export function releaseGpu(): void {
  keepGpu = null;
}
