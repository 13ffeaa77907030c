/**
 * The training loop: seeded shuffling, mini-batches (full-batch and batch-1 SGD as special cases),
 * class-weighted losses with L1/L2 kernel penalties, and early stopping on the validation loss
 * with the best weights restored. A loop of our own instead of tf.LayersModel.fit because fit
 * shuffles with Math.random and its early-stopping callback cannot restore the best weights.
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Random } from '../../src/random.ts';
import { shuffleInPlace } from '../../src/random.ts';
import { takeRows, type PackedInputs } from './data.ts';
import { forward, type LiveLayer } from './forward.ts';
import { denseStepApplies, denseTrainer, type DenseTrainer } from './dense-step.ts';
import { typedDenseTrainer } from './dense-typed.ts';
import { LEARNING_RATE_DEFAULTS, type NeuralNetOptions } from './options.ts';
import type { Head } from './plan.ts';
import type { Optimizer, Tensor, Tf, Variable } from './tf.ts';

export interface TrainSet {
  x: PackedInputs;
  /** Class indices or regression targets. */
  y: Float32Array;
}

export interface EpochLog {
  epoch: number;
  /** Mean training loss of the epoch (class-weighted, penalties included), as the optimizer saw it. */
  loss: number;
  /** Unweighted validation data loss, when there is validation data. */
  valLoss?: number;
}

/**
 * How the weights are updated: `typed-array` (dense-typed.ts: plain loops, no tfjs ops), `tfjs-fused`
 * (dense-step.ts: hand-derived gradients, ~49 tfjs kernels a batch), `tfjs-autograd` (tfjs gradients
 * and tf.train optimizers: any layer, any optimizer). The first two need a stack of dense layers
 * (no dropout), hidden activations linear/relu/sigmoid/tanh, flat inputs and adam, and compute the
 * same math as autograd. `auto` picks typed-array for such nets when they are small (at most
 * TYPED_ARRAY_MAX_MACS_PER_ROW multiply-adds per row forward, where per-op dispatch dominates),
 * tfjs-fused for larger ones, autograd otherwise.
 */
export type NeuralNetTrainer = 'auto' | 'typed-array' | 'tfjs-fused' | 'tfjs-autograd';
export const NEURAL_NET_TRAINERS: readonly NeuralNetTrainer[] = ['auto', 'typed-array', 'tfjs-fused', 'tfjs-autograd'];
export const TYPED_ARRAY_MAX_MACS_PER_ROW = 16_384;

export interface FitHistory {
  epochs: EpochLog[];
  /** The trainer that ran (never 'auto'). */
  trainer: Exclude<NeuralNetTrainer, 'auto'>;
  /** Epoch (1-based) whose weights the model holds: the best one under early stopping, else the last. */
  bestEpoch: number;
  stoppedEarly: boolean;
  durationMs: number;
}

export interface TrainContext {
  tf: Tf;
  layers: LiveLayer[];
  head: Head;
  nClasses: number;
  options: NeuralNetOptions;
  random: Random;
  now: () => number;
  signal?: AbortSignal;
  onEpoch?: (log: EpochLog) => void;
  /** Which trainer updates the weights (default 'auto'). */
  trainer?: NeuralNetTrainer;
}

const EVAL_BATCH_ROWS = 4096;

