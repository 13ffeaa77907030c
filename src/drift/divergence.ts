/**
 * Distances between a reference distribution and a current one: PSI and Jensen–Shannon on binned
 * counts, Wasserstein-1 on samples. Golden values: scripts/golden/drift.py (numpy / scipy).
 */
import { EdgeloopError } from '../errors.ts';
import { sortedCopy } from './ks.ts';

/**
 * Proportions below this are raised to it before PSI's log ratio, so an empty bin on either side
 * gives a large but finite term instead of ∞ (proportions are not renormalized afterwards).
 * 1e-4 is the common choice: one empty bin out of ten then adds about 0.1 × ln(1000) ≈ 0.7.
 */
export const PSI_EPSILON = 1e-4;

function checkCounts(name: string, counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (!(c >= 0) || !Number.isFinite(c)) throw new EdgeloopError('BAD_ARGUMENT', `${name}[${i}] must be a finite count ≥ 0, got ${c}`);
    total += c;
  }
  return total;
}

function checkPair(expected: ArrayLike<number>, actual: ArrayLike<number>, what: string): [number, number] {
  if (expected.length !== actual.length || expected.length === 0) {
    throw new EdgeloopError('BAD_ARGUMENT', `${what}: expected and actual must have the same number of bins (≥ 1), got ${expected.length} and ${actual.length}`);
  }
  const te = checkCounts('expected', expected);
  const ta = checkCounts('actual', actual);
  if (te === 0 || ta === 0) throw new EdgeloopError('BAD_ARGUMENT', `${what}: counts must not all be zero (expected total ${te}, actual total ${ta})`);
  return [te, ta];
}

/**
 * Population stability index Σ (aᵢ − eᵢ) ln(aᵢ / eᵢ) over bin proportions, with each proportion
 * floored at `epsilon` (PSI_EPSILON). Symmetric; 0 for identical distributions.
 */
export function psi(expectedCounts: ArrayLike<number>, actualCounts: ArrayLike<number>, epsilon = PSI_EPSILON): number {
  if (!(epsilon > 0 && epsilon < 1)) throw new EdgeloopError('BAD_ARGUMENT', `epsilon must be in (0, 1), got ${epsilon}`);
  const [te, ta] = checkPair(expectedCounts, actualCounts, 'psi');
  let sum = 0;
  for (let i = 0; i < expectedCounts.length; i++) {
    const e = Math.max(expectedCounts[i]! / te, epsilon);
    const a = Math.max(actualCounts[i]! / ta, epsilon);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/**
 * Jensen–Shannon distance (the square root of the divergence), as
 * scipy.spatial.distance.jensenshannon(p, q, base): inputs are normalized first; in [0, 1] for base 2.
 */
export function jensenShannonDistance(p: ArrayLike<number>, q: ArrayLike<number>, base = 2): number {
  if (!(base > 0) || base === 1) throw new EdgeloopError('BAD_ARGUMENT', `base must be > 0 and ≠ 1, got ${base}`);
  const [tp, tq] = checkPair(p, q, 'jensenShannonDistance');
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! / tp;
    const qi = q[i]! / tq;
    const m = (pi + qi) / 2;
    if (pi > 0) sum += pi * Math.log(pi / m);
    if (qi > 0) sum += qi * Math.log(qi / m);
  }
  return Math.sqrt(Math.max(0, sum / 2 / Math.log(base)));
}

/**
 * Wasserstein-1 (earth mover's) distance between two **ascending-sorted** samples:
 * ∫ |F_a(x) − F_b(x)| dx, as scipy.stats.wasserstein_distance with equal weights.
 */
export function wasserstein1Sorted(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new EdgeloopError('BAD_ARGUMENT', `wasserstein samples must not be empty, got sizes ${n1} and ${n2}`);
  let i = 0;
  let j = 0;
  let sum = 0;
  let v = Math.min(a[0]!, b[0]!);
  while (i < n1 || j < n2) {
    while (i < n1 && a[i]! <= v) i++;
    while (j < n2 && b[j]! <= v) j++;
    if (i >= n1 && j >= n2) break;
    const next = j >= n2 || (i < n1 && a[i]! <= b[j]!) ? a[i]! : b[j]!;
    sum += Math.abs(i / n1 - j / n2) * (next - v);
    v = next;
  }
  return sum;
}

/** Wasserstein-1 distance between two unsorted samples (NaN is rejected). */
export function wasserstein1(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return wasserstein1Sorted(sortedCopy(a, 'a'), sortedCopy(b, 'b'));
}
