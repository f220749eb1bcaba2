// The playground in a real browser (Chromium, headless) on two WebGPU adapters: llvmpipe through
// Dawn's OpenGL ES backend and SwiftShader through Dawn's Vulkan backend. The page's loss and
// gradients match the reference interpreter, its training matches `arch train`, its checkpoint
// samples the same tokens in `arch sample`; editing, the model view and the no-WebGPU banner.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { differentiate, initParams, interpret } from '../src/ir/index.js';
import { parseCheckpoint } from '../src/runtime/train/checkpoint.js';
import { lowerModel } from './model-helpers.js';
import { CHROMIUM, ensureBuilt, openPage, ROOT, serve, type Adapter, type Opened, type Served } from './web-helpers.js';

const TINY = { D: '16', N: '1', L: '16' };
const STEPS = 6;
const RESUMED_TO = 10;
const NANO = readFileSync(join(ROOT, 'models/gpt-nano.arch'), 'utf8');
const EMBED = 'embedded_BLD = tokens_BLV @ wte_VD';
const EMBED_LINE = NANO.split('\n').findIndex((l) => l.includes(EMBED)) + 1;
const SHOTS = process.env.ARCH_WEB_SHOTS ?? mkdtempSync(join(tmpdir(), 'arch-web-shots-'));
const have = existsSync(CHROMIUM);
const work = mkdtempSync(join(tmpdir(), 'arch-web-'));

type Arch = {
  set(n: string, v: string | number | null): void;
  setSource(t: string, sets?: Record<string, string>): void;
  diagnostics(): { line: number; col: number; text: string; severity: string }[];
  train(o: object): Promise<number[]>;
  sample(o: object): Promise<{ tokens: number[]; text: string }>;
  attention(p: string): { tokens: string[]; layers: { heads: number[][] }[] };
  gradients(o: object): Promise<{ loss: number; grads: Record<string, number[]>; inputs: Record<string, number[]>; symbols: Record<string, number>; sets: Record<string, string> }>;
  checkpoint(): Promise<string>;
  upload(b64: string, name?: string): Promise<void>;
  webgpu(): { ok: boolean; kernels?: string; adapter?: { backend: string; architecture: string; isFallbackCpu: boolean } };
};
declare const arch: Arch;

const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/arch.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
const setsArgs = Object.entries(TINY).flatMap(([k, v]) => ['--set', `${k}=${v}`]);

let served: Served;
let cliLosses: Promise<Map<number, number>>;

