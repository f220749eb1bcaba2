// `arch compile`: what a model becomes, at each stage, without running anything: the IR, the WGSL
// kernels fusion produced, or the execution plan (kernels, buffers, dispatches). No adapter is
// needed: kernels are generated for WebGPU's default limits, which every adapter meets.
import { bindSymbols, fusedSummary, OPTIMIZER_DISPATCHES } from '../../session/kernels.js';
import { fmtInt, oneFile, SET_HELP, UsageError, type CommandSpec, type ParsedArgs } from '../args.js';
import { loadModel, cliEnv } from '../load.js';
import { FLAG_MAX, numberFlag, RULES } from '../options.js';
import { buildGraph } from '../../session/pipeline.js';
import { printGraph } from '../../ir/index.js';
import { DEFAULT_LIMITS, describePlan, planGraph, type GraphPlan } from '../../runtime/executor.js';
import { parseKernels } from '../device.js';
import { checkModelFits, PARAM_COPIES } from '../../session/fits.js';

export const EMITS = ['ir', 'wgsl', 'plan'] as const;

/** The optimizer's dispatches per training step (src/runtime/train/webgpu-backend.ts: gradient sum
 *  of squares, norm and clip scale, AdamW over the parameter slab). */

export const compileCommand: CommandSpec = {
  name: 'compile',
  summary: 'show what a model becomes: its IR, its fused WGSL kernels, or the execution plan (no GPU needed)',
  usage: 'arch compile FILE --emit ir|wgsl|plan [--grad] [--train] [--batch B] [--length L] [--unfused] [--kernels cpu|gpu] [--set NAME=VALUE ...]',
  options: {
    set: { type: 'string', multiple: true },
    emit: { type: 'string', default: 'ir' },
    kernels: { type: 'string' },
    grad: { type: 'boolean' },
    train: { type: 'boolean' },
    batch: { type: 'string' },
    length: { type: 'string' },
    unfused: { type: 'boolean' },
  },
  help: [
    SET_HELP,
    ['--kernels cpu|gpu', 'the WGSL templates to emit: cpu (default here: no adapter to pick by) or gpu (workgroup tiles)'],
    ['--emit ir|wgsl|plan', 'ir: one primitive op per line, with shapes; wgsl: every kernel, with what it fused; plan: kernels, buffers, dispatches'],
    ['--grad', 'also differentiate: the backward graph, with grad:<param> outputs'],
    ['--train', 'the training graph (dropout active)'],
    ['--batch B', 'the batch size the kernels are generated for (wgsl, plan; default 8)'],
    ['--length L', "the sequence length (wgsl, plan; default: the model's context length)"],
    ['--unfused', 'one kernel per op (wgsl, plan), to compare with fusion'],
  ],
  examples: [
    'arch compile models/gpt-nano.arch --emit ir',
    'arch compile models/gpt-nano.arch --emit plan --grad --train',
    'arch compile models/gpt-nano.arch --emit wgsl --batch 1 --length 16',
  ],
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
    if (emit === 'ir') {
      process.stdout.write(header.join('\n') + '\n' + printGraph(g));
      return 0;
    }
    const symbols = bindSymbols(built, sizeArgs(args));
    checkModelFits(built, { symbols, paramCopies: PARAM_COPIES.plan, limits: DEFAULT_LIMITS, memoryBytes: cliEnv.host.memoryBytes() });
    const planned = planGraph(g, symbols, { unfused: Boolean(args.values.unfused), kernels: parseKernels(args.values.kernels) });
    header.push(
      `# compiled for ${Object.entries(symbols).filter(([k]) => k !== 'seed').map(([k, v]) => `${k} = ${v}`).join(', ') || 'fixed sizes'}` +
        ` and WebGPU's default limits: ${fmtInt(planned.plan.kernels.length)} kernels from ${fmtInt(g.nodes.length)} ops`,
    );
    if (args.values.grad) header.push(`# a training step: ${fmtInt(planned.plan.dispatchesPerRun + OPTIMIZER_DISPATCHES)} dispatches (these + ${OPTIMIZER_DISPATCHES} for the optimizer)`);
    process.stdout.write(header.join('\n') + '\n' + (emit === 'plan' ? describePlan(planned.plan) + '\n' : emitWgsl(planned)));
    return 0;
  },
};

/** Every kernel's WGSL, each behind a comment saying what it computes and which IR ops it fused. */
export function emitWgsl(p: GraphPlan): string {
  return p.plan.kernels
    .map((k, i) => {
      const head = [
        `// ---- kernel ${i + 1}/${p.plan.kernels.length}: ${k.name} (${k.kind}, ${k.workgroups.join('x')} workgroups)`,
        `// fuses ${k.ops.length} op${k.ops.length === 1 ? '' : 's'}: ${fusedSummary(k.ops)}`,
        ...k.ops.map((op) => `//   ${op}`),
        ...k.bindings.map((b) => `// @binding(${b.binding}) ${b.kind}${b.access ? ` ${b.access}` : ''} ${b.tensor ?? ''}`.trimEnd()),
      ];
      return head.join('\n') + '\n' + k.wgsl.trimEnd() + '\n';
    })
    .join('\n');
}

export interface Sizes {
  batch?: number;
  length?: number;
}

export function sizeArgs(args: ParsedArgs): Sizes {
  const int = (name: string): number | undefined => (args.values[name] === undefined ? undefined : numberFlag(args, name, 0, RULES.count(FLAG_MAX.batch)));
  return { batch: int('batch'), length: int('length') };
}

