// The grid of an ablation: `--vary name=v1,v2` flags -> cells (one value per name), and the seeds
// every cell is trained with.
import { UsageError } from '../args.js';

export interface Vary {
  name: string;
  values: string[];
}

/** One configuration of the grid: a value for every varied name, in --vary order. */
export interface Cell {
  values: [string, string][];
  /** `act=gelu D=64`, or `baseline` for a grid with nothing varied. */
  label: string;
  /** A directory name for the cell: `act=gelu,D=64`. */
  key: string;
}

const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

export function parseVary(raw: readonly string[]): Vary[] {
  const out: Vary[] = [];
  for (const r of raw) {
    const m = /^([^=]*)=(.*)$/.exec(r);
    if (!m || !NAME.test(m[1]!.trim())) throw new UsageError(`--vary ${r}: expected NAME=VALUE,VALUE,..., e.g. --vary act=gelu,relu or --vary D=64,128`);
    const name = m[1]!.trim();
    const values = m[2]!.split(',').map((v) => v.trim());
    if (values.some((v) => v === '')) throw new UsageError(`--vary ${r}: an empty value; separate values with commas: --vary ${name}=a,b`);
    const dup = values.find((v, i) => values.indexOf(v) !== i);
    if (dup !== undefined) throw new UsageError(`--vary ${r}: ${dup} is listed twice`);
    if (out.some((v) => v.name === name)) throw new UsageError(`--vary ${name} is given twice; list all its values in one flag: --vary ${name}=a,b,c`);
    out.push({ name, values });
  }
  return out;
}

/** Every combination of the varied values; the last --vary changes fastest. */
export function gridCells(varies: readonly Vary[]): Cell[] {
  let combos: [string, string][][] = [[]];
  for (const v of varies) combos = combos.flatMap((c) => v.values.map((x) => [...c, [v.name, x] as [string, string]]));
  return combos.map((values) => ({
    values,
    label: values.length ? values.map(([k, v]) => `${k}=${v}`).join(' ') : 'baseline',
    key: values.length ? values.map(([k, v]) => `${k}=${v}`.replace(/[^A-Za-z0-9._=-]/g, '_')).join(',') : 'baseline',
  }));
}

/** `--seeds 3` is seeds 1, 2, 3; `--seeds 7,11` is those seeds. */
export function parseSeeds(raw: string | undefined, fallback = 3): number[] {
  if (raw === undefined) return Array.from({ length: fallback }, (_, i) => i + 1);
  const s = raw.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 1000) throw new UsageError(`--seeds ${raw}: expected a count from 1 to 1000, or a list of seeds (--seeds 1,2,3)`);
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  const list = s.split(',').map((x) => x.trim());
  const seeds = list.map(Number);
  if (list.some((x) => !/^-?\d+$/.test(x)) || seeds.some((n) => !Number.isSafeInteger(n)))
    throw new UsageError(`--seeds ${raw}: expected a count (--seeds 3) or a list of whole numbers (--seeds 1,2,3)`);
  if (new Set(seeds).size !== seeds.length) throw new UsageError(`--seeds ${raw}: a seed is listed twice`);
  return seeds;
}
