// The playground's build: a static folder (dist/web/) that any static host serves. The core
// (grammar, compiler, IR, codegen, runtime) is bundled as it is, through web/src/core.ts.
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
  resolve: {
    alias: [
      // removed once the core has no Node imports: compile.ts reads the prelude with node:fs and
      // data/text.ts, safetensors.ts and checkpoint.ts import it for files the page never opens.
      { find: /^node:fs$/, replacement: here('src/shims/node-fs.ts') },
      // removed once the core has no Node imports: compile.ts turns the prelude's URL into a path.
      { find: /^node:url$/, replacement: here('src/shims/node-url.ts') },
      // removed once the core has no Node imports: safetensors.ts joins paths for files it writes.
      { find: /^node:path$/, replacement: here('src/shims/node-path.ts') },
      // removed once the core has no Node imports: runtime/device.ts opens Dawn (dawn.node); the
      // page opens its device from navigator.gpu and uses only numericLimits from that module.
      { find: /^webgpu$/, replacement: here('src/shims/webgpu.ts') },
    ],
  },
});
