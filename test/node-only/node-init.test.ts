// Node-only behaviour of netslim/node: the no-adapter message, the SwiftShader fallback and a
// clean process exit. The child-process tests run the built package (npm test builds first).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SWIFTSHADER_ICD, noAdapterMessage } from '../../src/node.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dist = `${root}dist/node.js`;

function runChild(script: string, env: Record<string, string | undefined> = {}): { code: number | null; stdout: string; stderr: string; ms: number } {
  const childEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: childEnv, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

describe('netslim/node init', () => {
  it('names what is missing and the command that installs it', () => {
    const none = noAdapterMessage(() => false, {});
    expect(none).toContain('Missing: libvulkan1 (the Vulkan loader Dawn needs) and chromium');
    expect(none).toContain('apt-get install -y libvulkan1 chromium');
    const onlyIcd = noAdapterMessage((p) => p === SWIFTSHADER_ICD, {});
    expect(onlyIcd).toContain('Missing: libvulkan1');
    expect(onlyIcd).not.toContain('and chromium');
    const both = noAdapterMessage(() => true, { VK_ICD_FILENAMES: '/x.json' });
    expect(both).toContain('VK_ICD_FILENAMES=/x.json is set');
  });

  it('is built (npm test runs the build first)', () => {
    expect(existsSync(dist), `${dist} missing: run npm run build`).toBe(true);
  });

  it('falls back to SwiftShader only when Dawn finds nothing else, says so once, and the process exits after destroy()', () => {
    const script = `
      import { init, ops } from ${JSON.stringify(dist)};
      const logs = [];
      const log = (m) => logs.push(m);
      const a = await init({ log });
      const x = a.tensor([4], [-1, 2, -3, 4]);
      ops.reluForward(a, x, x);
      const y = Array.from(await a.readF32(x));
      const b = await init({ log });
      const info = { logs, y, swiftshader: a.adapter.isSwiftShader, icd: process.env.VK_ICD_FILENAMES ?? null };
      a.destroy();
      b.destroy();
      console.log(JSON.stringify(info));
    `;
    const r = runChild(script, { VK_ICD_FILENAMES: undefined });
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(info.y).toEqual([0, 2, 0, 4]);
    if (info.icd === SWIFTSHADER_ICD) {
      // fell back: the adapter is SwiftShader, announced exactly once for two init() calls
      expect(info.swiftshader).toBe(true);
      expect(info.logs).toHaveLength(1);
      expect(info.logs[0]).toContain('using SwiftShader');
    } else {
      expect(info.logs).toHaveLength(0);
    }
  });

  it('throws NoAdapterError with the install command when the fallback is off and nothing is found', () => {
    // An ICD list naming a file that does not exist leaves the Vulkan loader with no driver.
    const script = `
      import { init } from ${JSON.stringify(dist)};
      try { await init({ swiftshaderFallback: false }); console.log('adapter found'); }
      catch (e) { console.log(e.name + ': ' + e.message); }
    `;
    const r = runChild(script, { VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('NoAdapterError: No WebGPU adapter found by Dawn');
    expect(r.stdout).toContain('apt-get install -y libvulkan1 chromium');
  });
});
