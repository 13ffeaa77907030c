/**
 * Multiple-testing corrections for per-feature p-values: with 20 features tested at α = 0.01, one
 * false alarm every five windows is expected without a correction.
 */
import { EdgeloopError } from '../errors.ts';

export type PValueCorrection = 'none' | 'bonferroni' | 'bh';

function check(pValues: readonly number[]): void {
  pValues.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new EdgeloopError('BAD_ARGUMENT', `pValues[${i}] must be in [0, 1], got ${p}`);
  });
}

/** Bonferroni: min(1, p·m). Controls the family-wise error rate. */
export function bonferroni(pValues: readonly number[]): number[] {
  check(pValues);
  const m = pValues.length;
  return pValues.map((p) => Math.min(1, p * m));
}

/**
 * Benjamini–Hochberg adjusted p-values (statsmodels fdr_bh, R p.adjust 'BH'): the i-th smallest p
 * becomes min over j ≥ i of p₍ⱼ₎·m/j, capped at 1. Controls the false discovery rate.
 */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  check(pValues);
  const m = pValues.length;
  const order = pValues.map((_, i) => i).sort((a, b) => pValues[a]! - pValues[b]! || a - b);
  const adjusted = new Array<number>(m);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const idx = order[rank - 1]!;
    running = Math.min(running, (pValues[idx]! * m) / rank);
    adjusted[idx] = running;
  }
  return adjusted;
}

export function adjustPValues(pValues: readonly number[], method: PValueCorrection): number[] {
  switch (method) {
    case 'none':
      check(pValues);
      return [...pValues];
    case 'bonferroni':
      return bonferroni(pValues);
    case 'bh':
      return benjaminiHochberg(pValues);
    default: {
      const never: never = method;
      throw new EdgeloopError('BAD_ARGUMENT', `correction must be 'none', 'bonferroni' or 'bh', got ${String(never)}`);
    }
  }
}
