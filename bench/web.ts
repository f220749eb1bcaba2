// `npm run bench:web`: training tokens/s of the speed config (bench/training.ts's SPEED_CONFIG:
// gpt-nano at D=128, 4 blocks, 4 heads, on tiny Shakespeare, V=65, L=64, B=8) in the playground,
// in headless Chromium on llvmpipe (Dawn's OpenGL ES backend, the flags test/web.test.ts uses),
// beside the same run in Node (`arch train`'s path, Dawn's own llvmpipe adapter) on this machine.
// Interleaved, Node then page, ROUNDS times, so that a change in the machine's load falls on both;
// each figure counts the steps after the first WARMUP (compiling and the driver's first shader
// builds excluded). Goal: the page within 80% of Node. The load average is printed: the machine
// may be shared.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { openDevice } from '../src/host/node/device.js';
import { ensureBuilt, openPage, ROOT, serve } from '../test/web-helpers.js';
import { SPEED_CONFIG, trainingSpeed } from './training.js';

const STEPS = Number(process.env.BENCH_WEB_STEPS ?? 30);
const ROUNDS = Number(process.env.BENCH_WEB_ROUNDS ?? 2);
const WARMUP = 3;

type PageArch = {
  setSource(text: string, sets?: Record<string, string>): void;
  train(o: object): Promise<number[]>;
  stepTimes(): { stamps: number[]; tokensPerStep: number } | null;
  webgpu(): unknown;
};
declare const arch: PageArch;

const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' / ');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;

async function main(): Promise<void> {
  ensureBuilt();
  const served = await serve();
  // Node as `arch train` opens it; its workload sets Mesa's thread count in this process's
  // environment (unless the user set one), which Chromium, launched after, inherits: both sides
  // run llvmpipe with the same pool
  const dev = await openDevice({ workload: 'throughput' });
  const page = await openPage(served.url, 'llvmpipe');
  const source = readFileSync(join(ROOT, SPEED_CONFIG.file), 'utf8');
  const node: number[] = [];
  const web: number[] = [];
  try {
    console.log(`bench:web: ${SPEED_CONFIG.file} ${Object.entries(SPEED_CONFIG.sets).map(([k, v]) => `${k}=${v}`).join(' ')} B=${SPEED_CONFIG.batch} L=${SPEED_CONFIG.length}, ${STEPS} steps, ${ROUNDS} rounds; load ${load()}`);
    console.log(`node: ${dev.info.adapterName}; page: ${JSON.stringify(await page.page.evaluate(() => arch.webgpu()))}; LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? '(Mesa default)'}`);
    for (let round = 1; round <= ROUNDS; round++) {
      const n = await trainingSpeed(dev, STEPS, WARMUP);
      node.push(n.tokensPerS);
      const t = await page.page.evaluate(
        async ({ source, sets, steps, batch }) => {
          arch.setSource(source, sets);
          await arch.train({ steps, batch, data: 'corpus', seed: 1, lr: 1e-3, evalEvery: 0 });
          return arch.stepTimes()!;
        },
        { source, sets: SPEED_CONFIG.sets, steps: STEPS, batch: SPEED_CONFIG.batch },
      );
      const w = Math.min(WARMUP, t.stamps.length - 2);
      const ms = (t.stamps.at(-1)! - t.stamps[w]!) / (t.stamps.length - 1 - w);
      web.push((t.tokensPerStep / ms) * 1000);
      console.log(`round ${round}: node ${n.tokensPerS.toFixed(0)} tokens/s, page ${web.at(-1)!.toFixed(0)} tokens/s (${((100 * web.at(-1)!) / n.tokensPerS).toFixed(0)}%); load ${load()}`);
    }
    const ratio = median(web) / median(node);
    console.log(`median: node ${median(node).toFixed(0)} tokens/s, page ${median(web).toFixed(0)} tokens/s: the page at ${(100 * ratio).toFixed(0)}% of node (goal 80%)`);
  } finally {
    dev.destroy();
    await page.close();
    await served.stop();
  }
}

await main();
