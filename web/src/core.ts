// Every import of arch's core the page makes, in one place: the library's public API
// (src/index.ts), which bundles for the browser as it is (no aliases, no shims).
export * from '../../src/index.js';
