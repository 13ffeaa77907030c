/**
 * Search-space declarations shared by the grid, random and Bayesian strategies: validation (every
 * error names the dimension), grid points, seeded sampling, and the unit-cube encoding the Gaussian
 * process works in (log-float dims in log space, ints rounded on decode, categoricals one-hot).
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Random } from '../../src/random.ts';

export type CategoricalValue = string | number | boolean | null;
export type Dimension =
  | { type: 'int'; min: number; max: number }
  | { type: 'float'; min: number; max: number }
  | { type: 'log-float'; min: number; max: number }
  | { type: 'categorical'; values: readonly CategoricalValue[] };
export type SearchSpace = Record<string, Dimension>;
export type Params = Record<string, CategoricalValue>;

const DIMENSION_TYPES = ['int', 'float', 'log-float', 'categorical'] as const;

export function checkSpace(space: SearchSpace): void {
  if (typeof space !== 'object' || space === null || Object.keys(space).length === 0) {
    throw new EdgeloopError('BAD_ARGUMENT', 'space must declare at least 1 dimension');
  }
  for (const [name, d] of Object.entries(space)) {
    const type = (d as { type?: unknown } | null)?.type;
    if (!DIMENSION_TYPES.includes(type as Dimension['type'])) {
      throw new EdgeloopError('BAD_ARGUMENT', `space.${name}: type must be one of ${DIMENSION_TYPES.join(', ')}, got ${JSON.stringify(type)}`);
    }
    if (d.type === 'categorical') {
      if (!Array.isArray(d.values) || d.values.length === 0) throw new EdgeloopError('BAD_ARGUMENT', `space.${name}: categorical values must be non-empty`);
      if (new Set(d.values).size !== d.values.length) throw new EdgeloopError('BAD_ARGUMENT', `space.${name}: categorical values must be distinct, got ${JSON.stringify(d.values)}`);
    } else if (!(Number.isFinite(d.min) && Number.isFinite(d.max))) {
      throw new EdgeloopError('BAD_ARGUMENT', `space.${name}: ${d.type} needs finite min and max, got [${d.min}, ${d.max}]`);
    } else if (!(d.min <= d.max) || (d.type === 'log-float' && !(d.min > 0)) || (d.type === 'int' && !(Number.isInteger(d.min) && Number.isInteger(d.max)))) {
      throw new EdgeloopError('BAD_ARGUMENT', `space.${name}: ${d.type} needs ${d.type === 'log-float' ? '0 < ' : ''}min <= max${d.type === 'int' ? ' (integers)' : ''}, got [${d.min}, ${d.max}]`);
    }
  }
}

export function gridValues(d: Dimension, steps: number): CategoricalValue[] {
  switch (d.type) {
    case 'categorical': return [...d.values];
    case 'int': {
      const n = Math.min(steps, d.max - d.min + 1);
      return Array.from(new Set(Array.from({ length: n }, (_, i) => Math.round(d.min + ((d.max - d.min) * i) / Math.max(1, n - 1)))));
    }
    case 'float': return Array.from({ length: steps }, (_, i) => d.min + ((d.max - d.min) * i) / Math.max(1, steps - 1));
    case 'log-float': return Array.from({ length: steps }, (_, i) => Math.exp(Math.log(d.min) + ((Math.log(d.max) - Math.log(d.min)) * i) / Math.max(1, steps - 1)));
    default: { const never: never = d; return never; }
  }
}

export function sampleDimension(d: Dimension, r: Random): CategoricalValue {
  switch (d.type) {
    case 'categorical': return d.values[r.int(d.values.length)];
    case 'int': return d.min + r.int(d.max - d.min + 1);
    case 'float': return d.min + (d.max - d.min) * r.next();
    case 'log-float': return Math.exp(Math.log(d.min) + (Math.log(d.max) - Math.log(d.min)) * r.next());
    default: { const never: never = d; return never; }
  }
}

export function sampleParams(space: SearchSpace, r: Random): Params {
  return Object.fromEntries(Object.keys(space).map((name) => [name, sampleDimension(space[name], r)]));
}

/** Width of a dimension in the unit cube: one column, or one per category. */
export function encodedWidth(d: Dimension): number {
  return d.type === 'categorical' ? d.values.length : 1;
}

const unit = (v: number, lo: number, hi: number): number => (hi > lo ? (v - lo) / (hi - lo) : 0);
const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

/** Params → a point of the unit cube (the GP's input). */
export function encode(space: SearchSpace, p: Params): number[] {
  const out: number[] = [];
  for (const [name, d] of Object.entries(space)) {
    const v = p[name];
    switch (d.type) {
      case 'categorical': for (const c of d.values) out.push(c === v ? 1 : 0); break;
      case 'int':
      case 'float': out.push(clamp01(unit(Number(v), d.min, d.max))); break;
      case 'log-float': out.push(clamp01(unit(Math.log(Number(v)), Math.log(d.min), Math.log(d.max)))); break;
      default: { const never: never = d; return never; }
    }
  }
  return out;
}

/** A point of the unit cube → the nearest valid params (ints rounded, the largest one-hot wins). */
export function decode(space: SearchSpace, x: readonly number[]): Params {
  const p: Params = {};
  let at = 0;
  for (const [name, d] of Object.entries(space)) {
    switch (d.type) {
      case 'categorical': {
        let best = 0;
        for (let k = 1; k < d.values.length; k++) if (x[at + k] > x[at + best]) best = k;
        p[name] = d.values[best];
        break;
      }
      case 'int': p[name] = Math.round(d.min + clamp01(x[at]) * (d.max - d.min)); break;
      case 'float': p[name] = d.min + clamp01(x[at]) * (d.max - d.min); break;
      case 'log-float': p[name] = Math.exp(Math.log(d.min) + clamp01(x[at]) * (Math.log(d.max) - Math.log(d.min))); break;
      default: { const never: never = d; return never; }
    }
    at += encodedWidth(d);
  }
  return p;
}
