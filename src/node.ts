/**
 * Node entry: `init()` gets a device from Dawn (the `webgpu` package, an optional peer dependency
 * imported on first use; without it `init()` throws DawnMissingError). Browser bundles never import
 * this file. When Dawn finds no adapter it falls back, by itself and saying so once, to SwiftShader,
 * the CPU Vulkan driver that Debian's `chromium` package ships. It also exports everything the
 * browser entry does, plus file helpers.
 *
 * @module netslim/node
 */
import { existsSync, readdirSync } from 'node:fs';
import { contextFromAdapter, contextFromDevice, type InitOptions } from './device.js';
import { DawnMissingError, NoAdapterError } from './errors.js';
import type { Context } from './gpu/context.js';

export * from './core.js';
export { loadDatasetDir, type LoadDatasetOptions, type DatasetKind } from './data/files.node.js';
export { writeFileAtomic, writeFilesAtomic, readFileBytes } from './io/files.node.js';

/** Where Debian's chromium installs SwiftShader's Vulkan ICD manifest. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

const VULKAN_LOADERS = [
  '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
  '/usr/lib/aarch64-linux-gnu/libvulkan.so.1',
  '/usr/lib64/libvulkan.so.1',
  '/usr/lib/libvulkan.so.1',
];

/** Options of the Node `init()`: the browser ones plus Dawn's. */
export interface NodeInitOptions extends InitOptions {
  /** Dawn toggles passed to `create()`, e.g. `['backend=vulkan']`. */
  dawnFlags?: string[];
  /** Fall back to SwiftShader when no adapter is found (default true). */
  swiftshaderFallback?: boolean;
}

let fallbackAnnounced = false;

/** What the `webgpu` package exports: Dawn's `create()` and the WebGPU globals. */
type Dawn = typeof import('webgpu');

const DAWN_MISSING = 'netslim/node needs the `webgpu` package (Dawn): npm i webgpu (and for the global CLI: npm i -g netslim webgpu)';

let dawn: Dawn | undefined;

/**
 * Imports Dawn on first use. `webgpu` is an optional peer dependency, so that browser installs do
 * without its binaries: when it cannot be resolved, DawnMissingError says what to install. Any
 * other failure (e.g. no dawn.node for this platform) is Dawn's own error, unchanged.
 */
async function loadDawn(): Promise<Dawn> {
  if (dawn) return dawn;
  try {
    dawn = await import('webgpu');
  } catch (e) {
    if (isMissingPackage(e, 'webgpu')) throw new DawnMissingError(DAWN_MISSING);
    throw e;
  }
  return dawn;
}

/** True when `e` is Node's "package not found" error for `name` itself (not for a file or dependency inside it). */
function isMissingPackage(e: unknown, name: string): boolean {
  const err = e as NodeJS.ErrnoException | null;
  if (!err || (err.code !== 'ERR_MODULE_NOT_FOUND' && err.code !== 'MODULE_NOT_FOUND')) return false;
  return String(err.message).startsWith(`Cannot find package '${name}' `) || String(err.message).startsWith(`Cannot find module '${name}'`);
}

