/**
 * From a trained model to signed registry artifacts: export every requested format × variant, run
 * each file in its real runtime on the dataset's evaluation splits (accuracy, agreement with the
 * trained model, latency), build the smoke test and the drift reference profile, and register one
 * version with all of them.
 *
 * Two steps: `prepareVersion` does the work (CPU-bound for seconds, no I/O, so it can run on a worker
 * thread: gateway/retrain-worker.ts) and returns the registry input; `publishModel` prepares and
 * registers.
 */
import { argmax } from '../src/vector.ts';
import { EdgeloopError, isEdgeloopError } from '../src/errors.ts';
import { buildReferenceProfile } from '../src/drift/profile.ts';
import { calibrateProfile } from '../src/drift/calibrate.ts';
import { DEVICE_DRIFT_DEFAULTS, driftColumns } from '../src/drift/defaults.ts';
import type { FeatureMatrix } from '../src/frame.ts';
import type { ModelFormat, ModelVariant, SmokeTest } from '../src/manifest.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { exportModel, type ExportResult } from '../models/export/index.ts';
import { splitsOf, type TrainedModel, type NativeModel, type SplitData } from '../models/training.ts';
import { createRunner } from '../device/runner.ts';
import { confusionMatrix } from '../models/metrics/classification.ts';
import type { Registry, RegisterResult } from './registry.ts';
import type { RegisterInput } from './registry-types.ts';

export interface PublishTarget {
  format: ModelFormat;
  variant: ModelVariant;
}

export interface PublishRequest {
  model: string;
  trained: TrainedModel;
  classes?: string[];
  dataset: { name: string; spec: unknown; fitted: unknown; matrix: FeatureMatrix; dataHash: string; trainSplit?: string };
  targets: PublishTarget[];
  runId?: string;
  parentVersion?: number;
  createdBy: string;
  /** Rows of the smoke test carried in the manifest. */
  smokeRows?: number;
}

export interface ArtifactReport {
  format: ModelFormat;
  variant: ModelVariant;
  bytes: number;
  /** Metrics in the runtime, per evaluation split (accuracy or rmse), and agreement with the trained model. */
  metrics: Record<string, number>;
  p50Us: number;
  p99Us: number;
  /** Classification: per evaluation split, the runtime's confusion matrix (rows true, columns predicted). */
  confusion?: Record<string, { labels: string[]; matrix: number[][] }>;
}

/** Where publishModel keeps the per-artifact evaluation (gateway/dashboard-models.ts ModelEvaluationStore). */
export interface EvaluationSink {
  save(model: string, version: number, artifacts: readonly ArtifactReport[]): Promise<void>;
}

/** What prepareVersion hands to the registry (and the reports it made on the way). */
export interface PreparedVersion {
  input: RegisterInput;
  artifacts: ArtifactReport[];
  skipped: PublishResult['skipped'];
}

