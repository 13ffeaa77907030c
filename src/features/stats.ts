/**
 * Batch statistics of one window of one sensor. These are the reference definitions: the
 * streaming accumulators (streaming.ts) and the sliding batch path must agree with them, and
 * they are checked against pandas/numpy by test/features-golden.test.ts.
 */
import { powerSpectrum } from './fft.ts';

/** `last` is the newest reading of the window: raw readings alongside window statistics. */
export const WINDOW_STATS = [
  'last', 'mean', 'std', 'min', 'max', 'median', 'range', 'ptp', 'slope', 'rms', 'skew', 'kurt',
  'zero_crossings', 'mean_crossings', 'energy', 'dominant_freq',
] as const;
export type WindowStat = (typeof WINDOW_STATS)[number];

/** A frequency band [loHz, hiHz) whose power becomes one feature. */
export interface Band {
  loHz: number;
  hiHz: number;
}

export interface StatOptions {
  /** Delta degrees of freedom of `std` (pandas default 1, numpy default 0). */
  ddof: number;
  /** Nominal sampling rate for the FFT features; windows are assumed uniformly sampled. */
  sampleRateHz?: number;
  bands: Band[];
}

/** Fewest readings for which a statistic is defined (std needs ddof+1, skew 3, kurt 4, slope 2). */
export function minReadingsFor(stat: WindowStat, ddof: number): number {
  switch (stat) {
    case 'std': return ddof + 1;
    case 'skew': return 3;
    case 'kurt': return 4;
    case 'slope': return 2;
    case 'last': case 'mean': case 'min': case 'max': case 'median': case 'range': case 'ptp': case 'rms':
    case 'zero_crossings': case 'mean_crossings': case 'energy': case 'dominant_freq':
      return 1;
    default: {
      const never: never = stat;
      return never;
    }
  }
}

/** Column name of a band power feature, e.g. `Light__band_0_0.25hz`. */
export function bandName(band: Band): string {
  return `band_${band.loHz}_${band.hiHz}hz`;
}

/** Feature names of one sensor, in the order `windowStats` writes them: stats, then bands. */
export function statColumns(sensor: string, stats: readonly WindowStat[], bands: readonly Band[]): string[] {
  return [...stats.map((s) => `${sensor}__${s}`), ...bands.map((b) => `${sensor}__${bandName(b)}`)];
}

