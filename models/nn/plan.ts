/**
 * Shape inference: from the input shape, the hidden layer specs and the task, the full layer list
 * (output layer included) with every size resolved — the NetworkIR layers without their weights.
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Activation, Layer, Task } from '../ir.ts';
import type { LayerSpec } from './options.ts';

type WeightField = 'kernel' | 'recurrentKernel' | 'bias';
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An IR layer without its weights. */
export type LayerPlan = DistributiveOmit<Layer, WeightField>;
export type WeightName = WeightField;

/** Output of the network: `outputs` units with the task's activation. */
export interface Head {
  units: number;
  activation: Extract<Activation, 'sigmoid' | 'softmax' | 'linear'>;
}

export function headFor(task: Task, nClasses: number): Head {
  switch (task) {
    case 'classification':
      // Binary: one sigmoid unit giving P(class 1), as the IR's exporters and Keras do.
      return nClasses === 2 ? { units: 1, activation: 'sigmoid' } : { units: nClasses, activation: 'softmax' };
    case 'regression':
      return { units: 1, activation: 'linear' };
    default: {
      const never: never = task;
      throw new EdgeloopError('BAD_ARGUMENT', `task must be 'classification' or 'regression', got ${String(never)}`);
    }
  }
}

export function planNetwork(inputShape: readonly number[], specs: readonly LayerSpec[], head: Head): LayerPlan[] {
  if (inputShape.length !== 1 && inputShape.length !== 2) {
    throw new EdgeloopError('BAD_ARGUMENT', `inputShape must be [features] or [steps, channels], got [${inputShape.join(', ')}]`);
  }
  let shape = [...inputShape];
  const plans: LayerPlan[] = [];
  const fail = (i: number, what: string): never => {
    throw new EdgeloopError('BAD_ARGUMENT', `layers[${i}] (${specs[i].kind}) ${what}, got input shape [${shape.join(', ')}]`);
  };
  specs.forEach((spec, i) => {
    switch (spec.kind) {
      case 'dense':
        if (shape.length !== 1) fail(i, "needs a flat input: add { kind: 'flatten' } before it");
        plans.push({ kind: 'dense', inputSize: shape[0], units: spec.units, activation: spec.activation ?? 'relu' });
        shape = [spec.units];
        return;
      case 'conv1d': {
        if (shape.length !== 2) fail(i, 'needs an input of shape [steps, channels]');
        const stride = spec.stride ?? 1;
        const padding = spec.padding ?? 'valid';
        const steps = outputSteps(shape[0], spec.kernelSize, stride, padding);
        if (steps < 1) fail(i, `kernelSize ${spec.kernelSize} is longer than the input`);
        plans.push({ kind: 'conv1d', inChannels: shape[1], filters: spec.filters, kernelSize: spec.kernelSize, stride, padding, activation: spec.activation ?? 'relu' });
        shape = [steps, spec.filters];
        return;
      }
      case 'maxpool1d':
      case 'avgpool1d': {
        if (shape.length !== 2) fail(i, 'needs an input of shape [steps, channels]');
        const stride = spec.stride ?? spec.poolSize; // Keras: strides default to pool_size
        const padding = spec.padding ?? 'valid';
        const steps = outputSteps(shape[0], spec.poolSize, stride, padding);
        if (steps < 1) fail(i, `poolSize ${spec.poolSize} is longer than the input`);
        plans.push({ kind: spec.kind, poolSize: spec.poolSize, stride, padding });
        shape = [steps, shape[1]];
        return;
      }
      case 'flatten':
        plans.push({ kind: 'flatten' });
        shape = [shape.reduce((a, b) => a * b, 1)];
        return;
      case 'dropout':
        plans.push({ kind: 'dropout', rate: spec.rate });
        return;
      case 'lstm':
      case 'gru': {
        if (shape.length !== 2) fail(i, 'needs an input of shape [steps, channels]');
        const returnSequences = spec.returnSequences ?? false;
        plans.push({ kind: spec.kind, inputSize: shape[1], units: spec.units, returnSequences });
        shape = returnSequences ? [shape[0], spec.units] : [spec.units];
        return;
      }
      default: {
        const never: never = spec;
        throw new EdgeloopError('BAD_ARGUMENT', `layers[${i}] has an unknown kind ${JSON.stringify(never)}`);
      }
    }
  });
  if (shape.length !== 1) {
    throw new EdgeloopError(
      'BAD_ARGUMENT',
      `layers must end with a flat output (add { kind: 'flatten' } or an lstm/gru without returnSequences), got shape [${shape.join(', ')}]`,
    );
  }
  plans.push({ kind: 'dense', inputSize: shape[0], units: head.units, activation: head.activation });
  return plans;
}

/** Keras/TensorFlow output length of a 1-D window sweep. */
export function outputSteps(steps: number, size: number, stride: number, padding: 'valid' | 'same'): number {
  return padding === 'same' ? Math.ceil(steps / stride) : Math.floor((steps - size) / stride) + 1;
}

/** Zeros TensorFlow pads before the first step for 'same' (the extra one, if odd, goes after). */
export function padBefore(steps: number, size: number, stride: number): number {
  const total = Math.max((Math.ceil(steps / stride) - 1) * stride + size - steps, 0);
  return Math.floor(total / 2);
}

/** Shapes of the trainable weights of a layer (empty for weightless layers). */
export function weightShapes(plan: LayerPlan): Partial<Record<WeightName, number[]>> {
  switch (plan.kind) {
    case 'dense':
      return { kernel: [plan.inputSize, plan.units], bias: [plan.units] };
    case 'conv1d':
      return { kernel: [plan.kernelSize, plan.inChannels, plan.filters], bias: [plan.filters] };
    case 'lstm':
      return { kernel: [plan.inputSize, 4 * plan.units], recurrentKernel: [plan.units, 4 * plan.units], bias: [4 * plan.units] };
    case 'gru':
      return { kernel: [plan.inputSize, 3 * plan.units], recurrentKernel: [plan.units, 3 * plan.units], bias: [2, 3 * plan.units] };
    case 'maxpool1d':
    case 'avgpool1d':
    case 'flatten':
    case 'dropout':
      return {};
    default: {
      const never: never = plan;
      throw new EdgeloopError('MODEL_UNSUPPORTED', `unknown layer kind ${JSON.stringify(never)}`);
    }
  }
}
