import { fmtInt, oneFile, SET_HELP, UsageError, type CommandSpec } from '../args.js';
import { BACKEND_HELP, parseBackend } from '../device.js';
import { parseScalingVary, scaling, scalingTable } from '../inspect/scaling.js';
import { loadModel } from '../load.js';
import { modelStats, paramCount, type ModelStats } from '../../compiler/stats.js';
import type { CheckedModel } from '../../compiler/graph.js';
import { maxOf } from '../../report/extent.js';

type Dim = number | string;

function shapeOf(m: CheckedModel, axes: string[]): Dim[] {
  return axes.map((a) => m.axes.get(a)?.size ?? m.axes.get(a)?.letter ?? a);
}
const fmtShape = (s: Dim[]): string => `[${s.join(', ')}]`;
/** The folded copies of a repeat, `stream.1 .. stream.3`, or `stream.1` when there is one. */
const copiesRange = (f: string, last: string): string => (last === `${f}.1` ? last : `${f}.1 .. ${last}`);

/** Repeated block instances (stream.1 .. stream.11) whose shapes equal the first are folded in text output. */
function repeatGroups(m: CheckedModel): Map<string, { first: string; last: string; count: number }> {
  const byPrefix = new Map<string, Map<number, string>>();
  for (const t of m.trace) {
    const r = /^(.*?)\.(\d+)(\..*)?$/.exec(t.scope);
    if (!r) continue;
    const key = r[1]!;
    const idx = Number(r[2]);
    const sig = `${r[3] ?? ''}|${t.name}|${shapeOf(m, m.nodes[t.node]!.axes).join(',')}`;
    const map = byPrefix.get(key) ?? new Map<number, string>();
    map.set(idx, (map.get(idx) ?? '') + sig + ';');
    byPrefix.set(key, map);
  }
  const out = new Map<string, { first: string; last: string; count: number }>();
  for (const [key, map] of byPrefix) {
    const first = map.get(0);
    const same = [...map.entries()].filter(([i, s]) => i > 0 && s === first).map(([i]) => i);
    if (same.length) out.set(key, { first: `${key}.0`, last: `${key}.${maxOf(same)}`, count: same.length });
  }
  return out;
}

