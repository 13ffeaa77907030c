/** Descriptive statistics over the non-null values of a column, matching pandas' defaults. */

export function present(values: readonly (number | null)[]): number[] {
  const out: number[] = [];
  for (const v of values) if (v !== null && Number.isFinite(v)) out.push(v);
  return out;
}

export function mean(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Population standard deviation (ddof = 0, as scipy.stats.zscore and scikit-learn's StandardScaler). */
export function std(xs: readonly number[]): number | null {
  const m = mean(xs);
  if (m === null) return null;
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / xs.length);
}

/** Quantile with linear interpolation between order statistics (pandas/numpy default, 'linear'). */
export function quantileSorted(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export function quantile(xs: readonly number[], p: number): number | null {
  return quantileSorted(Array.from(Float64Array.from(xs).sort()), p);
}

export function median(xs: readonly number[]): number | null {
  return quantile(xs, 0.5);
}

/** Most frequent value; ties go to the smallest (pandas `mode()[0]` returns the sorted modes). */
export function mode<T extends number | string>(xs: readonly (T | null)[]): T | null {
  const counts = new Map<T, number>();
  for (const x of xs) if (x !== null) counts.set(x, (counts.get(x) ?? 0) + 1);
  let best: T | null = null;
  let bestCount = 0;
  for (const [v, c] of counts) {
    if (c > bestCount || (c === bestCount && best !== null && v < best)) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}
