/**
 * Architecture and training options of the neural networks, their defaults (one object) and the
 * one validation pass that lists every bad option at once.
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Task } from '../ir.ts';

/** Activations a hidden layer may use; the output layer's activation follows from the task. */
export type HiddenActivation = 'linear' | 'relu' | 'relu6' | 'tanh' | 'sigmoid';
export const HIDDEN_ACTIVATIONS: readonly HiddenActivation[] = ['linear', 'relu', 'relu6', 'tanh', 'sigmoid'];

export type Padding = 'valid' | 'same';

/** A hidden layer. The output layer (dense: sigmoid, softmax or linear) is appended by the model. */
export type LayerSpec =
  | { kind: 'dense'; units: number; activation?: HiddenActivation }
  | { kind: 'conv1d'; filters: number; kernelSize: number; stride?: number; padding?: Padding; activation?: HiddenActivation }
  | { kind: 'maxpool1d' | 'avgpool1d'; poolSize: number; stride?: number; padding?: Padding }
  | { kind: 'flatten' }
  | { kind: 'dropout'; rate: number }
  | { kind: 'lstm' | 'gru'; units: number; returnSequences?: boolean };

export type OptimizerName = 'sgd' | 'momentum' | 'adam' | 'rmsprop';
export const OPTIMIZERS: readonly OptimizerName[] = ['sgd', 'momentum', 'adam', 'rmsprop'];

export interface EarlyStopping {
  /** Epochs without improvement of the validation loss before training stops. */
  patience: number;
  /** An improvement smaller than this does not count. */
  minDelta: number;
}

export interface NeuralNetOptions {
  task: Task;
  /** Hidden layers; for an MLP e.g. `[{ kind: 'dense', units: 16 }]`. See architectures.ts. */
  layers: LayerSpec[];
  epochs: number;
  /** Rows per gradient step: a number (1 = plain SGD) or 'full' (full-batch gradient descent). */
  batchSize: number | 'full';
  optimizer: OptimizerName;
  /** Step size; when absent, LEARNING_RATE_DEFAULTS[optimizer]. */
  learningRate?: number;
  /** Momentum coefficient of the 'momentum' optimizer (rmsprop runs without momentum, as in Keras). */
  momentum: number;
  /** L1 and L2 penalties on kernels (dense, conv1d and the input kernels of lstm/gru), Keras style. */
  l1: number;
  l2: number;
  /** Fraction of the training rows (the last ones, unshuffled, as in Keras) held out for validation. */
  validationSplit: number;
  /** Stop when the validation loss stops improving and restore the best weights; null = off. */
  earlyStopping: EarlyStopping | null;
  /** Per-class loss weights for classification: 'none', 'balanced' (n / (k · count_c)) or one weight per class. */
  classWeight: 'none' | 'balanced' | number[];
  /** Shuffle the training rows each epoch (with the seeded PRNG). */
  shuffle: boolean;
  /** Seeds weight initialization, shuffling and dropout masks: same seed, same weights. */
  seed: number;
  /** Class names in output order; default the class indices as strings. */
  classes?: string[];
}

export type NeuralNetInput = Pick<NeuralNetOptions, 'task' | 'layers'> & Partial<Omit<NeuralNetOptions, 'task' | 'layers'>>;

export const LEARNING_RATE_DEFAULTS: Record<OptimizerName, number> = { sgd: 0.01, momentum: 0.01, adam: 0.001, rmsprop: 0.001 };

/** The defaults, documented once. */
export const NEURAL_NET_DEFAULTS: Omit<NeuralNetOptions, 'task' | 'layers'> = {
  epochs: 100,
  batchSize: 32,
  optimizer: 'adam',
  momentum: 0.9,
  l1: 0,
  l2: 0,
  validationSplit: 0,
  earlyStopping: null,
  classWeight: 'none',
  shuffle: true,
  seed: 0,
};

const MAX_EPOCHS = 1_000_000;
const MAX_UNITS = 65_536;

