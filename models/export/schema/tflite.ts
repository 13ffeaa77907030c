/**
 * The parts of TensorFlow Lite's schema.fbs (tensorflow/compiler/mlir/lite/schema/schema.fbs)
 * that the writer needs: enum values and each table's field slot ids. Slot ids count fields in
 * declaration order; a union field takes two slots (its `_type` byte first, then the value).
 */

export const TFLITE_SCHEMA_VERSION = 3;
export const TFLITE_FILE_IDENTIFIER = 'TFL3';

export const TensorType = { FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT64: 4, BOOL: 6, INT16: 7, INT8: 9 } as const;
export type TensorTypeCode = (typeof TensorType)[keyof typeof TensorType];

export const BuiltinOperator = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONCATENATION: 2,
  CONV_2D: 3,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  LOGISTIC: 14,
  MAX_POOL_2D: 17,
  MUL: 18,
  RELU: 19,
  RELU6: 21,
  RESHAPE: 22,
  SOFTMAX: 25,
  TANH: 28,
  SUB: 41,
  SPLIT: 49,
  QUANTIZE: 114,
} as const;
export type BuiltinOperatorCode = (typeof BuiltinOperator)[keyof typeof BuiltinOperator];

/** Index in `union BuiltinOptions` (NONE = 0, then declaration order). */
export const BuiltinOptions = {
  NONE: 0,
  Conv2DOptions: 1,
  Pool2DOptions: 5,
  FullyConnectedOptions: 8,
  SoftmaxOptions: 9,
  ConcatenationOptions: 10,
  AddOptions: 11,
  ReshapeOptions: 17,
  MulOptions: 21,
  SubOptions: 28,
  SplitOptions: 35,
} as const;

export const Padding = { SAME: 0, VALID: 1 } as const;

export const ActivationFunctionType = { NONE: 0, RELU: 1, RELU_N1_TO_1: 2, RELU6: 3, TANH: 4 } as const;
export type FusedActivation = (typeof ActivationFunctionType)[keyof typeof ActivationFunctionType];

/** Field slots per table. */
export const Slot = {
  Model: { version: 0, operator_codes: 1, subgraphs: 2, description: 3, buffers: 4 },
  OperatorCode: { deprecated_builtin_code: 0, custom_code: 1, version: 2, builtin_code: 3 },
  SubGraph: { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4 },
  Tensor: { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4, is_variable: 5, sparsity: 6, shape_signature: 7 },
  QuantizationParameters: { min: 0, max: 1, scale: 2, zero_point: 3, details_type: 4, details: 5, quantized_dimension: 6 },
  Operator: { opcode_index: 0, inputs: 1, outputs: 2, builtin_options_type: 3, builtin_options: 4 },
  Buffer: { data: 0 },
  FullyConnectedOptions: { fused_activation_function: 0, weights_format: 1, keep_num_dims: 2, asymmetric_quantize_inputs: 3 },
  SoftmaxOptions: { beta: 0 },
  Conv2DOptions: { padding: 0, stride_w: 1, stride_h: 2, fused_activation_function: 3, dilation_w_factor: 4, dilation_h_factor: 5 },
  Pool2DOptions: { padding: 0, stride_w: 1, stride_h: 2, filter_width: 3, filter_height: 4, fused_activation_function: 5 },
  ReshapeOptions: { new_shape: 0 },
  AddOptions: { fused_activation_function: 0 },
  MulOptions: { fused_activation_function: 0 },
  SubOptions: { fused_activation_function: 0 },
  ConcatenationOptions: { axis: 0, fused_activation_function: 1 },
  SplitOptions: { num_splits: 0 },
} as const;

/** Number of fields to reserve per table (the highest slot we write + 1). */
export const FieldCount = {
  Model: 5,
  OperatorCode: 4,
  SubGraph: 5,
  Tensor: 8,
  QuantizationParameters: 7,
  Operator: 5,
  Buffer: 1,
  FullyConnectedOptions: 4,
  SoftmaxOptions: 1,
  Conv2DOptions: 6,
  Pool2DOptions: 6,
  ReshapeOptions: 1,
  AddOptions: 1,
  MulOptions: 1,
  SubOptions: 1,
  ConcatenationOptions: 2,
  SplitOptions: 1,
} as const;
