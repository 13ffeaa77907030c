/**
 * What the dense-trainer tests (training-dense-step, training-dense-typed) share: seeded data, a fit
 * with a chosen trainer that returns the flat weights, the nets every trainer is compared on, and the
 * comparison itself (same epochs, best epoch, losses and weights to float32 rounding).
 */
import type { ExecutionContext } from 'ava';
import type { NetworkIR } from '../../models/ir.ts';
import { mlp } from '../../models/nn/architectures.ts';
import { NeuralNet } from '../../models/nn/neural-net.ts';
import type { NeuralNetInput } from '../../models/nn/options.ts';
import type { NeuralNetTrainer } from '../../models/nn/train.ts';
import { createRandom } from '../../src/random.ts';

/** n rows of d features in [-2, 2); the target a noisy linear score (cut into k classes unless regression). */
export function data(n: number, d: number, k: number, seed: number, regression = false): { X: number[][]; y: number[] } {
  const r = createRandom(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: d }, () => r.next() * 4 - 2);
    X.push(row);
    const s = row[0]! + 0.5 * row[1]! - 0.3 * row[2]! + 0.3 * (r.next() - 0.5);
    y.push(regression ? s : Math.min(k - 1, Math.max(0, Math.floor(((s + 2.5) / 5) * k))));
  }
  return { X, y };
}

export async function fitWith(trainer: NeuralNetTrainer, options: NeuralNetInput, X: number[][], y: number[], validation?: { X: number[][]; y: number[] }) {
  const net = new NeuralNet(options, { backends: ['wasm'], trainer });
  const history = await net.fit(X, y, validation ? { validation } : {});
  const ir = net.toIR() as NetworkIR;
  const weights = ir.layers.flatMap((l) => (l.kind === 'dense' ? [...l.kernel, ...l.bias] : []));
  return { net, history, weights };
}

export type DenseCase = [string, NeuralNetInput, { k: number; regression?: boolean; validation?: boolean }];

/** Every head, hidden activations, penalties, class weights, full batch and early stopping. */
export const DENSE_CASES: DenseCase[] = [
  ['binary (sigmoid head), relu, l2', { task: 'classification', layers: mlp([8]), epochs: 6, batchSize: 32, optimizer: 'adam', learningRate: 0.01, l2: 0.001, seed: 3 }, { k: 2 }],
  ['3 classes (softmax head), tanh + sigmoid, l1, balanced class weights', { task: 'classification', layers: mlp([8, 6], { activation: 'tanh' }), epochs: 5, batchSize: 50, optimizer: 'adam', l1: 0.001, classWeight: 'balanced', seed: 5 }, { k: 3 }],
  ['regression (linear head), relu, full batch', { task: 'regression', layers: mlp([6]), epochs: 8, batchSize: 'full', optimizer: 'adam', learningRate: 0.02, seed: 7 }, { k: 1, regression: true }],
  ['early stopping on validation restores the same best epoch', { task: 'classification', layers: mlp([8]), epochs: 12, batchSize: 16, optimizer: 'adam', learningRate: 0.05, earlyStopping: { patience: 2, minDelta: 0 }, seed: 11 }, { k: 2, validation: true }],
];

type Fit = Awaited<ReturnType<typeof fitWith>>;

/** The same epochs, best epoch and losses (1e-4 relative) and weights (2e-4); `label` prefixes the messages. */
export function assertSameTraining(t: ExecutionContext, label: string, fit: Fit, ref: Fit): void {
  t.is(fit.history.epochs.length, ref.history.epochs.length);
  t.is(fit.history.bestEpoch, ref.history.bestEpoch);
  fit.history.epochs.forEach((e, i) => {
    const a = ref.history.epochs[i]!;
    t.true(Math.abs(e.loss - a.loss) <= 1e-4 * Math.max(1, Math.abs(a.loss)), `${label}epoch ${e.epoch} loss ${e.loss} vs ${a.loss}`);
    if (a.valLoss !== undefined) t.true(Math.abs(e.valLoss! - a.valLoss) <= 1e-4 * Math.max(1, a.valLoss), `${label}epoch ${e.epoch} val loss`);
  });
  t.is(fit.weights.length, ref.weights.length);
  const worst = Math.max(...fit.weights.map((w, i) => Math.abs(w - ref.weights[i]!)));
  t.true(worst < 2e-4, `${label}largest weight difference ${worst}`);
}
