/**
 * The neutral model description shared by trainers (models/), exporters (TFLite, ONNX) and the
 * reference forward pass. Trainers produce it with `toIR()`; exporters consume it. Weights are
 * float32 as the runtimes use them. Layouts are stated per field; all arrays are row-major.
 */

export type Activation = 'linear' | 'relu' | 'relu6' | 'tanh' | 'sigmoid' | 'softmax';

export type Layer =
  /** y = act(x · kernel + bias); kernel is [inputSize][units]. */
  | { kind: 'dense'; inputSize: number; units: number; kernel: Float32Array; bias: Float32Array; activation: Activation }
  /** Input [steps][inChannels]; kernel is [kernelSize][inChannels][filters] (Keras layout). */
  | {
      kind: 'conv1d';
      inChannels: number;
      filters: number;
      kernelSize: number;
      stride: number;
      padding: 'valid' | 'same';
      kernel: Float32Array;
      bias: Float32Array;
      activation: Activation;
    }
  | { kind: 'maxpool1d' | 'avgpool1d'; poolSize: number; stride: number; padding: 'valid' | 'same' }
  | { kind: 'flatten' }
  | { kind: 'dropout'; rate: number } // identity at inference; kept so layer indices match the trainer
  /**
   * Keras-layout LSTM: kernel [inputSize][4*units], recurrentKernel [units][4*units],
   * bias [4*units]; gate order i, f, c, o; activation tanh, recurrent activation sigmoid.
   */
  | {
      kind: 'lstm';
      inputSize: number;
      units: number;
      kernel: Float32Array;
      recurrentKernel: Float32Array;
      bias: Float32Array;
      returnSequences: boolean;
    }
  /**
   * Keras-layout GRU (reset_after = true): kernel [inputSize][3*units], recurrentKernel [units][3*units],
   * bias [2][3*units] (input bias then recurrent bias); gate order z, r, h.
   */
  | {
      kind: 'gru';
      inputSize: number;
      units: number;
      kernel: Float32Array;
      recurrentKernel: Float32Array;
      bias: Float32Array;
      returnSequences: boolean;
    };

export type Task = 'classification' | 'regression';

/** A feed-forward or recurrent network. Input shape excludes the batch dimension. */
export interface NetworkIR {
  kind: 'network';
  task: Task;
  inputShape: number[];
  layers: Layer[];
  /** Class labels in output order (classification only). */
  classes?: string[];
}

/**
 * Linear models: scores = X · coefᵀ + intercept, coef is [outputs][features].
 * link: 'identity' (regression), 'logistic' (binary: one output, P(class 1) = sigmoid(score)),
 * 'softmax' (multinomial). LDA and linear SVM reduce to this form.
 */
export interface LinearIR {
  kind: 'linear';
  task: Task;
  nFeatures: number;
  coef: number[][];
  intercept: number[];
  link: 'identity' | 'logistic' | 'softmax';
  classes?: string[];
}

/** One binary tree in array form. Leaves have feature = -1; value is per output (class probs or regression value). */
export interface TreeIR {
  feature: number[];
  threshold: number[];
  /** Go left when x[feature] <= threshold. */
  left: number[];
  right: number[];
  value: number[][];
}

/**
 * Forests and boosted trees. 'average': output = mean of tree values (random forest, probabilities).
 * 'sum': output = base + sum of tree values, then link (gradient boosting, raw scores).
 */
export interface TreeEnsembleIR {
  kind: 'tree-ensemble';
  task: Task;
  nFeatures: number;
  trees: TreeIR[];
  aggregate: 'average' | 'sum';
  base: number[];
  link: 'identity' | 'logistic' | 'softmax';
  classes?: string[];
}

export type ModelBodyIR = NetworkIR | LinearIR | TreeEnsembleIR;

/** A model plus the preprocessing that can be folded into the graph: x' = (x - offset) * scale. */
export interface ModelIR {
  preprocess?: { offset: number[]; scale: number[] };
  body: ModelBodyIR;
}
