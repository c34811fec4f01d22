import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const lib = (name: string) => fileURLToPath(new URL(`./libs/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  // SWC (not esbuild) so Nest's decorators get their design-time metadata.
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    alias: {
      '@strata/domain': lib('domain'),
      '@strata/eventstore': lib('eventstore'),
      '@strata/projections': lib('projections'),
      '@strata/api': lib('api'),
      '@strata/layers': lib('layers'),
      '@strata/runtime': lib('runtime'),
      '@strata/registry': lib('registry'),
    },
  },
  test: {
    include: ['apps/**/*.spec.ts', 'libs/**/*.spec.ts', 'test/**/*.spec.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
