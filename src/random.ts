/**
 * A seeded pseudo-random generator for deterministic code (splits, shuffles, sampling).
 * mulberry32: 32-bit state, full period 2^32, fast and good enough for shuffling and
 * sampling; not cryptographic. Math.random is never used in deterministic code.
 */
import { EdgeloopError } from './errors.ts';

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** mulberry32 seeded by any 32-bit integer (the seed is truncated to uint32). */
export function createRandom(seed: number): Random {
  if (!Number.isFinite(seed)) throw new EdgeloopError('BAD_ARGUMENT', `seed must be a finite number, got ${seed}`);
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int(n: number): number {
      if (!Number.isInteger(n) || n <= 0) throw new EdgeloopError('BAD_ARGUMENT', `n must be a positive integer, got ${n}`);
      return Math.floor(next() * n);
    },
  };
}

/** Fisher–Yates shuffle in place; returns the same array. */
export function shuffleInPlace<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}
