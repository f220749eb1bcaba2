// Sampling speed in a fresh process: `node dist/bench/sampling-child.js TOKENS latency|throughput`
// prints samplingSpeed's result as one JSON line. A process of its own because the workload
// (Mesa's thread pool or none, OpenDeviceOptions.workload) is fixed when the first device opens:
// this is the process `arch sample` runs in.
import { availableParallelism } from 'node:os';
import { openDevice } from '../src/host/node/device.js';
import { samplingSpeed } from './sampling.js';

const tokens = Number(process.argv[2] ?? 63);
const workload = process.argv[3] === 'throughput' ? 'throughput' : 'latency';
const dev = await openDevice({ workload });
try {
  // without the thread pool, llvmpipe works on this process's one thread
  const threads = workload === 'latency' ? 1 : availableParallelism();
  process.stdout.write(JSON.stringify({ ...(await samplingSpeed(dev, tokens, { threads })), workload }) + '\n');
} finally {
  dev.destroy();
}
process.exit(0);
