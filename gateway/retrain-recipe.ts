/**
 * The retraining recipe: the current version's own pipeline spec and training run (model kind and
 * params), refitted on recent data, and an offline comparison of candidate and current model on the
 * same recent holdout rows.
 *
 * Recent data: the fleet's readings in the last `recentWindowMs` of DATA time (relative to the newest
 * stored reading, not the wall clock, so a replayed or delayed backlog works the same). The window is
 * split by time — never at random — into a training part and the most recent `holdoutFraction` as the
 * holdout, so no holdout reading or window precedes a training one (no leakage through windows or
 * autocorrelation). The spec is the current one with only its split replaced by these two ranges
 * (plus, with `includeOriginal`, the original training ranges that end before the window).
 *
 * Both models are scored on the holdout through their OWN fitted pipelines: the candidate's matrix
 * from its refit, the current model's from transformPipeline with the fitted state in its manifest;
 * rows are paired on (device, window end ts) and only rows present in both are scored.
 */
import { EdgeloopError } from '../src/errors.ts';
import type { Frame, FeatureMatrix } from '../src/frame.ts';
import { canonicalJson, fitPipeline, sha256Hex, transformPipeline, validatePipelineSpec, type FittedPipeline } from '../src/pipeline/index.ts';
import { takeRows } from '../src/pipeline/rows.ts';
import { splitsOf, trainModel, loadNative, type NativeModel, type TrainResult, type TuneOptions } from '../models/training.ts';
import { accuracy } from '../models/metrics/index.ts';
import { loadFrame } from './frame-loader.ts';
import { computeInWorker } from './retrain-worker-client.ts';
import type { Store } from './store.ts';
import type { VersionRecord } from './registry-types.ts';
import type { RetrainEvaluation } from './retrain-jobs.ts';

export interface RecipeOptions {
  /** Recent data: this much data time before the newest reading. */
  recentWindowMs: number;
  /** The most recent fraction of the window held out (by time) for the comparison. */
  holdoutFraction: number;
  /** Also train on the original training ranges that end before the recent window. */
  includeOriginal: boolean;
  /** Re-tune with this search instead of reusing the run's params as they are. */
  retune?: TuneOptions;
  seed: number;
  /**
   * Fit on this thread. Default: a worker thread (gateway/retrain-worker.ts), because a fit holds the
   * thread for seconds and the gateway's broker, ingest and API share it.
   */
  inProcess?: boolean;
}

/** What the recipe needs to know about the current version beyond the registry record. */
export interface CurrentModel {
  record: VersionRecord;
  native: NativeModel;
  /** Model kind and params from the training run (lineage.runId) or the native document. */
  kind: string;
  params: Record<string, unknown>;
}

export interface Candidate {
  trained: TrainResult;
  spec: unknown;
  fitted: FittedPipeline;
  matrix: FeatureMatrix;
  /** sha256 of the candidate's matrix (the same rule as `edgeloop prepare`). */
  dataHash: string;
  evaluation: Omit<RetrainEvaluation, 'minGain'>;
}

