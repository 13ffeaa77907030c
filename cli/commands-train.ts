/** `edgeloop train` (a recorded training run) and `edgeloop export` (a run → signed registry artifacts). */
import { EdgeloopError } from '../src/errors.ts';
import { assertSafeName } from '../src/names.ts';
import { EXPORT_FORMATS, EXPORT_VARIANTS, type ExportFormat, type ExportVariant } from '../models/export/index.ts';
import { splitsOf, trainModel, loadNative, resolveKind, type TrainResult } from '../models/training.ts';
import { STRATEGIES, type SearchSpace, type Strategy, type Trial } from '../models/tuning/search.ts';
import { formatReport } from '../models/evaluation/report.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { DatasetStore } from '../gateway/datasets.ts';
import { RunStore, type SplitMetrics } from '../gateway/runs.ts';
import { RunModelStore } from '../gateway/run-models.ts';
import { Registry } from '../gateway/registry.ts';
import { publishModel } from '../gateway/publish.ts';
import { openRegistry } from './registry-open.ts';
import { parse, requireFlag, intFlag } from './args.ts';
import { loadConfig, dbPathOf, keyDirOf } from './config.ts';
import { ProgressBar } from './progress.ts';

const TRAIN_USAGE = `edgeloop train --dataset D --model lda|logreg|rf|gbm|tree|knn|svm|mlp|<kind> [--params '{"C": 1}']
       [--tune grid|random|bayes|tpe --space '{"C": {"type": "log-float", "min": 0.01, "max": 100}}' [--trials N] [--time-budget-s S] [--cv-folds K] [--resume RUN]]
       [--report full|fast|none] [--seed N] [--format table|json] [--db path]
  --tune bayes: Gaussian process + expected improvement; --tune tpe: Tree-structured Parzen Estimator (its first 10 trials
  are random: give it 20 or more); --trials is the trial budget (default 10), --time-budget-s stops
  starting new trials after S seconds; --resume RUN continues RUN's search (same model and dataset): its trials are copied
  into the new run and not run again. --report: the evaluation report (full adds the learning curve; default full, fast for mlp).`;
const EXPORT_USAGE = `edgeloop export --run R --format tflite|onnx[,…] --variant float32|float16|dynamic-int8|int8[,…] [--model NAME] [--promote ALIAS] [--db path] [--registry path|postgres://…]`;

function jsonFlag(value: string | undefined, flag: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  try {
    const v = JSON.parse(value) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new EdgeloopError('BAD_ARGUMENT', `--${flag} must be a JSON object: ${(err as Error).message}`);
  }
}

/** Run metrics keyed by split name, as measured (train, val, test1, test2, …). */
export function toSplitMetrics(metrics: TrainResult['metrics']): SplitMetrics {
  return Object.fromEntries(Object.entries(metrics).map(([split, m]) => [split, { ...m }]));
}

function resolveKindSafe(kind: string): string {
  try {
    return resolveKind(kind);
  } catch {
    return kind; // trainModel reports the bad kind with the list of valid ones
  }
}

const REPORT_MODES = ['full', 'fast', 'none'] as const;

/** A flag value parsed as a positive number of seconds. */
function secondsFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0 && n <= 7 * 24 * 3600)) throw new EdgeloopError('BAD_ARGUMENT', `--${flag} ${JSON.stringify(value)} must be a number of seconds in (0, 604800]`);
  return n;
}

async function open(values: { config?: string; db?: string }) {
  const config = loadConfig({ file: values.config, overrides: values.db ? [{ path: ['gateway', 'db'], value: values.db }] : [] });
  const store = await SqliteStore.create({ path: dbPathOf(config) });
  return { config, store };
}

