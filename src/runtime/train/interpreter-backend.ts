// Training on the reference interpreter: slow and plainly correct, the oracle for the GPU path.
import { interpret, gradName, type Graph } from '../../ir/index.js';
import { adamwUpdate, decays, type StepHyper } from './adamw.js';
import type { Feeds, OptimizerState, StepResult, TrainBackend, Weights } from './backend.js';

export class InterpreterBackend implements TrainBackend {
  readonly name = 'interpreter';
  private m: Weights;
  private v: Weights;
  private shapes: Map<string, number[]>;

  constructor(
    private trainGraph: Graph, // forward + backward, dropout on
    private evalGraph: Graph, // forward only, dropout off
    private params: Weights,
    state?: OptimizerState,
  ) {
    this.shapes = new Map([...trainGraph.params].map(([k, id]) => [k, trainGraph.nodes[id]!.type.axes.map((a) => a.size as number)]));
    this.m = state?.m ?? new Map([...params].map(([k, w]) => [k, new Float32Array(w.length)]));
    this.v = state?.v ?? new Map([...params].map(([k, w]) => [k, new Float32Array(w.length)]));
  }

  async step(micro: Feeds[], hp: StepHyper): Promise<StepResult> {
    const grads = new Map<string, Float64Array>();
    let loss = 0;
    for (const f of micro) {
      const out = interpret(this.trainGraph, { inputs: f.inputs, params: Object.fromEntries(this.params), symbols: f.symbols });
      loss += out.get('loss')!.data[0]! / micro.length;
      for (const k of this.params.keys()) {
        const g = out.get(gradName(k))!.data;
        const acc = grads.get(k) ?? new Float64Array(g.length);
        for (let i = 0; i < g.length; i++) acc[i]! += g[i]! / micro.length;
        grads.set(k, acc);
      }
    }
    let sq = 0;
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
    const gradNorm = Math.sqrt(sq);
    const gradScale = hp.gradClip > 0 && gradNorm > hp.gradClip ? hp.gradClip / gradNorm : 1;
    for (const [k, p] of this.params) adamwUpdate(p, grads.get(k)!, this.m.get(k)!, this.v.get(k)!, hp, gradScale, decays(this.shapes.get(k)!));
    return { loss, gradNorm };
  }

  async loss(f: Feeds): Promise<number> {
    return interpret(this.evalGraph, { inputs: f.inputs, params: Object.fromEntries(this.params), symbols: f.symbols }).get('loss')!.data[0]!;
  }

  async weights(): Promise<Weights> {
    return new Map([...this.params].map(([k, w]) => [k, w.slice()]));
  }

  async optimizerState(): Promise<OptimizerState> {
    return { m: new Map([...this.m].map(([k, w]) => [k, w.slice()])), v: new Map([...this.v].map(([k, w]) => [k, w.slice()])) };
  }

  dispose(): void {}
}
