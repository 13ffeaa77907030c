/** Categorical encoding (label, one-hot, frequency) with vocabularies fitted on training data only. */
import { EdgeloopError } from '../errors.ts';
import { CLEAN_DEFAULTS } from './spec.ts';
import type { StepImpl } from './step-impl.ts';

/** Name of the numeric column one-hot encoding makes for `category` of `column` (e.g. `color=red`). */
export const oneHotName = (column: string, category: string): string => `${column}=${category}`;
export const OTHER_BUCKET = CLEAN_DEFAULTS.otherBucket;

export const encode: StepImpl<'encode'> = {
  fit(frame, step) {
    const counts = new Map<string, number>();
    let total = 0;
    for (const v of frame.cat[step.column]) {
      if (v === null) continue;
      counts.set(v, (counts.get(v) ?? 0) + 1);
      total++;
    }
    let rare = 0;
    const kept: [string, number][] = [];
    for (const [v, c] of counts) {
      if (c < step.minCount) rare += c;
      else kept.push([v, c]);
    }
    // Code-unit order, not locale order, so every runtime assigns the same codes.
    kept.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return {
      op: 'encode',
      vocabulary: kept.map(([v]) => v),
      shares: kept.map(([, c]) => (total === 0 ? 0 : c / total)),
      otherShare: total === 0 ? 0 : rare / total,
    };
  },
  apply(frame, step, state, rec) {
    const col = frame.cat[step.column];
    const code = new Map(state.vocabulary.map((v, i) => [v, i]));
    const other = state.vocabulary.length;
    // Index per row: vocabulary index, `other` for the other bucket, -1 for ignored, null for missing.
    const idx = col.map((v, i): number | null => {
      if (v === null) return null;
      const c = code.get(v);
      rec.count(step.column, 'encoded');
      if (c !== undefined) return c;
      rec.count(step.column, 'unseen');
      switch (step.unseen) {
        case 'error':
          throw new EdgeloopError(
            'BAD_DATA',
            `encode: column '${step.column}' row ${i} has category '${v}' not seen in training (known: ${state.vocabulary.slice(0, 10).join(', ')}${state.vocabulary.length > 10 ? ', …' : ''}); set unseen to 'ignore' or 'other' to accept it`,
          );
        case 'ignore':
          return -1;
        case 'other':
          return other;
        default: {
          const never: never = step.unseen;
          throw new Error(`unhandled unseen policy ${String(never)}`);
        }
      }
    });
    const cat = { ...frame.cat };
    delete cat[step.column];
    const num = { ...frame.num };
    rec.report.columnsDropped.push(step.column);
    switch (step.method) {
      case 'label':
        num[step.column] = idx;
        rec.report.columnsAdded.push(step.column);
        break;
      case 'frequency':
        num[step.column] = idx.map((k) => (k === null ? null : k === -1 ? 0 : k === other ? state.otherShare : state.shares[k]));
        rec.report.columnsAdded.push(step.column);
        break;
      case 'one-hot': {
        const names = state.vocabulary.map((v) => oneHotName(step.column, v));
        if (step.unseen === 'other') names.push(oneHotName(step.column, OTHER_BUCKET));
        names.forEach((name, j) => {
          num[name] = idx.map((k) => (k === null ? null : k === j ? 1 : 0));
        });
        rec.report.columnsAdded.push(...names);
        break;
      }
      default: {
        const never: never = step.method;
        throw new Error(`unhandled method ${String(never)}`);
      }
    }
    return { ...frame, num, cat };
  },
};
