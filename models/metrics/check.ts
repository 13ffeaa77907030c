/** Argument checks shared by the metric functions. */
import { EdgeloopError } from '../../src/errors.ts';

export function checkPair(a: readonly number[], b: readonly number[], aName: string, bName: string): void {
  if (!Array.isArray(a) || a.length === 0) throw new EdgeloopError('BAD_ARGUMENT', `${aName} must be a non-empty array, got ${Array.isArray(a) ? 'length 0' : typeof a}`);
  if (!Array.isArray(b) || b.length !== a.length) {
    throw new EdgeloopError('BAD_ARGUMENT', `${bName} must have the same length as ${aName} (${a.length}), got ${Array.isArray(b) ? b.length : typeof b}`);
  }
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new EdgeloopError('BAD_ARGUMENT', `${aName}[${i}] must be a finite number, got ${String(a[i])}`);
    if (!Number.isFinite(b[i])) throw new EdgeloopError('BAD_ARGUMENT', `${bName}[${i}] must be a finite number, got ${String(b[i])}`);
  }
}

export function checkProbability(p: readonly number[], name: string): void {
  for (let i = 0; i < p.length; i++) {
    if (!(p[i] >= 0 && p[i] <= 1)) throw new EdgeloopError('BAD_ARGUMENT', `${name}[${i}] must be a probability in [0, 1], got ${p[i]}`);
  }
}
