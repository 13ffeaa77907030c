/**
 * Checking and packing of inputs and targets: nested JavaScript arrays in, one contiguous
 * Float32Array per set out, so batches are cut with subarray copies instead of tensor gathers.
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Task } from '../ir.ts';

/** Rows of features ([n][features]) or windows ([n][steps][channels]). */
export type Inputs = readonly (readonly number[])[] | readonly (readonly (readonly number[])[])[];

export interface PackedInputs {
  n: number;
  /** Shape of one sample (without the batch dimension). */
  sampleShape: number[];
  /** Row-major, n × prod(sampleShape). */
  data: Float32Array;
}

export function packInputs(X: Inputs, name: string, expected?: readonly number[]): PackedInputs {
  if (!Array.isArray(X) || X.length === 0) throw new EdgeloopError('BAD_ARGUMENT', `${name} must be a non-empty array of samples, got ${describe(X)}`);
  const first: unknown = X[0];
  const sampleShape = Array.isArray(first) && Array.isArray(first[0]) ? [first.length, (first[0] as unknown[]).length] : Array.isArray(first) ? [first.length] : [];
  if (sampleShape.length === 0 || sampleShape.some((d) => d === 0)) {
    throw new EdgeloopError('BAD_ARGUMENT', `${name}[0] must be a non-empty array of numbers or of number arrays, got ${describe(first)}`);
  }
  if (expected !== undefined && (expected.length !== sampleShape.length || expected.some((d, i) => d !== sampleShape[i]))) {
    throw new EdgeloopError('BAD_ARGUMENT', `${name} samples must have shape [${expected.join(', ')}] (as in training), got [${sampleShape.join(', ')}]`);
  }
  const size = sampleShape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(X.length * size);
  let k = 0;
  for (let i = 0; i < X.length; i++) {
    const row: unknown = X[i];
    if (!Array.isArray(row) || row.length !== sampleShape[0]) throw shapeError(name, i, sampleShape, row);
    for (let s = 0; s < sampleShape[0]; s++) {
      if (sampleShape.length === 1) {
        data[k++] = finite(row[s], name, `[${i}][${s}]`);
      } else {
        const step: unknown = row[s];
        if (!Array.isArray(step) || step.length !== sampleShape[1]) throw shapeError(name, i, sampleShape, row);
        for (let c = 0; c < sampleShape[1]; c++) data[k++] = finite(step[c], name, `[${i}][${s}][${c}]`);
      }
    }
  }
  return { n: X.length, sampleShape, data };
}

/** Class indices in [0, nClasses) for classification, finite values for regression. */
export function packTargets(y: readonly number[], n: number, task: Task, name: string, nClasses?: number): Float32Array {
  if (!Array.isArray(y) || y.length !== n) {
    throw new EdgeloopError('BAD_ARGUMENT', `${name} must have one target per sample (${n}), got ${Array.isArray(y) ? y.length : describe(y)}`);
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (task === 'classification') {
      const hi = nClasses === undefined ? 2 ** 16 : nClasses;
      if (!Number.isInteger(v) || v < 0 || v >= hi) {
        throw new EdgeloopError('BAD_ARGUMENT', `${name}[${i}] must be a class index, an integer in [0, ${hi - 1}], got ${String(v)}`);
      }
    } else if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new EdgeloopError('BAD_DATA', `${name}[${i}] must be a finite number, got ${String(v)}`);
    }
    out[i] = v;
  }
  return out;
}

/** Copy rows `rows` of a packed set into a new contiguous buffer (one batch). */
export function takeRows(src: Float32Array, rowSize: number, rows: ArrayLike<number>, from: number, to: number): Float32Array {
  const out = new Float32Array((to - from) * rowSize);
  // A plain loop: for the short rows of tabular data, a subarray view per row costs more than the copy.
  for (let r = from, o = 0; r < to; r++) {
    const at = rows[r]! * rowSize;
    for (let j = 0; j < rowSize; j++) out[o++] = src[at + j]!;
  }
  return out;
}

function finite(v: unknown, name: string, at: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new EdgeloopError('BAD_DATA', `${name}${at} must be a finite number, got ${String(v)}`);
  return v;
}

function shapeError(name: string, i: number, shape: number[], row: unknown): EdgeloopError {
  return new EdgeloopError('BAD_ARGUMENT', `${name}[${i}] must have shape [${shape.join(', ')}] like ${name}[0], got ${describe(row)}`);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return v === undefined ? 'undefined' : JSON.stringify(v) ?? String(v);
}
