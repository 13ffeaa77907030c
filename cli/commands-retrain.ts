/**
 * `edgeloop retrain list|show|run|approve|reject`: the retraining jobs of the running gateway
 * (HTTP API of gateway/retrain.ts), or with --db, read-only listing straight from the SQLite file or
 * the PostgreSQL database of scaled-out gateways (postgres:// URL).
 */
import { EdgeloopError } from '../src/errors.ts';
import { openDatabase } from '../io/sqlite.ts';
import { RETRAIN_STATES, SqlRetrainJobs, type RetrainJob, type RetrainJobStore, type RetrainState } from '../gateway/retrain-jobs.ts';
import { postgresSql, sqliteSql } from '../gateway/sql.ts';
import { isPostgresUrl } from '../gateway/store-factory.ts';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { parse } from './args.ts';
import { callGateway, formatTable, gatewayApi } from './gateway-api.ts';

const USAGE = `edgeloop retrain list [--model M] [--state S] | show <job> | run --model M [--fleet F] | approve <job> | reject <job> [--reason R]
       common: [--gateway http://127.0.0.1:8080] [--token-file F] [--format table|json]; list and show also read a database offline with --db path|postgres://…`;

export type Print = (line: string) => void;
const defaultPrint: Print = (line) => console.log(line);




const triggerText = (j: RetrainJob): string => (j.trigger.kind === 'alert' ? `alert #${j.trigger.alertId} ${j.trigger.alertKind}` : j.trigger.kind === 'schedule' ? 'schedule' : `manual (${j.trigger.by})`);
const scores = (j: RetrainJob): string => (j.evaluation ? `${j.evaluation.candidate.toFixed(4)} vs ${j.evaluation.current.toFixed(4)}` : '-');

export function formatJobs(jobs: readonly RetrainJob[]): string {
  return formatTable(jobs.map((j) => ({
    job: j.id, model: j.model, fleet: j.fleet, state: j.state, trigger: triggerText(j), current: j.currentVersion, candidate: j.candidateVersion,
    [`holdout ${jobs.find((x) => x.evaluation)?.evaluation?.metric ?? 'score'} (cand vs cur)`]: scores(j), rollout: j.rolloutId, created: new Date(j.createdAtMs).toISOString(),
  })));
}

export function formatJob(j: RetrainJob): string {
  const lines = [
    `job ${j.id}: ${j.model} in ${j.fleet} — ${j.state}`,
    `  trigger: ${triggerText(j)}${j.trigger.kind === 'alert' ? ` on ${j.trigger.device}: ${j.trigger.message}` : ''}`,
    `  current version: ${j.currentVersion ?? '-'}, candidate version: ${j.candidateVersion ?? '-'}, run: ${j.runId ?? '-'}, rollout: ${j.rolloutId ?? '-'}`,
  ];
  const e = j.evaluation;
  if (e) {
    lines.push(`  recent window: ${new Date(e.windowFromMs).toISOString()} … ${new Date(e.windowToMs).toISOString()}, holdout from ${new Date(e.holdoutFromMs).toISOString()}`);
    lines.push(`  holdout ${e.metric} on ${e.holdoutRows} rows (trained on ${e.trainRows}): candidate ${e.candidate.toFixed(4)}, current ${e.current.toFixed(4)}, minGain ${e.minGain}`);
  }
  if (j.live) lines.push(`  live (${j.live.decidedBy}): candidate ${j.live.candidate.accuracy?.toFixed(4) ?? '-'} over ${j.live.candidate.samples} labels, current ${j.live.current.accuracy?.toFixed(4) ?? '-'} over ${j.live.current.samples}`);
  if (j.reason) lines.push(`  reason: ${j.reason}`);
  lines.push(`  created ${new Date(j.createdAtMs).toISOString()}${j.finishedAtMs ? `, finished ${new Date(j.finishedAtMs).toISOString()}` : ''}`);
  return lines.join('\n');
}