/** `arch train ARGS --out DIR` in the background; resolves to the train loss of each step. */
function trainInNode(dir: string, ...args: string[]): Promise<Map<number, number>> {
  const out = join(work, dir);
  const child = spawn(process.execPath, [join(ROOT, 'bin/arch.js'), 'train', 'models/gpt-nano.arch', ...args, '--out', out], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((done, fail) =>
    child.once('exit', (code) => {
      if (code !== 0) return fail(new Error(`arch train exited with ${code}: ${stderr}`));
      const records = readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"loss"')).map((l) => JSON.parse(l) as { step: number; loss: number });
      done(new Map(records.map((r) => [r.step, r.loss])));
    }),
  );
}

beforeAll(async () => {
  if (!have) return;
  ensureBuilt();
  served = await serve();
  // `arch train` with the page's flags, while the browser starts
  cliLosses = trainInNode('cli-run', '--data', 'task:reverse', '--steps', String(STEPS), '--seed', '1', ...setsArgs);
  cliLosses.catch(() => {}); // awaited (and reported) by the training tests
}, 60_000);

afterAll(async () => {
  await served?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function tinyPage(adapter: Adapter): Promise<Opened> {
  const o = await openPage(served.url, adapter);
  await o.page.evaluate((sets) => Object.entries(sets).forEach(([k, v]) => arch.set(k, v)), TINY);
  return o;
}

/** The same forward and backward pass on the reference interpreter, in Node. */
function reference(g: Awaited<ReturnType<Arch['gradients']>>) {
  const l = lowerModel('models/gpt-nano.arch', g.sets, true);
  const params = [...l.graph.params.keys()];
  const graph = differentiate(l.graph, 'loss', params);
  const weights = initParams(l.graph, {}, 1);
  const inputs = Object.fromEntries(Object.entries(g.inputs).map(([k, v]) => [k, Int32Array.from(v)]));
  const out = interpret(graph, { inputs, params: weights, symbols: g.symbols });
  return { loss: out.get('loss')!.data[0]!, grad: (p: string) => out.get(`grad:${p}`)!.data, params };
}

for (const adapter of ['llvmpipe', 'swiftshader'] as const) {
  describe.skipIf(!have)(`the playground on ${adapter}`, () => {
    let o: Opened;
    beforeAll(async () => {
      o = await tinyPage(adapter);
    }, 60_000);
    afterAll(async () => o?.close());

    // The page is opened without ?adapter=: with Chromium's OpenGL ES adapter there, it takes that
    // (llvmpipe) over the fallback SwiftShader, and on either the cpu kernels (both name nothing
    // but SwiftShader's architecture); the gpu ones trained ~15x slower on llvmpipe.
    it('picks llvmpipe over SwiftShader where both are offered, and the cpu kernels on either', async () => {
      const w = await o.page.evaluate(() => arch.webgpu());
      expect(w.kernels).toBe('cpu');
      expect(w.adapter?.isFallbackCpu).toBe(true);
      expect(w.adapter?.backend).toBe(adapter === 'llvmpipe' ? 'compat' : 'webgpu');
      expect(w.adapter?.architecture).toBe(adapter === 'llvmpipe' ? '' : 'swiftshader');
    });

    it('loss and every parameter gradient match the reference interpreter', async () => {
      const g = await o.page.evaluate(() => arch.gradients({ data: 'task:reverse', seed: 1, batch: 2 }));
      const ref = reference(g);
      expect(Math.abs(g.loss - ref.loss)).toBeLessThan(1e-4);
      expect(Object.keys(g.grads).sort()).toEqual([...ref.params].sort());
      for (const p of ref.params) {
        const want = ref.grad(p);
        const scale = Math.max(1e-6, ...Array.from(want, Math.abs));
        const worst = g.grads[p]!.reduce((w, x, i) => Math.max(w, Math.abs(x - want[i]!)), 0);
        expect(worst / scale, p).toBeLessThan(2e-3);
      }
    });

    it('trains gpt-nano on task:reverse with the losses of arch train', async () => {
      const losses = await o.page.evaluate((steps) => arch.train({ steps, data: 'task:reverse', seed: 1 }), STEPS);
      expect(losses).toHaveLength(STEPS);
      const want = await cliLosses;
      losses.forEach((l, i) => expect(Math.abs(l - want.get(i + 1)!), `step ${i + 1}`).toBeLessThan(1e-4));
      expect(await o.page.getByTestId('step').textContent()).toBe(String(STEPS));
      expect(Number(await o.page.getByTestId('loss').textContent())).toBeCloseTo(losses.at(-1)!, 4);
      if (adapter === 'llvmpipe') await o.page.screenshot({ path: join(SHOTS, 'training.png') });
    });

    // The checkpoint is compared with `arch sample` on this machine's adapter (llvmpipe) and the
    // attention view, resuming and BPE are tried on llvmpipe's page: these are made for llvmpipe only
    // (not made and skipped on SwiftShader, so npm test reports nothing skipped).
    if (adapter === 'llvmpipe') {
      it('a downloaded checkpoint samples the same greedy tokens in arch sample, and uploads back', async () => {
        const [download] = await Promise.all([o.page.waitForEvent('download'), o.page.getByTestId('download').click()]);
        const file = join(work, 'page.safetensors');
        await download.saveAs(file);
        expect(readFileSync(file).equals(Buffer.from(await o.page.evaluate(() => arch.checkpoint()), 'base64'))).toBe(true);
        const page = await o.page.evaluate(() => arch.sample({ prompt: [1, 2, 3, 4], tokens: 8, greedy: true }));
        const r = cli('sample', 'models/gpt-nano.arch', '--weights', file, '--prompt-tokens', '1,2,3,4', '--tokens', '8', '--greedy', '--json');
        expect(r.status, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout).tokens).toEqual(page.tokens);
        expect(await o.page.getByTestId('sample-output').textContent()).toContain(page.text);
        await o.page.evaluate(() => arch.set('D', null)); // the upload restores the run's own --set values
        await o.page.evaluate((b64) => arch.upload(b64, 'page.safetensors'), readFileSync(file).toString('base64'));
        const again = await o.page.evaluate(() => arch.sample({ prompt: [1, 2, 3, 4], tokens: 8, greedy: true }));
        expect(again.tokens).toEqual(page.tokens);
      });

      it('past the context, samples the tokens of arch sample with either window', async () => {
        const file = join(work, 'page.safetensors'); // the download of the test before
        const count = 3 * Number(TINY.L);
        const seen: number[][] = [];
        for (const window of ['slide', 'refill'] as const) {
          const page = await o.page.evaluate(([n, w]) => arch.sample({ prompt: [1, 2, 3, 4], tokens: n, temperature: 0.8, seed: 5, window: w }), [count, window] as const);
          const r = cli('sample', 'models/gpt-nano.arch', '--weights', file, '--prompt-tokens', '1,2,3,4', '--tokens', String(count), '--temperature', '0.8', '--seed', '5', '--window', window, '--json');
          expect(r.status, r.stderr).toBe(0);
          expect(JSON.parse(r.stdout).window).toBe(window);
          expect(JSON.parse(r.stdout).tokens, window).toEqual(page.tokens);
          seen.push(page.tokens);
        }
        expect(seen[0]).not.toEqual(seen[1]); // the window reached the page: past the context the two differ
      });

      it('continues an uploaded arch train checkpoint with the losses of arch train --resume', async () => {
        await cliLosses; // its checkpoint at step 6 is what both continue from
        const resumed = trainInNode('cli-resumed', '--resume', join(work, 'cli-run'), '--steps', String(RESUMED_TO));
        const b64 = readFileSync(join(work, 'cli-run', 'checkpoint.safetensors')).toString('base64');
        await o.page.evaluate((b) => arch.upload(b, 'checkpoint.safetensors'), b64);
        const losses = await o.page.evaluate((steps) => arch.train({ steps, resume: true }), RESUMED_TO);
        const want = await resumed;
        expect(losses).toHaveLength(RESUMED_TO - STEPS);
        losses.forEach((l, i) => expect(Math.abs(l - want.get(STEPS + 1 + i)!), `step ${STEPS + 1 + i}`).toBeLessThan(1e-4));
        expect(await o.page.getByTestId('step').textContent()).toBe(String(RESUMED_TO));
      });

      it('shows the attention of every layer and head, with the tokens under the cursor', async () => {
        const r = await o.page.evaluate(() => arch.attention('12345|'));
        expect(r.tokens).toHaveLength(6);
        expect(r.layers).toHaveLength(1);
        expect(r.layers[0]!.heads).toHaveLength(4);
        for (const h of r.layers[0]!.heads) for (let q = 0; q < 6; q++) expect(h.slice(q * 6, q * 6 + 6).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
        const canvas = o.page.locator('canvas.heat').first();
        await canvas.scrollIntoViewIfNeeded();
        const box = (await canvas.boundingBox())!;
        await o.page.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.95);
        await expect.poll(() => o.page.locator('#tip').textContent()).toMatch(/"\|" \(5\) attends to "1" \(0\): \d\.\d{3}/);
        await o.page.locator('[data-testid=attention-maps]').scrollIntoViewIfNeeded();
        await o.page.screenshot({ path: join(SHOTS, 'attention.png') });
      });

      it('trains on pasted text with GPT-2 BPE, and its checkpoint says so', async () => {
        const text = 'The quick brown fox jumps over the lazy dog, and the dog sleeps on. '.repeat(20);
        // the example with the tiny dims only: V is the data's (an upload before may have set V)
        await o.page.evaluate(([source, sets]) => arch.setSource(source, sets), [NANO, TINY] as const);
        const losses = await o.page.evaluate((t) => arch.train({ steps: 1, batch: 1, data: 'text', text: t, tokenizer: 'gpt2', evalEvery: 0 }), text);
        // V = 50257 from the tokenizer: an untrained model's loss is about ln V
        expect(losses[0]!).toBeGreaterThan(Math.log(50257) - 0.5);
        expect(losses[0]!).toBeLessThan(Math.log(50257) + 0.5);
        const ckpt = parseCheckpoint(Buffer.from(await o.page.evaluate(() => arch.checkpoint()), 'base64'), 'page.safetensors');
        expect(ckpt.meta!.tokenizer).toEqual({ kind: 'gpt2' });
        expect(ckpt.meta!.options.tokenizer).toBe('gpt2');
        expect(ckpt.weights.get('wte')!.shape).toEqual([50257, 16]);
      });
    }
  });
}

describe.skipIf(!have)('editing in the playground', () => {
  let o: Opened;
  beforeAll(async () => {
    o = await openPage(served.url, 'none', 'nogpu');
  }, 60_000);
  afterAll(async () => o?.close());
  // each test starts from the example as shipped, whatever the one before left
  beforeEach(async () => {
    await o.page.evaluate((text) => arch.setSource(text, {}), NANO);
  });

  /** The language service's hover over a word of a line, as the pointer brings it up. */
  async function hoverText(line: string, word: string): Promise<string> {
    const p = o.page;
    // the line scrolled into the editor's view (the pointer reaches only what is shown there),
    // then the word's box: a DOM range over its characters, whatever spans the highlighting made
    const target = p.locator('.cm-line', { hasText: line }).first();
    await target.scrollIntoViewIfNeeded();
    const box = await target.evaluate((el, w) => {
      const at = el.textContent!.indexOf(w);
      const walker = el.ownerDocument.createTreeWalker(el, 4); // NodeFilter.SHOW_TEXT
      const range = el.ownerDocument.createRange();
      let seen = 0;
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const len = n.textContent!.length;
        if (seen <= at && at < seen + len) range.setStart(n, at - seen);
        if (seen < at + w.length && at + w.length <= seen + len) range.setEnd(n, at + w.length - seen);
        seen += len;
      }
      const r = range.getBoundingClientRect();
      return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
    }, word);
    // CodeMirror opens a hover once the pointer rests over the word; it closes when it leaves
    await p.mouse.move(0, 0);
    await expect.poll(() => p.getByTestId('shape-tooltip').count()).toBe(0);
    await p.mouse.move(box.x, box.y, { steps: 3 });
    await expect.poll(() => p.getByTestId('shape-tooltip').count(), { timeout: 10_000 }).toBe(1);
    const text = (await p.getByTestId('shape-tooltip').textContent())!;
    await p.mouse.move(0, 0);
    return text;
  }

  it('hovering shows the language service: the resolved shape of a tensor, the parameters of a block call', async () => {
    expect(await hoverText(EMBED, 'embedded')).toBe('embedded_BLD: tensor[B, L=64, D=64]');
    const call = await hoverText('final_BLD = layernorm(stream_BLD)', 'layernorm');
    expect(call).toContain('block layernorm(x_*D) -> *D');
    expect(call).toContain('as called here: layernorm(x_*D: [B, L=64, D=64]) -> [B, L=64, D=64]');
    expect(call).toContain('parameters: 128');
  });

  it('completes a shape suffix with the declared dims, from the language service', async () => {
    const p = o.page;
    const line = p.locator('.cm-line', { hasText: EMBED });
    await line.scrollIntoViewIfNeeded();
    await line.click();
    await p.keyboard.press('End');
    await p.keyboard.type('\nx_BL');
    await p.keyboard.press('Control+Space');
    const options = p.locator('.cm-tooltip-autocomplete li');
    await expect.poll(() => options.allTextContents(), { timeout: 10_000 }).toEqual(expect.arrayContaining([expect.stringMatching(/^x_BLD/), expect.stringMatching(/^x_BLV/)]));
    expect(await options.allTextContents()).not.toEqual(expect.arrayContaining([expect.stringMatching(/^x_BLB/)]));
    await p.keyboard.press('Escape');
  });

  it('shows a typed error at its line as you type, and clears it when fixed', async () => {
    const p = o.page;
    expect(await p.getByTestId('diagnostics').locator('> *').count()).toBe(0);
    const line = p.locator('.cm-line', { hasText: EMBED });
    await line.click();
    await p.keyboard.press('End');
    await p.keyboard.type(' @ w_DF');
    const item = p.getByTestId('diagnostics').locator('> *').first();
    await expect.poll(() => item.textContent(), { timeout: 10_000 }).toMatch(new RegExp(`^${EMBED_LINE}:\\d+ error\\[`));
    const diags = await p.evaluate(() => arch.diagnostics());
    expect(diags[0]!.line).toBe(EMBED_LINE);
    await expect.poll(() => p.locator('.cm-lintRange-error').count()).toBeGreaterThan(0);
    await p.screenshot({ path: join(SHOTS, 'editing-error.png') });
    for (let i = 0; i < ' @ w_DF'.length; i++) await p.keyboard.press('Backspace');
    await expect.poll(() => p.getByTestId('diagnostics').locator('> *').count(), { timeout: 10_000 }).toBe(0);
  });

  it('a dim control re-checks the model and changes the model view', async () => {
    const p = o.page;
    const view = p.getByTestId('model-view');
    expect(await view.locator('[data-tensor=embedded_BLD] .shape').textContent()).toBe('[B, L=64, D=64]');
    await p.getByTestId('dim-D').fill('32');
    await p.getByTestId('dim-D').dispatchEvent('change');
    await expect.poll(() => view.locator('[data-tensor=embedded_BLD] .shape').textContent()).toBe('[B, L=64, D=32]');
    expect(await view.textContent()).toContain('--set D=32');
    await view.locator('details.block').first().evaluate((d) => ((d as { open: boolean }).open = true));
    await p.screenshot({ path: join(SHOTS, 'model-view.png') });
  });

  it('without WebGPU says what is missing and how to enable it; checking still works', async () => {
    const banner = o.page.getByTestId('no-webgpu');
    expect(await banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toMatch(/navigator\.gpu is missing.*--enable-unsafe-webgpu/s);
    expect(await o.page.getByTestId('train').isDisabled()).toBe(true);
    await o.page.evaluate(() => arch.setSource('model m\ndims\n  D = 4\nx_D = y_D\n'));
    expect((await o.page.evaluate(() => arch.diagnostics()))[0]!.text).toMatch(/^4:7 error\[name\]/);
  });
});

describe.skipIf(!have)('a browser started without --enable-unsafe-webgpu', () => {
  it('shows the banner instead of failing', async () => {
    const o = await openPage(served.url, 'none');
    try {
      expect(await o.page.getByTestId('no-webgpu').isVisible()).toBe(true);
      expect(await o.page.getByTestId('no-webgpu').textContent()).toMatch(/enable-unsafe-webgpu/);
      expect(o.errors).toEqual([]);
    } finally {
      await o.close();
    }
  });
});

// Without Chromium the browser tests above cannot run, and this says why (they are skipped then).
it('finds Chromium at /usr/bin/chromium, which the playground tests drive', () => {
  expect(have, `no Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run installs it)`).toBe(true);
});

