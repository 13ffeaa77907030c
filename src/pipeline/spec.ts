/**
 * The pipeline spec: one serializable JSON document (version 1) describing input columns,
 * cleaning, split, features, selection and scaling. The zod schema is the single source of truth;
 * `PipelineSpecInput` (what a user writes) and `PipelineSpec` (defaults applied) derive from it.
 * `validatePipelineSpec` lists EVERY problem in one BAD_SPEC error. Reference: docs/pipeline.md.
 */
import { describeIssues, z } from '../schema.ts';
import { EdgeloopError, isEdgeloopError } from '../errors.ts';
import type { Frame } from '../frame.ts';
import { validateCleanSteps } from '../clean/index.ts';
import { DATE_FEATURES, dateColumns } from '../features/date.ts';
import { derivedColumns, type DerivedState } from '../features/derived.ts';
import { minReadingsFor, WINDOW_STATS } from '../features/stats.ts';
import { windowFeatureColumns } from '../features/streaming.ts';
import { minWindowReadings, type WindowSpec } from '../features/windows.ts';
import { assertTimeZone } from '../time/time-zone.ts';

/** Every default of the spec, documented once. */
export const PIPELINE_DEFAULTS = {
  seed: 0,
  parts: [
    { name: 'train', fraction: 0.7 },
    { name: 'val', fraction: 0.15 },
    { name: 'test', fraction: 0.15 },
  ],
  splitGapMs: 0,
  trainSplit: 'train',
  /** Readings further apart than this start a new window segment (5 minutes). */
  maxGapMs: 300_000,
  stats: ['mean', 'std', 'min', 'max'] as const,
  ddof: 1,
  rangeMin: 0,
  rangeMax: 1,
  quantileLow: 0.25,
  quantileHigh: 0.75,
} as const;
const D = PIPELINE_DEFAULTS;

const name = z.string().min(1);
const posInt = z.number().int().positive();
const posMs = z.number().positive();
const part = z.strictObject({ name, fraction: z.number().gt(0).max(1) });
const parts = z.array(part).min(1).default(D.parts.map((p) => ({ ...p })));
/** ISO-8601 with an explicit zone (Z or ±hh:mm), so a range means the same instant everywhere. */
const instant = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/, 'must be ISO-8601 with a zone, e.g. 2015-02-04T17:51:00+01:00');

const splitSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('random'), parts, seed: z.number().int().default(D.seed) }),
  z.strictObject({ type: z.literal('stratified'), parts, seed: z.number().int().default(D.seed) }),
  z.strictObject({ type: z.literal('time'), parts, gapMs: z.number().min(0).default(D.splitGapMs) }),
  z.strictObject({ type: z.literal('time-ranges'), ranges: z.array(z.strictObject({ name, start: instant, end: instant })).min(1) }),
]);

const windowSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('tumbling-count'), sizeReadings: posInt }),
  z.strictObject({ type: z.literal('sliding-count'), sizeReadings: posInt, stepReadings: posInt.default(1) }),
  z.strictObject({ type: z.literal('tumbling-time'), sizeMs: posMs, minReadings: posInt.optional() }),
  z.strictObject({ type: z.literal('sliding-time'), sizeMs: posMs, stepMs: z.number().min(0).default(0), minReadings: posInt.optional() }),
]);

const derivedSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('polynomial'), columns: z.array(name).min(1), interactionOnly: z.boolean().default(false) }),
  z.strictObject({ type: z.literal('device-mean'), columns: z.array(name).min(1) }),
]);

const selectSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('variance'), threshold: z.number().min(0) }),
  z.strictObject({ type: z.literal('correlation'), maxAbsR: z.number().gt(0).max(1) }),
  z.strictObject({ type: z.literal('mutual-info'), bins: z.number().int().min(2).max(256).default(10), keep: posInt }),
  z.strictObject({ type: z.literal('rfe'), keep: posInt, step: posInt.default(1) }),
]);

const scaleSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('standard') }),
  z.strictObject({ type: z.literal('minmax'), rangeMin: z.number().default(D.rangeMin), rangeMax: z.number().default(D.rangeMax) }),
  z.strictObject({ type: z.literal('robust'), quantileLow: z.number().min(0).max(1).default(D.quantileLow), quantileHigh: z.number().min(0).max(1).default(D.quantileHigh) }),
]);