function checkState(state: string | undefined): RetrainState | undefined {
  if (state !== undefined && !(RETRAIN_STATES as readonly string[]).includes(state)) throw new EdgeloopError('BAD_ARGUMENT', `--state ${JSON.stringify(state)} must be one of ${RETRAIN_STATES.join(', ')}`);
  return state as RetrainState | undefined;
}

export async function retrainCommand(argv: string[], print: Print = defaultPrint): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    gateway: { type: 'string' }, 'token-file': { type: 'string' }, format: { type: 'string' }, model: { type: 'string' }, fleet: { type: 'string' }, state: { type: 'string' }, reason: { type: 'string' },
  }, USAGE);
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') throw new EdgeloopError('BAD_ARGUMENT', `--format ${JSON.stringify(format)} must be table or json`);
  const out = (doc: unknown, text: () => string): void => print(format === 'json' ? JSON.stringify(doc, null, 2) : text());
  const jobId = (): string => {
    const id = positionals[0];
    if (!id) throw new EdgeloopError('BAD_ARGUMENT', `retrain ${sub} needs a job id (see 'edgeloop retrain list')\nusage: ${USAGE}`);
    return id;
  };
  const state = checkState(values.state);

  if (values.db !== undefined) {
    if (sub !== 'list' && sub !== 'show') throw new EdgeloopError('BAD_ARGUMENT', `--db reads jobs offline: only 'list' and 'show' work with it; run, approve and reject go to the running gateway (--gateway)`);
    const show = async (jobs: RetrainJobStore): Promise<void> => {
      if (sub === 'list') {
        const list = await jobs.list({ model: values.model, state });
        return out(list, () => formatJobs(list));
      }
      const job = await jobs.mustGet(jobId());
      return out(job, () => formatJob(job));
    };
    if (isPostgresUrl(values.db)) {
      // The jobs every scaled-out gateway shares (the tables are created if the database has none yet).
      const store = await PostgresStore.create({ url: values.db, poolSize: 1 });
      try {
        return await show(await SqlRetrainJobs.create(postgresSql(store.pool)));
      } finally {
        await store.close();
      }
    }
    const db = openDatabase(values.db, { readonly: true });
    try {
      const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'retrain_jobs'").get();
      if (!exists) throw new EdgeloopError('NOT_FOUND', `${values.db} has no retraining jobs (no retrain_jobs table)`);
      return await show(await SqlRetrainJobs.create(sqliteSql(db), { readonly: true }));
    } finally {
      db.close();
    }
  }

  const base = gatewayApi(values);
  switch (sub) {
    case 'list': {
      const q = new URLSearchParams();
      if (values.model) q.set('model', values.model);
      if (state) q.set('state', state);
      const doc = (await callGateway(base, 'GET', `/v1/retrain${q.size ? `?${q}` : ''}`)) as { jobs: RetrainJob[] };
      return out(doc.jobs, () => formatJobs(doc.jobs));
    }
    case 'show': {
      const job = (await callGateway(base, 'GET', `/v1/retrain/${encodeURIComponent(jobId())}`)) as RetrainJob;
      return out(job, () => formatJob(job));
    }
    case 'run': {
      if (!values.model) throw new EdgeloopError('BAD_ARGUMENT', `retrain run needs --model\nusage: ${USAGE}`);
      const job = (await callGateway(base, 'POST', '/v1/retrain', { model: values.model, fleet: values.fleet, by: 'cli' })) as RetrainJob;
      return out(job, () => `${formatJob(job)}\nfollow it with: edgeloop retrain show ${job.id}`);
    }
    case 'approve': {
      const job = (await callGateway(base, 'POST', `/v1/retrain/${encodeURIComponent(jobId())}/approve`, {})) as RetrainJob;
      return out(job, () => formatJob(job));
    }
    case 'reject': {
      const job = (await callGateway(base, 'POST', `/v1/retrain/${encodeURIComponent(jobId())}/reject`, { reason: values.reason })) as RetrainJob;
      return out(job, () => formatJob(job));
    }
    default:
      throw new EdgeloopError('BAD_ARGUMENT', `unknown retrain subcommand ${JSON.stringify(sub ?? '')}\nusage: ${USAGE}`);
  }
}
