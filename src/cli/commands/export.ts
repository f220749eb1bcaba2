// `arch export`: a model and its weights out of arch, as a Hugging Face GPT-2 folder or as an
// ONNX file of the forward pass. Everything is checked before anything is written, and the
// output appears all at once (src/cli/atomic-out.ts).
import { cliEnv } from '../load.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { oneFile, SET_HELP, UsageError, type CommandSpec, type ParsedArgs } from '../args.js';
import { modelWithCheckpoint } from '../../session/checkpoint-model.js';
import { checkOut, writeFileAtomic, writeFolderAtomic } from '../../host/node/out-path.js';
import { lower } from '../../compiler/lower.js';
import type { CheckedModel } from '../../compiler/graph.js';
import { writeSafetensors } from '../../host/node/safetensors-file.js';
import { paramShapes, toGpt2Names, type ParamShape } from '../../runtime/weights.js';
import { ExportError } from '../../export/error.js';
import { forwardOutputs, toOnnx } from '../../export/onnx.js';
import { encodeOnnx, MAX_ONNX_BYTES, IR_VERSION, OPSET } from '../../export/onnx-proto.js';
import { gpt2Config, gpt2Dims, gpt2StateShapes, hfReadme, lmHeadKey, stateMismatches, vocabJson, type TokenizerLike } from '../../export/hf.js';

const FORMATS = ['hf', 'onnx'] as const;
const GPT2_VOCAB = 50257;

export const exportCommand: CommandSpec = {
  name: 'export',
  summary: 'write a model and its weights as a Hugging Face GPT-2 folder or an ONNX file',
  usage: 'arch export FILE --weights W --format hf|onnx --out PATH [--force] [--set NAME=VALUE ...]',
  options: {
    set: { type: 'string', multiple: true },
    weights: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    force: { type: 'boolean' },
  },
  help: [
    ['--weights W', 'a checkpoint from arch train (its tokenizer and --set values come with it), or a safetensors weights file'],
    ['--format hf', 'a folder GPT2LMHeadModel.from_pretrained reads: model.safetensors, config.json, README.md (and vocab.json for a char model)'],
    ['--format onnx', `one .onnx file (IR ${IR_VERSION}, opset ${OPSET}): token ids (int64) -> logits, batch and lengths symbolic`],
    ['--out PATH', 'the folder (hf) or file (onnx) to write; its parent must exist'],
    ['--force', 'replace --out if it exists (a folder that is not empty, or a file)'],
    SET_HELP,
  ],
  examples: [
    'arch export models/gpt-nano.arch --weights runs/demo/checkpoint.safetensors --format hf --out exported/nano',
    'arch export models/gpt-nano.arch --weights runs/demo/checkpoint.safetensors --format onnx --out nano.onnx',
  ],
  run: runExport,
};

interface Prepared {
  file: string;
  model: CheckedModel;
  sets: Record<string, string>;
  shapes: ParamShape[];
  weights: Map<string, Float32Array>;
  tokenizer: TokenizerLike;
  weightsPath: string;
}

