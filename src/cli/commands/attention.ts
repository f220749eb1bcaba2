// `arch attention`: the attention weights of every head of every layer for one prompt, drawn as
// a grid of heatmaps (rows: layers, columns: heads) with the prompt's tokens on the axes.
import { dirname, join, resolve } from 'node:path';
import { SET_HELP, UsageError, oneFile, type CommandSpec, type ParsedArgs } from '../args.js';
import { attentionMaps } from '../../session/attention.js';
import { cliEnv } from '../load.js';
import { checkOutFile } from '../../host/node/out-path.js';
import { makeDir, writeAtomic } from '../../host/node/write.js';
import { tokenIdsFlag } from '../options.js';
import { heatmapGrid, type AttentionMap } from '../../report/heatmap.js';

export const attentionCommand: CommandSpec = {
  name: 'attention',
  summary: 'draw the attention pattern of every head of every layer for a prompt (SVG heatmaps)',
  usage: 'arch attention FILE --weights W --prompt TEXT [--out FILE] [--set NAME=VALUE ...]',
  options: {
    set: { type: 'string', multiple: true },
    weights: { type: 'string' },
    prompt: { type: 'string' },
    'prompt-tokens': { type: 'string' },
    out: { type: 'string' },
  },
  help: [
    ['--weights W', 'a checkpoint from arch train or arch ablate (its tokenizer and --set values come with it), or a safetensors weights file'],
    ['--prompt TEXT', 'the tokens to look at (at most the model\'s context; the last ones are kept)'],
    ['--prompt-tokens 1,2,3', 'the prompt as token ids'],
    ['--out FILE', 'where the SVG goes (default attention.svg beside the checkpoint, in its run directory; missing directories are made)'],
    SET_HELP,
  ],
  examples: [
    'arch attention models/gpt-nano.arch --weights runs/gpt_nano/checkpoint.safetensors --prompt "ROMEO: But soft"',
    'arch attention models/gpt-nano.arch --weights runs/induction/checkpoint.safetensors --prompt abcdefgabcdefg --out induction.svg',
  ],
  run: runAttention,
};

async function runAttention(args: ParsedArgs): Promise<number> {
  const file = oneFile(args, attentionCommand);
  if (!args.values.weights) throw new UsageError('--weights is required: a checkpoint from arch train, or a safetensors weights file');
  const promptTokens = tokenIdsFlag(args, 'prompt-tokens');
  const prompt = args.values.prompt === undefined ? undefined : String(args.values.prompt);
  // Beside the checkpoint by default: with the run it was drawn from, not wherever the shell is.
  const out = args.values.out !== undefined ? String(args.values.out) : join(dirname(String(args.values.weights)), 'attention.svg');
  checkOutFile(out); // before the model runs
  const r = attentionMaps(cliEnv, { file, weights: String(args.values.weights), prompt, promptTokens, sets: args.sets });
  const maps: AttentionMap[] = r.layers.flatMap((l, layer) => l.maps.map((weights, head) => ({ layer, head, weights })));
  const title = `attention: ${r.model}, ${JSON.stringify(prompt ?? r.ids.join(','))}`;
  makeDir(dirname(resolve(out)));
  writeAtomic(out, heatmapGrid({ title, tokens: r.tokens, maps }));
  for (const [i, l] of r.layers.entries()) process.stderr.write(`layer ${i}: ${l.name}, ${l.maps.length} head${l.maps.length === 1 ? '' : 's'}\n`);
  process.stderr.write(`${r.tokens.length} tokens -> ${out}${args.values.out === undefined ? ' (beside the checkpoint; --out FILE to choose)' : ''}\n`);
  return 0;
}
