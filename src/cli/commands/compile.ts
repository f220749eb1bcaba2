import { oneFile, SET_HELP, UsageError, type CommandSpec } from '../args.js';
import { loadModel } from '../load.js';
import { buildGraph } from '../pipeline.js';
import { printGraph } from '../../ir/index.js';

export const EMITS = ['ir'] as const;

export const compileCommand: CommandSpec = {
  name: 'compile',
  summary: 'show what a model becomes: its IR (forward, and backward with --grad)',
  usage: 'arch compile FILE --emit ir [--grad] [--train] [--set NAME=VALUE ...]',
  options: { set: { type: 'string', multiple: true }, emit: { type: 'string', default: 'ir' }, grad: { type: 'boolean' }, train: { type: 'boolean' } },
  help: [
    SET_HELP,
    ['--emit ir', 'what to print: ir (one primitive op per line, with shapes)'],
    ['--grad', 'also differentiate: the backward graph, with grad:<param> outputs'],
    ['--train', 'the training graph (dropout active)'],
  ],
  examples: ['arch compile models/gpt-nano.arch --emit ir', 'arch compile models/gpt-nano.arch --emit ir --grad'],
  async run(args) {
    const file = oneFile(args, compileCommand);
    const emit = String(args.values.emit);
    if (!(EMITS as readonly string[]).includes(emit)) throw new UsageError(`--emit ${emit}: expected one of ${EMITS.join(', ')}`);
    const { model } = loadModel(file, args.sets, { quietWarnings: true });
    const built = buildGraph(model, { grad: Boolean(args.values.grad), training: Boolean(args.values.train) });
    const g = built.graph;
    const header = [
      `# ${model.name}: ${g.nodes.length} ops, ${g.params.size} parameters, inputs ${[...g.inputs.keys()].join(', ')}`,
      `# runtime symbols: ${[...built.lowered.symbols].map(([s, i]) => (i.max ? `${s} <= ${i.max}` : s)).join(', ') || 'none'}`,
    ];
    process.stdout.write(header.join('\n') + '\n' + printGraph(g));
    return 0;
  },
};
