// `arch inspect MODEL --vary L=64,256,1024`: how a model's cost grows with one dim. One row per
// value: forward FLOPs per token and attention's share of them, the activations a forward pass at
// batch 1 would hold if it kept every named tensor (and how much of that is attention's L x M
// matrices), and with --profile the measured forward time per token on the device.
import { fmtInt, UsageError } from '../args.js';
import { loadModel } from '../load.js';
import { buildGraph } from '../../session/pipeline.js';
import { deviceFor } from '../device.js';
import { bindSymbols } from '../../session/kernels.js';
import { randomInputs, timeSteps } from '../../session/profile.js';
import { parseVary } from '../ablate/grid.js';
import { modelStats } from '../../compiler/stats.js';
import { initParams } from '../../ir/index.js';
import { compileGraph } from '../../runtime/executor.js';
import type { ArchDevice } from '../../runtime/device.js';
import type { CheckedModel } from '../../compiler/graph.js';

export interface ScalingRow {
  value: number;
  params: number;
  flopsPerToken: number;
  /** Contractions of two activations (scores and mixing): the part that grows with the context. */
  attentionFlopsShare: number;
  activationBytes: number;
  attentionMatrixBytes: number;
  /** With --profile: the median forward pass at batch 1, divided by the tokens in it. */
  msPerToken?: number;
}

export interface Scaling {
  dim: string;
  /** How activationBytes is counted, for the reader. */
  memory: string;
  rows: ScalingRow[];
  adapter?: string;
}

const MEMORY = 'every named tensor of the shape trace at batch 1, f32: a count, not the memory plan (arch streams attention and never stores its L x M matrices)';

/** The one dim to vary, with whole-number values. */
export function parseScalingVary(raw: readonly string[], m: CheckedModel): { dim: string; values: number[] } {
  const varies = parseVary(raw);
  if (varies.length !== 1) throw new UsageError(`inspect takes one --vary (a dim and its sizes, e.g. --vary L=64,256,1024); got ${varies.length}`);
  const v = varies[0]!;
  if (!m.dims.has(v.name)) throw new UsageError(`--vary ${v.name}=...: inspect varies a dim, and ${m.name} has no dim ${v.name} (its dims: ${[...m.dims.keys()].join(' ')})`);
  const values = v.values.map(Number);
  const bad = v.values.find((_, i) => !Number.isInteger(values[i]) || values[i]! < 1);
  if (bad !== undefined) throw new UsageError(`--vary ${v.name}=${v.values.join(',')}: ${bad} is not a whole number >= 1`);
  return { dim: v.name, values };
}

export async function scaling(file: string, sets: Map<string, string>, dim: string, values: number[], profile?: { backend: string; steps: number }): Promise<Scaling> {
  const models = values.map((v) => loadModel(file, new Map([...sets, [dim, String(v)]]), { quietWarnings: true }).model);
  const rows: ScalingRow[] = models.map((m, i) => {
    const s = modelStats(m);
    return {
      value: values[i]!,
      params: s.params,
      flopsPerToken: s.flopsPerToken,
      attentionFlopsShare: s.flopsPerToken ? s.attentionFlopsPerToken / s.flopsPerToken : 0,
      activationBytes: s.activationBytes,
      attentionMatrixBytes: s.attentionMatrixBytes,
    };
  });
  if (!profile) return { dim, memory: MEMORY, rows };
  const dev = await deviceFor(profile.backend, false, 'throughput');
  try {
    for (const [i, m] of models.entries()) rows[i]!.msPerToken = await forwardMsPerToken(dev, m, profile.steps);
    return { dim, memory: MEMORY, rows, adapter: `${dev.info.adapterName} (${dev.info.backend})` };
  } finally {
    dev.destroy();
  }
}

/** The forward pass (loss and logits) at batch 1 and the full context, timed end to end: median ms / tokens. */
async function forwardMsPerToken(dev: ArchDevice, m: CheckedModel, steps: number): Promise<number> {
  const built = buildGraph(m, { grad: false, training: false });
  const symbols = bindSymbols(built, { batch: 1 });
  const c = await compileGraph(dev, built.graph, symbols);
  try {
    c.setParams(Object.fromEntries(Object.entries(initParams(built.lowered.graph, {}, 1)).map(([k, v]) => [k, Float32Array.from(v)])));
    const inputs = randomInputs(built, symbols);
    const tokens = Object.entries(symbols).filter(([k]) => k !== 'seed').reduce((a, [, v]) => a * v, 1);
    return (await timeSteps(() => c.run({ inputs }, ['loss']), steps)) / tokens;
  } finally {
    c.destroy();
  }
}

const mb = (bytes: number) =>
  bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : bytes >= 1e6 ? `${(bytes / 1e6).toFixed(bytes >= 1e7 ? 0 : 1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;

export function scalingTable(model: string, s: Scaling): string {
  const head = [s.dim, 'FLOPs/token', 'attention', 'activations', 'of which L x M', ...(s.adapter ? ['ms/token'] : [])];
  const rows = s.rows.map((r) => [
    String(r.value),
    fmtInt(r.flopsPerToken),
    `${(100 * r.attentionFlopsShare).toFixed(1)}%`,
    mb(r.activationBytes),
    mb(r.attentionMatrixBytes),
    ...(r.msPerToken !== undefined ? [r.msPerToken.toFixed(3)] : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cols: string[]) => '  ' + cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    `${model}: cost as ${s.dim} grows`,
    '',
    line(head),
    ...rows.map(line),
    '',
    `FLOPs/token: forward contractions at batch 1 and the full context (the causal mask's skipped half counted); attention: the share in contractions of two activations (scores and mixing).`,
    `activations: ${s.memory}.`,
    ...(s.adapter ? [`ms/token: the forward pass at batch 1 on ${s.adapter}, median of its runs, divided by the context.`] : []),
    '',
  ].join('\n');
}