export async function trainCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    dataset: { type: 'string' }, model: { type: 'string' }, params: { type: 'string' }, tune: { type: 'string' }, space: { type: 'string' },
    trials: { type: 'string' }, seed: { type: 'string' }, format: { type: 'string' }, 'time-budget-s': { type: 'string' }, 'cv-folds': { type: 'string' },
    resume: { type: 'string' }, report: { type: 'string' },
  }, TRAIN_USAGE);
  const datasetName = requireFlag(values.dataset, 'dataset', TRAIN_USAGE);
  const kind = requireFlag(values.model, 'model', TRAIN_USAGE);
  if (values.tune !== undefined && !STRATEGIES.includes(values.tune as Strategy)) throw new EdgeloopError('BAD_ARGUMENT', `--tune ${JSON.stringify(values.tune)} must be one of ${STRATEGIES.join(', ')}`);
  if (values.tune && !values.space) throw new EdgeloopError('BAD_ARGUMENT', `--tune needs --space (the search space as JSON)\nusage: ${TRAIN_USAGE}`);
  for (const flag of ['trials', 'time-budget-s', 'cv-folds', 'resume', 'space'] as const) {
    if (values[flag] !== undefined && !values.tune) throw new EdgeloopError('BAD_ARGUMENT', `--${flag} needs --tune grid|random|bayes|tpe\nusage: ${TRAIN_USAGE}`);
  }
  if (values.format !== undefined && values.format !== 'table' && values.format !== 'json') throw new EdgeloopError('BAD_ARGUMENT', `--format ${JSON.stringify(values.format)} must be one of table, json`);
  if (values.report !== undefined && !REPORT_MODES.includes(values.report as (typeof REPORT_MODES)[number])) throw new EdgeloopError('BAD_ARGUMENT', `--report ${JSON.stringify(values.report)} must be one of ${REPORT_MODES.join(', ')}`);
  const timeBudgetS = secondsFlag(values['time-budget-s'], 'time-budget-s');
  const cvFolds = intFlag(values['cv-folds'], 'cv-folds', 2, 20);
  const space = values.tune ? (jsonFlag(values.space, 'space') as SearchSpace) : undefined;
  const { store } = await open(values);
  try {
    const datasets = await DatasetStore.create(store.database);
    const runs = await RunStore.create({ database: store.database });
    const models = await RunModelStore.create(store.database);
    const dataset = datasets.load(datasetName);
    const spec = dataset.spec as { trainSplit?: string; input?: { label?: { task?: 'classification' | 'regression'; classes?: string[] } } };
    const task = spec.input?.label?.task ?? 'classification';
    const classes = (dataset.fitted as { label?: { classes?: string[] } }).label?.classes ?? spec.input?.label?.classes;
    const data = splitsOf(dataset.matrix, spec.trainSplit ?? 'train');
    const params = jsonFlag(values.params, 'params');
    // Resume: the earlier run's trials (same kind, dataset and space) seed this search and are copied into the new run.
    let completed: Trial[] = [];
    if (values.resume !== undefined) {
      const earlier = await runs.show(values.resume);
      if (earlier.modelKind !== kind || earlier.dataset !== dataset.name) {
        throw new EdgeloopError('BAD_ARGUMENT', `--resume ${values.resume}: that run trained ${earlier.modelKind} on ${earlier.dataset ?? '(no dataset)'}, not ${kind} on ${dataset.name}`);
      }
      const names = Object.keys(space!);
      completed = earlier.trials.filter((t) => t.score !== undefined).map((t, i) => ({ index: i, params: t.params as Trial['params'], score: t.score!, metrics: t.metrics, durationMs: t.durationMs }));
      const stray = completed.find((t) => Object.keys(t.params).length !== names.length || !names.every((n) => n in t.params));
      if (stray) throw new EdgeloopError('BAD_ARGUMENT', `--resume ${values.resume}: its trials searched ${JSON.stringify(Object.keys(stray.params))}, --space declares ${JSON.stringify(names)}`);
    }
    const run = await runs.start({ modelKind: kind, params: params ?? {}, dataset: dataset.name, datasetHash: dataset.dataHash, specHash: dataset.specHash });
    for (const t of completed) await runs.addTrial(run.id, { trial: t.index, params: t.params, metrics: t.metrics, score: t.score, durationMs: t.durationMs });
    const maxTrials = intFlag(values.trials, 'trials', 1, 10_000) ?? Math.max(10, completed.length);
    const bar = values.tune ? new ProgressBar(`tune ${kind} (${values.tune})`, maxTrials) : null;
    if (completed.length > 0) bar?.update(completed.length, `of ${maxTrials} (${completed.length} resumed)`);
    const reportMode = values.report ?? (resolveKindSafe(kind) === 'mlp' ? 'fast' : 'full');
    let result: TrainResult;
    try {
      result = await trainModel(data, {
        kind, task, classes, params, seed: intFlag(values.seed, 'seed', 0, 2 ** 31),
        tune: values.tune ? { strategy: values.tune as Strategy, space: space!, maxTrials, maxTimeMs: timeBudgetS === undefined ? undefined : timeBudgetS * 1000, cvFolds, completed } : undefined,
        evaluate: reportMode === 'none' ? false : { learningCurve: reportMode === 'full', featureNames: dataset.matrix.columns },
        onTrial: (t) => void runs.addTrial(run.id, { trial: t.index, params: t.params, metrics: t.metrics, score: t.score, durationMs: t.durationMs }),
        onProgress: (d, total) => bar?.update(d, `of ${total}`),
      });
    } catch (err) {
      await runs.fail(run.id, { error: (err as Error).message });
      throw err;
    }
    bar?.done();
    models.save({ runId: run.id, task, classes, native: result.model.toJSON() });
    // JSON round trip: NaN/undefined inside the report become null/absent, which the store accepts.
    const report = result.report ? (JSON.parse(JSON.stringify(result.report)) as Record<string, unknown>) : undefined;
    const finished = await runs.finish(run.id, { metrics: toSplitMetrics(result.metrics), durationMs: result.durationMs, report });
    if (values.format === 'json') console.log(JSON.stringify({ run: finished, metrics: result.metrics, params: result.params }, null, 2));
    else {
      console.log(`run ${run.id}: ${result.kind} on ${dataset.name} in ${(result.durationMs / 1000).toFixed(2)} s`);
      if (result.trials.length > 0) {
        const best = result.trials.reduce((a, b) => (b.score > a.score ? b : a));
        console.log(`tuning (${values.tune}): ${result.trials.length} trials${completed.length > 0 ? ` (${completed.length} resumed from ${values.resume})` : ''}, best ${cvFolds ?? 3}-fold cv score ${best.score.toFixed(4)} at trial ${best.index}: ${JSON.stringify(best.params)}`);
      }
      console.log(`params: ${JSON.stringify(result.params)}`);
      if (result.report) console.log(`\n${formatReport(result.report)}`);
      else console.table(Object.fromEntries(Object.entries(result.metrics).map(([s, m]) => [s, Object.fromEntries(Object.entries(m).map(([k, v]) => [k, +v.toFixed(4)]))])));
    }
  } finally {
    await store.close();
  }
}

