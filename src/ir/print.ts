// A readable dump, one op per line with its result shape and source label:
//   %12 = contract %3 %7 -> [B, L, D=768]  # embedded_BLD

import { formatAxes } from './builder.js';
import type { Graph, Node, Op, ParamInit } from './types.js';

function initText(init: ParamInit): string {
  return init.kind === 'normal' ? `normal(${init.std})` : init.kind;
}

function names(xs: readonly { name: string }[]): string {
  return `(${xs.map((x) => x.name).join(', ')})`;
}

/** The op's mnemonic and attributes, with operands written as %id. */
export function formatOp(op: Op, inputs: readonly number[]): string {
  const args = inputs.map((i) => `%${i}`).join(' ');
  switch (op.kind) {
    case 'input': return `input "${op.name}"`;
    case 'param': return `param "${op.name}" ~ ${initText(op.init)}`;
    case 'const': return `const ${op.value}`;
    case 'iota': return op.offset === 0 ? `iota ${op.axis.name}` : `iota ${op.axis.name} + ${op.offset}`;
    case 'random': return `random stream=${op.stream}`;
    case 'unary': return `${op.fn} ${args}`;
    case 'binary': return `${op.fn} ${args}`;
    case 'select': return `select ${args}`;
    case 'cast': return `cast.${op.to} ${args}`;
    case 'reduce': return `reduce.${op.fn} ${args} over ${op.axis}`;
    case 'contract': return `contract ${args}`;
    case 'gather': return `gather ${args} on ${op.axis}`;
    case 'scatterAdd': return `scatterAdd ${args} on ${op.axis.name}=${op.axis.size}`;
    case 'permute': return `permute ${args}`;
    case 'split': return `split ${args} ${op.axis} -> ${names(op.into)}`;
    case 'merge': return `merge ${args} (${op.axes.join(', ')}) -> ${op.into.name}`;
    case 'rename': return `rename ${args} ${op.from} -> ${op.to}`;
    case 'slice': return `slice ${args} ${op.axis}[${op.start} +${op.size}]`;
    case 'pad': return `pad ${args} ${op.axis}[${op.start} +n] of ${op.fullSize}`;
    case 'expand': return `expand ${args}`;
  }
}

export function formatNode(n: Node): string {
  const dtype = n.type.dtype === 'f32' ? '' : ` ${n.type.dtype}`;
  const label = n.label ? `  # ${n.label}` : '';
  return `%${n.id} = ${formatOp(n.op, n.inputs)} -> ${formatAxes(n.type.axes)}${dtype}${label}`;
}

/** The whole graph: nodes in order, then the outputs. */
export function printGraph(g: Graph): string {
  const lines = g.nodes.map(formatNode);
  for (const [name, id] of g.outputs) lines.push(`out ${name} = %${id}`);
  return lines.join('\n') + '\n';
}
