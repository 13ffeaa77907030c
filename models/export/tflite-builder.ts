/**
 * A TFLite model assembler on the flatbuffers runtime: callers add constant and activation
 * tensors and operators in execution order; `finish` serializes a one-subgraph model with the
 * conventions every runtime accepts (TFL3 identifier, empty buffer 0, both opcode fields,
 * 16-byte-aligned buffer data).
 */
import * as flatbuffers from 'flatbuffers';
import {
  BuiltinOptions,
  FieldCount,
  Slot,
  TFLITE_FILE_IDENTIFIER,
  TFLITE_SCHEMA_VERSION,
  TensorType,
  type BuiltinOperatorCode,
  type TensorTypeCode,
} from './schema/tflite.ts';

export interface QuantSpec {
  scale: number[];
  zeroPoint: number[];
  /** Axis of per-channel scales. */
  quantizedDimension?: number;
}

interface TensorDef {
  name: string;
  shape: number[];
  type: TensorTypeCode;
  buffer: number;
  quant?: QuantSpec;
  shapeSignature?: number[];
}

/** A builtin-options table: its union index and a writer returning the table offset. */
export interface OptionsDef {
  type: (typeof BuiltinOptions)[keyof typeof BuiltinOptions];
  write(b: flatbuffers.Builder): flatbuffers.Offset;
}

interface OperatorDef {
  opcode: number;
  inputs: number[];
  outputs: number[];
  options?: OptionsDef;
}

export class TfliteBuilder {
  private readonly buffers: Uint8Array[] = [new Uint8Array(0)];
  private readonly tensors: TensorDef[] = [];
  private readonly operators: OperatorDef[] = [];
  private readonly opcodes: { code: BuiltinOperatorCode; version: number }[] = [];

  /** A non-constant tensor; returns its index. */
  tensor(name: string, shape: number[], type: TensorTypeCode = TensorType.FLOAT32, quant?: QuantSpec): number {
    this.tensors.push({ name, shape, type, buffer: 0, ...(quant ? { quant } : {}) });
    return this.tensors.length - 1;
  }

  /** A constant tensor backed by its own buffer. */
  constant(name: string, shape: number[], type: TensorTypeCode, data: ArrayBufferView, quant?: QuantSpec): number {
    this.buffers.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
    this.tensors.push({ name, shape, type, buffer: this.buffers.length - 1, ...(quant ? { quant } : {}) });
    return this.tensors.length - 1;
  }

  float(name: string, shape: number[], data: ArrayLike<number>): number {
    return this.constant(name, shape, TensorType.FLOAT32, Float32Array.from(data));
  }

  int32(name: string, data: number[]): number {
    return this.constant(name, [data.length], TensorType.INT32, Int32Array.from(data));
  }

  shapeOf(tensor: number): number[] {
    return this.tensors[tensor].shape.slice();
  }

  quantOf(tensor: number): QuantSpec | undefined {
    return this.tensors[tensor].quant;
  }

  typeOf(tensor: number): TensorTypeCode {
    return this.tensors[tensor].type;
  }

  /** Append an operator (execution order). `version` is the lowest op version that has the features used. */
  op(code: BuiltinOperatorCode, inputs: number[], outputs: number[], options?: OptionsDef, version = 1): void {
    let index = this.opcodes.findIndex((o) => o.code === code && o.version === version);
    if (index < 0) {
      this.opcodes.push({ code, version });
      index = this.opcodes.length - 1;
    }
    this.operators.push({ opcode: index, inputs, outputs, ...(options ? { options } : {}) });
  }