function installGlobals(globals: Dawn['globals']): void {
  // GPUBufferUsage, GPUShaderStage, GPUMapMode… are globals in browsers; Dawn exports them.
  for (const [k, v] of Object.entries(globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
}

/**
 * The message of the NoAdapterError Node throws: what is missing and the one command that
 * installs it. `exists` is injectable for tests.
 *
 * @example
 * ```ts
 * import { noAdapterMessage } from 'netslim/node';
 *
 * console.log(noAdapterMessage(() => false, {}));
 * // No WebGPU adapter found by Dawn (npm package webgpu). Missing: libvulkan1 … and chromium … apt-get install -y libvulkan1 chromium
 * ```
 */
export function noAdapterMessage(exists: (path: string) => boolean = existsSync, env: Record<string, string | undefined> = process.env): string {
  const hasLoader = VULKAN_LOADERS.some((p) => exists(p)) || /\/chromium\b/.test(env.LD_LIBRARY_PATH ?? '');
  const hasIcd = exists(SWIFTSHADER_ICD);
  const missing: string[] = [];
  if (!hasLoader) missing.push('libvulkan1 (the Vulkan loader Dawn needs)');
  if (!hasIcd) missing.push('chromium (it ships SwiftShader, a CPU Vulkan driver)');
  const what = missing.length
    ? `Missing: ${missing.join(' and ')}. `
    : 'The Vulkan loader and SwiftShader are installed but Dawn still found no adapter' +
      (env.VK_ICD_FILENAMES ? ` (VK_ICD_FILENAMES=${env.VK_ICD_FILENAMES} is set; unset it to let netslim choose). ` : '. ');
  return (
    'No WebGPU adapter found by Dawn (npm package webgpu). ' +
    what +
    'On Debian/Ubuntu install them as root with: apt-get install -y libvulkan1 chromium'
  );
}

/** A Dawn adapter and the GPU object it came from (keep `gpu` reachable while its devices live). */
export interface NodeAdapter {
  /** Dawn's `GPU` object the adapter came from. */
  gpu: GPU;
  /** The adapter (SwiftShader when `fellBack`). */
  adapter: GPUAdapter;
  /** True when Dawn found nothing and SwiftShader was selected through VK_ICD_FILENAMES. */
  fellBack: boolean;
  /** Every Dawn instance created on the way; dawn.node crashes if one is collected early. */
  keepAlive: unknown[];
}

/**
 * Requests a Dawn adapter, falling back to SwiftShader when there is none (unless
 * `swiftshaderFallback` is false). Throws NoAdapterError naming what to install (DawnMissingError
 * when the `webgpu` package itself is not installed). `init()` uses
 * it; so can code that needs the same adapter for another WebGPU library (e.g. a benchmark peer).
 *
 * @example
 * ```ts
 * import { requestNodeAdapter, contextFromAdapter } from 'netslim/node';
 *
 * const { adapter, fellBack, keepAlive } = await requestNodeAdapter({ powerPreference: 'high-performance' });
 * console.log(adapter.info.vendor, adapter.info.description, fellBack);
 * const ctx = await contextFromAdapter(adapter, {}, keepAlive); // what init() does
 * ctx.destroy();
 * ```
 */
export async function requestNodeAdapter(options: NodeInitOptions = {}): Promise<NodeAdapter> {
  const { create, globals } = await loadDawn();
  installGlobals(globals);
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const flags = options.dawnFlags ?? [];
  const canFallBack = options.swiftshaderFallback !== false && existsSync(SWIFTSHADER_ICD) && !process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES;
  // With no Vulkan driver installed at all, Dawn's first look finds nothing and prints native
  // "vkCreateInstance: Found no drivers!" warnings (with a path from its build machine) that
  // cannot be silenced from here: skip that look and go to SwiftShader directly.
  const skipFirst = canFallBack && process.platform === 'linux' && vulkanDriverManifests().length === 0;
  let gpu = skipFirst ? null : create(flags);
  let adapter = gpu ? await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : undefined) : null;
  const keepAlive: unknown[] = gpu ? [gpu] : [];
  let fellBack = false;
  if (!adapter && canFallBack) {
    // The Vulkan loader reads this when Dawn creates its next instance (checked with webgpu 0.6.2:
    // a second create() after setting it finds SwiftShader).
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    gpu = create(flags);
    keepAlive.push(gpu);
    adapter = await gpu.requestAdapter();
    fellBack = adapter !== null;
    if (fellBack && !fallbackAnnounced) {
      fallbackAnnounced = true;
      (options.log ?? ((m: string) => console.warn(m)))(
        `netslim: no GPU adapter found; using SwiftShader (CPU) from ${SWIFTSHADER_ICD}. This is slow; see README "Machines without a GPU".`,
      );
    }
  }
  if (!adapter || !gpu) throw new NoAdapterError(noAdapterMessage());
  return { gpu, adapter, fellBack, keepAlive };
}

/**
 * The Vulkan driver manifests (ICD JSON files) the Vulkan loader would find on Linux: in
 * `vulkan/icd.d` under $XDG_CONFIG_DIRS (default /etc/xdg), /etc, $XDG_DATA_HOME (default
 * ~/.local/share) and $XDG_DATA_DIRS (default /usr/local/share:/usr/share).
 */
function vulkanDriverManifests(env: Record<string, string | undefined> = process.env): string[] {
  const home = env.HOME ?? '';
  const dirs = [
    ...(env.XDG_CONFIG_DIRS || '/etc/xdg').split(':'),
    '/etc',
    env.XDG_DATA_HOME || `${home}/.local/share`,
    ...(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':'),
  ].filter(Boolean);
  const out: string[] = [];
  for (const d of dirs) {
    try {
      for (const f of readdirSync(`${d}/vulkan/icd.d`)) if (f.endsWith('.json')) out.push(`${d}/vulkan/icd.d/${f}`);
    } catch {
      // no such directory
    }
  }
  return out;
}

/**
 * Creates a netslim context in Node. Dawn (the `webgpu` package) is imported on the first call;
 * without it this rejects with DawnMissingError, whose message says what to install.
 *
 * @example
 * ```ts
 * import { init } from 'netslim/node';
 * const ctx = await init();
 * console.log(ctx.adapter.description, ctx.adapter.isSwiftShader);
 * ctx.destroy(); // lets the process exit
 * ```
 */
export async function init(options: NodeInitOptions = {}): Promise<Context> {
  if (options.device) {
    // A device from elsewhere: Dawn is needed only for the WebGPU globals, if they are missing.
    if (!('GPUBufferUsage' in globalThis)) installGlobals((await loadDawn()).globals);
    return contextFromDevice(options.device, options);
  }
  const { adapter, keepAlive } = await requestNodeAdapter(options);
  return contextFromAdapter(adapter, options, keepAlive);
}
