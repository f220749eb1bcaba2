import { fmtInt, oneFile, SET_HELP, type CommandSpec } from '../args.js';
import { loadModel } from '../load.js';
import { modelStats } from '../../compiler/stats.js';

export const checkCommand: CommandSpec = {
  name: 'check',
  summary: 'parse and shape-check a model; print a one-line summary',
  usage: 'arch check FILE [--set NAME=VALUE ...]',
  options: { set: { type: 'string', multiple: true } },
  help: [SET_HELP],
  examples: ['arch check models/gpt2.arch', 'arch check models/gpt2.arch --set norm=post --set D=1024 --set H=16'],
  async run(args) {
    const file = oneFile(args, checkCommand);
    const t0 = performance.now();
    const { model } = loadModel(file, args.sets);
    const s = modelStats(model);
    const ms = performance.now() - t0;
    const variants = [...model.variants].map(([k, v]) => `${k}=${v}`).join(' ');
    process.stdout.write(`ok: ${model.name}: ${fmtInt(model.trace.length)} tensors, ${fmtInt(s.params)} parameters${variants ? ` (${variants})` : ''} [${ms.toFixed(0)} ms]\n`);
    return 0;
  },
};
