/**
 * A neural network (MLP, 1-D CNN, LSTM, GRU) with the vocabulary of the classical models:
 * fit / predict / predictProba / score / toJSON / fromJSON / toIR.
 *
 * Classification targets are class indices 0..k−1 (FeatureMatrix.y); binary problems use one
 * sigmoid output (P(class 1)), k > 2 a softmax. Regression has one linear output. Weights live in
 * tf.Variables owned by the instance; call dispose() when done with a model.
 */
import { argmax } from '../../src/vector.ts';
import { EdgeloopError } from '../../src/errors.ts';
import { silentLogger, type Logger } from '../../src/log.ts';
import { createRandom } from '../../src/random.ts';
import type { Layer, NetworkIR } from '../ir.ts';
import { networkFromJson, networkToJson, type NetworkIRJson } from './codec.ts';
import { packInputs, packTargets, type Inputs, type PackedInputs } from './data.ts';
import { forward, type LiveLayer } from './forward.ts';
import { initialWeights, type LayerWeights } from './init.ts';
import { resolveOptions, type NeuralNetInput, type NeuralNetOptions } from './options.ts';
import { headFor, planNetwork, weightShapes, type Head, type LayerPlan, type WeightName } from './plan.ts';
import { loadTf, type Tensor, type TfBackendName, type TfRuntime } from './tf.ts';
import { NEURAL_NET_TRAINERS, train, type EpochLog, type FitHistory, type NeuralNetTrainer, type TrainSet } from './train.ts';

export interface NeuralNetDeps {
  logger?: Logger;
  /** Clock for the reported training duration. */
  now?: () => number;
  /** Backend preference passed to loadTf (default: tensorflow, wasm, cpu). */
  backends?: readonly TfBackendName[];
  /**
   * Which trainer updates the weights (models/nn/train.ts, NeuralNetTrainer): 'auto' (default) trains
   * small dense-only Adam nets on typed arrays (dense-typed.ts), larger ones with the fused tfjs step
   * (dense-step.ts), anything else with tfjs autograd. The trained model is the same either way.
   */
  trainer?: NeuralNetTrainer;
}

export interface FitOptions {
  /** Validation set; overrides options.validationSplit. */
  validation?: { X: Inputs; y: readonly number[] };
  signal?: AbortSignal;
  onEpoch?: (log: EpochLog) => void;
}

export interface NeuralNetJson {
  format: 'edgeloop-nn';
  version: 1;
  options: NeuralNetOptions;
  network: NetworkIRJson;
}

interface Fitted {
  runtime: TfRuntime;
  layers: LiveLayer[];
  inputShape: number[];
  nClasses: number;
  head: Head;
}

const PREDICT_BATCH_ROWS = 4096;

export class NeuralNet {
  readonly options: NeuralNetOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly backends?: readonly TfBackendName[];
  private readonly trainer: NeuralNetTrainer;
  private state?: Fitted;

  /** Validates the options (BAD_ARGUMENT listing every problem); does no I/O. */
  constructor(options: NeuralNetInput, deps: NeuralNetDeps = {}) {
    this.options = resolveOptions(options);
    this.logger = (deps.logger ?? silentLogger).child('nn');
    this.now = deps.now ?? Date.now;
    this.backends = deps.backends;
    this.trainer = deps.trainer ?? 'auto';
    if (!NEURAL_NET_TRAINERS.includes(this.trainer)) {
      throw new EdgeloopError('BAD_ARGUMENT', `trainer must be one of ${NEURAL_NET_TRAINERS.join(', ')}, got ${JSON.stringify(this.trainer)}`);
    }
  }

  get fitted(): boolean {
    return this.state !== undefined;
  }

  /** The active tensorflow.js backend (after fit or fromJSON). */
  get backend(): TfBackendName | undefined {
    return this.state?.runtime.backend;
  }