function required(args: ParsedArgs, name: string, what: string): string {
  const v = args.values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required: ${what}\nusage: ${exportCommand.usage}`);
  return v;
}

function prepare(args: ParsedArgs, file: string, weightsPath: string): Prepared {
  // The same whole-checkpoint check as sample and eval: the checkpoint's --set values under the
  // user's, its names (arch's or GPT-2's) and shapes against the model.
  const { ckpt, model, fitted } = modelWithCheckpoint(cliEnv, file, weightsPath, args.sets);
  const sets = { ...(ckpt.meta?.sets ?? {}), ...Object.fromEntries(args.sets) };
  const shapes = paramShapes(lower(model, { training: false }).graph);
  return { file, model, sets, shapes, weights: fitted.weights, weightsPath, tokenizer: (ckpt.meta?.tokenizer ?? null) as TokenizerLike };
}

async function runExport(args: ParsedArgs): Promise<number> {
  const file = oneFile(args, exportCommand);
  const weightsPath = required(args, 'weights', 'a checkpoint from arch train, or a safetensors weights file');
  const format = required(args, 'format', `one of ${FORMATS.join(', ')}`);
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format ${format}: expected one of ${FORMATS.join(', ')}`);
  const out = required(args, 'out', format === 'hf' ? 'the folder to write' : 'the .onnx file to write');
  checkOut(out, format === 'hf' ? 'folder' : 'file', Boolean(args.values.force));
  const p = prepare(args, file, weightsPath);
  try {
    const summary = format === 'hf' ? exportHf(p, out) : exportOnnx(p, out);
    process.stdout.write(`${summary}\n`);
  } catch (e) {
    if (e instanceof ExportError) throw new UsageError(`${file} ${format === 'hf' ? 'as Hugging Face GPT-2' : 'as ONNX'}: ${e.message}\n  nothing was written`);
    throw e;
  }
  return 0;
}

function exportHf(p: Prepared, out: string): string {
  const gpt2Vocab = p.shapes.find((s) => s.name === 'wte')?.shape[0] === GPT2_VOCAB && (p.tokenizer === null || p.tokenizer.kind === 'gpt2');
  const config = gpt2Config(p.model.variants, p.shapes, { gpt2Vocab });
  const dims = gpt2Dims(p.shapes);
  const tensors = new Map([...toGpt2Names(p.weights, p.shapes)].map(([k, v]) => [lmHeadKey(k), v]));
  const problems = stateMismatches(tensors, gpt2StateShapes(dims));
  if (problems.length) throw new ExportError(`its parameters are not GPT2LMHeadModel's:\n    ${problems.slice(0, 10).join('\n    ')}`);
  const vocab = vocabJson(p.tokenizer);
  writeFolderAtomic(out, (dir) => {
    writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' }); // transformers requires format=pt
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    if (vocab) writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab, null, 2) + '\n');
    writeFileSync(join(dir, 'README.md'), hfReadme({ model: p.file, weights: p.weightsPath, sets: p.sets, tokenizer: p.tokenizer, gpt2Vocab, V: dims.V }));
  });
  return `exported ${p.model.name} as Hugging Face GPT-2 (${dims.N} layers, n_embd ${dims.D}, ${dims.H} heads, vocab ${dims.V}) to ${out}/`;
}

function exportOnnx(p: Prepared, out: string): string {
  const lowered = lower(p.model, { training: false });
  const outputs = forwardOutputs(lowered);
  if (!outputs.length) throw new ExportError('it has no output besides the loss (name a tensor logits_* to export it)');
  const metadata: Record<string, string> = { model_file: p.file, sets: JSON.stringify(p.sets) };
  if (p.tokenizer) metadata.tokenizer = JSON.stringify(p.tokenizer);
  const model = toOnnx(lowered.graph, { outputs, weights: p.weights, name: p.model.name, doc: `${p.model.name} exported by arch: ${[...lowered.graph.inputs.keys()].filter((n) => !n.includes(':')).join(', ')} -> ${outputs.join(', ')}`, metadata });
  const bytes = p.shapes.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  if (bytes > MAX_ONNX_BYTES) throw new ExportError(`its weights are ${(bytes / 2 ** 30).toFixed(1)} GiB, more than the 2 GiB one ONNX file can hold (arch does not write ONNX's external data)`);
  const encoded = encodeOnnx(model, '0.1.0');
  writeFileAtomic(out, encoded);
  const ins = model.inputs.map((i) => `${i.name} [${i.dims.join(', ')}]`).join(', ');
  const outs = model.outputs.map((o) => `${o.name} [${o.dims.join(', ')}]`).join(', ');
  return `exported ${p.model.name} as ONNX (IR ${IR_VERSION}, opset ${OPSET}, ${model.nodes.length} nodes, ${(encoded.length / 1e6).toFixed(1)} MB): ${ins} -> ${outs} to ${out}`;
}
