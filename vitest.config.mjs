// Two lanes run the same test files: Node (Dawn via the `webgpu` package) and headless Chromium
// (Debian's /usr/bin/chromium driven by playwright; no browser is ever downloaded).
import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { fileURLToPath } from 'node:url';
import wgsl from './build/wgsl-plugin.mjs';
import LaneSummaryReporter from './build/lane-summary-reporter.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const include = ['test/**/*.test.ts'];
const exclude = ['test/node-only/**'];

export default defineConfig({
  plugins: [wgsl()],
  test: {
    reporters: ['default', new LaneSummaryReporter()],
    projects: [
      {
        plugins: [wgsl()],
        resolve: { alias: { '#lane': here('./test/lane/node.ts') } },
        test: {
          name: 'node',
          include: [...include, 'test/node-only/**/*.test.ts'],
          environment: 'node',
          pool: 'forks',
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins: [wgsl()],
        resolve: { alias: { '#lane': here('./test/lane/browser.ts') } },
        define: { __NETSLIM_ROOT__: JSON.stringify(here('.').replace(/\/$/, '')) },
        optimizeDeps: { include: ['wgsl_reflect/wgsl_reflect.module.js', '@observablehq/plot'] },
        test: {
          name: 'chromium',
          include,
          exclude,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({
              launchOptions: {
                executablePath: '/usr/bin/chromium',
                args: [
                  '--headless',
                  '--no-sandbox',
                  '--enable-unsafe-webgpu',
                  '--disable-background-networking',
                  '--disable-component-update',
                  '--disable-sync',
                  '--no-first-run',
                ],
              },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
