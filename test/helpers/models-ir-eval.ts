/**
 * A small independent evaluator of LinearIR / TreeEnsembleIR (from the documented semantics in
 * models/ir.ts), used to check that toIR() reproduces the trained model's outputs.
 * Returns class probabilities (classification) or the value (regression) per row.
 */
import type { LinearIR, ModelIR, TreeEnsembleIR } from '../../models/ir.ts';

function link(kind: 'identity' | 'logistic' | 'softmax', v: number[]): number[] {
  if (kind === 'identity') return v;
  if (kind === 'logistic') { const p = 1 / (1 + Math.exp(-v[0])); return [1 - p, p]; }
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

function linear(body: LinearIR, x: number[]): number[] {
  return link(body.link, body.coef.map((c, k) => c.reduce((s, w, j) => s + w * x[j], body.intercept[k])));
}

function trees(body: TreeEnsembleIR, x: number[]): number[] {
  const outputs = body.trees[0].value[0].length;
  const acc = new Array<number>(outputs).fill(0);
  for (const t of body.trees) {
    let n = 0;
    while (t.feature[n] !== -1) n = x[t.feature[n]] <= t.threshold[n] ? t.left[n] : t.right[n];
    t.value[n].forEach((v, k) => { acc[k] += v; });
  }
  const raw = body.aggregate === 'average' ? acc.map((v) => v / body.trees.length) : acc.map((v, k) => v + body.base[k]);
  return link(body.link, raw);
}

export function evaluateIR(ir: ModelIR, X: number[][]): number[][] {
  return X.map((row) => {
    const x = ir.preprocess ? row.map((v, j) => (v - ir.preprocess!.offset[j]) * ir.preprocess!.scale[j]) : row;
    switch (ir.body.kind) {
      case 'linear': return linear(ir.body, x);
      case 'tree-ensemble': return trees(ir.body, x);
      case 'network': throw new Error('network IR is not evaluated here');
    }
  });
}