/** Fill defaults and validate; throws one BAD_ARGUMENT listing every problem. */
export function resolveOptions(input: NeuralNetInput): NeuralNetOptions {
  const o: NeuralNetOptions = { ...NEURAL_NET_DEFAULTS, ...stripUndefined(input) } as NeuralNetOptions;
  const problems: string[] = [];
  const intIn = (name: string, v: unknown, lo: number, hi: number): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) problems.push(`${name} must be an integer in [${lo}, ${hi}], got ${show(v)}`);
  };
  const numIn = (name: string, v: unknown, lo: number, hi: number, range: string): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) problems.push(`${name} must be a number in ${range}, got ${show(v)}`);
  };

  if (o.task !== 'classification' && o.task !== 'regression') problems.push(`task must be 'classification' or 'regression', got ${show(o.task)}`);
  if (!Array.isArray(o.layers)) problems.push(`layers must be an array of layer specs, got ${show(o.layers)}`);
  else o.layers.forEach((layer, i) => checkLayer(`layers[${i}]`, layer, problems, intIn, numIn));
  intIn('epochs', o.epochs, 1, MAX_EPOCHS);
  if (o.batchSize !== 'full') intIn('batchSize', o.batchSize, 1, 1_000_000);
  if (!OPTIMIZERS.includes(o.optimizer)) problems.push(`optimizer must be one of ${OPTIMIZERS.join(', ')}, got ${show(o.optimizer)}`);
  if (o.learningRate !== undefined && !(typeof o.learningRate === 'number' && o.learningRate > 0 && o.learningRate <= 10)) {
    problems.push(`learningRate must be a number in (0, 10], got ${show(o.learningRate)}`);
  }
  numIn('momentum', o.momentum, 0, 0.999999, '[0, 1)');
  numIn('l1', o.l1, 0, 1e3, '[0, 1000]');
  numIn('l2', o.l2, 0, 1e3, '[0, 1000]');
  numIn('validationSplit', o.validationSplit, 0, 0.9, '[0, 0.9]');
  if (o.earlyStopping !== null) {
    if (typeof o.earlyStopping !== 'object') problems.push(`earlyStopping must be null or { patience, minDelta }, got ${show(o.earlyStopping)}`);
    else {
      intIn('earlyStopping.patience', o.earlyStopping.patience, 0, MAX_EPOCHS);
      numIn('earlyStopping.minDelta', o.earlyStopping.minDelta ?? 0, 0, Infinity, '[0, ∞)');
    }
  }
  if (Array.isArray(o.classWeight)) {
    if (o.task !== 'classification') problems.push(`classWeight applies to task 'classification' only, got task ${show(o.task)}`);
    o.classWeight.forEach((w, i) => numIn(`classWeight[${i}]`, w, 0, Number.MAX_VALUE, '[0, ∞)'));
  } else if (o.classWeight !== 'none' && o.classWeight !== 'balanced') {
    problems.push(`classWeight must be 'none', 'balanced' or an array of per-class weights, got ${show(o.classWeight)}`);
  }
  if (typeof o.shuffle !== 'boolean') problems.push(`shuffle must be a boolean, got ${show(o.shuffle)}`);
  if (typeof o.seed !== 'number' || !Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) {
    problems.push(`seed must be an integer in [0, 4294967295], got ${show(o.seed)}`);
  }
  if (o.classes !== undefined) {
    if (o.task !== 'classification') problems.push(`classes applies to task 'classification' only, got task ${show(o.task)}`);
    else if (!Array.isArray(o.classes) || o.classes.length < 2 || new Set(o.classes).size !== o.classes.length) {
      problems.push(`classes must list at least 2 distinct names, got ${show(o.classes)}`);
    }
  }
  if (problems.length > 0) throw new EdgeloopError('BAD_ARGUMENT', `bad neural network options: ${problems.join('; ')}`);
  if (o.earlyStopping !== null) o.earlyStopping = { patience: o.earlyStopping.patience, minDelta: o.earlyStopping.minDelta ?? 0 };
  // Copies: a caller mutating its arrays later must not change a model's configuration.
  o.layers = o.layers.map((layer) => ({ ...layer }));
  if (Array.isArray(o.classWeight)) o.classWeight = [...o.classWeight];
  if (o.classes) o.classes = [...o.classes];
  return o;
}

function checkLayer(
  at: string,
  layer: LayerSpec,
  problems: string[],
  intIn: (name: string, v: unknown, lo: number, hi: number) => void,
  numIn: (name: string, v: unknown, lo: number, hi: number, range: string) => void,
): void {
  const activation = (a: unknown): void => {
    if (a !== undefined && !HIDDEN_ACTIVATIONS.includes(a as HiddenActivation)) {
      problems.push(`${at}.activation must be one of ${HIDDEN_ACTIVATIONS.join(', ')}, got ${show(a)}`);
    }
  };
  const padding = (p: unknown): void => {
    if (p !== undefined && p !== 'valid' && p !== 'same') problems.push(`${at}.padding must be 'valid' or 'same', got ${show(p)}`);
  };
  if (layer === null || typeof layer !== 'object') {
    problems.push(`${at} must be a layer spec object, got ${show(layer)}`);
    return;
  }
  const kind = layer.kind;
  switch (kind) {
    case 'dense':
      intIn(`${at}.units`, layer.units, 1, MAX_UNITS);
      activation(layer.activation);
      return;
    case 'conv1d':
      intIn(`${at}.filters`, layer.filters, 1, MAX_UNITS);
      intIn(`${at}.kernelSize`, layer.kernelSize, 1, 4096);
      if (layer.stride !== undefined) intIn(`${at}.stride`, layer.stride, 1, 4096);
      padding(layer.padding);
      activation(layer.activation);
      return;
    case 'maxpool1d':
    case 'avgpool1d':
      intIn(`${at}.poolSize`, layer.poolSize, 1, 4096);
      if (layer.stride !== undefined) intIn(`${at}.stride`, layer.stride, 1, 4096);
      padding(layer.padding);
      return;
    case 'flatten':
      return;
    case 'dropout':
      numIn(`${at}.rate`, layer.rate, 0, 0.999999, '[0, 1)');
      return;
    case 'lstm':
    case 'gru':
      intIn(`${at}.units`, layer.units, 1, MAX_UNITS);
      if (layer.returnSequences !== undefined && typeof layer.returnSequences !== 'boolean') {
        problems.push(`${at}.returnSequences must be a boolean, got ${show(layer.returnSequences)}`);
      }
      return;
    default: {
      const never: never = kind;
      problems.push(`${at}.kind must be one of dense, conv1d, maxpool1d, avgpool1d, flatten, dropout, lstm, gru, got ${show(never)}`);
    }
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function show(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
}
