/**
 * The data passes of logistic regression's Newton solver: the objective at a point, and the gradient
 * and exact Hessian at the last evaluated point.
 *
 * Layout: the standardized design matrix is stored column-major with the intercept's column of ones
 * appended (q = d + 1 columns of n values), so every pass is a handful of axpy / dot-product loops
 * over contiguous Float64Arrays with the accumulator in a register — no per-row allocation, no
 * per-element store into the Hessian (row-major accumulation stored every one of its q(q+1)/2
 * products per row). Only the Hessian's lower triangle is accumulated, then mirrored.
 */

export interface LogisticProblem {
  readonly n: number;
  /** Columns of `X`: the d standardized features, then the intercept's ones. */
  readonly q: number;
  /** Classes; the binary problem has one score column (sigmoid), else K (softmax). */
  readonly K: number;
  readonly out: number;
  /** Column-major n × q: column a is X[a·n .. (a+1)·n). */
  readonly X: Float64Array;
  readonly yIndex: Int32Array;
  readonly C: number;
  /** Per-parameter penalty weights (½·l2·θ² + l1·|θ|), out × q. */
  readonly l1: Float64Array;
  readonly l2: Float64Array;
  /** Scores and probabilities of the last evaluated point, column-major (out × n, K × n). */
  readonly scores: Float64Array;
  readonly prob: Float64Array;
  /** Per-row work buffers (residuals, curvature weights, weighted column). */
  readonly r: Float64Array;
  readonly w: Float64Array;
  readonly wx: Float64Array;
}

/** Packs standardized features ((x − mean) / scale) column-major with the ones column. */
export function logisticProblem(
  data: Float64Array, n: number, d: number, mean: Float64Array, scale: Float64Array,
  yIndex: Int32Array, K: number, C: number, l1: Float64Array, l2: Float64Array,
): LogisticProblem {
  const q = d + 1;
  const out = K === 2 ? 1 : K;
  const X = new Float64Array(n * q);
  for (let j = 0; j < d; j++) {
    const m = mean[j];
    const s = scale[j];
    const col = j * n;
    for (let i = 0, at = j; i < n; i++, at += d) X[col + i] = (data[at] - m) / s;
  }
  X.fill(1, d * n);
  return {
    n, q, K, out, X, yIndex, C, l1, l2,
    scores: new Float64Array(out * n), prob: new Float64Array((out === 1 ? 1 : K) * n),
    r: new Float64Array(n), w: new Float64Array(n), wx: new Float64Array(n),
  };
}

/** The objective C·Σ log-loss + penalty at th; leaves th's scores and probabilities in p. */
export function logisticObjective(p: LogisticProblem, th: Float64Array): number {
  scoresAt(p, th);
  const loss = p.out === 1 ? binaryLoss(p) : multinomialLoss(p);
  let pen = 0;
  for (let a = 0; a < th.length; a++) pen += 0.5 * p.l2[a] * th[a] * th[a] + p.l1[a] * Math.abs(th[a]);
  return p.C * loss + pen;
}

/**
 * Gradient g and Hessian H (P × P row-major, P = out·q) of the objective at th, from the
 * probabilities left by the last `logisticObjective(p, th)`.
 */
export function logisticDerivatives(p: LogisticProblem, th: Float64Array, g: Float64Array, H: Float64Array): void {
  const P = p.out * p.q;
  if (p.out === 1) binaryDerivatives(p, g, H);
  else multinomialDerivatives(p, g, H);
  for (let a = 0; a < P; a++) {
    for (let b = a + 1; b < P; b++) H[a * P + b] = H[b * P + a];
    g[a] += p.l2[a] * th[a];
    H[a * P + a] += p.l2[a];
  }
}

/** scores[k] = X · th[k·q .. (k+1)·q), one axpy per column. */
function scoresAt(p: LogisticProblem, th: Float64Array): void {
  const { n, q, out, X, scores } = p;
  for (let k = 0; k < out; k++) {
    const s = scores.subarray(k * n, (k + 1) * n);
    s.fill(th[k * q + q - 1]); // the intercept
    for (let a = 0; a < q - 1; a++) axpy(th[k * q + a], X, a * n, s, n);
  }
}

function axpy(alpha: number, x: Float64Array, from: number, y: Float64Array, n: number): void {
  if (alpha === 0) return;
  for (let i = 0; i < n; i++) y[i] += alpha * x[from + i];
}

function dot(a: Float64Array, b: Float64Array, from: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i] * b[from + i];
  return s;
}

/** Σ log(1 + e^{−z}) over y = 1 and log(1 + e^{z}) over y = 0, stably; prob = σ(z) from the same exp. */
function binaryLoss(p: LogisticProblem): number {
  const { n, yIndex, scores, prob } = p;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const z = scores[i];
    const e = Math.exp(-Math.abs(z)); // e^{−|z|} ∈ (0, 1]
    const t = yIndex[i] === 1 ? -z : z;
    loss += (t > 0 ? t : 0) + Math.log1p(e);
    prob[i] = z >= 0 ? 1 / (1 + e) : e / (1 + e);
  }
  return loss;
}

function multinomialLoss(p: LogisticProblem): number {
  const { n, K, yIndex, scores, prob } = p;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) if (scores[k * n + i] > m) m = scores[k * n + i];
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const e = Math.exp(scores[k * n + i] - m);
      prob[k * n + i] = e;
      sum += e;
    }
    loss += m + Math.log(sum) - scores[yIndex[i] * n + i];
    for (let k = 0; k < K; k++) prob[k * n + i] /= sum;
  }
  return loss;
}

/** g = Xᵀ C(p − y); H = Xᵀ diag(C p(1 − p)) X, lower triangle. */
function binaryDerivatives(p: LogisticProblem, g: Float64Array, H: Float64Array): void {
  const { n, q, X, yIndex, prob, C, r, w, wx } = p;
  for (let i = 0; i < n; i++) {
    const pi = prob[i];
    r[i] = C * (pi - (yIndex[i] === 1 ? 1 : 0));
    w[i] = C * pi * (1 - pi);
  }
  for (let a = 0; a < q; a++) {
    g[a] = dot(r, X, a * n, n);
    for (let i = 0; i < n; i++) wx[i] = w[i] * X[a * n + i];
    for (let b = 0; b <= a; b++) H[a * q + b] = dot(wx, X, b * n, n);
  }
}

/** Block (k, l) of the Hessian is Xᵀ diag(C p_k(δ_kl − p_l)) X; blocks l ≤ k (lower triangle). */
function multinomialDerivatives(p: LogisticProblem, g: Float64Array, H: Float64Array): void {
  const { n, q, K, X, yIndex, prob, C, r, w, wx } = p;
  const P = K * q;
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < n; i++) r[i] = C * (prob[k * n + i] - (yIndex[i] === k ? 1 : 0));
    for (let a = 0; a < q; a++) g[k * q + a] = dot(r, X, a * n, n);
    for (let l = 0; l <= k; l++) {
      for (let i = 0; i < n; i++) {
        const pk = prob[k * n + i];
        w[i] = C * (k === l ? pk * (1 - pk) : -pk * prob[l * n + i]);
      }
      for (let a = 0; a < q; a++) {
        for (let i = 0; i < n; i++) wx[i] = w[i] * X[a * n + i];
        // Diagonal blocks: b ≤ a; off-diagonal blocks (l < k) lie wholly below the diagonal.
        const bEnd = l === k ? a + 1 : q;
        for (let b = 0; b < bEnd; b++) H[(k * q + a) * P + l * q + b] = dot(wx, X, b * n, n);
      }
    }
  }
}