function listFlag<T extends string>(value: string, allowed: readonly T[], flag: string): T[] {
  const items = value.split(',').map((s) => s.trim());
  for (const i of items) if (!allowed.includes(i as T)) throw new EdgeloopError('BAD_ARGUMENT', `--${flag} ${JSON.stringify(i)} must be one of ${allowed.join(', ')}`);
  return items as T[];
}

export async function exportCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, { run: { type: 'string' }, format: { type: 'string' }, variant: { type: 'string' }, model: { type: 'string' }, promote: { type: 'string' }, registry: { type: 'string' } }, EXPORT_USAGE);
  const runId = requireFlag(values.run, 'run', EXPORT_USAGE);
  const formats = listFlag<ExportFormat>(requireFlag(values.format, 'format', EXPORT_USAGE), EXPORT_FORMATS, 'format');
  const variants = listFlag<ExportVariant>(values.variant ?? 'float32', EXPORT_VARIANTS, 'variant');
  const { config, store } = await open(values);
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const runs = await RunStore.create({ database: store.database });
    const run = await runs.show(runId);
    if (!run.dataset) throw new EdgeloopError('BAD_DATA', `run ${runId} has no dataset to evaluate the export on`);
    const saved = (await RunModelStore.create(store.database)).load(runId);
    const dataset = (await DatasetStore.create(store.database)).load(run.dataset);
    const trained = await loadNative(saved.native, saved.task);
    // The run and its dataset come from --db; the version goes to --registry when given (e.g. the
    // PostgreSQL registry of scaled-out gateways, signed with gateway.keyDir or <dataDir>/keys).
    const target = values.registry === undefined ? null
      : await openRegistry(values.registry, { keyDir: keyDirOf(loadConfig({ file: values.config, overrides: [{ path: ['gateway', 'db'], value: values.registry }] })) });
    cleanups.push(async () => { await target?.close(); });
    const registry = target?.registry ?? (await Registry.create({ database: store.database, keyDir: keyDirOf(config) }));
    const name = values.model ?? dataset.name;
    assertSafeName('model', name);
    const result = await publishModel(registry, {
      model: name, trained, classes: saved.classes, runId, createdBy: process.env.USER ?? 'edgeloop',
      dataset: { name: dataset.name, spec: dataset.spec, fitted: dataset.fitted, matrix: dataset.matrix, dataHash: dataset.dataHash, trainSplit: (dataset.spec as { trainSplit?: string }).trainSplit },
      targets: formats.flatMap((format) => variants.map((variant) => ({ format, variant }))),
    });
    if (values.promote) await registry.promote(`${name}@${result.version}`, values.promote);
    console.log(`registered ${name}@${result.version}${values.promote ? ` (${values.promote})` : ''}`);
    console.table(result.artifacts.map((a) => ({ artifact: `${a.format}/${a.variant}`, bytes: a.bytes, ...Object.fromEntries(Object.entries(a.metrics).map(([k, v]) => [k, +v.toFixed(4)])), 'p50 µs': +a.p50Us.toFixed(1), 'p99 µs': +a.p99Us.toFixed(1) })));
    for (const s of result.skipped) console.log(`skipped ${s.format}/${s.variant}: ${s.reason}`);
  } finally {
    for (const c of cleanups) await c();
    await store.close();
  }
}
