/**
 * Seeded test models for the export and runner tests: every layer kind and every model kind,
 * with weights from the project PRNG so a failure reproduces exactly.
 */
import type { Activation, Layer, LinearIR, ModelIR, NetworkIR, TreeEnsembleIR, TreeIR } from '../models/ir.ts';
import { createRandom, type Random } from '../src/random.ts';

export function uniform(random: Random, n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => (random.next() * 2 - 1) * scale);
}

export function dense(random: Random, inputSize: number, units: number, activation: Activation): Layer {
  const scale = Math.sqrt(6 / (inputSize + units));
  return { kind: 'dense', inputSize, units, kernel: uniform(random, inputSize * units, scale), bias: uniform(random, units, 0.2), activation };
}

export function mlp(seed: number, sizes: number[], activations: Activation[], task: 'classification' | 'regression' = 'classification'): NetworkIR {
  const random = createRandom(seed);
  const layers: Layer[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) layers.push(dense(random, sizes[i], sizes[i + 1], activations[i]));
  return { kind: 'network', task, inputShape: [sizes[0]], layers };
}

export function convNet(seed: number): NetworkIR {
  const random = createRandom(seed);
  const steps = 16;
  const ch = 3;
  return {
    kind: 'network',
    task: 'classification',
    inputShape: [steps, ch],
    layers: [
      { kind: 'conv1d', inChannels: ch, filters: 5, kernelSize: 3, stride: 1, padding: 'same', kernel: uniform(random, 3 * ch * 5, 0.5), bias: uniform(random, 5, 0.1), activation: 'relu' },
      { kind: 'maxpool1d', poolSize: 2, stride: 2, padding: 'valid' },
      { kind: 'conv1d', inChannels: 5, filters: 4, kernelSize: 3, stride: 2, padding: 'valid', kernel: uniform(random, 3 * 5 * 4, 0.5), bias: uniform(random, 4, 0.1), activation: 'tanh' },
      { kind: 'avgpool1d', poolSize: 2, stride: 1, padding: 'same' },
      { kind: 'flatten' },
      { kind: 'dropout', rate: 0.2 },
      dense(random, 3 * 4, 3, 'softmax'),
    ],
  };
}

export function recurrentNet(seed: number, kind: 'lstm' | 'gru', returnSequences: boolean): NetworkIR {
  const random = createRandom(seed);
  const steps = 6;
  const inputSize = 3;
  const units = 4;
  const gates = kind === 'lstm' ? 4 : 3;
  const cell: Layer =
    kind === 'lstm'
      ? { kind, inputSize, units, kernel: uniform(random, inputSize * gates * units, 0.6), recurrentKernel: uniform(random, units * gates * units, 0.6), bias: uniform(random, gates * units, 0.3), returnSequences }
      : { kind, inputSize, units, kernel: uniform(random, inputSize * gates * units, 0.6), recurrentKernel: uniform(random, units * gates * units, 0.6), bias: uniform(random, 2 * gates * units, 0.3), returnSequences };
  const layers: Layer[] = [cell];
  if (returnSequences) layers.push({ kind: 'flatten' }, dense(random, steps * units, 2, 'softmax'));
  else layers.push(dense(random, units, 2, 'softmax'));
  return { kind: 'network', task: 'classification', inputShape: [steps, inputSize], layers };
}

export function linearModel(seed: number, nFeatures: number, outputs: number, link: LinearIR['link']): LinearIR {
  const random = createRandom(seed);
  return {
    kind: 'linear',
    task: link === 'identity' ? 'regression' : 'classification',
    nFeatures,
    coef: Array.from({ length: outputs }, () => Array.from(uniform(random, nFeatures, 1))),
    intercept: Array.from(uniform(random, outputs, 0.5)),
    link,
  };
}

/** A random full binary tree of `depth` over `nFeatures`, thresholds in [-1, 1]. */
export function randomTree(random: Random, nFeatures: number, depth: number, width: number): TreeIR {
  const t: TreeIR = { feature: [], threshold: [], left: [], right: [], value: [] };
  const grow = (d: number): number => {
    const id = t.feature.length;
    t.feature.push(-1);
    t.threshold.push(0);
    t.left.push(-1);
    t.right.push(-1);
    t.value.push([]);
    if (d === depth) {
      t.value[id] = Array.from({ length: width }, () => random.next());
    } else {
      t.feature[id] = random.int(nFeatures);
      t.threshold[id] = random.next() * 2 - 1;
      t.left[id] = grow(d + 1);
      t.right[id] = grow(d + 1);
    }
    return id;
  };
  grow(0);
  return t;
}

export function treeModel(seed: number, opts: { nFeatures: number; trees: number; depth: number; width: number; aggregate: 'average' | 'sum'; link: TreeEnsembleIR['link'] }): TreeEnsembleIR {
  const random = createRandom(seed);
  return {
    kind: 'tree-ensemble',
    task: opts.link === 'identity' ? 'regression' : 'classification',
    nFeatures: opts.nFeatures,
    trees: Array.from({ length: opts.trees }, () => randomTree(random, opts.nFeatures, opts.depth, opts.width)),
    aggregate: opts.aggregate,
    base: Array.from({ length: opts.width }, () => random.next() - 0.5),
    link: opts.link,
  };
}

/** Inputs uniform in [-scale, scale]. */
export function inputs(seed: number, n: number, scale = 2): Float32Array {
  return uniform(createRandom(seed), n, scale);
}

/** max |a - b| / max(1, |b|): relative error with an absolute floor near zero. */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return worst;
}

export function withScaler(body: ModelIR['body'], seed: number, n: number): ModelIR {
  const random = createRandom(seed);
  return {
    preprocess: { offset: Array.from({ length: n }, () => random.next() * 4 - 2), scale: Array.from({ length: n }, () => 0.5 + random.next()) },
    body,
  };
}
