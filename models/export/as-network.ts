/**
 * A linear model is one dense layer, so it rides the network exporters (every format and variant)
 * instead of having writers of its own. A binary logistic model with one score s becomes a
 * two-unit softmax over [0, s]: softmax([0, s]) = [1 - σ(s), σ(s)] exactly, which gives the
 * documented [N, 2] probability output without a Sub/Concat tail.
 */
import type { Activation, LinearIR, NetworkIR } from '../ir.ts';

export function linearAsNetwork(m: LinearIR): NetworkIR {
  const binary = m.link === 'logistic' && m.coef.length === 1;
  const rows = binary ? [new Array<number>(m.nFeatures).fill(0), m.coef[0]] : m.coef;
  const intercept = binary ? [0, m.intercept[0]] : m.intercept;
  const units = rows.length;
  const kernel = new Float32Array(m.nFeatures * units);
  for (let i = 0; i < m.nFeatures; i++) for (let u = 0; u < units; u++) kernel[i * units + u] = rows[u][i];
  const activation: Activation = binary ? 'softmax' : linkActivation(m.link);
  return {
    kind: 'network',
    task: m.task,
    inputShape: [m.nFeatures],
    layers: [{ kind: 'dense', inputSize: m.nFeatures, units, kernel, bias: Float32Array.from(intercept), activation }],
    ...(m.classes ? { classes: m.classes } : {}),
  };
}

function linkActivation(link: LinearIR['link']): Activation {
  switch (link) {
    case 'identity':
      return 'linear';
    case 'logistic':
      return 'sigmoid';
    case 'softmax':
      return 'softmax';
  }
}
