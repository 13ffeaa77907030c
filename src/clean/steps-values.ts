/** Value-consistency steps: canonical maps, regex rewrites, range rules, capping, units, timestamps. */
import { EdgeloopError, isEdgeloopError } from '../errors.ts';
import type { Frame } from '../frame.ts';
import { parseTimestamp } from '../time/parse-timestamp.ts';
import { takeRows, withCat, withNum, type StepRecorder } from './frame-ops.ts';
import { stateless, type StepImpl } from './step-impl.ts';
import { unitConverter } from './units.ts';

function rewriteCat(frame: Frame, column: string, rec: StepRecorder, f: (v: string) => string): Frame {
  let n = 0;
  const values = frame.cat[column].map((v) => {
    if (v === null) return v;
    const w = f(v);
    if (w !== v) n++;
    return w;
  });
  rec.count(column, 'rewritten', n);
  return n > 0 ? withCat(frame, column, values) : frame;
}

export const canonicalMap: StepImpl<'canonical-map'> = {
  fit: stateless,
  apply(frame, step, _state, rec) {
    const norm = (v: string): string => {
      const t = step.trim ? v.trim() : v;
      return step.caseInsensitive ? t.toLowerCase() : t;
    };
    const lookup = new Map<string, string>();
    for (const [variant, canonical] of Object.entries(step.map)) lookup.set(norm(variant), canonical);
    return rewriteCat(frame, step.column, rec, (v) => lookup.get(norm(v)) ?? (step.trim ? v.trim() : v));
  },
};

export const regexRewrite: StepImpl<'regex-rewrite'> = {
  fit: stateless,
  apply(frame, step, _state, rec) {
    const re = new RegExp(step.pattern, step.flags.includes('g') ? step.flags : step.flags + 'g');
    return rewriteCat(frame, step.column, rec, (v) => v.replace(re, step.replacement));
  },
};

/** Nulls or clips values outside [min, max]; shared by 'range', 'cap' and the fitted outlier steps. */
export function boundColumn(frame: Frame, column: string, min: number | undefined, max: number | undefined, action: 'null' | 'clip', rec: StepRecorder): Frame {
  const lo = min ?? Number.NEGATIVE_INFINITY;
  const hi = max ?? Number.POSITIVE_INFINITY;
  let n = 0;
  const values = frame.num[column].map((v) => {
    if (v === null || (v >= lo && v <= hi)) return v;
    n++;
    if (action === 'null') return null;
    return v < lo ? lo : hi;
  });
  rec.count(column, action === 'null' ? 'nulled' : 'clipped', n);
  return n > 0 ? withNum(frame, column, values) : frame;
}

export const range: StepImpl<'range'> = {
  fit: stateless,
  apply: (frame, step, _state, rec) => boundColumn(frame, step.column, step.min, step.max, step.action, rec),
};

export const cap: StepImpl<'cap'> = {
  fit: stateless,
  apply(frame, step, _state, rec) {
    let out = frame;
    for (const column of step.columns) out = boundColumn(out, column, step.min, step.max, 'clip', rec);
    return out;
  },
};

export const convertUnit: StepImpl<'convert-unit'> = {
  fit: stateless,
  apply(frame, step, _state, rec) {
    if (step.from === step.to) return frame;
    const f = unitConverter(step.from, step.to);
    let n = 0;
    const values = frame.num[step.column].map((v) => (v === null ? v : (n++, f(v))));
    rec.count(step.column, 'converted', n);
    return withNum(frame, step.column, values);
  },
};

export const normalizeTimestamp: StepImpl<'normalize-timestamp'> = {
  fit: stateless,
  apply(frame, step, _state, rec) {
    const col = frame.cat[step.column];
    const parsed = col.map((v, i): number | null => {
      if (v === null) return null;
      try {
        return parseTimestamp(v, { format: step.format, timeZone: step.timeZone });
      } catch (err) {
        if (step.onInvalid === 'error' || !isEdgeloopError(err, 'BAD_TIMESTAMP')) {
          throw new EdgeloopError(isEdgeloopError(err) ? err.code : 'BAD_TIMESTAMP', `normalize-timestamp: column '${step.column}' row ${i}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        rec.count(step.column, 'nulled');
        return null;
      }
    });
    switch (step.output) {
      case 'iso':
        return withCat(
          frame,
          step.column,
          parsed.map((ms, i) => {
            if (ms === null) return null;
            const iso = new Date(ms).toISOString();
            if (iso !== col[i]) rec.count(step.column, 'rewritten');
            return iso;
          }),
        );
      case 'epoch-ms': {
        const cat = { ...frame.cat };
        delete cat[step.column];
        rec.count(step.column, 'converted', parsed.filter((v) => v !== null).length);
        rec.report.columnsDropped.push(step.column);
        rec.report.columnsAdded.push(step.column);
        return { ...frame, cat, num: { ...frame.num, [step.column]: parsed } };
      }
      case 'ts': {
        const keep: number[] = [];
        parsed.forEach((ms, i) => {
          if (ms !== null) keep.push(i);
        });
        let changed = 0;
        const ts = frame.ts.map((t, i) => {
          const ms = parsed[i];
          if (ms === null || ms === t) return t;
          changed++;
          return ms;
        });
        rec.count('ts', 'rewritten', changed);
        const out = { ...frame, ts };
        if (keep.length === ts.length) return out;
        rec.report.rowsDropped = ts.length - keep.length;
        return takeRows(out, keep);
      }
      default: {
        const never: never = step.output;
        throw new Error(`unhandled output ${String(never)}`);
      }
    }
  },
};
