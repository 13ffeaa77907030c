/**
 * A small ONNX graph builder and the protobuf encoder behind it. Writers add named initializers
 * and nodes; `encodeModel` wraps them into a ModelProto of IR version 8 (the newest the Debian
 * onnx checker accepts) with opset 13 and, when used, ai.onnx.ml opset 3.
 */
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 13;
export const ONNX_ML_OPSET = 3;
export const ML_DOMAIN = 'ai.onnx.ml';

export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10 } as const;
export type OnnxDataType = (typeof DataType)[keyof typeof DataType];

const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

let cachedRoot: protobuf.Root | undefined;

/** The onnx.proto subset, parsed once. keepCase: without it protobufjs camel-cases and drops our fields. */
export function onnxRoot(): protobuf.Root {
  if (!cachedRoot) {
    const text = readFileSync(new URL('./schema/onnx.proto', import.meta.url), 'utf8');
    cachedRoot = protobuf.parse(text, { keepCase: true }).root;
  }
  return cachedRoot;
}

/** A plain number is an INT attribute; use `{ f }` for a FLOAT (0 and 1 are integral in JS). */
export type AttrValue = number | string | number[] | string[] | { f: number } | { floats: number[] } | { ints: number[] };

interface AttrProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}

interface TensorProtoObj {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

interface ValueInfoObj {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}

/** Dimension: a fixed size or a symbolic name (the batch, 'N'). */
export type Dim = number | string;

export class OnnxGraph {
  readonly nodes: { input: string[]; output: string[]; name: string; op_type: string; domain?: string; attribute: AttrProto[] }[] = [];
  readonly initializers: TensorProtoObj[] = [];
  readonly inputs: ValueInfoObj[] = [];
  readonly outputs: ValueInfoObj[] = [];
  usesMl = false;
  private counter = 0;
  private readonly names = new Set<string>();

  /** A fresh tensor name with a readable prefix. */
  name(prefix: string): string {
    let n = `${prefix}_${this.counter++}`;
    while (this.names.has(n)) n = `${prefix}_${this.counter++}`;
    this.names.add(n);
    return n;
  }

  addInput(name: string, dims: Dim[], type: OnnxDataType = DataType.FLOAT): void {
    this.names.add(name);
    this.inputs.push(valueInfo(name, dims, type));
  }

  addOutput(name: string, dims: Dim[], type: OnnxDataType = DataType.FLOAT): void {
    this.outputs.push(valueInfo(name, dims, type));
  }

  /** A constant tensor; returns its name. */
  constant(prefix: string, dims: number[], data: Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array | Uint16Array, type: OnnxDataType): string {
    const name = this.name(prefix);
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    this.initializers.push({ name, dims, data_type: type, raw_data: raw });
    return name;
  }

  float(prefix: string, dims: number[], data: ArrayLike<number>): string {
    return this.constant(prefix, dims, Float32Array.from(data), DataType.FLOAT);
  }

  int64(prefix: string, data: number[]): string {
    return this.constant(prefix, [data.length], BigInt64Array.from(data.map((v) => BigInt(v))), DataType.INT64);
  }

  /** Add a node; returns its output names (fresh unless given). */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, options: { outputs?: string[]; nOutputs?: number; domain?: string } = {}): string[] {
    const outputs = options.outputs ?? Array.from({ length: options.nOutputs ?? 1 }, () => this.name(op.toLowerCase()));
    if (options.domain === ML_DOMAIN) this.usesMl = true;
    this.nodes.push({
      input: inputs,
      output: outputs,
      name: this.name(`node_${op}`),
      op_type: op,
      ...(options.domain ? { domain: options.domain } : {}),
      attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
    });
    return outputs;
  }

  /** Single-output node shorthand. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, domain?: string): string {
    return this.node(op, inputs, attrs, domain ? { domain } : {})[0];
  }
}

function valueInfo(name: string, dims: Dim[], type: OnnxDataType): ValueInfoObj {
  return {
    name,
    type: { tensor_type: { elem_type: type, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  };
}

const utf8 = new TextEncoder();

function attr(name: string, v: AttrValue): AttrProto {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`internal: attribute ${name} must be an integer or { f }, got ${v}`);
    return { name, type: AttrType.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: utf8.encode(v) };
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') return { name, type: AttrType.STRINGS, strings: (v as string[]).map((s) => utf8.encode(s)) };
    return { name, type: AttrType.INTS, ints: v as number[] };
  }
  if ('f' in v) return { name, type: AttrType.FLOAT, f: v.f };
  if ('floats' in v) return { name, type: AttrType.FLOATS, floats: v.floats };
  return { name, type: AttrType.INTS, ints: v.ints };
}

export function encodeModel(graph: OnnxGraph, options: { graphName: string; docString?: string }): Uint8Array {
  const root = onnxRoot();
  const Model = root.lookupType('onnx.ModelProto');
  const opsets = [{ domain: '', version: ONNX_OPSET }];
  if (graph.usesMl) opsets.push({ domain: ML_DOMAIN, version: ONNX_ML_OPSET });
  const payload = {
    ir_version: ONNX_IR_VERSION,
    opset_import: opsets,
    producer_name: 'edgeloop',
    producer_version: '0.1.0',
    model_version: 1,
    ...(options.docString ? { doc_string: options.docString } : {}),
    graph: {
      name: options.graphName,
      node: graph.nodes,
      initializer: graph.initializers,
      input: graph.inputs,
      output: graph.outputs,
    },
  };
  const err = Model.verify(payload);
  if (err) throw new Error(`internal: ONNX model does not match onnx.proto: ${err}`);
  return Model.encode(Model.fromObject(payload)).finish();
}

/** Decode bytes as a ModelProto (used by tests and to reject corrupt files early). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const Model = onnxRoot().lookupType('onnx.ModelProto');
  return Model.toObject(Model.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}
