/**
 * A small Gaussian-process regressor for Bayesian optimization: isotropic Matérn 5/2 kernel over
 * the unit cube, targets standardized, hyper-parameters (length scale, signal variance, noise)
 * chosen by the log marginal likelihood over a fixed grid — a grid instead of gradient restarts
 * because it is deterministic and the n here (tens of trials) makes ~100 factorizations cheap.
 * Formulas: Rasmussen & Williams, Gaussian Processes for Machine Learning, algorithm 2.1.
 */
import { EdgeloopError } from '../../src/errors.ts';
import { cholesky } from '../linear/linalg.ts';

export interface GpHyper {
  lengthScale: number;
  signalVariance: number;
  noiseVariance: number;
}

/** The hyper-parameter grid searched by fitGp (in standardized-target units). */
export const GP_HYPER_GRID = {
  lengthScale: [0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 1.2, 2],
  signalVariance: [0.3, 1, 3],
  noiseVariance: [1e-6, 1e-3, 1e-2, 0.1],
} as const;

export function matern52(r: number, lengthScale: number): number {
  const s = (Math.sqrt(5) * r) / lengthScale;
  return (1 + s + (s * s) / 3) * Math.exp(-s);
}

function distance(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

export interface GpModel {
  hyper: GpHyper;
  /** Log marginal likelihood of the standardized targets under `hyper`. */
  logMarginalLikelihood: number;
  /** Jitter added to the diagonal so the Cholesky factorization succeeded. */
  jitter: number;
  /** Posterior mean and variance at x, in the original target units. */
  predict(x: readonly number[]): { mean: number; variance: number };
}

function forwardSolve(L: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * z[k];
    z[i] = s / L[i * n + i];
  }
  return z;
}

function backSolveT(L: Float64Array, n: number, z: ArrayLike<number>): Float64Array {
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * x[k];
    x[i] = s / L[i * n + i];
  }
  return x;
}

/** Standardization of y: the GP prior mean is the sample mean, its scale the sample std. */
function standardize(y: readonly number[]): { z: number[]; mean: number; std: number } {
  const mean = y.reduce((a, b) => a + b, 0) / y.length;
  const sd = Math.sqrt(y.reduce((a, b) => a + (b - mean) ** 2, 0) / y.length);
  const std = sd > 1e-12 ? sd : 1;
  return { z: y.map((v) => (v - mean) / std), mean, std };
}

/** A GP with fixed hyper-parameters on targets standardized by their mean and (population) std. */
export function gpWithHyper(X: readonly (readonly number[])[], y: readonly number[], hyper: GpHyper): GpModel {
  const n = X.length;
  if (n === 0 || y.length !== n) throw new EdgeloopError('BAD_ARGUMENT', `GP needs as many targets as points (≥ 1), got ${n} points and ${y.length} targets`);
  const { z, mean, std } = standardize(y);
  const K = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const k = hyper.signalVariance * matern52(distance(X[i], X[j]), hyper.lengthScale);
      K[i * n + j] = k;
      K[j * n + i] = k;
    }
    K[i * n + i] += hyper.noiseVariance;
  }
  const { L, jitter } = cholesky(K, n);
  const alpha = backSolveT(L, n, forwardSolve(L, n, z));
  let lml = -0.5 * n * Math.log(2 * Math.PI);
  for (let i = 0; i < n; i++) lml += -0.5 * z[i] * alpha[i] - Math.log(L[i * n + i]);
  return {
    hyper,
    logMarginalLikelihood: lml,
    jitter,
    predict(x) {
      const ks = X.map((xi) => hyper.signalVariance * matern52(distance(x, xi), hyper.lengthScale));
      let m = 0;
      for (let i = 0; i < n; i++) m += ks[i] * alpha[i];
      const v = forwardSolve(L, n, ks);
      let vv = 0;
      for (let i = 0; i < n; i++) vv += v[i] * v[i];
      const variance = Math.max(0, hyper.signalVariance - vv);
      return { mean: mean + std * m, variance: variance * std * std };
    },
  };
}

/** The GP whose hyper-parameters maximize the log marginal likelihood over GP_HYPER_GRID. */
export function fitGp(X: readonly (readonly number[])[], y: readonly number[]): GpModel {
  let best: GpModel | undefined;
  for (const lengthScale of GP_HYPER_GRID.lengthScale) {
    for (const signalVariance of GP_HYPER_GRID.signalVariance) {
      for (const noiseVariance of GP_HYPER_GRID.noiseVariance) {
        const gp = gpWithHyper(X, y, { lengthScale, signalVariance, noiseVariance });
        if (best === undefined || gp.logMarginalLikelihood > best.logMarginalLikelihood) best = gp;
      }
    }
  }
  return best!;
}

/** Standard normal CDF via erfc (Numerical Recipes' erfcc Chebyshev fit, relative error < 1.2e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

export function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/** Expected improvement over `best` for maximization; `xi` trades exploration for exploitation. */
export function expectedImprovement(mean: number, variance: number, best: number, xi = 0): number {
  const sd = Math.sqrt(variance);
  const imp = mean - best - xi;
  if (sd < 1e-12) return Math.max(0, imp);
  const z = imp / sd;
  return imp * normalCdf(z) + sd * normalPdf(z);
}