export const inspectCommand: CommandSpec = {
  name: 'inspect',
  summary: 'the shape trace, parameter counts and FLOPs of a model',
  usage: 'arch inspect FILE [--set NAME=VALUE ...] [--vary DIM=V1,V2,... [--profile]] [--json]',
  options: {
    set: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    vary: { type: 'string', multiple: true },
    profile: { type: 'boolean' },
    steps: { type: 'string' },
    backend: { type: 'string' },
  },
  help: [
    SET_HELP,
    ['--json', 'print one JSON object: {params, tensors, parameters, blocks, flopsPerToken, paramsByKind, shareByKind, ...}'],
    ['--vary DIM=V1,V2,...', 'one table of the cost at each size of a dim: FLOPs per token, attention\'s share of them, activation memory'],
    ['--profile', 'with --vary: also time a forward pass at batch 1 for each size on the device (ms per token)'],
    ['--steps N', 'with --profile: forward passes timed per size, after one warm-up (default 3)'],
    BACKEND_HELP,
  ],
  examples: ['arch inspect models/gpt2.arch', 'arch inspect models/gpt2.arch --set N=24 --set D=1024 --set H=16 --json', 'arch inspect models/gpt2.arch --vary L=64,256,1024,4096'],
  async run(args) {
    const file = oneFile(args, inspectCommand);
    const { model: m } = loadModel(file, args.sets, { quietWarnings: Boolean(args.values.json) });
    const vary = (args.values.vary as string[] | undefined) ?? [];
    if (!vary.length && (args.values.profile || args.values.steps !== undefined)) throw new UsageError('--profile and --steps go with --vary DIM=V1,V2,...');
    if (vary.length) {
      const { dim, values } = parseScalingVary(vary, m);
      const steps = args.values.steps === undefined ? 3 : Number(args.values.steps);
      if (!Number.isInteger(steps) || steps < 1) throw new UsageError(`--steps ${String(args.values.steps)}: expected a whole number >= 1`);
      const backend = parseBackend(args.values.backend);
      if (args.values.profile && backend === 'interpreter') throw new UsageError('--profile times WebGPU kernels: choose a WebGPU backend (webgpu, vulkan, opengles)');
      const s = await scaling(file, args.sets, dim, values, args.values.profile ? { backend, steps } : undefined);
      process.stdout.write(args.values.json ? JSON.stringify({ model: m.name, file: m.file, ...s }, null, 2) + '\n' : scalingTable(m.name, s));
      return 0;
    }
    const s = modelStats(m);
    if (args.values.json) {
      const obj = {
        model: m.name,
        file: m.file,
        variants: Object.fromEntries(m.variants),
        dims: Object.fromEntries([...m.dims].map(([k, d]) => [k, d.size ?? 'runtime'])),
        params: s.params,
        paramsByKind: s.byKind,
        blockParams: s.blockParams,
        paramsByKindInBlocks: s.blocksByKind,
        shareByKind: shares(s),
        flopsPerToken: s.flopsPerToken,
        tensors: m.trace.map((t) => ({ name: t.name, scope: t.scope, shape: shapeOf(m, m.nodes[t.node]!.axes) })),
        parameters: m.params.map((p) => ({ path: p.path, name: p.name, shape: p.shape, count: paramCount(p), kind: s.kinds.get(p.path), init: p.init })),
        blocks: s.blocks,
        inputs: m.inputs.map((i) => ({ name: i.name, shape: shapeOf(m, i.axes), onehot: i.onehot })),
      };
      process.stdout.write(JSON.stringify(obj, null, 2) + '\n');
      return 0;
    }
    const out: string[] = [];
    const variants = [...m.variants].map(([k, v]) => `${k}=${v}`).join('  ');
    out.push(`model ${m.name}${variants ? `    ${variants}` : ''}`, '', 'dims');
    for (const [k, d] of m.dims) out.push(`  ${d.size === null ? `${k}  (runtime)` : d.derivation.startsWith(`${k} = ${d.size}`) && !d.derivation.includes('--set') ? `${k} = ${d.size}` : d.derivation}`);
    const groups = repeatGroups(m);
    // one pattern per group, and one answer per scope: a deep model has many tensors per scope
    const patterns = [...groups].map(([key, g]) => ({ key, re: new RegExp(`^${key.replace(/\./g, '\\.')}\\.(\\d+)(\\.|$)`), last: Number(g.last.split('.').pop()) }));
    const foldedOf = new Map<string, string | null>();
    const folded = (scope: string): string | null => {
      let f = foldedOf.get(scope);
      if (f !== undefined) return f;
      f = null;
      for (const p of patterns) {
        const r = p.re.exec(scope);
        if (r && Number(r[1]) > 0 && Number(r[1]) <= p.last) {
          f = p.key;
          break;
        }
      }
      foldedOf.set(scope, f);
      return f;
    };
    out.push('', 'shape trace');
    const w = Math.max(maxOf(m.trace.map((t) => t.name.length)), 8) + 2;
    let scope = '';
    const said = new Set<string>();
    for (const i of m.inputs) out.push(`  ${i.name.padEnd(w)}${fmtShape(shapeOf(m, i.axes))}  input${i.onehot ? ', one-hot token ids' : ''}`);
    for (const t of m.trace) {
      const f = folded(t.scope);
      if (f) {
        if (!said.has(f)) {
          const g = groups.get(f)!;
          out.push(`  ${copiesRange(f, g.last)}: ${g.count} more ${g.count === 1 ? 'copy' : 'copies'}, the same shapes as ${g.first}`);
          said.add(f);
        }
        continue;
      }
      if (t.scope !== scope) {
        scope = t.scope;
        if (scope) out.push(`  ${scope}`);
      }
      const indent = scope ? '    ' : '  ';
      out.push(`${indent}${t.name.padEnd(w - indent.length + 2)}${fmtShape(shapeOf(m, m.nodes[t.node]!.axes))}`);
    }
    out.push('', 'parameters');
    const pw = Math.max(maxOf(m.params.map((p) => p.path.length)), 8) + 2;
    const saidP = new Set<string>();
    for (const p of m.params) {
      const f = folded(p.path.split('.').slice(0, -1).join('.'));
      if (f) {
        if (!saidP.has(f)) {
          const g = groups.get(f)!;
          out.push(`  ${copiesRange(f, g.last)}: the same parameters as ${g.first}`);
          saidP.add(f);
        }
        continue;
      }
      out.push(`  ${p.path.padEnd(pw)}${fmtShape(p.shape).padEnd(18)}${fmtInt(paramCount(p)).padStart(12)}  ${initText(p.init)}`);
    }
    if (s.blocks.length) {
      out.push('', 'per block');
      for (const b of s.blocks) out.push(`  ${`${b.name} (${b.block})`.padEnd(pw)}${fmtInt(b.params).padStart(30)}`);
    }
    out.push('', ...byKindText(s));
    out.push('', `total: ${fmtInt(s.params)} parameters`);
    const assumed = Object.entries(s.assumed).map(([k, v]) => `${k}=${v}`).join(', ');
    out.push(`forward FLOPs per token: ${fmtInt(s.flopsPerToken)} (contractions, at ${assumed || 'the declared sizes'} and full context)`);
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};

function initText(i: CheckedModel['params'][number]['init']): string {
  return i.kind === 'normal' ? `normal(${+i.std.toPrecision(4)})` : i.kind;
}

const KIND_WORDS: Record<string, string> = { mlp: 'MLP', attention: 'attention', norm: 'norms', embeddings: 'embeddings', head: 'head', other: 'other' };
const pct = (n: number, of: number) => (of ? `${((100 * n) / of).toFixed(1)}%` : '-');

/** Each kind's share of all parameters and of the repeated blocks' (JSON). */
function shares(s: ModelStats): Record<string, { ofAll: number; ofBlocks: number | null }> {
  return Object.fromEntries(
    Object.entries(s.byKind).map(([k, n]) => [k, { ofAll: s.params ? n / s.params : 0, ofBlocks: s.blockParams ? s.blocksByKind[k as keyof ModelStats['byKind']] / s.blockParams : null }]),
  );
}

/** The kinds as a table, then in words: "MLP: 66.6% of the blocks' parameters, 45.5% of all". */
function byKindText(s: ModelStats): string[] {
  const inBlocks = s.blockParams > 0;
  const out = [`by kind (from the graph's structure)${inBlocks ? `: of all ${fmtInt(s.params)}, and of the ${fmtInt(s.blockParams)} in repeated blocks` : ''}`];
  for (const [k, n] of Object.entries(s.byKind)) {
    if (!n) continue;
    const b = s.blocksByKind[k as keyof ModelStats['byKind']];
    out.push(`  ${k.padEnd(12)}${fmtInt(n).padStart(14)}  ${pct(n, s.params).padStart(6)}${inBlocks && b ? `  ${fmtInt(b).padStart(14)}  ${pct(b, s.blockParams).padStart(6)}` : ''}`);
  }
  if (inBlocks) {
    out.push('');
    for (const k of ['mlp', 'attention'] as const)
      if (s.blocksByKind[k]) out.push(`${KIND_WORDS[k]}: ${pct(s.blocksByKind[k], s.blockParams)} of the blocks' parameters, ${pct(s.byKind[k], s.params)} of all`);
  }
  return out;
}
