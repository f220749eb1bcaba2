// removed once the core has no Node imports: safetensors.ts names the folder it syncs after a write.
export const dirname = (p: string): string => p.slice(0, Math.max(0, p.lastIndexOf('/'))) || '.';
export const join = (...parts: string[]): string => parts.join('/');
export default { dirname, join };