export const pipelineSpecSchema = z.strictObject({
  version: z.literal(1),
  name: z.string().optional(),
  input: z.strictObject({
    sensors: z.array(name).min(1),
    /** Categorical columns the clean steps use (e.g. to encode); not features by themselves. */
    categorical: z.array(name).default([]),
    label: z.strictObject({
      column: name,
      task: z.enum(['classification', 'regression']),
      /** Class names in index order (y = index). Omitted: the sorted distinct train labels. */
      classes: z.array(z.string()).min(2).optional(),
    }).optional(),
  }),
  /** Clean steps, see docs/pipeline-clean.md; validated by validateCleanSteps. */
  clean: z.array(z.unknown()).default([]),
  split: splitSchema.default({ type: 'none' }),
  /** Name of the split everything is fitted on. */
  trainSplit: name.default(D.trainSplit),
  features: z.strictObject({
    window: windowSchema,
    maxGapMs: posMs.default(D.maxGapMs),
    stats: z.array(z.enum(WINDOW_STATS)).min(1).default([...D.stats]),
    ddof: z.number().int().min(0).default(D.ddof),
    sampleRateHz: z.number().positive().optional(),
    bands: z.array(z.strictObject({ loHz: z.number().min(0), hiHz: z.number().positive() })).default([]),
    date: z.strictObject({ timeZone: name, features: z.array(z.enum(DATE_FEATURES)).min(1) }).optional(),
    derived: z.array(derivedSchema).default([]),
  }),
  select: z.array(selectSchema).default([]),
  scale: scaleSchema.default({ type: 'none' }),
});

export type PipelineSpecInput = z.input<typeof pipelineSpecSchema>;
export type PipelineSpec = z.output<typeof pipelineSpecSchema>;
export type SplitSpec = PipelineSpec['split'];
export type FeatureSpec = PipelineSpec['features'];
export type SelectSpec = PipelineSpec['select'][number];

/** Split names the spec can produce, in order. */
export function splitNames(split: SplitSpec): string[] {
  switch (split.type) {
    case 'none': return [D.trainSplit];
    case 'random': case 'stratified': case 'time': return split.parts.map((p) => p.name);
    case 'time-ranges': return split.ranges.map((r) => r.name);
    default: {
      const never: never = split;
      throw new Error(`unreachable split ${String(never)}`);
    }
  }
}

/** The window spec with time windows' minReadings resolved (default: what the stats need). */
export function resolvedWindow(features: FeatureSpec): WindowSpec {
  const w = features.window;
  const need = Math.max(1, ...features.stats.map((s) => minReadingsFor(s, features.ddof)));
  switch (w.type) {
    case 'tumbling-time': return { type: w.type, sizeMs: w.sizeMs, minReadings: w.minReadings ?? need };
    case 'sliding-time': return { type: w.type, sizeMs: w.sizeMs, stepMs: w.stepMs, minReadings: w.minReadings ?? need };
    case 'none': case 'tumbling-count': case 'sliding-count': return w;
    default: {
      const never: never = w;
      throw new Error(`unreachable window ${String(never)}`);
    }
  }
}

/** Columns produced by windows and dates, before derived features and selection. */
export function baseColumns(features: FeatureSpec, sensors: readonly string[]): string[] {
  return [
    ...windowFeatureColumns({ window: resolvedWindow(features), sensors, stats: features.stats, bands: features.bands }),
    ...(features.date ? dateColumns(features.date.features) : []),
  ];
}

/** A frame with the spec's input columns and no rows, to check clean steps without data. */
function schemaFrame(spec: PipelineSpec): Frame {
  const num: Record<string, (number | null)[]> = {};
  for (const s of spec.input.sensors) num[s] = [];
  if (spec.input.label) num[spec.input.label.column] = [];
  const cat: Record<string, (string | null)[]> = {};
  for (const c of spec.input.categorical) cat[c] = [];
  return { ts: [], device: [], num, cat };
}