export interface PublishResult extends RegisterResult {
  artifacts: ArtifactReport[];
  /** Targets with no exporter for this model kind (MODEL_UNSUPPORTED), with the reason. */
  skipped: { format: ModelFormat; variant: ModelVariant; reason: string }[];
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Runs a file on rows (batch 1 for TFLite, one batch for ONNX); returns the first output per row and latencies. */
async function runRows(exported: ExportResult, X: number[][], outWidth: number): Promise<{ out: number[][]; latenciesUs: number[] }> {
  const runner = await createRunner(exported.format, exported.bytes);
  const width = X[0]?.length ?? 0;
  const out: number[][] = [];
  const latenciesUs: number[] = [];
  try {
    for (const row of X) {
      const t0 = process.hrtime.bigint();
      const [first] = await runner.run(Float32Array.from(row), [1, width]);
      latenciesUs.push(Number(process.hrtime.bigint() - t0) / 1000);
      out.push(Array.from(first!.subarray(0, outWidth)));
    }
  } finally {
    await runner.close();
  }
  return { out, latenciesUs };
}

export async function publishModel(registry: Registry, req: PublishRequest, options: { logger?: Logger; maxEvalRows?: number; evaluations?: EvaluationSink } = {}): Promise<PublishResult> {
  return registerPrepared(registry, await prepareVersion(req, options), options.evaluations);
}

/** Registers a prepared version and saves its evaluations. */
export async function registerPrepared(registry: Registry, prepared: PreparedVersion, evaluations?: EvaluationSink): Promise<PublishResult> {
  const registered = await registry.register(prepared.input);
  await evaluations?.save(registered.model, registered.version, prepared.artifacts);
  return { ...registered, artifacts: prepared.artifacts, skipped: prepared.skipped };
}

/** Exports, evaluates in the real runtimes and builds the registry input; no I/O. */
export async function prepareVersion(req: PublishRequest, options: { logger?: Logger; maxEvalRows?: number } = {}): Promise<PreparedVersion> {
  const log = (options.logger ?? silentLogger).child('publish');
  const task = req.trained.task;
  const splits = splitsOf(req.dataset.matrix, req.dataset.trainSplit ?? 'train');
  const evalSets: [string, SplitData][] = Object.entries(splits.tests);
  if (splits.val) evalSets.unshift(['val', splits.val]);
  if (evalSets.length === 0) throw new EdgeloopError('BAD_DATA', `dataset '${req.dataset.name}' has no evaluation split besides train`);
  const maxEval = options.maxEvalRows ?? 20_000;
  const ir = req.trained.toIR();
  const outWidth = task === 'classification' ? Math.max(2, req.classes?.length ?? 2) : 1;
  const calibRows = splits.train.X.filter((_, i) => i % Math.max(1, Math.floor(splits.train.X.length / 500)) === 0).slice(0, 500);
  const calibration = { sample: Float32Array.from(calibRows.flat()), rows: calibRows.length, method: { kind: 'minmax' as const } };
  const smokeX = evalSets[0]![1].X.slice(0, req.smokeRows ?? 8);

  const artifacts: ArtifactReport[] = [];
  const inputs: Parameters<Registry['register']>[0]['artifacts'] = [];
  let floatSmoke: SmokeTest | null = null;
  const skipped: PublishResult['skipped'] = [];
  for (const target of req.targets) {
    let exported: ExportResult;
    try {
      exported = exportModel(ir, { format: target.format, variant: target.variant, calibration });
    } catch (err) {
      if (!isEdgeloopError(err, 'MODEL_UNSUPPORTED')) throw err;
      skipped.push({ ...target, reason: err.message });
      log.warn(`skipping ${target.format}/${target.variant}: ${err.message}`);
      continue;
    }
    const metrics: Record<string, number> = {};
    const confusion: NonNullable<ArtifactReport['confusion']> = {};
    const classIds = Array.from({ length: outWidth }, (_, i) => i);
    const latencies: number[] = [];
    for (const [name, data] of evalSets) {
      const X = data.X.slice(0, maxEval);
      const y = data.y.slice(0, maxEval);
      const { out, latenciesUs } = await runRows(exported, X, outWidth);
      latencies.push(...latenciesUs);
      const trainedPred = req.trained.predict(X);
      if (task === 'classification') {
        const pred = out.map(argmax);
        metrics[`${name}_accuracy`] = pred.filter((p, i) => p === y[i]).length / y.length;
        metrics[`${name}_agreement`] = pred.filter((p, i) => p === trainedPred[i]).length / y.length;
        if (y.length > 0) confusion[name] = { labels: classIds.map((c) => req.classes?.[c] ?? String(c)), matrix: confusionMatrix(y, pred, classIds).matrix };
      } else {
        const pred = out.map((o) => o[0]!);
        metrics[`${name}_rmse`] = Math.sqrt(pred.reduce((a, p, i) => a + (p - y[i]!) ** 2, 0) / y.length);
      }
    }
    latencies.sort((a, b) => a - b);
    const smokeOut = (await runRows(exported, smokeX, outWidth)).out;
    const quantized = target.variant !== 'float32';
    const smokeTest: SmokeTest = { inputs: smokeX, expected: smokeOut, tolerance: quantized ? { abs: 0.05, rel: 0.05 } : { abs: 1e-4, rel: 1e-3 } };
    if (!quantized) floatSmoke ??= smokeTest;
    inputs.push({ format: target.format, variant: target.variant, bytes: exported.bytes, io: { inputs: exported.inputs, outputs: exported.outputs }, metrics, smokeTest });
    const report: ArtifactReport = { format: target.format, variant: target.variant, bytes: exported.bytes.length, metrics, p50Us: percentile(latencies, 0.5), p99Us: percentile(latencies, 0.99) };
    if (task === 'classification') report.confusion = confusion;
    artifacts.push(report);
    log.info(() => `${target.format}/${target.variant}: ${report.bytes} bytes, ${JSON.stringify(metrics)}`);
  }

  if (inputs.length === 0) throw new EdgeloopError('MODEL_UNSUPPORTED', `no requested target can be exported for this model: ${skipped.map((x) => x.reason).join('; ')}`);
  const m = req.dataset.matrix;
  const outputs = req.trained.predict(m.X);
  // Drift reference: the model inputs minus clock features, calibrated on the training period's own
  // day-long windows (docs/drift.md); too short a training period stays uncalibrated (fixed thresholds).
  const trainSplit = req.dataset.trainSplit ?? 'train';
  let profile = buildReferenceProfile(driftColumns(m.columns), m, {
    split: trainSplit,
    rangeMarginFrac: DEVICE_DRIFT_DEFAULTS.rangeMarginFrac,
    output: task === 'classification' ? { kind: 'classification', values: outputs } : { kind: 'regression', values: outputs },
  });
  try {
    profile = calibrateProfile(profile, m, { windowSize: DEVICE_DRIFT_DEFAULTS.windowSize, reportEvery: DEVICE_DRIFT_DEFAULTS.reportEvery, split: trainSplit });
  } catch (err) {
    if (!isEdgeloopError(err, 'BAD_DATA')) throw err;
    log.warn(`drift profile not calibrated: ${err.message}`);
  }
  const native: NativeModel = req.trained.toJSON();
  const input: RegisterInput = {
    model: req.model,
    task,
    classes: req.classes,
    artifacts: inputs,
    pipeline: { spec: req.dataset.spec, fitted: req.dataset.fitted },
    lineage: { runId: req.runId, dataset: req.dataset.name, datasetHash: req.dataset.dataHash, parentVersion: req.parentVersion },
    smokeTest: floatSmoke ?? inputs[0]!.smokeTest!,
    reference: { profile },
    createdBy: req.createdBy,
    nativeModel: native,
  };
  return { input, artifacts, skipped };
}