export async function train(ctx: TrainContext, trainSet: TrainSet, validation: TrainSet | undefined): Promise<FitHistory> {
  const { tf, options } = ctx;
  const started = ctx.now();
  if (options.earlyStopping !== null && validation === undefined) {
    throw new EdgeloopError('BAD_ARGUMENT', 'earlyStopping needs validation data: pass fit(X, y, { validation }) or set validationSplit in (0, 0.9]');
  }
  const variables = ctx.layers.flatMap((l) => Object.values(l.weights)) as Variable[];
  const kernels = ctx.layers.flatMap((l) => (l.weights.kernel ? [l.weights.kernel] : []));
  const classWeights = resolveClassWeights(options, trainSet.y, ctx.nClasses);
  const n = trainSet.x.n;
  const rowSize = trainSet.x.data.length / n;
  const batch = options.batchSize === 'full' ? n : Math.min(options.batchSize, n);
  const trainer = chooseTrainer(ctx, trainSet.x.sampleShape.length === 1);
  const denseOptions = { learningRate: optimizerRate(options), l1: options.l1, l2: options.l2 };
  const fused: DenseTrainer | undefined = trainer === 'typed-array'
    ? typedDenseTrainer(tf, ctx.layers, ctx.head, { ...denseOptions, maxBatch: batch, epsilon: tf.backend().epsilon() })
    : trainer === 'tfjs-fused' ? denseTrainer(tf, ctx.layers, ctx.head, { ...denseOptions, inputSize: rowSize }) : undefined;
  const optimizer = fused ? undefined : makeOptimizer(tf, options);
  const order = Array.from({ length: n }, (_, i) => i);
  const nextSeed = (): number => ctx.random.int(2 ** 31);

  const history: EpochLog[] = [];
  let best = { loss: Infinity, epoch: 0, weights: [] as Float32Array[] };
  let wait = 0;
  let stoppedEarly = false;
  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      if (ctx.signal?.aborted) throw new EdgeloopError('ABORTED', `training aborted at epoch ${epoch}`, { cause: ctx.signal.reason });
      if (options.shuffle) shuffleInPlace(order, ctx.random);
      let lossSum = 0;
      for (let from = 0; from < n; from += batch) {
        const to = Math.min(from + batch, n);
        if (fused) {
          const yb = takeRows(trainSet.y, 1, order, from, to);
          fused.step(takeRows(trainSet.x.data, rowSize, order, from, to), targetData(ctx.head, yb), classWeights ? Float32Array.from(yb, (c) => classWeights[c]!) : undefined, to - from);
          continue;
        }
        const cost = tf.tidy(() => {
          const xb = tf.tensor(takeRows(trainSet.x.data, rowSize, order, from, to), [to - from, ...trainSet.x.sampleShape]);
          const yb = takeRows(trainSet.y, 1, order, from, to);
          const weights = classWeights ? tf.tensor1d(Array.from(yb, (c) => classWeights[c])) : undefined;
          const target = targetTensor(tf, ctx.head, yb);
          const result = optimizer!.minimize(
            () => {
              const logits = forward(tf, ctx.layers, xb, { training: true, nextSeed, logits: true });
              const perRow = rowLoss(tf, ctx.head, logits, target);
              const data = tf.mean(weights ? tf.mul(perRow, weights) : perRow);
              return tf.add(data, penalty(tf, kernels, options.l1, options.l2)) as ScalarTensor;
            },
            true,
            variables,
          );
          return result as Tensor;
        });
        lossSum += (cost.dataSync()[0] ?? NaN) * (to - from);
        cost.dispose();
      }
      if (fused) {
        lossSum = fused.takeLoss();
        // Validation, snapshots and the caller read the layer variables.
        if (validation || options.earlyStopping !== null || epoch === options.epochs) fused.sync();
      }
      const log: EpochLog = { epoch, loss: lossSum / n };
      if (!Number.isFinite(log.loss)) {
        throw new EdgeloopError('RUNTIME', `training diverged at epoch ${epoch} (loss ${log.loss}): lower learningRate (now ${optimizerRate(options)})`);
      }
      if (validation) log.valLoss = evaluateLoss(ctx, validation);
      history.push(log);
      ctx.onEpoch?.(log);

      if (options.earlyStopping !== null && log.valLoss !== undefined) {
        if (log.valLoss < best.loss - options.earlyStopping.minDelta) {
          best = { loss: log.valLoss, epoch, weights: variables.map((v) => (v.dataSync() as Float32Array).slice()) };
          wait = 0;
        } else if (++wait >= options.earlyStopping.patience) {
          stoppedEarly = true;
          break;
        }
      }
      // Let timers and I/O run between epochs: training inside the gateway must not starve it.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (options.earlyStopping !== null && best.epoch > 0) {
      variables.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(best.weights[i], v.shape))));
    }
  } finally {
    optimizer?.dispose();
    fused?.dispose();
  }
  return {
    epochs: history,
    trainer,
    bestEpoch: options.earlyStopping !== null && best.epoch > 0 ? best.epoch : history.length,
    stoppedEarly,
    durationMs: ctx.now() - started,
  };
}

type ScalarTensor = ReturnType<Tf['scalar']>;

function chooseTrainer(ctx: TrainContext, flatInput: boolean): Exclude<NeuralNetTrainer, 'auto'> {
  const choice = ctx.trainer ?? 'auto';
  if (!NEURAL_NET_TRAINERS.includes(choice)) {
    throw new EdgeloopError('BAD_ARGUMENT', `trainer must be one of ${NEURAL_NET_TRAINERS.join(', ')}, got ${JSON.stringify(choice)}`);
  }
  const dense = flatInput && denseStepApplies(ctx.layers, ctx.options.optimizer);
  if ((choice === 'typed-array' || choice === 'tfjs-fused') && !dense) {
    throw new EdgeloopError(
      'BAD_ARGUMENT',
      `trainer '${choice}' needs dense layers only (no dropout, conv1d or recurrent layers), hidden activations linear, relu, sigmoid or tanh, flat inputs and optimizer adam; use 'auto' or 'tfjs-autograd' for this net`,
    );
  }
  if (choice !== 'auto') return choice;
  if (!dense) return 'tfjs-autograd';
  const macsPerRow = ctx.layers.reduce((a, l) => a + (l.plan.kind === 'dense' ? l.plan.inputSize * l.plan.units : 0), 0);
  return macsPerRow <= TYPED_ARRAY_MAX_MACS_PER_ROW ? 'typed-array' : 'tfjs-fused';
}

