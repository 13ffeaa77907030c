#!/usr/bin/python3
"""A small real ONNX model for the device agent and model-transfer tests, built with the onnx
reference library (independent of edgeloop's own ONNX writer), with expected outputs from numpy.

Run: /usr/bin/python3 scripts/golden/device_model.py
  → test/fixtures/device-mlp.onnx   4 inputs → Gemm(64) → Relu → Gemm(2) → Softmax ("probabilities")
  → test/fixtures/device-mlp.json   smoke-test inputs and the numpy float32 forward pass
The hidden width is 64 so the file (~2.5 KB) splits into a few dozen small transfer chunks.
"""
import json
import os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

HERE = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures')
rng = np.random.default_rng(20240601)
n_in, n_hidden, n_out = 4, 64, 2
w1 = rng.normal(0, 0.5, (n_in, n_hidden)).astype(np.float32)
b1 = rng.normal(0, 0.1, n_hidden).astype(np.float32)
w2 = rng.normal(0, 0.5, (n_hidden, n_out)).astype(np.float32)
b2 = rng.normal(0, 0.1, n_out).astype(np.float32)

graph = helper.make_graph(
    [
        helper.make_node('Gemm', ['input', 'w1', 'b1'], ['h'], name='dense1'),
        helper.make_node('Relu', ['h'], ['hr'], name='relu1'),
        helper.make_node('Gemm', ['hr', 'w2', 'b2'], ['logits'], name='dense2'),
        helper.make_node('Softmax', ['logits'], ['probabilities'], name='softmax', axis=1),
    ],
    'device_mlp',
    [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['N', n_in])],
    [helper.make_tensor_value_info('probabilities', TensorProto.FLOAT, ['N', n_out])],
    initializer=[numpy_helper.from_array(w1, 'w1'), numpy_helper.from_array(b1, 'b1'),
                 numpy_helper.from_array(w2, 'w2'), numpy_helper.from_array(b2, 'b2')],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='edgeloop-golden')
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(HERE, 'device-mlp.onnx'))

inputs = rng.normal(0, 1, (5, n_in)).astype(np.float32)
h = np.maximum(inputs @ w1 + b1, 0)
logits = h @ w2 + b2
e = np.exp(logits - logits.max(axis=1, keepdims=True))
probs = e / e.sum(axis=1, keepdims=True)
with open(os.path.join(HERE, 'device-mlp.json'), 'w') as f:
    json.dump({'inputs': inputs.astype(float).tolist(), 'expected': probs.astype(float).tolist(),
               'inputShape': [n_in], 'outputShape': [n_out]}, f, indent=1)
    f.write('\n')
