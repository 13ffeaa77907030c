/**
 * The cleaning step list: a JSON-serializable discriminated union on `op`. The zod schema is the
 * single source of truth; `CleanStep` (what a user writes) and `ResolvedStep` (defaults applied) are
 * derived from it. Objects are strict so a typo such as `maxGapMS` is reported, not ignored.
 * The step reference with examples is docs/pipeline-clean.md.
 */
import { z } from '../schema.ts';
import { UNIT_NAMES, unitDimension } from './units.ts';

/** Every default of every step, documented once. */
export const CLEAN_DEFAULTS = {
  dedupeKeep: 'first',
  zscoreK: 3,
  iqrK: 1.5,
  outlierAction: 'clip',
  winsorizeLower: 0.01,
  winsorizeUpper: 0.99,
  logNegative: 'signed',
  knnK: 5,
  /** KNN keeps training rows in the state (it travels to the device); above this many, an even stride is kept. */
  knnMaxReferenceRows: 2000,
  unseen: 'error',
  encodeMinCount: 1,
  otherBucket: '__other__',
  caseInsensitive: false,
  trim: true,
  regexFlags: '',
  timestampFormat: 'auto',
  timeZone: 'UTC',
  timestampInvalid: 'error',
  timestampOutput: 'iso',
  resampleAgg: 'mean',
  resampleFill: 'none',
} as const;

const D = CLEAN_DEFAULTS;
const name = z.string().min(1);
const columns = z.array(name).min(1);
const finite = z.number().finite();
const positiveMs = z.number().int().positive();
const share = z.number().min(0).max(1);
const action = z.enum(['null', 'clip']);

const dedupe = z.strictObject({
  op: z.literal('dedupe'),
  /** Fields that identify a row: column names plus the reserved 'ts' and 'device'. Omitted: all fields. */
  keys: z.array(name).min(1).optional(),
  keep: z.enum(['first', 'last']).default(D.dedupeKeep),
});
const sentinel = z.strictObject({
  op: z.literal('sentinel'),
  columns,
  values: z.array(z.union([finite, z.string()])).min(1),
});
const dropMissing = z.strictObject({
  op: z.literal('drop-missing'),
  axis: z.enum(['rows', 'columns']),
  /** Columns considered; omitted: all numeric and categorical columns. */
  columns: columns.optional(),
  /** Rows: drop a row whose missing share over `columns` exceeds this. Columns: drop a column whose train missing share exceeds it. */
  maxMissingShare: share,
});
const impute = z.strictObject({
  op: z.literal('impute'),
  columns,
  strategy: z.enum(['mean', 'median', 'mode', 'constant']),
  /** Required for 'constant'. */
  value: z.union([finite, z.string()]).optional(),
});
const fill = z.strictObject({
  op: z.literal('fill'),
  columns,
  direction: z.enum(['forward', 'backward']),
  maxGapMs: positiveMs.optional(),
  maxRows: z.number().int().positive().optional(),
});
const interpolate = z.strictObject({
  op: z.literal('interpolate'),
  columns,
  /** The two readings bracketing a hole must be at most this far apart. */
  maxGapMs: positiveMs.optional(),
});
const knnImpute = z.strictObject({
  op: z.literal('knn-impute'),
  columns,
  /** Numeric columns used for the distance besides `columns`; omitted: every numeric column. */
  features: z.array(name).optional(),
  k: z.number().int().min(1).max(100).default(D.knnK),
  maxReferenceRows: z.number().int().min(1).max(100_000).default(D.knnMaxReferenceRows),
});
const regressionImpute = z.strictObject({
  op: z.literal('regression-impute'),
  column: name,
  features: columns,
});
const canonicalMap = z.strictObject({
  op: z.literal('canonical-map'),
  column: name,
  /** variant → canonical value. */
  map: z.record(z.string(), z.string()),
  caseInsensitive: z.boolean().default(D.caseInsensitive),
  trim: z.boolean().default(D.trim),
});
const regexRewrite = z.strictObject({
  op: z.literal('regex-rewrite'),
  column: name,
  pattern: z.string().min(1),
  /** JavaScript RegExp flags; 'g' is implied when absent so every match is replaced. */
  flags: z.string().regex(/^[gimsuy]*$/, 'flags must be drawn from g, i, m, s, u, y').default(D.regexFlags),
  replacement: z.string(),
});
const range = z.strictObject({
  op: z.literal('range'),
  column: name,
  min: finite.optional(),
  max: finite.optional(),
  action,
});
const cap = z.strictObject({
  op: z.literal('cap'),
  columns,
  min: finite.optional(),
  max: finite.optional(),
});
const unit = z.enum(UNIT_NAMES);
const convertUnit = z.strictObject({
  op: z.literal('convert-unit'),
  column: name,
  from: unit,
  to: unit,
});
const normalizeTimestamp = z.strictObject({
  op: z.literal('normalize-timestamp'),
  column: name,
  format: z.enum(['auto', 'iso', 'epoch-s', 'epoch-ms', 'local']).default(D.timestampFormat),
  timeZone: z.string().min(1).default(D.timeZone),
  /** 'iso': rewrite the column as ISO-8601 UTC text; 'epoch-ms': replace it by a numeric column; 'ts': set the row timestamps. */
  output: z.enum(['iso', 'epoch-ms', 'ts']).default(D.timestampOutput),
  /** Unparseable values: 'null' them (for output 'ts': drop the row) or fail with BAD_TIMESTAMP. */
  onInvalid: z.enum(['null', 'error']).default(D.timestampInvalid),
});
const zscore = z.strictObject({
  op: z.literal('zscore'),
  columns,
  k: z.number().finite().positive().default(D.zscoreK),
  action: action.default(D.outlierAction),
});
const iqr = z.strictObject({
  op: z.literal('iqr'),
  columns,
  k: z.number().finite().nonnegative().default(D.iqrK),
  action: action.default(D.outlierAction),
});
const winsorize = z.strictObject({
  op: z.literal('winsorize'),
  columns,
  lower: share.default(D.winsorizeLower),
  upper: share.default(D.winsorizeUpper),
});
const log = z.strictObject({
  op: z.literal('log'),
  columns,
  /** log1p is undefined at ≤ -1: 'signed' uses sign(x)·log1p(|x|); 'null' nulls negatives; 'shift' adds the train minimum's magnitude. */
  negative: z.enum(['signed', 'null', 'shift']).default(D.logNegative),
});
const encode = z.strictObject({
  op: z.literal('encode'),
  column: name,
  method: z.enum(['label', 'one-hot', 'frequency']),
  /** Categories not seen in training: fail, encode as nothing (-1 / all-zero / 0), or map to the 'other' bucket. */
  unseen: z.enum(['error', 'ignore', 'other']).default(D.unseen),
  /** Training categories seen fewer times go to the 'other' bucket (needs unseen: 'other'). */
  minCount: z.number().int().min(1).default(D.encodeMinCount),
});
const resample = z.strictObject({
  op: z.literal('resample'),
  intervalMs: positiveMs,
  agg: z.enum(['mean', 'last', 'first', 'min', 'max']).default(D.resampleAgg),
  /** Empty bins: stay null ('none'), carry the last value ('forward') or interpolate ('linear'), but only across gaps ≤ maxGapMs. */
  fill: z.enum(['none', 'forward', 'linear']).default(D.resampleFill),
  maxGapMs: positiveMs.optional(),
});