/** Median of a copy of x (even length: mean of the two middle values, as pandas). */
export function median(x: ArrayLike<number>): number {
  const n = x.length;
  if (n === 0) return NaN;
  const s = Float64Array.from(x).sort();
  const h = n >> 1;
  return n % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** Bias-corrected sample skewness G1 (pandas `skew`); 0 for a constant window. */
export function skewFromMoments(n: number, m2: number, m3: number, constant: boolean): number {
  if (n < 3) return NaN;
  if (constant || m2 === 0) return 0;
  const g1 = m3 / n / Math.pow(m2 / n, 1.5);
  return (g1 * Math.sqrt(n * (n - 1))) / (n - 2);
}

/** Bias-corrected excess kurtosis G2 (pandas `kurt`); 0 for a constant window. */
export function kurtFromMoments(n: number, m2: number, m4: number, constant: boolean): number {
  if (n < 4) return NaN;
  if (constant || m2 === 0) return 0;
  const g2 = (m4 / n) / ((m2 / n) * (m2 / n)) - 3;
  return (((n + 1) * g2 + 6) * (n - 1)) / ((n - 2) * (n - 3));
}

function crossings(x: ArrayLike<number>, level: number): number {
  let count = 0;
  for (let i = 1; i < x.length; i++) if (x[i - 1] - level < 0 !== x[i] - level < 0) count++;
  return count;
}

/**
 * Least-squares slope of x over time, in units per second. `tsMs` are epoch milliseconds; they are
 * re-based on the first reading so large epochs do not cost precision. 0 when all times are equal.
 */
export function slopePerS(x: ArrayLike<number>, tsMs: ArrayLike<number>): number {
  const n = x.length;
  if (n < 2) return NaN;
  const t0 = tsMs[0];
  let tm = 0;
  let xm = 0;
  for (let i = 0; i < n; i++) {
    tm += (tsMs[i] - t0) / 1000;
    xm += x[i];
  }
  tm /= n;
  xm /= n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const dt = (tsMs[i] - t0) / 1000 - tm;
    sxy += dt * (x[i] - xm);
    sxx += dt * dt;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

/**
 * Writes the requested statistics of window `x` (timestamps `tsMs`) into `out` starting at `offset`,
 * in the order of `statColumns`. Undefined statistics (too few readings) are NaN.
 */
export function windowStats(
  x: ArrayLike<number>,
  tsMs: ArrayLike<number>,
  stats: readonly WindowStat[],
  options: StatOptions,
  out: number[] | Float64Array,
  offset: number,
): void {
  const n = x.length;
  let sum = 0;
  let mn = Infinity;
  let mx = -Infinity;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    sum += v;
    sumSq += v * v;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  let mean = sum / n;
  // One refinement pass (the mean of the residuals) keeps the mean accurate for data far from 0.
  let resid = 0;
  for (let i = 0; i < n; i++) resid += x[i] - mean;
  mean += resid / n;
  const constant = n > 0 && mn === mx;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  if (!constant) {
    for (let i = 0; i < n; i++) {
      const d = x[i] - mean;
      const d2 = d * d;
      m2 += d2;
      m3 += d2 * d;
      m4 += d2 * d2;
    }
  }
  if (constant) mean = mn;
  let spectrum: Float64Array | undefined;
  const getSpectrum = (): Float64Array => (spectrum ??= powerSpectrum(x));
  let k = offset;
  for (const stat of stats) {
    let v: number;
    switch (stat) {
      case 'last': v = n > 0 ? x[n - 1] : NaN; break;
      case 'mean': v = n > 0 ? mean : NaN; break;
      case 'std': v = n - options.ddof > 0 ? Math.sqrt(m2 / (n - options.ddof)) : NaN; break;
      case 'min': v = n > 0 ? mn : NaN; break;
      case 'max': v = n > 0 ? mx : NaN; break;
      case 'median': v = median(x); break;
      case 'range': case 'ptp': v = n > 0 ? mx - mn : NaN; break;
      case 'slope': v = slopePerS(x, tsMs); break;
      case 'rms': v = n > 0 ? Math.sqrt(sumSq / n) : NaN; break;
      case 'energy': v = sumSq; break;
      case 'skew': v = skewFromMoments(n, m2, m3, constant); break;
      case 'kurt': v = kurtFromMoments(n, m2, m4, constant); break;
      case 'zero_crossings': v = crossings(x, 0); break;
      case 'mean_crossings': v = crossings(x, mean); break;
      case 'dominant_freq': v = dominantFrequencyHz(getSpectrum(), n, options.sampleRateHz ?? NaN); break;
      default: {
        const never: never = stat;
        v = never;
      }
    }
    out[k++] = v;
  }
  for (const band of options.bands) out[k++] = bandPower(getSpectrum(), n, options.sampleRateHz ?? NaN, band);
}

/** Frequency of the strongest non-DC bin (ties: the lowest frequency); 0 when the window is flat. */
export function dominantFrequencyHz(power: Float64Array, n: number, sampleRateHz: number): number {
  let best = 0;
  let bestK = 0;
  for (let k = 1; k < power.length; k++) {
    if (power[k] > best) {
      best = power[k];
      bestK = k;
    }
  }
  return (bestK * sampleRateHz) / n;
}

/** Sum of the power spectrum over bins whose frequency lies in [loHz, hiHz). */
export function bandPower(power: Float64Array, n: number, sampleRateHz: number, band: Band): number {
  let total = 0;
  for (let k = 0; k < power.length; k++) {
    const f = (k * sampleRateHz) / n;
    if (f >= band.loHz && f < band.hiHz) total += power[k];
  }
  return total;
}