  finish(inputs: number[], outputs: number[], description: string): Uint8Array {
    const b = new flatbuffers.Builder(1024 + this.buffers.reduce((a, d) => a + d.length + 32, 0));
    const bufferOffsets = this.buffers.map((data) => {
      let dataOffset = 0;
      if (data.length > 0) {
        // force_align: 16 in the schema — some kernels read constants with aligned SIMD loads.
        b.prep(16, data.length);
        dataOffset = b.createByteVector(data);
      }
      b.startObject(FieldCount.Buffer);
      if (dataOffset) b.addFieldOffset(Slot.Buffer.data, dataOffset, 0);
      return b.endObject();
    });
    const tensorOffsets = this.tensors.map((t) => {
      const name = b.createString(t.name);
      const shape = int32Vector(b, t.shape);
      const sig = t.shapeSignature ? int32Vector(b, t.shapeSignature) : 0;
      const quant = t.quant ? quantization(b, t.quant) : 0;
      b.startObject(FieldCount.Tensor);
      b.addFieldOffset(Slot.Tensor.shape, shape, 0);
      b.addFieldInt8(Slot.Tensor.type, t.type, 0);
      b.addFieldInt32(Slot.Tensor.buffer, t.buffer, 0);
      b.addFieldOffset(Slot.Tensor.name, name, 0);
      if (quant) b.addFieldOffset(Slot.Tensor.quantization, quant, 0);
      if (sig) b.addFieldOffset(Slot.Tensor.shape_signature, sig, 0);
      return b.endObject();
    });
    const operatorOffsets = this.operators.map((o) => {
      const ins = int32Vector(b, o.inputs);
      const outs = int32Vector(b, o.outputs);
      const opts = o.options ? o.options.write(b) : 0;
      b.startObject(FieldCount.Operator);
      b.addFieldInt32(Slot.Operator.opcode_index, o.opcode, 0);
      b.addFieldOffset(Slot.Operator.inputs, ins, 0);
      b.addFieldOffset(Slot.Operator.outputs, outs, 0);
      if (o.options) {
        b.addFieldInt8(Slot.Operator.builtin_options_type, o.options.type, 0);
        b.addFieldOffset(Slot.Operator.builtin_options, opts, 0);
      }
      return b.endObject();
    });
    const subgraphName = b.createString('main');
    const tensorsVec = offsetVector(b, tensorOffsets);
    const inputsVec = int32Vector(b, inputs);
    const outputsVec = int32Vector(b, outputs);
    const operatorsVec = offsetVector(b, operatorOffsets);
    b.startObject(FieldCount.SubGraph);
    b.addFieldOffset(Slot.SubGraph.tensors, tensorsVec, 0);
    b.addFieldOffset(Slot.SubGraph.inputs, inputsVec, 0);
    b.addFieldOffset(Slot.SubGraph.outputs, outputsVec, 0);
    b.addFieldOffset(Slot.SubGraph.operators, operatorsVec, 0);
    b.addFieldOffset(Slot.SubGraph.name, subgraphName, 0);
    const subgraph = b.endObject();
    const opcodeOffsets = this.opcodes.map((o) => {
      b.startObject(FieldCount.OperatorCode);
      // Both fields: old runtimes read the byte, new ones the int32 (schema v3a).
      b.addFieldInt8(Slot.OperatorCode.deprecated_builtin_code, Math.min(o.code, 127), 0);
      b.addFieldInt32(Slot.OperatorCode.version, o.version, 1);
      b.addFieldInt32(Slot.OperatorCode.builtin_code, o.code, 0);
      return b.endObject();
    });
    const desc = b.createString(description);
    const opcodesVec = offsetVector(b, opcodeOffsets);
    const subgraphsVec = offsetVector(b, [subgraph]);
    const buffersVec = offsetVector(b, bufferOffsets);
    b.startObject(FieldCount.Model);
    b.addFieldInt32(Slot.Model.version, TFLITE_SCHEMA_VERSION, 0);
    b.addFieldOffset(Slot.Model.operator_codes, opcodesVec, 0);
    b.addFieldOffset(Slot.Model.subgraphs, subgraphsVec, 0);
    b.addFieldOffset(Slot.Model.description, desc, 0);
    b.addFieldOffset(Slot.Model.buffers, buffersVec, 0);
    const model = b.endObject();
    b.finish(model, TFLITE_FILE_IDENTIFIER);
    return b.asUint8Array().slice();
  }
}

function int32Vector(b: flatbuffers.Builder, values: number[]): flatbuffers.Offset {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]);
  return b.endVector();
}

function offsetVector(b: flatbuffers.Builder, offsets: flatbuffers.Offset[]): flatbuffers.Offset {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]);
  return b.endVector();
}

function quantization(b: flatbuffers.Builder, q: QuantSpec): flatbuffers.Offset {
  b.startVector(4, q.scale.length, 4);
  for (let i = q.scale.length - 1; i >= 0; i--) b.addFloat32(q.scale[i]);
  const scale = b.endVector();
  b.startVector(8, q.zeroPoint.length, 8);
  for (let i = q.zeroPoint.length - 1; i >= 0; i--) b.addInt64(BigInt(q.zeroPoint[i]));
  const zp = b.endVector();
  b.startObject(FieldCount.QuantizationParameters);
  b.addFieldOffset(Slot.QuantizationParameters.scale, scale, 0);
  b.addFieldOffset(Slot.QuantizationParameters.zero_point, zp, 0);
  b.addFieldInt32(Slot.QuantizationParameters.quantized_dimension, q.quantizedDimension ?? 0, 0);
  return b.endObject();
}

