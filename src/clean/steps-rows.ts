/** Row- and column-removing steps: dedupe, sentinel markers, drop-missing. */
import type { Frame } from '../frame.ts';
import { takeRows, withCat, withNum } from './frame-ops.ts';
import { stateless, type StepImpl } from './step-impl.ts';

/** The field names a dedupe key may use besides columns. */
export const RESERVED_FIELDS = ['ts', 'device'] as const;

function fieldValues(frame: Frame, field: string): readonly unknown[] {
  if (field === 'ts') return frame.ts;
  if (field === 'device') return frame.device;
  return frame.num[field] ?? frame.cat[field];
}

export const dedupe: StepImpl<'dedupe'> = {
  fit: stateless,
  apply(frame, step, _state, rec) {
    const fields = step.keys ?? ['ts', 'device', ...Object.keys(frame.num), ...Object.keys(frame.cat)];
    const cols = fields.map((f) => fieldValues(frame, f));
    const n = frame.ts.length;
    const seen = new Set<string>();
    const keep: number[] = [];
    // Keeping the last occurrence is keeping the first one of the reversed order.
    for (let j = 0; j < n; j++) {
      const i = step.keep === 'first' ? j : n - 1 - j;
      const key = JSON.stringify(cols.map((c) => c[i]));
      if (!seen.has(key)) {
        seen.add(key);
        keep.push(i);
      }
    }
    if (keep.length === n) return frame;
    keep.sort((a, b) => a - b);
    rec.report.rowsDropped = n - keep.length;
    return takeRows(frame, keep);
  },
};

export const sentinel: StepImpl<'sentinel'> = {
  fit: stateless,
  apply(frame, step, _state, rec) {
    let out = frame;
    const asNumbers = new Set(step.values.map(Number).filter(Number.isFinite));
    const asStrings = new Set(step.values.map(String));
    for (const column of step.columns) {
      const num = frame.num[column];
      if (num !== undefined) {
        let n = 0;
        const values = num.map((v) => (v !== null && asNumbers.has(v) ? (n++, null) : v));
        rec.count(column, 'nulled', n);
        if (n > 0) out = withNum(out, column, values);
        continue;
      }
      let n = 0;
      const values = frame.cat[column].map((v) => (v !== null && asStrings.has(v) ? (n++, null) : v));
      rec.count(column, 'nulled', n);
      if (n > 0) out = withCat(out, column, values);
    }
    return out;
  },
};

function missingShare(values: readonly unknown[]): number {
  if (values.length === 0) return 0;
  let n = 0;
  for (const v of values) if (v === null) n++;
  return n / values.length;
}

export const dropMissing: StepImpl<'drop-missing'> = {
  fit(frame, step) {
    if (step.axis === 'rows') return { op: 'drop-missing', dropColumns: [] };
    const candidates = step.columns ?? [...Object.keys(frame.num), ...Object.keys(frame.cat)];
    const dropColumns = candidates.filter((c) => missingShare(frame.num[c] ?? frame.cat[c]) > step.maxMissingShare);
    return { op: 'drop-missing', dropColumns };
  },
  apply(frame, step, state, rec) {
    if (step.axis === 'columns') {
      const num = { ...frame.num };
      const cat = { ...frame.cat };
      for (const c of state.dropColumns) {
        delete num[c];
        delete cat[c];
      }
      rec.report.columnsDropped = [...state.dropColumns];
      return { ...frame, num, cat };
    }
    const columns = step.columns ?? [...Object.keys(frame.num), ...Object.keys(frame.cat)];
    if (columns.length === 0) return frame;
    const cols = columns.map((c) => frame.num[c] ?? frame.cat[c]);
    const keep: number[] = [];
    for (let i = 0; i < frame.ts.length; i++) {
      let missing = 0;
      for (const col of cols) if (col[i] === null) missing++;
      if (missing / cols.length <= step.maxMissingShare) keep.push(i);
    }
    if (keep.length === frame.ts.length) return frame;
    rec.report.rowsDropped = frame.ts.length - keep.length;
    return takeRows(frame, keep);
  },
};