interface SpecShape {
  input: { sensors: string[]; label?: { column: string; task: 'classification' | 'regression'; classes?: string[] } };
  split: { type: string; ranges?: { name: string; start: string; end: string }[] };
  trainSplit: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The recent window of a fleet's data for a model's spec, in data time. */
export interface RecentWindow {
  /** [fromMs, toMs): at most recentWindowMs, and no more than the fleet has. */
  fromMs: number;
  toMs: number;
  /** Data time covered by the label column inside the window (labels can lag the sensors). */
  labelledSpanMs: number;
}

/**
 * Where the recent window of `fleet` lies for a version's pipeline spec (only the registry record is
 * needed: a waiting job asks on every watch tick); BAD_DATA when there is nothing to retrain on.
 */
export async function recentWindowOf(store: Store, fleet: string, record: Pick<VersionRecord, 'model' | 'version' | 'pipeline'>, recentWindowMs: number): Promise<RecentWindow> {
  const spec = validatePipelineSpec(record.pipeline.spec) as unknown as SpecShape;
  const label = spec.input.label;
  if (!label) throw new EdgeloopError('BAD_DATA', `${record.model}@${record.version}: its pipeline spec has no label column, so it cannot be retrained`);
  const columns = [...new Set([...spec.input.sensors, label.column])];
  // Index lookups, not a scan of the fleet's readings: a waiting job asks this on every watch tick.
  const ranges = await store.sensorRanges(fleet, columns);
  if (ranges.length === 0) throw new EdgeloopError('BAD_DATA', `fleet '${fleet}' has no stored readings of ${columns.join(', ')}`);
  const toMs = Math.max(...ranges.map((s) => s.lastTsMs)) + 1;
  // The window holds at most recentWindowMs of data time, and no more than the fleet has: the
  // holdout is the newest fraction of the data actually there, so a young fleet still gets a train part.
  const fromMs = Math.max(toMs - recentWindowMs, Math.min(...ranges.map((s) => s.firstTsMs)));
  const labels = ranges.filter((s) => s.sensor === label.column);
  const labelledSpanMs = labels.length === 0 ? 0
    : Math.max(0, Math.min(toMs, Math.max(...labels.map((s) => s.lastTsMs)) + 1) - Math.max(fromMs, Math.min(...labels.map((s) => s.firstTsMs))));
  return { fromMs, toMs, labelledSpanMs };
}

/** `window`: the recentWindowOf answer the caller already has (else it is asked here). */
export async function buildCandidate(store: Store, fleet: string, current: CurrentModel, o: RecipeOptions, window?: RecentWindow): Promise<Candidate> {
  const spec = validatePipelineSpec(current.record.pipeline.spec) as unknown as SpecShape;
  const label = spec.input.label!;
  if (!(o.holdoutFraction > 0 && o.holdoutFraction < 1)) throw new EdgeloopError('BAD_ARGUMENT', `holdoutFraction must be in (0, 1), got ${o.holdoutFraction}`);
  const { fromMs: windowFromMs, toMs } = window ?? (await recentWindowOf(store, fleet, current.record, o.recentWindowMs));
  const holdoutFromMs = Math.round(windowFromMs + (1 - o.holdoutFraction) * (toMs - windowFromMs));
  const ranges = [{ name: 'train', start: iso(windowFromMs), end: iso(holdoutFromMs) }, { name: 'holdout', start: iso(holdoutFromMs), end: iso(toMs) }];
  let fromMs = windowFromMs;
  if (o.includeOriginal && spec.split.type === 'time-ranges') {
    for (const r of spec.split.ranges ?? []) {
      if (r.name !== spec.trainSplit) continue;
      const start = Date.parse(r.start);
      const end = Math.min(Date.parse(r.end), windowFromMs);
      if (end > start) {
        ranges.unshift({ name: 'train', start: r.start, end: iso(end) });
        fromMs = Math.min(fromMs, start);
      }
    }
  }
  const candidateSpec = { ...(current.record.pipeline.spec as Record<string, unknown>), split: { type: 'time-ranges', ranges }, trainSplit: 'train' };
  const frame = await loadFrame(store, { fleet, fromMs, toMs });
  const input: CandidateInput = {
    frame, candidateSpec, holdoutFromMs, toMs, windowFromMs,
    current: { spec: current.record.pipeline.spec, fitted: current.record.pipeline.fitted as FittedPipeline, native: current.native },
    train: { kind: current.kind, task: label.task, params: o.retune ? {} : current.params, tune: o.retune, seed: o.seed, classes: current.record.classes ?? label.classes },
  };
  const computed = o.inProcess ? await computeCandidate(input) : await computeInWorker(input);
  const { native, ...trained } = computed.trained;
  return { ...computed, trained: { ...trained, model: await loadNative(native, label.task) } };
}

/** What the fit and the comparison need: plain data, so it can cross to a worker thread. */
export interface CandidateInput {
  frame: Frame;
  candidateSpec: Record<string, unknown>;
  windowFromMs: number;
  holdoutFromMs: number;
  toMs: number;
  current: { spec: unknown; fitted: FittedPipeline; native: NativeModel };
  train: { kind: string; task: 'classification' | 'regression'; params: Record<string, unknown>; tune?: TuneOptions; seed: number; classes?: string[] };
}

/** A Candidate whose trained model is its native document (structured-clonable). */
export type ComputedCandidate = Omit<Candidate, 'trained'> & { trained: Omit<TrainResult, 'model' | 'report'> & { native: NativeModel } };

/**
 * The CPU-heavy part: refit the pipeline, train, and score candidate and current model on the same
 * holdout rows. Pure (no I/O); runs in a worker thread (gateway/retrain-worker.ts) unless inProcess.
 */
export async function computeCandidate(input: CandidateInput): Promise<ComputedCandidate> {
  const { frame, candidateSpec, windowFromMs, holdoutFromMs, toMs } = input;
  const task = input.train.task;
  const { fitted, matrix } = fitPipeline(frame, candidateSpec);
  const splits = splitsOf(matrix, 'train');
  const holdout = splits.tests.holdout;
  if (!holdout || holdout.X.length === 0) throw new EdgeloopError('BAD_DATA', `the recent holdout [${iso(holdoutFromMs)}, ${iso(toMs)}) has no labelled feature rows`);
  const trained = await trainModel(splits, input.train);

  // The current model on the same holdout, through its own fitted pipeline.
  const currentMatrix = transformPipeline(frameSlice(frame, holdoutFromMs, toMs), input.current.spec, input.current.fitted);
  const currentModel = await loadNative(input.current.native, task);
  const currentIndex = new Map<string, number>();
  currentMatrix.ts.forEach((ts, i) => currentIndex.set(`${currentMatrix.device[i]}|${ts}`, i));
  const candX: number[][] = [];
  const curX: number[][] = [];
  const y: number[] = [];
  matrix.split!.forEach((s, i) => {
    if (s !== 'holdout') return;
    const j = currentIndex.get(`${matrix.device[i]}|${matrix.ts[i]}`);
    if (j === undefined || currentMatrix.y?.[j] === undefined) return;
    candX.push(matrix.X[i]!);
    curX.push(currentMatrix.X[j]!);
    y.push(matrix.y![i]!);
  });
  if (y.length === 0) throw new EdgeloopError('BAD_DATA', 'the candidate and the current pipeline share no holdout row (device, ts): cannot compare them');
  const candPred = trained.model.predict(candX);
  const curPred = currentModel.predict(curX);
  const trainRows = splits.train.X.length;
  const base = { holdoutRows: y.length, trainRows, windowFromMs, holdoutFromMs, windowToMs: toMs };
  const dataHash = sha256Hex(new TextEncoder().encode(canonicalJson({ columns: matrix.columns, X: matrix.X, y: matrix.y ?? null, split: matrix.split ?? null, ts: matrix.ts, device: matrix.device })));
  const { model, report: _report, ...meta } = trained;
  const out = { trained: { ...meta, native: model.toJSON() }, spec: candidateSpec, fitted, matrix, dataHash };
  if (task === 'classification') return { ...out, evaluation: { metric: 'accuracy', candidate: accuracy(y, candPred), current: accuracy(y, curPred), ...base } };
  const rmse = (p: number[]): number => Math.sqrt(p.reduce((a, v, i) => a + (v - y[i]!) ** 2, 0) / y.length);
  return { ...out, evaluation: { metric: 'rmse', candidate: rmse(candPred), current: rmse(curPred), ...base } };
}

/** Positive when the candidate is better (accuracy up, RMSE down). */
export function gainOf(e: Pick<RetrainEvaluation, 'metric' | 'candidate' | 'current'>): number {
  return e.metric === 'accuracy' ? e.candidate - e.current : e.current - e.candidate;
}

/** The subset of a frame in [fromMs, toMs) (tests and tools). */
export function frameSlice(frame: Frame, fromMs: number, toMs: number): Frame {
  const rows: number[] = [];
  frame.ts.forEach((ts, i) => { if (ts >= fromMs && ts < toMs) rows.push(i); });
  return takeRows(frame, rows);
}