// ------------------------------------------------------------ option tables

export function fullyConnectedOptions(activation: number, keepNumDims = false): OptionsDef {
  return {
    type: BuiltinOptions.FullyConnectedOptions,
    write: (b) => {
      b.startObject(FieldCount.FullyConnectedOptions);
      b.addFieldInt8(Slot.FullyConnectedOptions.fused_activation_function, activation, 0);
      if (keepNumDims) b.addFieldInt8(Slot.FullyConnectedOptions.keep_num_dims, 1, 0);
      return b.endObject();
    },
  };
}

export function softmaxOptions(beta: number): OptionsDef {
  return {
    type: BuiltinOptions.SoftmaxOptions,
    write: (b) => {
      b.startObject(FieldCount.SoftmaxOptions);
      b.addFieldFloat32(Slot.SoftmaxOptions.beta, beta, 0);
      return b.endObject();
    },
  };
}

export function conv2dOptions(padding: number, strideW: number, strideH: number, activation: number): OptionsDef {
  return {
    type: BuiltinOptions.Conv2DOptions,
    write: (b) => {
      b.startObject(FieldCount.Conv2DOptions);
      b.addFieldInt8(Slot.Conv2DOptions.padding, padding, 0);
      b.addFieldInt32(Slot.Conv2DOptions.stride_w, strideW, 0);
      b.addFieldInt32(Slot.Conv2DOptions.stride_h, strideH, 0);
      b.addFieldInt8(Slot.Conv2DOptions.fused_activation_function, activation, 0);
      b.addFieldInt32(Slot.Conv2DOptions.dilation_w_factor, 1, 1);
      b.addFieldInt32(Slot.Conv2DOptions.dilation_h_factor, 1, 1);
      return b.endObject();
    },
  };
}

export function pool2dOptions(padding: number, strideW: number, filterW: number): OptionsDef {
  return {
    type: BuiltinOptions.Pool2DOptions,
    write: (b) => {
      b.startObject(FieldCount.Pool2DOptions);
      b.addFieldInt8(Slot.Pool2DOptions.padding, padding, 0);
      b.addFieldInt32(Slot.Pool2DOptions.stride_w, strideW, 0);
      b.addFieldInt32(Slot.Pool2DOptions.stride_h, 1, 0);
      b.addFieldInt32(Slot.Pool2DOptions.filter_width, filterW, 0);
      b.addFieldInt32(Slot.Pool2DOptions.filter_height, 1, 0);
      return b.endObject();
    },
  };
}

export function reshapeOptions(newShape: number[]): OptionsDef {
  return {
    type: BuiltinOptions.ReshapeOptions,
    write: (b) => {
      const v = int32Vector(b, newShape);
      b.startObject(FieldCount.ReshapeOptions);
      b.addFieldOffset(Slot.ReshapeOptions.new_shape, v, 0);
      return b.endObject();
    },
  };
}

function activationOnly(type: OptionsDef['type'], fields: number, activation: number): OptionsDef {
  return {
    type,
    write: (b) => {
      b.startObject(fields);
      b.addFieldInt8(0, activation, 0);
      return b.endObject();
    },
  };
}

export const addOptions = (activation = 0): OptionsDef => activationOnly(BuiltinOptions.AddOptions, FieldCount.AddOptions, activation);
export const mulOptions = (activation = 0): OptionsDef => activationOnly(BuiltinOptions.MulOptions, FieldCount.MulOptions, activation);
export const subOptions = (activation = 0): OptionsDef => activationOnly(BuiltinOptions.SubOptions, FieldCount.SubOptions, activation);

export function concatenationOptions(axis: number): OptionsDef {
  return {
    type: BuiltinOptions.ConcatenationOptions,
    write: (b) => {
      b.startObject(FieldCount.ConcatenationOptions);
      b.addFieldInt32(Slot.ConcatenationOptions.axis, axis, 0);
      return b.endObject();
    },
  };
}

export function splitOptions(numSplits: number): OptionsDef {
  return {
    type: BuiltinOptions.SplitOptions,
    write: (b) => {
      b.startObject(FieldCount.SplitOptions);
      b.addFieldInt32(Slot.SplitOptions.num_splits, numSplits, 0);
      return b.endObject();
    },
  };
}
