// The part of ONNX's schema (onnx/onnx.proto, IR version 9) that an exported model uses, parsed by
// protobufjs, and the encoder from plain objects to a .onnx file's bytes. Field numbers are
// onnx.proto's; the fields arch never writes are left out of the schema.
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto3";
package onnx;
message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5; FLOATS = 6; INTS = 7; STRINGS = 8; }
  string name = 1;
  AttributeType type = 20;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
}
message ValueInfoProto { string name = 1; TypeProto type = 2; string doc_string = 3; }
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  string domain = 7;
  repeated AttributeProto attribute = 5;
}
message StringStringEntryProto { string key = 1; string value = 2; }
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message ModelProto {
  int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  string producer_name = 2;
  string producer_version = 3;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}
message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}
message TensorProto {
  repeated int64 dims = 1;
  int32 data_type = 2;
  string name = 8;
  bytes raw_data = 9;
}
message TensorShapeProto {
  message Dimension {
    oneof value { int64 dim_value = 1; string dim_param = 2; }
  }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
}
`;

export const IR_VERSION = 9;
export const OPSET = 18;

/** TensorProto.DataType values. */
export const DTYPE = { float: 1, int64: 7, bool: 9 } as const;
export type OnnxDType = keyof typeof DTYPE;

export type AttrValue = number | number[] | string | { floats: number[] } | OnnxTensor;

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
}

export interface OnnxTensor {
  name: string;
  dtype: OnnxDType;
  dims: number[];
  data: Float32Array | BigInt64Array | Uint8Array;
}

export interface OnnxValue {
  name: string;
  dtype: OnnxDType;
  /** A number, or a symbolic dimension's name ('B', 'L'). */
  dims: (number | string)[];
}

export interface OnnxModel {
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  name: string;
  doc: string;
  metadata: Record<string, string>;
}

let root: protobuf.Root | undefined;
const types = () => (root ??= protobuf.parse(SCHEMA, { keepCase: true }).root);

/** An int attribute is written as INT, a list as INTS, a string as STRING. Floats say so. */
function attribute(name: string, v: AttrValue): Record<string, unknown> {
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: 2, i: v } : { name, type: 1, f: v };
  if (typeof v === 'string') return { name, type: 3, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: 7, ints: v };
  if ('floats' in v) return { name, type: 6, floats: v.floats };
  return { name, type: 4, t: tensor(v) };
}

function tensor(t: OnnxTensor): Record<string, unknown> {
  // raw_data is little-endian; typed arrays are in the platform's order, little-endian wherever
  // Node runs (x86-64, arm64).
  return { name: t.name, dims: t.dims, data_type: DTYPE[t.dtype], raw_data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
}

function valueInfo(v: OnnxValue): Record<string, unknown> {
  const dim = v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name: v.name, type: { tensor_type: { elem_type: DTYPE[v.dtype], shape: { dim } } } };
}

/** protobuf's limit on one message; larger models need ONNX's external data, which arch does not write. */
export const MAX_ONNX_BYTES = 2 ** 31 - 1;

/** The model's bytes in ONNX's protobuf encoding. */
export function encodeOnnx(m: OnnxModel, producerVersion: string): Uint8Array {
  const ModelProto = types().lookupType('onnx.ModelProto');
  const msg = ModelProto.fromObject({
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: OPSET }],
    producer_name: 'arch',
    producer_version: producerVersion,
    doc_string: m.doc,
    metadata_props: Object.entries(m.metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: m.name,
      node: m.nodes.map((n, i) => ({
        name: `${n.op}_${i}`,
        op_type: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: m.initializers.map(tensor),
      input: m.inputs.map(valueInfo),
      output: m.outputs.map(valueInfo),
    },
  });
  return ModelProto.encode(msg).finish();
}
