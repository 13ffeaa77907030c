/** `edgeloop train` (a recorded training run) and `edgeloop export` (a run → signed registry artifacts). */
import { EdgeloopError } from '../src/errors.ts';
import { assertSafeName } from '../src/names.ts';
import { EXPORT_FORMATS, EXPORT_VARIANTS, type ExportFormat, type ExportVariant } from '../models/export/index.ts';
import { splitsOf, trainModel, loadNative, type TrainResult } from '../models/training.ts';
import type { SearchSpace } from '../models/tuning/search.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { DatasetStore } from '../gateway/datasets.ts';
import { RunStore, type SplitMetrics } from '../gateway/runs.ts';
import { RunModelStore } from '../gateway/run-models.ts';
import { Registry } from '../gateway/registry.ts';
import { publishModel } from '../gateway/publish.ts';
import { parse, requireFlag, intFlag } from './args.ts';
import { loadConfig, dbPathOf, keyDirOf } from './config.ts';
import { ProgressBar } from './progress.ts';

const TRAIN_USAGE = `edgeloop train --dataset D --model lda|logreg|rf|gbm|tree|knn|svm|mlp|<kind> [--params '{"C": 1}'] [--tune grid|random] [--space '{"C": {"type": "log-float", "min": 0.01, "max": 100}}'] [--trials N] [--seed N] [--db path]`;
const EXPORT_USAGE = `edgeloop export --run R --format tflite|onnx[,…] --variant float32|float16|dynamic-int8|int8[,…] [--model NAME] [--promote ALIAS] [--db path]`;

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

/** Run metrics keyed by split; test splits other than 'test' are folded in as `<split>_<metric>` under 'test'. */
export function toSplitMetrics(metrics: TrainResult['metrics']): SplitMetrics {
  const out: SplitMetrics = {};
  for (const [split, m] of Object.entries(metrics)) {
    if (split === 'train' || split === 'val' || split === 'test') out[split] = { ...(out[split] ?? {}), ...m };
    else out.test = { ...(out.test ?? {}), ...Object.fromEntries(Object.entries(m).map(([k, v]) => [`${split}_${k}`, v])) };
  }
  return out;
}

async function open(values: { config?: string; db?: string }) {
  const config = loadConfig({ file: values.config, overrides: values.db ? [{ path: ['gateway', 'db'], value: values.db }] : [] });
  const store = await SqliteStore.create({ path: dbPathOf(config) });
  return { config, store };
}

export async function trainCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    dataset: { type: 'string' }, model: { type: 'string' }, params: { type: 'string' }, tune: { type: 'string' }, space: { type: 'string' },
    trials: { type: 'string' }, seed: { type: 'string' }, format: { type: 'string' },
  }, TRAIN_USAGE);
  const datasetName = requireFlag(values.dataset, 'dataset', TRAIN_USAGE);
  const kind = requireFlag(values.model, 'model', TRAIN_USAGE);
  if (values.tune !== undefined && values.tune !== 'grid' && values.tune !== 'random') throw new EdgeloopError('BAD_ARGUMENT', `--tune ${JSON.stringify(values.tune)} must be grid or random`);
  if (values.tune && !values.space) throw new EdgeloopError('BAD_ARGUMENT', `--tune needs --space (the search space as JSON)\nusage: ${TRAIN_USAGE}`);
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
    const run = await runs.start({ modelKind: kind, params: jsonFlag(values.params, 'params') ?? {}, dataset: dataset.name, datasetHash: dataset.dataHash, specHash: dataset.specHash });
    const maxTrials = intFlag(values.trials, 'trials', 1, 10_000) ?? 10;
    const bar = values.tune ? new ProgressBar(`tune ${kind}`, maxTrials) : null;
    let result: TrainResult;
    try {
      result = await trainModel(data, {
        kind, task, classes, params: jsonFlag(values.params, 'params'), seed: intFlag(values.seed, 'seed', 0, 2 ** 31),
        tune: values.tune ? { strategy: values.tune as 'grid' | 'random', space: jsonFlag(values.space, 'space') as SearchSpace, maxTrials } : undefined,
        onTrial: (t) => void runs.addTrial(run.id, { trial: t.index, params: t.params, metrics: t.metrics, score: t.score, durationMs: t.durationMs }),
        onProgress: (d, total) => bar?.update(d, `of ${total}`),
      });
    } catch (err) {
      await runs.fail(run.id, { error: (err as Error).message });
      throw err;
    }
    bar?.done();
    models.save({ runId: run.id, task, classes, native: result.model.toJSON() });
    const finished = await runs.finish(run.id, { metrics: toSplitMetrics(result.metrics), durationMs: result.durationMs });
    if (values.format === 'json') console.log(JSON.stringify({ run: finished, metrics: result.metrics, params: result.params }, null, 2));
    else {
      console.log(`run ${run.id}: ${result.kind} on ${dataset.name} in ${(result.durationMs / 1000).toFixed(2)} s`);
      console.table(Object.fromEntries(Object.entries(result.metrics).map(([s, m]) => [s, Object.fromEntries(Object.entries(m).map(([k, v]) => [k, +v.toFixed(4)]))])));
      console.log(`params: ${JSON.stringify(result.params)}`);
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
  const { values } = parse(argv, { run: { type: 'string' }, format: { type: 'string' }, variant: { type: 'string' }, model: { type: 'string' }, promote: { type: 'string' } }, EXPORT_USAGE);
  const runId = requireFlag(values.run, 'run', EXPORT_USAGE);
  const formats = listFlag<ExportFormat>(requireFlag(values.format, 'format', EXPORT_USAGE), EXPORT_FORMATS, 'format');
  const variants = listFlag<ExportVariant>(values.variant ?? 'float32', EXPORT_VARIANTS, 'variant');
  const { config, store } = await open(values);
  try {
    const runs = await RunStore.create({ database: store.database });
    const run = await runs.show(runId);
    if (!run.dataset) throw new EdgeloopError('BAD_DATA', `run ${runId} has no dataset to evaluate the export on`);
    const saved = (await RunModelStore.create(store.database)).load(runId);
    const dataset = (await DatasetStore.create(store.database)).load(run.dataset);
    const trained = await loadNative(saved.native, saved.task);
    const registry = await Registry.create({ database: store.database, keyDir: keyDirOf(config) });
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
    await store.close();
  }
}