export const cleanStepSchema = z.discriminatedUnion('op', [
  dedupe, sentinel, dropMissing, impute, fill, interpolate, knnImpute, regressionImpute, canonicalMap,
  regexRewrite, range, cap, convertUnit, normalizeTimestamp, zscore, iqr, winsorize, log, encode, resample,
]);
export const cleanStepsSchema = z.array(cleanStepSchema);

/** A cleaning step as written in a pipeline spec (defaults may be omitted). */
export type CleanStep = z.input<typeof cleanStepSchema>;
/** A step with every default filled in. */
export type ResolvedStep = z.output<typeof cleanStepSchema>;
export type CleanOp = ResolvedStep['op'];
export type StepOf<Op extends CleanOp> = Extract<ResolvedStep, { op: Op }>;

export const CLEAN_OPS: readonly CleanOp[] = cleanStepSchema.options.map((o) => o.shape.op.value);

/** Problems the schema cannot express (cross-field rules), one message per problem. */
export function crossFieldProblems(step: ResolvedStep): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  const minMax = (min: number | undefined, max: number | undefined): void => {
    if (min === undefined && max === undefined) out.push({ field: 'min', message: 'at least one of min or max is required' });
    if (min !== undefined && max !== undefined && min > max) out.push({ field: 'min', message: `min (${min}) must be ≤ max (${max})` });
  };
  switch (step.op) {
    case 'range':
    case 'cap':
      minMax(step.min, step.max);
      break;
    case 'impute':
      if (step.strategy === 'constant' && step.value === undefined) out.push({ field: 'value', message: "required when strategy is 'constant'" });
      if (step.strategy !== 'constant' && step.value !== undefined) out.push({ field: 'value', message: "only allowed when strategy is 'constant'" });
      break;
    case 'fill':
      if (step.maxGapMs === undefined && step.maxRows === undefined) {
        out.push({ field: 'maxGapMs', message: 'at least one of maxGapMs or maxRows is required (an unbounded fill invents data across outages)' });
      }
      break;
    case 'winsorize':
      if (step.lower >= step.upper) out.push({ field: 'lower', message: `lower (${step.lower}) must be < upper (${step.upper})` });
      break;
    case 'regex-rewrite':
      try {
        new RegExp(step.pattern, step.flags);
      } catch (err) {
        out.push({ field: 'pattern', message: `not a valid regular expression: ${err instanceof Error ? err.message : String(err)}` });
      }
      break;
    case 'encode':
      if (step.minCount > 1 && step.unseen !== 'other') out.push({ field: 'minCount', message: "minCount > 1 needs unseen: 'other' (rare categories go to the other bucket)" });
      break;
    case 'resample':
      if (step.fill !== 'none' && step.maxGapMs === undefined) out.push({ field: 'maxGapMs', message: `required when fill is '${step.fill}'` });
      if (step.maxGapMs !== undefined && step.maxGapMs < step.intervalMs) out.push({ field: 'maxGapMs', message: `must be ≥ intervalMs (${step.intervalMs})` });
      break;
    case 'convert-unit':
      if (unitDimension(step.from) !== unitDimension(step.to)) {
        out.push({ field: 'to', message: `cannot convert ${step.from} (${unitDimension(step.from)}) to ${step.to} (${unitDimension(step.to)})` });
      }
      break;
    case 'dedupe':
    case 'sentinel':
    case 'drop-missing':
    case 'interpolate':
    case 'knn-impute':
    case 'regression-impute':
    case 'canonical-map':
    case 'normalize-timestamp':
    case 'zscore':
    case 'iqr':
    case 'log':
      break;
    default: {
      const never: never = step;
      throw new Error(`unhandled op ${JSON.stringify(never)}`);
    }
  }
  return out;
}
