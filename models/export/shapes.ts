/**
 * Shape inference over the IR's layers (per sample, without the batch dimension), shared by the
 * reference forward pass and both writers so they agree on every intermediate shape.
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Layer, NetworkIR } from '../ir.ts';

/** TF 'same' padding: output ceil(n / stride), padding split with the extra element after. */
export function samePadBefore(steps: number, window: number, stride: number): number {
  const out = Math.ceil(steps / stride);
  const total = Math.max((out - 1) * stride + window - steps, 0);
  return Math.floor(total / 2);
}

export function samePadTotal(steps: number, window: number, stride: number): number {
  const out = Math.ceil(steps / stride);
  return Math.max((out - 1) * stride + window - steps, 0);
}

function windowSteps(steps: number, window: number, stride: number, padding: 'valid' | 'same'): number {
  return padding === 'same' ? Math.ceil(steps / stride) : Math.floor((steps - window) / stride) + 1;
}

export function layerOutputShape(layer: Layer, shape: number[]): number[] {
  const last = shape[shape.length - 1];
  switch (layer.kind) {
    case 'dense':
      if (last !== layer.inputSize) throw shapeError(layer.kind, `last axis ${layer.inputSize}`, shape);
      return [...shape.slice(0, -1), layer.units];
    case 'conv1d': {
      if (shape.length !== 2 || shape[1] !== layer.inChannels) throw shapeError(layer.kind, `[steps, ${layer.inChannels}]`, shape);
      const steps = windowSteps(shape[0], layer.kernelSize, layer.stride, layer.padding);
      if (steps < 1) throw shapeError(layer.kind, `at least ${layer.kernelSize} steps`, shape);
      return [steps, layer.filters];
    }
    case 'maxpool1d':
    case 'avgpool1d': {
      if (shape.length !== 2) throw shapeError(layer.kind, '[steps, channels]', shape);
      const steps = windowSteps(shape[0], layer.poolSize, layer.stride, layer.padding);
      if (steps < 1) throw shapeError(layer.kind, `at least ${layer.poolSize} steps`, shape);
      return [steps, shape[1]];
    }
    case 'flatten':
      return [shape.reduce((a, d) => a * d, 1)];
    case 'dropout':
      return shape;
    case 'lstm':
    case 'gru':
      if (shape.length !== 2 || shape[1] !== layer.inputSize) throw shapeError(layer.kind, `[steps, ${layer.inputSize}]`, shape);
      return layer.returnSequences ? [shape[0], layer.units] : [layer.units];
  }
}

/** Shapes of every layer's input followed by the final output: length layers + 1. */
export function networkShapes(net: NetworkIR): number[][] {
  const shapes = [net.inputShape.slice()];
  for (const layer of net.layers) shapes.push(layerOutputShape(layer, shapes[shapes.length - 1]));
  return shapes;
}

export function networkOutputShape(net: NetworkIR): number[] {
  const shapes = networkShapes(net);
  return shapes[shapes.length - 1];
}

function shapeError(kind: string, expected: string, got: number[]): EdgeloopError {
  return new EdgeloopError('MODEL_SIGNATURE', `${kind} layer input must be ${expected}, got [${got.join(', ')}]`);
}
