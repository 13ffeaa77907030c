/**
 * The dashboard's view of the model registry: every version with its aliases, artifact sizes and
 * runtime metrics, and for one version the per-artifact metrics, the training run's metrics and the
 * confusion matrix.
 *
 * Manifests carry only scalar metrics, so confusion matrices are kept beside the registry in
 * `model_evaluations` (the gateway's database, SQLite or PostgreSQL): publishModel computes them from each artifact's runtime
 * predictions on the evaluation splits and hands them to a ModelEvaluationStore passed as
 * `options.evaluations` (gateway/publish.ts).
 *
 *   GET /v1/models                      one row per version, newest first (the 'models' panel)
 *   GET /v1/models/<name>               the rows of one model
 *   GET /v1/models/<name>/<version|alias>  one version in full (artifacts, metrics, run, confusion)
 */
import { createTables, type SqlDb } from './sql.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { sendJson, type HttpServer } from './http.ts';
import type { Dashboard, Panel } from './dashboard.ts';
import { guarded, isoTime, round } from './dashboard-http.ts';
import type { ChangeProbe } from './dashboard-live.ts';
import type { ArtifactReport, EvaluationSink } from './publish.ts';
import type { Registry, VersionRecord } from './registry.ts';
import type { RunRecord, RunStore } from './runs.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS model_evaluations (
  model TEXT NOT NULL, version INTEGER NOT NULL, format TEXT NOT NULL, variant TEXT NOT NULL,
  evaluation TEXT NOT NULL, created_at {time} NOT NULL, PRIMARY KEY (model, version, format, variant)
);`;

export interface ConfusionView {
  /** `format/variant` of the artifact whose predictions it counts. */
  artifact: string;
  split: string;
  /** Class names in matrix order. */
  labels: string[];
  /** matrix[i][j]: rows of true class labels[i] predicted as labels[j]. */
  matrix: number[][];
}

/** One artifact's evaluation as publishModel reported it, with an empty confusion map for regression. */
export type StoredEvaluation = Omit<ArtifactReport, 'confusion'> & { confusion: NonNullable<ArtifactReport['confusion']> };

/** Per-artifact evaluations written at publish time (publishModel's `evaluations` option). */
export class ModelEvaluationStore implements EvaluationSink {
  readonly #db: SqlDb;
  readonly #now: () => number;

  private constructor(db: SqlDb, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  /** Creates the table when missing (gateway/sql.ts: SQLite or PostgreSQL). */
  static async create(db: SqlDb, options: { now?: () => number } = {}): Promise<ModelEvaluationStore> {
    await createTables(db, 'model_evaluations', SCHEMA);
    return new ModelEvaluationStore(db, options.now ?? Date.now);
  }

  async save(model: string, version: number, artifacts: readonly ArtifactReport[]): Promise<void> {
    const at = this.#now();
    await this.#db.batch(artifacts.map((a) => ({
      sql: `INSERT INTO model_evaluations (model, version, format, variant, evaluation, created_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (model, version, format, variant) DO UPDATE SET evaluation = excluded.evaluation, created_at = excluded.created_at`,
      params: [model, version, a.format, a.variant, JSON.stringify({ ...a, confusion: a.confusion ?? {} } satisfies StoredEvaluation), at],
    })));
  }

  async get(model: string, version: number): Promise<StoredEvaluation[]> {
    const rows = await this.#db.all<{ evaluation: string }>('SELECT evaluation FROM model_evaluations WHERE model = ? AND version = ? ORDER BY format, variant', [model, version]);
    return rows.map((r) => JSON.parse(r.evaluation) as StoredEvaluation);
  }
}

export const MODELS_ENDPOINT = '/v1/models';

export function modelPanels(): Panel[] {
  return [{ id: 'models', title: 'Model versions (click a row: metrics and confusion matrix)', endpoint: MODELS_ENDPOINT, kind: 'models', wide: true }];
}

export interface ModelRoutesOptions {
  registry: Registry;
  /** Training runs (the run id is in the version's lineage): their train/val/test metrics. */
  runs?: RunStore;
  /** Confusion matrices and latencies stored at publish time. */
  evaluations?: ModelEvaluationStore;
  /** Versions listed per model by GET /v1/models. */
  maxVersionsPerModel?: number;
}

/** The artifact whose numbers head the row: float32 ONNX, else any float32, else the first. */
function headline<T extends { format: string; variant: string }>(artifacts: readonly T[]): T | undefined {
  return artifacts.find((a) => a.format === 'onnx' && a.variant === 'float32') ?? artifacts.find((a) => a.variant === 'float32') ?? artifacts[0];
}

function metricsText(metrics: Record<string, number>): string {
  return Object.entries(metrics).filter(([k]) => !k.endsWith('_agreement')).map(([k, v]) => `${k} ${round(v)}`).join(', ');
}

function versionRow(v: VersionRecord) {
  const head = headline(v.artifacts);
  return {
    model: v.model,
    version: v.version,
    aliases: v.aliases.join(', '),
    task: v.task,
    created: isoTime(v.createdAtMs),
    artifacts: v.artifacts.map((a) => `${a.format}/${a.variant} ${a.bytes} B`).join(', '),
    metrics: head ? `${head.format}/${head.variant}: ${metricsText(head.metrics)}` : '',
    run: v.lineage.runId ?? '',
    dataset: v.lineage.dataset ?? '',
  };
}

/** The confusion matrix to show: the headline artifact's, on its last test split (else the last split). */
function pickConfusion(evals: readonly StoredEvaluation[]): ConfusionView | null {
  const withMatrix = evals.filter((e) => Object.keys(e.confusion).length > 0);
  const e = headline(withMatrix);
  if (!e) return null;
  const splits = Object.keys(e.confusion);
  const split = [...splits].reverse().find((s) => s.startsWith('test')) ?? splits[splits.length - 1]!;
  return { artifact: `${e.format}/${e.variant}`, split, ...e.confusion[split]! };
}

/**
 * Versions published without an evaluation store: the confusion matrix of the trained model from the
 * run's evaluation report (models/evaluation/report.ts: splits.<name>.confusion with class indices).
 */
function confusionOfRunReport(runId: string, report: Record<string, unknown> | null, classes: readonly string[] | undefined): ConfusionView | null {
  const splits = report?.splits;
  if (splits === null || typeof splits !== 'object') return null;
  const found = Object.entries(splits as Record<string, { confusion?: { labels?: unknown; matrix?: unknown } }>)
    .filter(([, m]) => Array.isArray(m?.confusion?.labels) && Array.isArray(m?.confusion?.matrix));
  const pick = [...found].reverse().find(([name]) => name.startsWith('test')) ?? found[found.length - 1];
  if (!pick) return null;
  const [split, m] = pick;
  const labels = (m.confusion!.labels as unknown[]).map((l) => (typeof l === 'number' && classes?.[l] !== undefined ? classes[l] : String(l)));
  return { artifact: `trained model (run ${runId})`, split, labels, matrix: m.confusion!.matrix as number[][] };
}

async function detail(o: ModelRoutesOptions, name: string, ref: string) {
  const v = await o.registry.resolve(`${name}@${ref}`);
  const evals = (await o.evaluations?.get(v.model, v.version)) ?? [];
  const byKey = new Map(evals.map((e) => [`${e.format}/${e.variant}`, e]));
  let run: Pick<RunRecord, 'id' | 'modelKind' | 'params' | 'metrics' | 'durationMs' | 'status'> | null = null;
  let runConfusion: ConfusionView | null = null;
  if (o.runs && v.lineage.runId) {
    try {
      const r = await o.runs.show(v.lineage.runId);
      run = { id: r.id, modelKind: r.modelKind, params: r.params, metrics: r.metrics, durationMs: r.durationMs, status: r.status };
      runConfusion = confusionOfRunReport(r.id, r.report, v.classes);
    } catch (err) {
      // A run recorded in another database (or deleted) leaves the version without run metrics.
      if (!isEdgeloopError(err, 'NOT_FOUND')) throw err;
    }
  }
  return {
    model: v.model, version: v.version, task: v.task, createdAtMs: v.createdAtMs, createdBy: v.createdBy, aliases: v.aliases,
    classes: v.classes ?? null, lineage: v.lineage, specHash: v.pipeline.specHash,
    artifacts: v.artifacts.map((a) => {
      const e = byKey.get(`${a.format}/${a.variant}`);
      return { format: a.format, variant: a.variant, bytes: a.bytes, sha256: a.sha256, metrics: a.metrics, p50Us: e?.p50Us ?? null, p99Us: e?.p99Us ?? null, confusion: e?.confusion ?? null };
    }),
    run,
    confusion: pickConfusion(evals) ?? runConfusion,
  };
}

/** GET /v1/models, /v1/models/<name>, /v1/models/<name>/<version|alias>. */
export function registerModelRoutes(http: HttpServer, options: ModelRoutesOptions): void {
  const perModel = options.maxVersionsPerModel ?? 20;
  const rows = async (only?: string) => {
    const models = (await options.registry.list()).filter((m) => only === undefined || m.model === only);
    const out: ReturnType<typeof versionRow>[] = [];
    for (const m of models) out.push(...(await options.registry.versions(m.model)).slice(0, perModel).map(versionRow));
    return out.sort((a, b) => b.created.localeCompare(a.created) || a.model.localeCompare(b.model) || b.version - a.version);
  };
  http.route('GET', /^\/v1\/models$/, guarded(async (_req, res) => sendJson(res, 200, await rows())));
  http.route('GET', /^\/v1\/models\/([^/]+)$/, guarded(async (_req, res, [name]) => {
    await options.registry.resolve(name!); // NOT_FOUND naming the registered models
    sendJson(res, 200, await rows(name));
  }));
  http.route('GET', /^\/v1\/models\/([^/]+)\/([^/]+)$/, guarded(async (_req, res, [name, ref]) => sendJson(res, 200, await detail(options, name!, ref!))));
}

/** A fingerprint of the registry for the live feed: versions and aliases of every model. */
export function modelsProbe(registry: Registry): ChangeProbe {
  return { event: 'models', probe: async () => (await registry.list()).map((m) => [m.model, m.latest, m.aliases]) };
}

/** Routes, panel and live probe of the models panel on one dashboard. */
export function attachModelPanel(http: HttpServer, dashboard: Pick<Dashboard, 'addPanel'>, options: ModelRoutesOptions): ChangeProbe {
  registerModelRoutes(http, options);
  for (const p of modelPanels()) dashboard.addPanel(p);
  return modelsProbe(options.registry);
}
