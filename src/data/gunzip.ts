/**
 * gzip decompression with the standard `DecompressionStream('gzip')` (Compression Streams API),
 * available in browsers (Chrome 80+, Firefox 113+, Safari 16.4+) and as a global in Node ≥ 18, so
 * this module loads no Node built-ins and works in both.
 */
import { NetslimError } from '../errors.js';

/**
 * True when `bytes` starts with the gzip magic number 1f 8b.
 *
 * @example
 * ```ts
 * import { isGzip } from 'netslim';
 *
 * console.log(isGzip(new Uint8Array([0x1f, 0x8b, 8, 0])), isGzip(new Uint8Array([0, 0, 8, 3]))); // true false
 * ```
 */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses one gzip member. `what` names the data in error messages (e.g. a file name).
 * Data after the end of the member is an error, as the Compression Streams spec defines it.
 *
 * @example
 * ```ts
 * import { gunzip } from 'netslim';
 *
 * const gz = await new Response(new Blob(['hello']).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
 * console.log(new TextDecoder().decode(await gunzip(new Uint8Array(gz), 'hello.gz'))); // hello
 * ```
 */
export async function gunzip(bytes: Uint8Array, what = 'gzip data'): Promise<Uint8Array> {
  if (!isGzip(bytes)) {
    const head = Array.from(bytes.subarray(0, 2), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new NetslimError(`${what}: not gzip (starts with ${head || 'nothing'}, gzip starts with 1f 8b)`);
  }
  const DS = (globalThis as { DecompressionStream?: typeof DecompressionStream }).DecompressionStream;
  if (!DS) throw new NetslimError(`${what}: this runtime has no DecompressionStream (Node ≥ 18 or a current browser needed)`);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    const ds = new DS('gzip');
    const writer = ds.writable.getWriter();
    // Write and close without awaiting first: a large input would otherwise wait for a reader
    // (backpressure) that only starts below. Errors surface through the reader.
    const written = writer.write(bytes as Uint8Array<ArrayBuffer>).then(() => writer.close());
    written.catch(() => {});
    const reader = ds.readable.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
    }
    await written;
  } catch (e) {
    throw new NetslimError(`${what}: corrupt or truncated gzip data (${(e as Error).message ?? String(e)})`);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}
