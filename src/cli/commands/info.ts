// `arch info`: which WebGPU adapter arch would run on, through which backend, and what it offers.
import type { CommandSpec } from '../args.js';
import { chooseKernels, describeDevice } from '../../runtime/device.js';
import { openDevice } from '../../host/node/device.js';
import { INFO_BACKEND_CHOICES, parseBackend } from '../device.js';

export const infoCommand: CommandSpec = {
  name: 'info',
  summary: 'show the WebGPU adapter arch runs on: backend, limits and features',
  usage: 'arch info [--backend NAME] [--json] [--verbose]',
  options: { backend: { type: 'string' }, json: { type: 'boolean' }, verbose: { type: 'boolean' } },
  help: [
    ['--backend NAME', 'webgpu (default: a GPU, else the CPU through llvmpipe), or a Dawn backend: vulkan, opengles, metal, d3d12'],
    ['--json', 'print the adapter, limits and features as JSON'],
    ['--verbose', "also try backends whose library looks absent, and show Dawn's own warnings"],
  ],
  examples: ['arch info', 'arch info --backend opengles --json'],
  async run(args) {
    const name = parseBackend(args.values.backend, INFO_BACKEND_CHOICES);
    if (name === 'interpreter') {
      process.stdout.write('backend: interpreter (the reference interpreter, on the CPU in JavaScript; no adapter involved)\n');
      return 0;
    }
    // A known name whose library is missing here ends in the no-adapter explanation (exit 3).
    const d = await openDevice({ backend: name === 'webgpu' ? undefined : name, verbose: Boolean(args.values.verbose) });
    try {
      if (args.values.json) {
        const out = { ...d.info, kernels: chooseKernels(undefined, d.info, d.device.limits), limits: d.limits, features: d.features };
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      } else {
        process.stdout.write(describeDevice(d) + '\n');
      }
    } finally {
      d.destroy();
    }
    return 0;
  },
};
