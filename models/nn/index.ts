/**
 * Public surface of the neural networks: the model, ready-made layer stacks, options and the
 * tensorflow.js runtime loader.
 */
export { NeuralNet, type FitOptions, type NeuralNetDeps, type NeuralNetJson } from './neural-net.ts';
export { cnn1d, mlp, recurrent } from './architectures.ts';
export {
  LEARNING_RATE_DEFAULTS,
  NEURAL_NET_DEFAULTS,
  type EarlyStopping,
  type HiddenActivation,
  type LayerSpec,
  type NeuralNetInput,
  type NeuralNetOptions,
  type OptimizerName,
} from './options.ts';
export { NEURAL_NET_TRAINERS, TYPED_ARRAY_MAX_MACS_PER_ROW, type EpochLog, type FitHistory, type NeuralNetTrainer } from './train.ts';
export type { Inputs } from './data.ts';
export { loadTf, type LoadTfOptions, type TfBackendName, type TfRuntime } from './tf.ts';