  /** Train from scratch (a refit discards the previous weights). */
  async fit(X: Inputs, y: readonly number[], fitOptions: FitOptions = {}): Promise<FitHistory> {
    const o = this.options;
    const all = packInputs(X, 'X');
    const nClasses = o.task === 'classification' ? countClasses(y, o.classes) : 1;
    const targets = packTargets(y, all.n, o.task, 'y', o.task === 'classification' ? nClasses : undefined);
    let trainSet: TrainSet = { x: all, y: targets };
    let validation: TrainSet | undefined;
    if (fitOptions.validation !== undefined) {
      const vx = packInputs(fitOptions.validation.X, 'validation.X', all.sampleShape);
      validation = { x: vx, y: packTargets(fitOptions.validation.y, vx.n, o.task, 'validation.y', nClasses) };
    } else if (o.validationSplit > 0) {
      // Keras: the last rows, before any shuffling (time-ordered data keeps the future out of training).
      const nTrain = Math.floor(all.n * (1 - o.validationSplit));
      if (nTrain < 1 || nTrain >= all.n) {
        throw new EdgeloopError('BAD_ARGUMENT', `validationSplit ${o.validationSplit} leaves no training or no validation rows out of ${all.n}`);
      }
      trainSet = { x: sliceRows(all, 0, nTrain), y: targets.subarray(0, nTrain) };
      validation = { x: sliceRows(all, nTrain, all.n), y: targets.subarray(nTrain) };
    }

    const head = headFor(o.task, nClasses);
    const plans = planNetwork(all.sampleShape, o.layers, head);
    const runtime = await loadTf({ prefer: this.backends, logger: this.logger });
    const random = createRandom(o.seed);
    const layers = makeLiveLayers(runtime, plans.map((plan) => ({ plan, weights: initialWeights(plan, random) })));
    this.logger.debug(() => `fit ${trainSet.x.n} rows, ${plans.length} layers, backend ${runtime.backend}`);
    try {
      const history = await train(
        { tf: runtime.tf, layers, head, nClasses, options: o, random, now: this.now, signal: fitOptions.signal, onEpoch: fitOptions.onEpoch, trainer: this.trainer },
        trainSet,
        validation,
      );
      this.dispose();
      this.state = { runtime, layers, inputShape: all.sampleShape, nClasses, head };
      this.logger.info(`trained ${history.epochs.length} epochs in ${history.durationMs} ms`, { trainer: history.trainer, bestEpoch: history.bestEpoch, stoppedEarly: history.stoppedEarly });
      return history;
    } catch (err) {
      disposeLayers(layers);
      throw err;
    }
  }

  /** Class indices (classification) or values (regression). */
  predict(X: Inputs): number[] {
    const state = this.requireFitted('predict');
    const out = this.outputs(X);
    const k = state.head.units;
    const n = out.length / k;
    switch (state.head.activation) {
      case 'sigmoid':
        return Array.from(out, (p) => (p > 0.5 ? 1 : 0));
      case 'softmax':
        return Array.from({ length: n }, (_, i) => argmax(out.subarray(i * k, (i + 1) * k)));
      case 'linear':
        return Array.from(out);
      default: {
        const never: never = state.head.activation;
        throw new EdgeloopError('MODEL_UNSUPPORTED', `unknown output activation ${String(never)}`);
      }
    }
  }

  /** Class probabilities, one row per sample and one column per class (classification only). */
  predictProba(X: Inputs): number[][] {
    const state = this.requireFitted('predictProba');
    if (this.options.task !== 'classification') throw new EdgeloopError('BAD_ARGUMENT', "predictProba needs task 'classification', got 'regression'");
    const out = this.outputs(X);
    if (state.head.activation === 'sigmoid') return Array.from(out, (p) => [1 - p, p]);
    const k = state.head.units;
    return Array.from({ length: out.length / k }, (_, i) => Array.from(out.subarray(i * k, (i + 1) * k)));
  }

  /** Accuracy (classification) or R² (regression), as scikit-learn's score. */
  score(X: Inputs, y: readonly number[]): number {
    const state = this.requireFitted('score');
    const predicted = this.predict(X);
    const truth = packTargets(y, predicted.length, this.options.task, 'y', state.nClasses);
    if (this.options.task === 'classification') return predicted.filter((p, i) => p === truth[i]).length / predicted.length;
    const mean = truth.reduce((a, b) => a + b, 0) / truth.length;
    let ssRes = 0;
    let ssTot = 0;
    truth.forEach((t, i) => {
      ssRes += (t - predicted[i]) ** 2;
      ssTot += (t - mean) ** 2;
    });
    return ssTot === 0 ? (ssRes === 0 ? 1 : 0) : 1 - ssRes / ssTot;
  }

  /** The network in the shared IR, weights copied out in the documented (Keras) layouts. */
  toIR(): NetworkIR {
    const state = this.requireFitted('toIR');
    const layers = state.layers.map(({ plan, weights }): Layer => {
      const copy: Record<string, unknown> = { ...plan };
      for (const [name, tensor] of Object.entries(weights) as [WeightName, Tensor][]) copy[name] = Float32Array.from(tensor.dataSync());
      return copy as unknown as Layer;
    });
    return {
      kind: 'network',
      task: this.options.task,
      inputShape: [...state.inputShape],
      layers,
      ...(this.options.task === 'classification' ? { classes: this.options.classes ?? Array.from({ length: state.nClasses }, (_, i) => String(i)) } : {}),
    };
  }

  toJSON(): NeuralNetJson {
    return { format: 'edgeloop-nn', version: 1, options: this.options, network: networkToJson(this.toIR()) };
  }