function semanticProblems(spec: PipelineSpec): string[] {
  const p: string[] = [];
  const { input, features, split } = spec;
  const dup = (xs: readonly string[]): string[] => xs.filter((x, i) => xs.indexOf(x) !== i);
  for (const d of dup(input.sensors)) p.push(`input.sensors: '${d}' appears twice`);
  if (input.label && input.sensors.includes(input.label.column)) p.push(`input.label.column: '${input.label.column}' is also a sensor; a label must not be a feature`);
  if (input.label?.classes) for (const d of dup(input.label.classes)) p.push(`input.label.classes: '${d}' appears twice`);
  if (input.label?.classes && input.label.task !== 'classification') p.push('input.label.classes: only a classification label has classes');

  const names = splitNames(split);
  for (const d of dup(names)) p.push(`split: split name '${d}' appears twice`);
  if (!names.includes(spec.trainSplit)) p.push(`trainSplit: '${spec.trainSplit}' is not a split name; splits are ${names.join(', ')}`);
  if (split.type === 'random' || split.type === 'stratified' || split.type === 'time') {
    const total = split.parts.reduce((a, b) => a + b.fraction, 0);
    if (Math.abs(total - 1) > 1e-9) p.push(`split.parts: fractions must sum to 1, got ${total}`);
  }
  if (split.type === 'stratified' && input.label?.task !== 'classification') p.push('split: a stratified split needs a classification label (input.label.task)');
  if (split.type === 'time-ranges') {
    const ranges = split.ranges.map((r) => ({ name: r.name, startMs: Date.parse(r.start), endMs: Date.parse(r.end) }));
    ranges.forEach((r, i) => {
      if (!(r.endMs > r.startMs)) p.push(`split.ranges[${i}] ('${r.name}'): end must be after start`);
    });
    const sorted = [...ranges].sort((a, b) => a.startMs - b.startMs);
    for (let i = 1; i < sorted.length; i++) if (sorted[i].startMs < sorted[i - 1].endMs) p.push(`split.ranges: '${sorted[i - 1].name}' and '${sorted[i].name}' overlap`);
  }

  const w = resolvedWindow(features);
  if (w.type !== 'none') {
    for (const d of dup(features.stats)) p.push(`features.stats: '${d}' appears twice`);
    // A window too small for a statistic would emit NaN; the pipeline promises finite features.
    const minReadings = minWindowReadings(w);
    for (const s of features.stats) {
      const need = minReadingsFor(s, features.ddof);
      if (minReadings < need) p.push(`features.stats: '${s}' needs windows of at least ${need} readings, but the window guarantees ${minReadings} (raise sizeReadings/minReadings)`);
    }
    const spectral = features.stats.includes('dominant_freq') || features.bands.length > 0;
    if (spectral && features.sampleRateHz === undefined) p.push('features.sampleRateHz: required by dominant_freq and bands (the nominal sampling rate)');
    features.bands.forEach((b, i) => {
      if (!(b.hiHz > b.loHz)) p.push(`features.bands[${i}]: hiHz must be > loHz, got [${b.loHz}, ${b.hiHz})`);
    });
  } else if (features.bands.length > 0) {
    p.push('features.bands: needs a window (features.window.type is none)');
  }
  if (features.date) {
    try {
      assertTimeZone(features.date.timeZone);
    } catch {
      p.push(`features.date.timeZone: '${features.date.timeZone}' is not a known IANA time zone (e.g. 'Europe/Brussels')`);
    }
  }
  let cols = baseColumns(features, input.sensors);
  features.derived.forEach((d, i) => {
    const missing = d.columns.filter((c) => !cols.includes(c));
    if (missing.length > 0) p.push(`features.derived[${i}]: unknown column(s) ${missing.map((m) => `'${m}'`).join(', ')}; available: ${cols.join(', ')}`);
    const state: DerivedState = d.type === 'polynomial' ? { type: 'polynomial', columns: d.columns, interactionOnly: d.interactionOnly } : { type: 'device-mean', columns: d.columns, byDevice: {}, overall: [] };
    cols = [...cols, ...derivedColumns(state)];
  });
  spec.select.forEach((s, i) => {
    if ((s.type === 'mutual-info' || s.type === 'rfe') && !input.label) p.push(`select[${i}] (${s.type}): needs input.label`);
    if (s.type === 'mutual-info' && input.label && input.label.task !== 'classification') p.push(`select[${i}] (mutual-info): only for classification labels`);
    if ((s.type === 'mutual-info' || s.type === 'rfe') && s.keep > cols.length) p.push(`select[${i}] (${s.type}): keep must be ≤ ${cols.length} (the number of features), got ${s.keep}`);
  });
  if (spec.scale.type === 'minmax' && !(spec.scale.rangeMax > spec.scale.rangeMin)) p.push(`scale: rangeMax must be > rangeMin, got [${spec.scale.rangeMin}, ${spec.scale.rangeMax}]`);
  if (spec.scale.type === 'robust' && !(spec.scale.quantileLow < spec.scale.quantileHigh)) p.push(`scale: quantileLow must be < quantileHigh, got ${spec.scale.quantileLow}, ${spec.scale.quantileHigh}`);
  try {
    validateCleanSteps(spec.clean, schemaFrame(spec));
  } catch (err) {
    if (!isEdgeloopError(err, 'BAD_SPEC')) throw err;
    for (const line of err.message.split('\n').slice(1)) p.push(`clean: ${line.replace(/^- /, '')}`);
  }
  return p;
}

/**
 * Parses and checks a spec; returns it with defaults applied.
 * @throws EdgeloopError BAD_SPEC listing every problem, one per line.
 */
export function validatePipelineSpec(input: unknown): PipelineSpec {
  const parsed = pipelineSpecSchema.safeParse(input);
  const problems = parsed.success
    ? semanticProblems(parsed.data)
    : describeIssues(parsed.error.issues, '(spec)');
  if (problems.length > 0) {
    throw new EdgeloopError('BAD_SPEC', `invalid pipeline spec (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n- ${problems.join('\n- ')}`);
  }
  return (parsed as { data: PipelineSpec }).data;
}

/** Epoch-ms ranges of a time-ranges split. */
export function splitRangesMs(split: Extract<SplitSpec, { type: 'time-ranges' }>): { name: string; startMs: number; endMs: number }[] {
  return split.ranges.map((r) => ({ name: r.name, startMs: Date.parse(r.start), endMs: Date.parse(r.end) }));
}
