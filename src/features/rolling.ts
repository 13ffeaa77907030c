/**
 * Rolling statistics of one sensor over a FIFO window, O(1) amortized per reading for
 * mean/std/min/max, so a device can keep long sliding windows without recomputing them.
 *
 * Numerics: the sums are taken of d = x − K for a shift K near the window mean, with Neumaier
 * compensation for both adds and removes. Variance = (Σd² − (Σd)²/n)/(n − ddof) then only loses
 * digits in proportion to (mean − K)²/variance, so the sums are recomputed from the buffer (O(n),
 * new K = current mean) every `n` evictions and whenever more than ~6 digits would be lost. Result:
 * agreement with the two-pass batch definition (stats.ts) to ~1e-12 relative on ordinary data.
 * A constant window (min = max, known exactly from the deques) reports variance 0 and mean = min.
 */
import { FloatRing } from './ring.ts';

class CompensatedSum {
  sum = 0;
  c = 0;
  add(v: number): void {
    const t = this.sum + v;
    if (Math.abs(this.sum) >= Math.abs(v)) this.c += this.sum - t + v;
    else this.c += v - t + this.sum;
    this.sum = t;
  }
  value(): number {
    return this.sum + this.c;
  }
  reset(): void {
    this.sum = 0;
    this.c = 0;
  }
}

/** Monotonic deque over (sequence number, value) for sliding min or max. */
class MonotonicDeque {
  private readonly seq = new FloatRing(16);
  private readonly val = new FloatRing(16);
  constructor(private readonly keepMax: boolean) {}

  push(seq: number, v: number): void {
    // Pop dominated values: for max, anything ≤ v can never be the max again while v is in the window.
    while (this.val.length > 0 && (this.keepMax ? this.val.last() <= v : this.val.last() >= v)) {
      this.val.pop();
      this.seq.pop();
    }
    this.seq.push(seq);
    this.val.push(v);
  }

  evict(seq: number): void {
    if (this.seq.length > 0 && this.seq.first() === seq) {
      this.seq.shift();
      this.val.shift();
    }
  }

  front(): number {
    return this.val.length > 0 ? this.val.first() : NaN;
  }

  clear(): void {
    this.seq.clear();
    this.val.clear();
  }
}

export interface RollingOptions {
  /** Keep a sorted copy of the window so the median is O(1) to read (insert/remove are O(n) memmoves). */
  trackMedian: boolean;
  initialCapacity: number;
}

export class RollingSensor {
  readonly values: FloatRing;
  private readonly s1 = new CompensatedSum();
  private readonly s2 = new CompensatedSum();
  private shift = 0;
  private evictionsSinceRecompute = 0;
  private readonly minDeque = new MonotonicDeque(false);
  private readonly maxDeque = new MonotonicDeque(true);
  private headSeq = 0;
  private nextSeq = 0;
  private sorted: Float64Array | null;

  constructor(options: RollingOptions) {
    this.values = new FloatRing(options.initialCapacity);
    this.sorted = options.trackMedian ? new Float64Array(Math.max(2, options.initialCapacity)) : null;
  }

  get count(): number {
    return this.values.length;
  }

  push(x: number): void {
    if (this.values.length === 0) {
      this.shift = x;
      this.s1.reset();
      this.s2.reset();
    }
    const d = x - this.shift;
    this.s1.add(d);
    this.s2.add(d * d);
    this.minDeque.push(this.nextSeq, x);
    this.maxDeque.push(this.nextSeq, x);
    this.nextSeq++;
    if (this.sorted) this.insertSorted(x);
    this.values.push(x);
  }

  evictOldest(): void {
    const x = this.values.shift();
    this.minDeque.evict(this.headSeq);
    this.maxDeque.evict(this.headSeq);
    this.headSeq++;
    if (this.sorted) this.removeSorted(x);
    if (this.values.length === 0) {
      this.clear();
      return;
    }
    const d = x - this.shift;
    this.s1.add(-d);
    this.s2.add(-(d * d));
    if (++this.evictionsSinceRecompute >= this.values.length) this.recompute();
  }

  clear(): void {
    this.values.clear();
    this.minDeque.clear();
    this.maxDeque.clear();
    this.s1.reset();
    this.s2.reset();
    this.headSeq = this.nextSeq;
    this.evictionsSinceRecompute = 0;
  }

  min(): number {
    return this.minDeque.front();
  }

  max(): number {
    return this.maxDeque.front();
  }

  mean(): number {
    const n = this.values.length;
    if (n === 0) return NaN;
    if (this.min() === this.max()) return this.min();
    return this.shift + this.s1.value() / n;
  }

  /** Sample variance with `ddof` delta degrees of freedom; NaN when n ≤ ddof. */
  variance(ddof: number): number {
    const n = this.values.length;
    if (n - ddof <= 0) return NaN;
    if (this.min() === this.max()) return 0;
    let m2 = this.centeredSquares();
    if (m2 < this.s2.value() * 1e-6) {
      // (mean − K)² dominates Σd²: re-center on the current mean before digits are lost.
      this.recompute();
      m2 = this.centeredSquares();
    }
    return Math.max(0, m2) / (n - ddof);
  }

  median(): number {
    const n = this.values.length;
    if (!this.sorted || n === 0) return NaN;
    const h = n >> 1;
    return n % 2 === 1 ? this.sorted[h] : (this.sorted[h - 1] + this.sorted[h]) / 2;
  }

  private centeredSquares(): number {
    const s1 = this.s1.value();
    return this.s2.value() - (s1 * s1) / this.values.length;
  }

  private recompute(): void {
    const n = this.values.length;
    this.evictionsSinceRecompute = 0;
    if (n === 0) return;
    let m = 0;
    for (let i = 0; i < n; i++) m += this.values.at(i);
    this.shift = m / n;
    this.s1.reset();
    this.s2.reset();
    for (let i = 0; i < n; i++) {
      const d = this.values.at(i) - this.shift;
      this.s1.add(d);
      this.s2.add(d * d);
    }
  }

  private insertSorted(x: number): void {
    const n = this.values.length;
    let sorted = this.sorted!;
    if (n === sorted.length) {
      const next = new Float64Array(sorted.length * 2);
      next.set(sorted);
      this.sorted = sorted = next;
    }
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    sorted.copyWithin(lo + 1, lo, n);
    sorted[lo] = x;
  }

  private removeSorted(x: number): void {
    const sorted = this.sorted!;
    const n = this.values.length + 1; // length before the shift that called us
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    sorted.copyWithin(lo, lo + 1, n);
  }
}