  /** Rebuild a fitted model from toJSON() output; bad files fail with MODEL_CORRUPT. */
  static async fromJSON(json: unknown, deps: NeuralNetDeps = {}): Promise<NeuralNet> {
    if (json === null || typeof json !== 'object') throw new EdgeloopError('MODEL_CORRUPT', 'neural net JSON must be an object');
    const o = json as Partial<NeuralNetJson>;
    if (o.format !== 'edgeloop-nn' || o.version !== 1) {
      throw new EdgeloopError('MODEL_CORRUPT', `neural net JSON must have format 'edgeloop-nn' version 1, got ${JSON.stringify(o.format)} version ${JSON.stringify(o.version)}`);
    }
    let model: NeuralNet;
    try {
      model = new NeuralNet(o.options as NeuralNetOptions, deps);
    } catch (err) {
      throw new EdgeloopError('MODEL_CORRUPT', `neural net JSON has bad options: ${(err as Error).message}`, { cause: err });
    }
    const ir = networkFromJson(o.network);
    const last = ir.layers[ir.layers.length - 1];
    const nClasses = model.options.task !== 'classification' ? 1 : last.kind === 'dense' && last.activation === 'softmax' ? last.units : 2;
    const head = headFor(model.options.task, nClasses);
    if (last.kind !== 'dense' || last.units !== head.units || last.activation !== head.activation) {
      throw new EdgeloopError('MODEL_CORRUPT', `neural net JSON: the last layer must be a dense ${head.activation} layer of ${head.units} units`);
    }
    const runtime = await loadTf({ prefer: model.backends, logger: model.logger });
    const layers = makeLiveLayers(runtime, ir.layers.map((layer) => splitLayer(layer)));
    model.state = { runtime, layers, inputShape: ir.inputShape, nClasses, head };
    try {
      model.outputs([zeroSample(ir.inputShape)] as Inputs); // shapes that do not chain fail here, not at first use
    } catch (err) {
      model.dispose();
      throw new EdgeloopError('MODEL_CORRUPT', `neural net JSON: layers do not fit together: ${(err as Error).message}`, { cause: err });
    }
    return model;
  }

  /** Free the weights (tensor memory); the model is unfitted afterwards. */
  dispose(): void {
    if (this.state) disposeLayers(this.state.layers);
    this.state = undefined;
  }

  /** Output layer values (probabilities or regression values), row-major [n][units]. */
  private outputs(X: Inputs): Float32Array {
    const state = this.requireFitted('predict');
    const { tf } = state.runtime;
    const packed = packInputs(X, 'X', state.inputShape);
    const rowSize = packed.data.length / packed.n;
    const out = new Float32Array(packed.n * state.head.units);
    for (let from = 0; from < packed.n; from += PREDICT_BATCH_ROWS) {
      const to = Math.min(from + PREDICT_BATCH_ROWS, packed.n);
      const y = tf.tidy(() => forward(tf, state.layers, tf.tensor(packed.data.subarray(from * rowSize, to * rowSize), [to - from, ...state.inputShape]), { training: false }));
      out.set(y.dataSync(), from * state.head.units);
      y.dispose();
    }
    return out;
  }

  private requireFitted(method: string): Fitted {
    if (this.state === undefined) throw new EdgeloopError('BAD_ARGUMENT', `${method} needs a fitted model: call fit() or fromJSON() first`);
    return this.state;
  }
}

function countClasses(y: readonly number[], classes: string[] | undefined): number {
  if (classes !== undefined) return classes.length;
  let max = -1;
  for (const v of y) if (Number.isInteger(v) && v > max) max = v;
  if (max < 1) throw new EdgeloopError('BAD_ARGUMENT', `y must contain at least 2 classes (indices 0 and 1) for task 'classification', got max index ${max}`);
  return max + 1;
}

function sliceRows(set: PackedInputs, from: number, to: number): PackedInputs {
  const rowSize = set.data.length / set.n;
  return { n: to - from, sampleShape: set.sampleShape, data: set.data.subarray(from * rowSize, to * rowSize) };
}

function makeLiveLayers(runtime: TfRuntime, layers: { plan: LayerPlan; weights: LayerWeights }[]): LiveLayer[] {
  const { tf } = runtime;
  return layers.map(({ plan, weights }) => {
    const shapes = weightShapes(plan);
    const live: LiveLayer = { plan, weights: {} };
    for (const [name, values] of Object.entries(weights) as [WeightName, Float32Array][]) {
      // tidy frees the staging tensor; the variable keeps its own reference to the data.
      live.weights[name] = tf.tidy(() => tf.variable(tf.tensor(values, shapes[name]), true));
    }
    return live;
  });
}

function splitLayer(layer: Layer): { plan: LayerPlan; weights: LayerWeights } {
  const { kernel, recurrentKernel, bias, ...plan } = layer as Layer & LayerWeights;
  const weights: LayerWeights = {};
  if (kernel) weights.kernel = kernel;
  if (recurrentKernel) weights.recurrentKernel = recurrentKernel;
  if (bias) weights.bias = bias;
  return { plan: plan as LayerPlan, weights };
}

function disposeLayers(layers: LiveLayer[]): void {
  for (const layer of layers) for (const t of Object.values(layer.weights)) t.dispose();
}

function zeroSample(shape: number[]): number[] | number[][] {
  return shape.length === 1 ? new Array<number>(shape[0]).fill(0) : Array.from({ length: shape[0] }, () => new Array<number>(shape[1]).fill(0));
}

