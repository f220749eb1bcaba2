// The playground's build: a static folder (dist/web/) that any static host serves. The core
// is the library's public API (src/index.ts), bundled as it is through web/src/core.ts: no
// aliases and no shims (test/library-imports.test.ts checks both).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: './',
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    assetsInlineLimit: 0,
  },
});
