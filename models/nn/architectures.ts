/**
 * Ready-made hidden-layer stacks for the common shapes; the output layer is added by NeuralNet.
 */
import type { HiddenActivation, LayerSpec } from './options.ts';

/** Dense layers of the given widths, each optionally followed by dropout. */
export function mlp(hiddenUnits: readonly number[], options: { activation?: HiddenActivation; dropout?: number } = {}): LayerSpec[] {
  return hiddenUnits.flatMap((units): LayerSpec[] => [
    { kind: 'dense', units, activation: options.activation ?? 'relu' },
    ...(options.dropout ? [{ kind: 'dropout', rate: options.dropout } as const] : []),
  ]);
}

/** conv1d → max-pool blocks, then flatten and an optional dense layer. Input [steps, channels]. */
export function cnn1d(options: { filters: readonly number[]; kernelSize: number; poolSize?: number; dense?: number; dropout?: number }): LayerSpec[] {
  const layers: LayerSpec[] = [];
  for (const filters of options.filters) {
    layers.push({ kind: 'conv1d', filters, kernelSize: options.kernelSize, padding: 'same', activation: 'relu' });
    if (options.poolSize && options.poolSize > 1) layers.push({ kind: 'maxpool1d', poolSize: options.poolSize });
  }
  layers.push({ kind: 'flatten' });
  if (options.dropout) layers.push({ kind: 'dropout', rate: options.dropout });
  if (options.dense) layers.push({ kind: 'dense', units: options.dense, activation: 'relu' });
  return layers;
}

/** One LSTM or GRU layer over the window (last state only), then an optional dense layer. */
export function recurrent(cell: 'lstm' | 'gru', units: number, options: { dense?: number; dropout?: number } = {}): LayerSpec[] {
  const layers: LayerSpec[] = [{ kind: cell, units }];
  if (options.dropout) layers.push({ kind: 'dropout', rate: options.dropout });
  if (options.dense) layers.push({ kind: 'dense', units: options.dense, activation: 'relu' });
  return layers;
}
