/**
 * Real-input power spectrum for window features. Radix-2 FFT when the length is a power of two,
 * a direct DFT with cached twiddles otherwise (windows are short, typically ≤ 1024 samples, and
 * a direct DFT keeps any length exact without Bluestein's extra rounding).
 */

const twiddleCache = new Map<number, { cos: Float64Array; sin: Float64Array }>();

function twiddles(n: number): { cos: Float64Array; sin: Float64Array } {
  let t = twiddleCache.get(n);
  if (!t) {
    const cos = new Float64Array(n);
    const sin = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      cos[k] = Math.cos((2 * Math.PI * k) / n);
      sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    t = { cos, sin };
    // Bounded: window lengths in one pipeline are few; a long-running process with many lengths
    // keeps at most 64 tables.
    if (twiddleCache.size >= 64) twiddleCache.clear();
    twiddleCache.set(n, t);
  }
  return t;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** In-place iterative radix-2 complex FFT (forward, e^{-2πikn/N}). */
function fftRadix2(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i]; re[i] = re[j]; re[j] = t;
      t = im[i]; im[i] = im[j]; im[j] = t;
    }
  }
  const { cos, sin } = twiddles(n);
  for (let len = 2; len <= n; len <<= 1) {
    const half = len >> 1;
    const stride = n / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * stride];
        const wi = -sin[k * stride];
        const a = i + k;
        const b = a + half;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr; im[b] = im[a] - xi;
        re[a] += xr; im[a] += xi;
      }
    }
  }
}

/**
 * One-sided power spectrum of `x` after removing its mean: P[k] = |X[k]|² / n for
 * k = 0 … floor(n/2), where X is the DFT of x − mean(x) (numpy: `abs(np.fft.rfft(x - x.mean()))**2 / n`).
 * Frequency of bin k is k · sampleRateHz / n.
 */
export function powerSpectrum(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const bins = Math.floor(n / 2) + 1;
  const out = new Float64Array(n === 0 ? 0 : bins);
  if (n === 0) return out;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  if (isPowerOfTwo(n)) {
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    for (let i = 0; i < n; i++) re[i] = x[i] - mean;
    fftRadix2(re, im);
    for (let k = 0; k < bins; k++) out[k] = (re[k] * re[k] + im[k] * im[k]) / n;
    return out;
  }
  const { cos, sin } = twiddles(n);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = x[i] - mean;
  for (let k = 0; k < bins; k++) {
    let sr = 0;
    let si = 0;
    let idx = 0;
    for (let i = 0; i < n; i++) {
      sr += d[i] * cos[idx];
      si -= d[i] * sin[idx];
      idx += k;
      if (idx >= n) idx -= n;
    }
    out[k] = (sr * sr + si * si) / n;
  }
  return out;
}
