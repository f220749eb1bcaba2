// removed once the core has no Node imports: runtime/device.ts imports dawn.node to open devices
// in Node; the page opens its own from navigator.gpu (web/src/gpu.ts).
export function create(): never {
  throw new Error('dawn.node is not available in a browser: the playground uses navigator.gpu');
}
export const globals = {};
