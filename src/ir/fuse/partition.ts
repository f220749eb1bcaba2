// The state of fusion while it places nodes into kernels: the materialised tensors, the drafts
// (kernels being built) with their members, who writes and reads each tensor, and the checks every
// join makes (no cycle between kernels, no more bindings than the limit). The join rules
// (rules/*.ts) read and change a partition only through these methods.

import type { Graph, Node } from '../types.js';
import type { Draft, DraftFields } from './draft.js';
import { reducedAxes, type FuseSettings, type Materialised } from './materialise.js';
import { layoutStrides, sizeOf } from './resolve.js';
import type { StridedView, Tensor } from './types.js';
import { dagOf, mergedStride, stridedView, type Dag } from './views.js';

/**
 * A join rule, in the spirit of tinygrad's PatternMatcher: it places materialised node `n` (joins
 * it to a kernel, or forms one) and says so, or declines (false) and the next rule is tried.
 */
export type JoinRule = (p: Partition, n: Node) => boolean;

/** An epilogue rule: elementwise node `e` (inlining `dag`) joins kernel `d`, computed from its
 *  registers; or the rule declines (false). */
export type EpilogueRule = (p: Partition, d: Draft, e: Node, dag: Dag) => boolean;

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export class Partition {
  readonly tensors: Tensor[] = [];
  /** The tensor each materialised node is read from. */
  readonly primary = new Map<number, number>();
  readonly drafts: Draft[] = [];
  /** Materialised node -> the draft producing it. */
  readonly kernelOf = new Map<number, Draft>();
  /** Tensor -> the draft writing it. */
  readonly writer = new Map<number, Draft>();
  /** Tensor -> the drafts reading it. */
  readonly readers = new Map<number, Set<Draft>>();
  /** Nodes to materialise before the next attempt (a kernel bound too many buffers alone). */
  readonly overflow: number[] = [];
  private readonly copies = new Map<string, number>();

  constructor(readonly g: Graph, readonly opts: FuseSettings, readonly m: Materialised) {
    for (const [, id] of g.inputs) if (m.needed[id]) this.primary.set(id, this.newTensor(id, this.logical(id), 'input'));
    for (const [, id] of g.params) this.primary.set(id, this.newTensor(id, this.logical(id), 'param'));
    for (const u of m.updates.values()) this.primary.set(u.node, this.primary.get(u.input)!);
  }

  isMat = (id: number): boolean => this.m.mat.has(id);

  /** A node's axis names in its own order. */
  logical(id: number): string[] {
    return this.g.nodes[id]!.type.axes.map((a) => a.name);
  }

  newTensor(node: number, layout: string[], role: Tensor['role'] = 'intermediate'): number {
    const id = this.tensors.length;
    this.tensors.push({ id, node, layout, role });
    return id;
  }

  /** The tensor a materialised node is stored in (made, in its own axis order, on first use). */
  tensorOf = (node: number): number => {
    let t = this.primary.get(node);
    if (t === undefined) {
      t = this.newTensor(node, this.logical(node));
      this.primary.set(node, t);
    }
    return t;
  };

  /** What computing `root` in place inlines and reads from memory. */
  dag(root: number): Dag {
    return dagOf(this.g, root, this.isMat);
  }

  /** The nodes a member of `d` reads from memory: materialised ones, but d's own inlined members. */
  stopFor(d: Draft | undefined): (id: number) => boolean {
    return (id) => this.m.mat.has(id) && !(d?.inlineMembers.has(id) ?? false);
  }

  /** The reduced axes of a row reduction (all of a collapsed chain's). */
  redAxesOf(n: Node): string[] {
    return this.m.collapsed.get(n.id)?.axes ?? reducedAxes(this.g, n);
  }

  /** The node a reduction sums or maxes (the innermost input of a collapsed chain); a scatterAdd is its own. */
  termOf = (id: number): number => {
    const n = this.g.nodes[id]!;
    return this.m.collapsed.get(n.id)?.term ?? (n.op.kind === 'reduce' ? n.inputs[0]! : n.id);
  };

  /** External tensors a member would read inside draft d, or null if it reads d's registers at other
   *  coordinates (but for the axes in `renamed`, whose coordinates the kernel gives under both names). */
  memberReads(d: Draft | undefined, m: number, renamed: ReadonlySet<string> = new Set()): { reads: number[]; fused: number[] } | null {
    const dag = dagOf(this.g, m, this.stopFor(d));
    const reads: number[] = [];
    for (const r of dag.reads) {
      if (d?.provided.has(r.node)) {
        if (!r.preserving && !(r.changed?.every((a) => renamed.has(a)) ?? false)) return null;
      } else reads.push(this.tensorOf(r.node));
    }
    return { reads, fused: dag.inlined };
  }

  /** Whether d may also read `reads` and write one more tensor: no cycle between kernels, and
   *  no more storage buffers than the limit. */
  fits(d: Draft, reads: readonly number[]): boolean {
    return !this.reachesFrom(reads, d) && new Set([...d.reads, ...d.writes, ...reads]).size + 1 <= this.opts.maxBindings;
  }

  /** Whether any of the drafts writing `reads` depends on `target` (one search from all of them). */
  private reachesFrom(reads: readonly number[], target: Draft): boolean {
    const seen = new Set<Draft>([target]);
    const stack: Draft[] = [];
    const visit = (t: number): void => {
      const w = this.writer.get(t);
      if (w !== undefined && !seen.has(w)) {
        seen.add(w);
        stack.push(w);
      }
    };
    // reading d's own results is no cycle; reaching d through another kernel is
    for (const t of reads) visit(t);
    while (stack.length > 0) {
      for (const t of stack.pop()!.reads) {
        if (this.writer.get(t) === target) return true;
        visit(t);
      }
    }
    return false;
  }

  newDraft<F extends DraftFields>(fields: F): Extract<Draft, { kind: F['kind'] }> {
    const d = { index: this.drafts.length, members: [], inlineMembers: new Set(), provided: new Set(), reads: new Set(), writes: new Set(), ...fields } as Draft;
    this.drafts.push(d);
    return d as Extract<Draft, { kind: F['kind'] }>;
  }

  addReads(d: Draft, reads: Iterable<number>): void {
    for (const t of reads) {
      d.reads.add(t);
      (this.readers.get(t) ?? this.readers.set(t, new Set()).get(t)!).add(d);
    }
  }

  /** Node m joins d, reading `reads`, as a register (provided) or an inlined expression; d writes it to `tensor`. */
  addMember(d: Draft, m: number, reads: readonly number[], provided: boolean, tensor = this.tensorOf(m)): void {
    d.members.push(m);
    (provided ? d.provided : d.inlineMembers).add(m);
    this.addReads(d, reads);
    d.writes.add(tensor);
    this.writer.set(tensor, d);
    this.kernelOf.set(m, d);
  }

  /** After d is formed for member m alone: if it binds too many buffers, mark the inlined
   *  subexpression that reads the most for materialising (fusion starts over). */
  checkAlone(d: Draft, m: number): void {
    if (d.reads.size + d.writes.size <= this.opts.maxBindings) return;
    const dag = dagOf(this.g, m, this.stopFor(d));
    let best = -1;
    let bestReads = 1;
    for (const id of dag.inlined) {
      if (id === m) continue;
      const r = dagOf(this.g, id, this.stopFor(d)).reads.length;
      if (r > bestReads && r < dag.reads.length) {
        best = id;
        bestReads = r;
      }
    }
    this.overflow.push(best);
  }

  /** A tensor holding `node` in `layout`, written by a copy kernel (made once per node and layout). */
  copyTensor(node: number, layout: string[]): number {
    const key = `${node}:${layout.join(',')}`;
    const hit = this.copies.get(key);
    if (hit !== undefined) return hit;
    const t = this.newTensor(node, layout);
    const d = this.newDraft({ kind: 'elementwise' });
    if (this.isMat(node)) this.addReads(d, [this.tensorOf(node)]);
    else this.addReads(d, this.dag(node).reads.map((r) => this.tensorOf(r.node)));
    d.writes.add(t);
    this.writer.set(t, d);
    this.copies.set(key, t);
    return t;
  }

  /** A contraction operand as a strided view whose groups each have one stride (else a copy). */
  contractOperand(x: number, groups: string[][]): StridedView {
    const node = this.g.nodes[x]!;
    const v = stridedView(this.g, x, this.isMat, (id) => ({ id: this.tensorOf(id), layout: this.tensors[this.tensorOf(id)]!.layout }));
    if (v !== null && groups.every((grp) => mergedStride(grp.map((a) => ({ size: sizeOf(node, a), stride: v.strides[a]! }))) !== null)) return v;
    const layout = groups.flat();
    const t = this.copyTensor(x, layout);
    return { tensor: t, offset: 0, strides: layoutStrides(node, layout) };
  }

  /** Whether every path from `src` to consumers stays inside `inlined` and ends at `root`. */
  onlyFeeds(src: number, root: number, inlined: readonly number[]): boolean {
    const inside = new Set(inlined);
    const stack = [src];
    const seen = new Set<number>();
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (seen.has(id) || id === root) continue;
      seen.add(id);
      for (const u of this.m.consumers[id]!) {
        if (!inside.has(u)) return false;
        stack.push(u);
      }
    }
    return true;
  }

  /** The drafts that write something, dependencies first, else in creation order. A depth-first
   *  walk on an explicit stack: a chain of kernels may be as long as the graph. */
  ordered(): Draft[] {
    const set = new Set(this.drafts.filter((d) => d.writes.size > 0));
    const done = new Set<Draft>();
    const out: Draft[] = [];
    const visiting = new Set<Draft>();
    const enter = (d: Draft): { d: Draft; deps: Draft[]; next: number } => {
      visiting.add(d);
      const deps: Draft[] = [];
      for (const t of d.reads) {
        const w = this.writer.get(t);
        if (w !== undefined && w !== d && set.has(w)) deps.push(w);
      }
      return { d, deps, next: 0 };
    };
    for (const start of [...set].sort((a, b) => a.index - b.index)) {
      if (done.has(start)) continue;
      const stack = [enter(start)];
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        if (top.next < top.deps.length) {
          const w = top.deps[top.next++]!;
          if (done.has(w)) continue;
          if (visiting.has(w)) throw new Error('fuse: internal error: kernels form a cycle');
          stack.push(enter(w));
          continue;
        }
        stack.pop();
        visiting.delete(top.d);
        done.add(top.d);
        out.push(top.d);
      }
    }
    return out;
  }
}
