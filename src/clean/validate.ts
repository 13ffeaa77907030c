/**
 * Validation of a cleaning spec: the schema, the cross-field rules and the columns each step needs,
 * followed through the steps (encoding removes and adds columns). Every problem is collected and
 * reported in one BAD_SPEC error so a spec is fixed in one round.
 */
import type { z } from '../schema.ts';
import { EdgeloopError } from '../errors.ts';
import type { Frame } from '../frame.ts';
import { CLEAN_OPS, cleanStepSchema, cleanStepsSchema, crossFieldProblems, type ResolvedStep } from './spec.ts';
import { oneHotName } from './steps-encode.ts';
import { RESERVED_FIELDS } from './steps-rows.ts';

export type ColumnKind = 'num' | 'cat' | 'any';
export interface ColumnNeed {
  field: string;
  column: string;
  kind: ColumnKind;
}

/** The columns a step reads, with the kind it needs. */
export function columnNeeds(step: ResolvedStep): ColumnNeed[] {
  const many = (field: string, cols: readonly string[], kind: ColumnKind): ColumnNeed[] => cols.map((column, j) => ({ field: `${field}[${j}]`, column, kind }));
  switch (step.op) {
    case 'dedupe':
      return many('keys', step.keys ?? [], 'any').filter((n) => !(RESERVED_FIELDS as readonly string[]).includes(n.column));
    case 'sentinel':
    case 'fill':
      return many('columns', step.columns, 'any');
    case 'drop-missing':
      return many('columns', step.columns ?? [], 'any');
    case 'impute': {
      const kind: ColumnKind = step.strategy === 'mode' ? 'any' : step.strategy === 'constant' ? (typeof step.value === 'string' ? 'cat' : 'num') : 'num';
      return many('columns', step.columns, kind);
    }
    case 'interpolate':
    case 'zscore':
    case 'iqr':
    case 'winsorize':
    case 'log':
    case 'cap':
      return many('columns', step.columns, 'num');
    case 'knn-impute':
      return [...many('columns', step.columns, 'num'), ...many('features', step.features ?? [], 'num')];
    case 'regression-impute':
      return [{ field: 'column', column: step.column, kind: 'num' }, ...many('features', step.features, 'num')];
    case 'range':
    case 'convert-unit':
      return [{ field: 'column', column: step.column, kind: 'num' }];
    case 'canonical-map':
    case 'regex-rewrite':
    case 'normalize-timestamp':
    case 'encode':
      return [{ field: 'column', column: step.column, kind: 'cat' }];
    case 'resample':
      return [];
    default: {
      const never: never = step;
      throw new Error(`unhandled op ${JSON.stringify(never)}`);
    }
  }
}

/** Column names as a step list sees them; one-hot columns are known only after fitting, by prefix. */
export interface ColumnSet {
  num: Set<string>;
  cat: Set<string>;
  numPrefixes: string[];
}

export function frameColumns(frame: Frame): ColumnSet {
  return { num: new Set(Object.keys(frame.num)), cat: new Set(Object.keys(frame.cat)), numPrefixes: [] };
}

function hasNum(cols: ColumnSet, c: string): boolean {
  return cols.num.has(c) || cols.numPrefixes.some((p) => c.startsWith(p));
}

/** Problems with the columns `step` needs, given the columns it receives. */
export function columnProblems(step: ResolvedStep, cols: ColumnSet): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  const listing = `numeric: ${[...cols.num].join(', ') || '(none)'}; categorical: ${[...cols.cat].join(', ') || '(none)'}`;
  for (const need of columnNeeds(step)) {
    const isNum = hasNum(cols, need.column);
    const isCat = cols.cat.has(need.column);
    if (need.kind === 'num' && !isNum) {
      out.push({ field: need.field, message: isCat ? `column '${need.column}' is categorical; this op needs a numeric column` : `column '${need.column}' does not exist (${listing})` });
    } else if (need.kind === 'cat' && !isCat) {
      out.push({ field: need.field, message: isNum ? `column '${need.column}' is numeric; this op needs a categorical column` : `column '${need.column}' does not exist (${listing})` });
    } else if (need.kind === 'any' && !isNum && !isCat) {
      out.push({ field: need.field, message: `column '${need.column}' does not exist (${listing})` });
    }
  }
  if (step.op === 'encode' && step.method !== 'one-hot' && cols.num.has(step.column)) {
    out.push({ field: 'column', message: `encoding '${step.column}' would overwrite the numeric column of the same name` });
  }
  return out;
}

/** The columns after `step` (as far as known before fitting). */
export function columnsAfter(step: ResolvedStep, cols: ColumnSet): ColumnSet {
  const next: ColumnSet = { num: new Set(cols.num), cat: new Set(cols.cat), numPrefixes: [...cols.numPrefixes] };
  if (step.op === 'encode') {
    next.cat.delete(step.column);
    if (step.method === 'one-hot') next.numPrefixes.push(oneHotName(step.column, ''));
    else next.num.add(step.column);
  } else if (step.op === 'normalize-timestamp' && step.output === 'epoch-ms') {
    next.cat.delete(step.column);
    next.num.add(step.column);
  }
  return next;
}

function opOf(raw: unknown): string {
  if (typeof raw === 'object' && raw !== null && 'op' in raw) return `'${String((raw as { op: unknown }).op)}'`;
  return '?';
}

function issueMessage(issue: z.core.$ZodIssue, raw: unknown): string {
  if (issue.code === 'invalid_union' && issue.path[issue.path.length - 1] === 'op') {
    return `unknown op ${opOf(raw)}; allowed ops: ${CLEAN_OPS.join(', ')}`;
  }
  if (issue.code === 'unrecognized_keys') {
    const option = cleanStepSchema.options.find((o) => `'${o.shape.op.value}'` === opOf(raw));
    const allowed = option ? `; allowed fields: ${Object.keys(option.shape).join(', ')}` : '';
    return `unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}${allowed}`;
  }
  if (issue.code === 'invalid_value') return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return issue.message;
}

function where(index: number | undefined, raw: unknown, field: string): string {
  if (index === undefined) return field === '' ? 'steps' : `steps.${field}`;
  return `steps[${index}] (op ${opOf(raw)})${field === '' ? '' : '.' + field}`;
}

/**
 * Parses and checks a step list against the columns of `frame`; returns the steps with defaults
 * filled in. @throws EdgeloopError BAD_SPEC listing every problem with its step index and field.
 */
export function validateCleanSteps(steps: unknown, frame: Frame): ResolvedStep[] {
  const problems: string[] = [];
  const parsed = cleanStepsSchema.safeParse(steps);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const [index, ...rest] = issue.path;
      const i = typeof index === 'number' ? index : undefined;
      const raw = i !== undefined && Array.isArray(steps) ? (steps[i] as unknown) : undefined;
      problems.push(`${where(i, raw, rest.map(String).join('.'))}: ${issueMessage(issue, raw)}`);
    }
  } else {
    let cols = frameColumns(frame);
    parsed.data.forEach((step, i) => {
      for (const p of [...crossFieldProblems(step), ...columnProblems(step, cols)]) problems.push(`${where(i, step, p.field)}: ${p.message}`);
      cols = columnsAfter(step, cols);
    });
  }
  if (problems.length > 0) {
    throw new EdgeloopError('BAD_SPEC', `invalid cleaning spec (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n- ${problems.join('\n- ')}`);
  }
  return parsed.success ? parsed.data : [];
}
