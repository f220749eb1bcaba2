// `arch export` as a user runs it: a Hugging Face GPT-2 folder whose names, shapes and config are
// what transformers' GPT2LMHeadModel expects and which arch reads back with the same loss; an ONNX
// file; refusals of the variants GPT-2 cannot express; and output paths that are never half-written.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { initParams, interpret } from '../src/ir/index.js';
import { paramShapes } from '../src/runtime/weights.js';
import { loadWeights, readSafetensors, saveCheckpoint, writeSafetensors } from '../src/host/node/safetensors-file.js';
import { lowerModel } from './model-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'arch-export-'));
const TINY = { D: '16', H: '2', N: '2', L: '8', V: '11' };
const CHARS = [...'\n abcdefghi'];

function arch(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('node', ['bin/arch.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** A checkpoint as arch train writes it (weights, char tokenizer, --set values), without training. */
function checkpoint(name: string, sets: Record<string, string>): string {
  const l = lowerModel('models/gpt-nano.arch', sets);
  const w = new Map(Object.entries(initParams(l.graph, {}, 7)).map(([k, v]) => [k, Float32Array.from(v, (x) => x * 10)]));
  const path = join(dir, `${name}.safetensors`);
  const shapes = new Map(paramShapes(l.graph).map((p) => [p.name, p.shape]));
  // Every field arch train writes: a checkpoint is checked as a whole before use.
  const options = { data: 'text', tokenizer: 'char', batch: 1, seed: 7, lr: 1e-3, schedule: 'cosine', warmup: 0, minLr: 1e-4, weightDecay: 0, gradClip: 1, accum: 1, evalEvery: 1, evalBatches: 1, backend: 'interpreter' };
  const rng = { algorithm: 'xoshiro128**', s: [1, 2, 3, 4] };
  const modelSource = readFileSync('models/gpt-nano.arch', 'utf8');
  saveCheckpoint(path, w, shapes, null, { step: 1, elapsedS: 0, rng, tokenizer: { kind: 'char', chars: CHARS }, modelFile: 'models/gpt-nano.arch', modelSource, sets, data: 'text', options });
  return path;
}

/**
 * What GPT2LMHeadModel's state dict holds, from transformers v4.46 src/transformers/models/gpt2/
 * modeling_gpt2.py and pytorch_utils.py: GPT2Model has wte = Embedding(vocab_size, n_embd),
 * wpe = Embedding(n_positions, n_embd), h.i = GPT2Block, ln_f = LayerNorm(n_embd); GPT2Block has
 * ln_1, attn (GPT2Attention: c_attn = Conv1D(3 * n_embd, n_embd), c_proj = Conv1D(n_embd, n_embd)),
 * ln_2, mlp (GPT2MLP: c_fc = Conv1D(n_inner, n_embd), c_proj = Conv1D(n_embd, n_inner)); Conv1D(nf, nx)
 * has weight [nx, nf] and bias [nf]; GPT2LMHeadModel puts GPT2Model under `transformer` and adds
 * lm_head = Linear(n_embd, vocab_size, bias=False), weight [vocab_size, n_embd], which save_pretrained
 * leaves out when tied. attn.bias / attn.masked_bias are non-persistent buffers (not saved).
 */
function gpt2LmHeadState(V: number, P: number, E: number, layers: number, inner: number, tied: boolean): Record<string, number[]> {
  const s: Record<string, number[]> = { 'transformer.wte.weight': [V, E], 'transformer.wpe.weight': [P, E], 'transformer.ln_f.weight': [E], 'transformer.ln_f.bias': [E] };
  for (let i = 0; i < layers; i++) {
    const h = `transformer.h.${i}`;
    Object.assign(s, {
      [`${h}.ln_1.weight`]: [E], [`${h}.ln_1.bias`]: [E],
      [`${h}.attn.c_attn.weight`]: [E, 3 * E], [`${h}.attn.c_attn.bias`]: [3 * E],
      [`${h}.attn.c_proj.weight`]: [E, E], [`${h}.attn.c_proj.bias`]: [E],
      [`${h}.ln_2.weight`]: [E], [`${h}.ln_2.bias`]: [E],
      [`${h}.mlp.c_fc.weight`]: [E, inner], [`${h}.mlp.c_fc.bias`]: [inner],
      [`${h}.mlp.c_proj.weight`]: [inner, E], [`${h}.mlp.c_proj.bias`]: [E],
    });
  }
  if (!tied) s['lm_head.weight'] = [V, E];
  return s;
}

/** The loss of rows of tokens with weights read as `--weights FILE` reads them (arch or GPT-2 names). */
function lossOf(weights: string, sets: Record<string, string>): number {
  const l = lowerModel('models/gpt-nano.arch', sets);
  const params = Object.fromEntries(loadWeights(weights, paramShapes(l.graph)).weights);
  const tokens = Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 8, 7, 6, 5, 4, 3, 2, 1]);
  const next = Int32Array.from([2, 3, 4, 5, 6, 7, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0]);
  const symbols = { B: 2, L: 8, seed: 0 };
  return interpret(l.graph, { inputs: { tokens_BLV: tokens, 'tokens_BLV:next': next }, params, symbols }).get('loss')!.data[0]!;
}

describe('arch export --format hf', () => {
  it('writes what GPT2LMHeadModel loads, and arch reads it back with the same loss', () => {
    for (const [name, extra, tied] of [['tied', {}, true], ['untied', { head: 'untied', act: 'relu', scale: 'off' }, false]] as const) {
      const sets = { ...TINY, ...extra };
      const ckpt = checkpoint(`hf-${name}`, sets);
      const out = join(dir, `hf-${name}`);
      const r = arch('export', 'models/gpt-nano.arch', '--weights', ckpt, '--format', 'hf', '--out', out);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toContain('as Hugging Face GPT-2 (2 layers, n_embd 16, 2 heads, vocab 11)');
      expect(readdirSync(out).sort()).toEqual(['README.md', 'config.json', 'model.safetensors', 'vocab.json']);

      const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      expect(config).toMatchObject({
        architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 11, n_positions: 8, n_ctx: 8, n_embd: 16, n_head: 2, n_layer: 2,
        n_inner: 64, layer_norm_epsilon: 1e-5, tie_word_embeddings: tied,
        activation_function: name === 'tied' ? 'gelu_new' : 'relu', scale_attn_weights: name === 'tied',
      });
      const st = readSafetensors(join(out, 'model.safetensors'));
      expect(st.metadata.format).toBe('pt'); // transformers refuses a safetensors file without it
      const shapes = Object.fromEntries([...st.tensors].map(([k, t]) => [k, t.shape]));
      expect(shapes).toEqual(gpt2LmHeadState(11, 8, 16, 2, 64, tied));

      const vocab = JSON.parse(readFileSync(join(out, 'vocab.json'), 'utf8'));
      expect(Object.entries(vocab).sort((a, b) => (a[1] as number) - (b[1] as number)).map(([c]) => c)).toEqual(CHARS);
      expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('What Hugging Face cannot represent');

      expect(lossOf(join(out, 'model.safetensors'), sets)).toBe(lossOf(ckpt, sets));
    }
  });

  it('a tied head saved twice (lm_head.weight beside wte, as save_pretrained of an FSDP model writes) loads; a head of its own is refused', () => {
    const sets = { ...TINY };
    const out = join(dir, 'hf-twice');
    expect(arch('export', 'models/gpt-nano.arch', '--weights', checkpoint('hf-twice', sets), '--format', 'hf', '--out', out).code).toBe(0);
    const st = readSafetensors(join(out, 'model.safetensors'));
    const wte = st.tensors.get('transformer.wte.weight')!;
    const withHead = (data: Float32Array) => {
      const file = join(dir, `twice-${data === wte.data ? 'same' : 'own'}.safetensors`);
      const tensors = new Map([...st.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
      writeSafetensors(file, tensors.set('lm_head.weight', { shape: wte.shape, data }), { format: 'pt' });
      return file;
    };
    expect(lossOf(withHead(wte.data as Float32Array), sets)).toBe(lossOf(join(out, 'model.safetensors'), sets));
    const own = Float32Array.from(wte.data as Float32Array, (x) => x + 0.5);
    expect(() => lossOf(withHead(own), sets)).toThrow(/unexpected logits\.w/);
  });

  it('refuses each variant GPT-2 cannot express by name, exit 2, writing nothing', () => {
    const cases: [Record<string, string>, string][] = [
      [{ norm: 'post' }, 'norm=post'],
      [{ pos: 'sinusoidal' }, 'pos=sinusoidal'],
      [{ pos: 'none' }, 'pos=none'],
      [{ residual: 'off' }, 'residual=off'],
      [{ mask: 'none' }, 'mask=none'],
      [{ G: '1' }, 'G=1 < H=2: grouped-query attention'],
    ];
    for (const [extra, says] of cases) {
      const ckpt = checkpoint(`refused-${says.slice(0, 5)}`, { ...TINY, ...extra });
      const parent = mkdtempSync(join(dir, 'refused-'));
      const r = arch('export', 'models/gpt-nano.arch', '--weights', ckpt, '--format', 'hf', '--out', join(parent, 'out'));
      expect(r.code, says).toBe(2);
      expect(r.err, says).toContain(says);
      expect(r.err, says).toContain('cannot be a Hugging Face GPT-2');
      expect(r.err, says).toContain('nothing was written');
      expect(r.err).not.toMatch(/\n\s+at .*:\d+:\d+/);
      expect(readdirSync(parent), says).toEqual([]);
    }
  });

  it('output paths: a missing folder, /proc, a file, a non-empty folder are one clear error; --force replaces', () => {
    const ckpt = checkpoint('paths', TINY);
    const run = (out: string, ...more: string[]) => arch('export', 'models/gpt-nano.arch', '--weights', ckpt, '--format', 'hf', '--out', out, ...more);
    const cases: [string, RegExp][] = [
      [join(dir, 'no-such-folder', 'out'), /the folder .*no-such-folder does not exist/],
      ['/proc/arch-export', /can't write there/],
      [ckpt, /is a file; this export writes a folder/],
    ];
    for (const [out, says] of cases) {
      const r = run(out);
      expect(r.code, out).toBe(2);
      expect(r.err.trim().split('\n').length, out).toBeLessThanOrEqual(2);
      expect(r.err, out).toMatch(says);
    }
    const earlier = join(dir, 'earlier-run');
    mkdirSync(earlier);
    writeFileSync(join(earlier, 'notes.txt'), 'mine');
    const refused = run(earlier);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('--force');
    expect(readFileSync(join(earlier, 'notes.txt'), 'utf8')).toBe('mine');
    expect(run(earlier, '--force').code).toBe(0);
    expect(existsSync(join(earlier, 'notes.txt'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('arch export --format onnx', () => {
  it('writes one .onnx file that onnxruntime runs, and refuses to overwrite it without --force', async () => {
    const ckpt = checkpoint('onnx', TINY);
    const out = join(dir, 'nano.onnx');
    const r = arch('export', 'models/gpt-nano.arch', '--weights', ckpt, '--format', 'onnx', '--out', out);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/as ONNX \(IR 9, opset 18, \d+ nodes.*\): tokens_BLV \[B, L\] -> logits \[B, L, 11\]/);
    const sess = await ort.InferenceSession.create(out);
    const logits = (await sess.run({ tokens_BLV: new ort.Tensor('int64', BigInt64Array.from([1n, 2n, 3n]), [1, 3]) })).logits!;
    expect(logits.dims).toEqual([1, 3, 11]);
    expect([...(logits.data as Float32Array)].every(Number.isFinite)).toBe(true);
    await sess.release();
    const again = arch('export', 'models/gpt-nano.arch', '--weights', ckpt, '--format', 'onnx', '--out', out);
    expect(again.code).toBe(2);
    expect(again.err).toContain('already exists');
  });
});