/** Mean unweighted data loss over a set, in batches, dropout off. */
export function evaluateLoss(ctx: Pick<TrainContext, 'tf' | 'layers' | 'head'>, set: TrainSet): number {
  const { tf } = ctx;
  const n = set.x.n;
  const rowSize = set.x.data.length / n;
  let sum = 0;
  for (let from = 0; from < n; from += EVAL_BATCH_ROWS) {
    const to = Math.min(from + EVAL_BATCH_ROWS, n);
    const s = tf.tidy(() => {
      const xb = tf.tensor(set.x.data.subarray(from * rowSize, to * rowSize), [to - from, ...set.x.sampleShape]);
      const logits = forward(tf, ctx.layers, xb, { training: false, logits: true });
      return tf.sum(rowLoss(tf, ctx.head, logits, targetTensor(tf, ctx.head, set.y.subarray(from, to))));
    });
    sum += s.dataSync()[0];
    s.dispose();
  }
  return sum / n;
}

/** Targets as the dense step takes them: one-hot rows for softmax, else the values. */
function targetData(head: Head, y: Float32Array): Float32Array {
  if (head.activation !== 'softmax') return y;
  const oneHot = new Float32Array(y.length * head.units);
  y.forEach((c, i) => (oneHot[i * head.units + c] = 1));
  return oneHot;
}

function targetTensor(tf: Tf, head: Head, y: Float32Array): Tensor {
  if (head.activation !== 'softmax') return tf.tensor2d(y, [y.length, 1]);
  const oneHot = new Float32Array(y.length * head.units);
  y.forEach((c, i) => (oneHot[i * head.units + c] = 1));
  return tf.tensor2d(oneHot, [y.length, head.units]);
}

/** Per-row loss from logits: binary cross-entropy, categorical cross-entropy or squared error. */
function rowLoss(tf: Tf, head: Head, logits: Tensor, target: Tensor): Tensor {
  switch (head.activation) {
    case 'sigmoid':
      // max(z, 0) − z·y + log(1 + e^−|z|): never exponentiates a large positive number.
      return tf.reshape(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, target)), tf.softplus(tf.neg(tf.abs(logits)))), [-1]);
    case 'softmax': {
      const shifted = tf.sub(logits, tf.max(logits, 1, true));
      const logProb = tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), 1, true)));
      return tf.neg(tf.sum(tf.mul(target, logProb), 1));
    }
    case 'linear':
      return tf.reshape(tf.squaredDifference(logits, target), [-1]);
    default: {
      const never: never = head.activation;
      throw new EdgeloopError('MODEL_UNSUPPORTED', `unknown output activation ${String(never)}`);
    }
  }
}

function penalty(tf: Tf, kernels: Tensor[], l1: number, l2: number): Tensor {
  let total: Tensor = tf.scalar(0);
  for (const k of kernels) {
    if (l1 > 0) total = tf.add(total, tf.mul(l1, tf.sum(tf.abs(k))));
    if (l2 > 0) total = tf.add(total, tf.mul(l2, tf.sum(tf.square(k))));
  }
  return total;
}

function resolveClassWeights(options: NeuralNetOptions, y: Float32Array, nClasses: number): number[] | undefined {
  const cw = options.classWeight;
  if (options.task !== 'classification' || cw === 'none') return undefined;
  if (Array.isArray(cw)) {
    if (cw.length !== nClasses) {
      throw new EdgeloopError('BAD_ARGUMENT', `classWeight must have one weight per class (${nClasses}), got ${cw.length}`);
    }
    return cw;
  }
  // 'balanced' (scikit-learn): n / (k · count_c); an absent class never occurs, its weight is moot.
  const counts = new Array<number>(nClasses).fill(0);
  y.forEach((c) => counts[c]++);
  return counts.map((c) => (c === 0 ? 0 : y.length / (nClasses * c)));
}

function optimizerRate(options: NeuralNetOptions): number {
  return options.learningRate ?? LEARNING_RATE_DEFAULTS[options.optimizer];
}

function makeOptimizer(tf: Tf, options: NeuralNetOptions): Optimizer {
  const rate = optimizerRate(options);
  switch (options.optimizer) {
    case 'sgd':
      return tf.train.sgd(rate);
    case 'momentum':
      return tf.train.momentum(rate, options.momentum);
    case 'adam':
      return tf.train.adam(rate);
    case 'rmsprop':
      return tf.train.rmsprop(rate, 0.9); // Keras: rho 0.9, no momentum
    default: {
      const never: never = options.optimizer;
      throw new EdgeloopError('BAD_ARGUMENT', `optimizer must be one of sgd, momentum, adam, rmsprop, got ${String(never)}`);
    }
  }
}
