/** `edgeloop models …` (registry: list, show, promote, verify, key, history, manifest, artifact) and `edgeloop runs …`. */
import { writeFileSync } from 'node:fs';
import { EdgeloopError } from '../src/errors.ts';
import { createLogger, type LogLevel } from '../src/log.ts';
import type { ModelFormat, ModelVariant } from '../src/manifest.ts';
import { MODEL_FORMATS, MODEL_VARIANTS } from '../src/manifest-validate.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import type { VersionRecord } from '../gateway/registry.ts';
import { openRegistry } from './registry-open.ts';
import { RunStore, RUN_STATUSES, type RunRecord, type RunStatus } from '../gateway/runs.ts';
import { formatReport, type EvaluationReport } from '../models/evaluation/report.ts';
import { parse, requireFlag, intFlag } from './args.ts';
import { loadConfig, dbPathOf, keyDirOf, type Config } from './config.ts';

const MODELS_USAGE = `edgeloop models list [--format table|json]
       edgeloop models show <ref> [--format table|json]
       edgeloop models promote <ref> --alias A [--by NAME]
       edgeloop models verify <ref> [--format table|json]
       edgeloop models history <model> [--format table|json]
       edgeloop models manifest <ref> --artifact FORMAT/VARIANT [--out file]
       edgeloop models artifact <ref> --artifact FORMAT/VARIANT --out file
       edgeloop models key [--format text|json|pem|base64]
  <ref> is name (latest), name@3 (version) or name@alias (e.g. name@production).
  Common: [--config file] [--db path|postgres://…] [--log-level L]; the signing key lives in keys/ next to the database
  (for a postgres:// registry shared by gateways: gateway.keyDir, default <dataDir>/keys).`;

const RUNS_USAGE = `edgeloop runs list [--model-kind K] [--dataset D] [--status running|completed|failed] [--limit N] [--format table|json]
       edgeloop runs show <id> [--format table|json]
       edgeloop runs compare <id> <id>... [--format table|json]
  Common: [--config file] [--db path]`;

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

type Row = Record<string, string | number>;

function table(rows: Row[]): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd();
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => String(r[c] ?? ''))))].join('\n');
}

const iso = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString().replace('.000Z', 'Z'));
const num = (x: number | null | undefined) => (x === null || x === undefined ? '-' : Number.isInteger(x) ? String(x) : x.toPrecision(4));

function outputFormat(value: string | undefined, allowed: readonly string[]): string {
  const f = value ?? allowed[0]!;
  if (!allowed.includes(f)) throw new EdgeloopError('BAD_ARGUMENT', `--format ${JSON.stringify(f)} must be one of ${allowed.join(', ')}`);
  return f;
}

function positional(positionals: string[], what: string, usage: string): string {
  const v = positionals[0];
  if (v === undefined || v === '') throw new EdgeloopError('BAD_ARGUMENT', `${what} is required\nusage: ${usage}`);
  return v;
}

function artifactFlag(value: string | undefined, usage: string): { format: ModelFormat; variant: ModelVariant } {
  const text = requireFlag(value, 'artifact', usage);
  const [format, variant] = text.split('/');
  if (!MODEL_FORMATS.includes(format as ModelFormat) || !MODEL_VARIANTS.includes(variant as ModelVariant)) {
    throw new EdgeloopError('BAD_ARGUMENT', `--artifact ${JSON.stringify(text)} must be FORMAT/VARIANT with FORMAT one of ${MODEL_FORMATS.join(', ')} and VARIANT one of ${MODEL_VARIANTS.join(', ')}`);
  }
  return { format: format as ModelFormat, variant: variant as ModelVariant };
}

async function openStore(values: { config?: string; db?: string }): Promise<{ config: Config; store: SqliteStore }> {
  const config = loadConfig({ file: values.config, overrides: values.db ? [{ path: ['gateway', 'db'], value: values.db }] : [] });
  return { config, store: await SqliteStore.create({ path: dbPathOf(config), synchronous: config.gateway.synchronous }) };
}

function showVersion(v: VersionRecord): string {
  const lines = [
    `${v.model}@${v.version}  ${v.task}  created ${iso(v.createdAtMs)} by ${v.createdBy}`,
    `aliases:   ${v.aliases.length ? v.aliases.join(', ') : '(none)'}`,
    `classes:   ${v.classes ? v.classes.join(', ') : '-'}`,
    `lineage:   ${Object.entries(v.lineage).map(([k, x]) => `${k}=${String(x)}`).join(' ') || '-'}`,
    `pipeline:  spec ${v.pipeline.specHash.slice(0, 16)}…`,
    `native:    ${v.hasNativeModel ? 'stored (re-export / retrain possible)' : 'not stored'}`,
    '',
    table(v.artifacts.map((a) => ({ artifact: `${a.format}/${a.variant}`, bytes: a.bytes, sha256: a.sha256.slice(0, 16) + '…', ...Object.fromEntries(Object.entries(a.metrics).map(([k, x]) => [k, num(x)])) }))),
  ];
  return lines.join('\n');
}

export async function modelsCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    format: { type: 'string' }, alias: { type: 'string' }, by: { type: 'string' }, artifact: { type: 'string' }, out: { type: 'string' },
  }, MODELS_USAGE);
  const level = (values['log-level'] ?? 'warn') as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new EdgeloopError('BAD_ARGUMENT', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(values['log-level'])}`);
  if (sub === undefined || !['list', 'show', 'promote', 'verify', 'history', 'manifest', 'artifact', 'key'].includes(sub)) {
    throw new EdgeloopError('BAD_ARGUMENT', `unknown models subcommand ${JSON.stringify(sub ?? '')}\nusage: ${MODELS_USAGE}`);
  }
  const config = loadConfig({ file: values.config, overrides: values.db ? [{ path: ['gateway', 'db'], value: values.db }] : [] });
  const logger = createLogger({ level, sink: (l) => process.stderr.write(l + '\n') });
  // --db path (SQLite) or postgres://… (the registry of scaled-out gateways).
  const { registry, close } = await openRegistry(dbPathOf(config), { keyDir: keyDirOf(config), synchronous: config.gateway.synchronous, logger });
  try {
    switch (sub) {
      case 'list': {
        const format = outputFormat(values.format, ['table', 'json']);
        const models = await registry.list();
        if (format === 'json') console.log(JSON.stringify(models, null, 2));
        else console.log(table(models.map((m) => ({ model: m.model, task: m.task, versions: m.versions, latest: m.latest, updated: iso(m.latestAtMs), aliases: Object.entries(m.aliases).map(([a, v]) => `${a}=${v}`).join(' ') }))));
        return;
      }
      case 'show': {
        const format = outputFormat(values.format, ['table', 'json']);
        const v = await registry.show(positional(positionals, 'a model reference', MODELS_USAGE));
        console.log(format === 'json' ? JSON.stringify(v, null, 2) : showVersion(v));
        return;
      }
      case 'promote': {
        const ref = positional(positionals, 'a model reference', MODELS_USAGE);
        const change = await registry.promote(ref, requireFlag(values.alias, 'alias', MODELS_USAGE), { by: values.by ?? process.env.USER ?? 'edgeloop' });
        if (change.fromVersion === change.toVersion) console.log(`${change.model}@${change.alias} already points at version ${change.toVersion}`);
        else console.log(`${change.model}@${change.alias}: ${change.fromVersion === null ? '(new)' : `version ${change.fromVersion}`} → version ${change.toVersion}`);
        return;
      }
      case 'verify': {
        const format = outputFormat(values.format, ['table', 'json']);
        const report = await registry.verify(positional(positionals, 'a model reference', MODELS_USAGE));
        if (format === 'json') console.log(JSON.stringify(report, null, 2));
        else {
          console.log(table(report.artifacts.map((a) => ({ artifact: `${a.format}/${a.variant}`, result: a.ok ? 'OK' : a.code!, detail: a.message ?? '' }))));
          console.log(report.ok ? `${report.model}@${report.version}: all artifacts verified` : `${report.model}@${report.version}: VERIFICATION FAILED`);
        }
        if (!report.ok) process.exitCode = 1;
        return;
      }
      case 'history': {
        const format = outputFormat(values.format, ['table', 'json']);
        const changes = await registry.history(positional(positionals, 'a model name', MODELS_USAGE));
        if (format === 'json') console.log(JSON.stringify(changes, null, 2));
        else console.log(table(changes.map((c) => ({ at: iso(c.atMs), alias: c.alias, from: c.fromVersion ?? '-', to: c.toVersion, by: c.by }))));
        return;
      }
      case 'manifest': {
        const { format, variant } = artifactFlag(values.artifact, MODELS_USAGE);
        const text = JSON.stringify(await registry.manifest(positional(positionals, 'a model reference', MODELS_USAGE), format, variant), null, 2);
        if (values.out) writeFileSync(values.out, text + '\n');
        else console.log(text);
        return;
      }
      case 'artifact': {
        const { format, variant } = artifactFlag(values.artifact, MODELS_USAGE);
        const out = requireFlag(values.out, 'out', MODELS_USAGE);
        const ref = positional(positionals, 'a model reference', MODELS_USAGE);
        const bytes = await registry.artifact(ref, format, variant);
        // Check before writing: a file handed to a device must be the registered one.
        const report = await registry.verify(ref);
        const verdict = report.artifacts.find((a) => a.format === format && a.variant === variant)!;
        if (!verdict.ok) throw new EdgeloopError(verdict.code!, `${report.model}@${report.version} ${format}/${variant}: ${verdict.message}`);
        writeFileSync(out, bytes);
        console.log(`wrote ${bytes.length} bytes of ${report.model}@${report.version} ${format}/${variant} to ${out}`);
        return;
      }
      case 'key': {
        const format = outputFormat(values.format, ['text', 'json', 'pem', 'base64']);
        const key = registry.publicKey();
        if (format === 'json') console.log(JSON.stringify(key, null, 2));
        else if (format === 'pem') process.stdout.write(key.pem);
        else if (format === 'base64') console.log(key.rawBase64);
        else console.log(`keyId:  ${key.keyId}\nraw:    ${key.rawBase64}\n\n${key.pem.trimEnd()}\n\nPin this key on devices (edgeloop device --public-key <file>); manifests signed by other keys are rejected.`);
        return;
      }
    }
  } finally {
    await close();
  }
}

/** The headline metric (accuracy, else R², else the first one) of every held-out split, `split=value`. */
function heldOut(r: RunRecord): string {
  const cells = Object.entries(r.metrics).filter(([split]) => split !== 'train').map(([split, m]) => {
    const key = 'accuracy' in m ? 'accuracy' : 'r2' in m ? 'r2' : Object.keys(m)[0];
    return key === undefined ? '' : `${split}${key === 'accuracy' ? '' : `.${key}`}=${num(m[key])}`;
  });
  return cells.filter(Boolean).join(' ') || '-';
}

function runRow(r: RunRecord): Row {
  return {
    id: r.id, kind: r.modelKind, dataset: r.dataset ?? '-', status: r.status, created: iso(r.createdAtMs),
    'duration s': r.durationMs === null ? '-' : (r.durationMs / 1000).toFixed(1), trials: r.trialCount,
    'held-out accuracy': heldOut(r),
  };
}

export async function runsCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    format: { type: 'string' }, 'model-kind': { type: 'string' }, dataset: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' },
  }, RUNS_USAGE);
  if (sub !== 'list' && sub !== 'show' && sub !== 'compare') throw new EdgeloopError('BAD_ARGUMENT', `unknown runs subcommand ${JSON.stringify(sub ?? '')}\nusage: ${RUNS_USAGE}`);
  const format = outputFormat(values.format, ['table', 'json']);
  if (values.status !== undefined && !RUN_STATUSES.includes(values.status as RunStatus)) {
    throw new EdgeloopError('BAD_ARGUMENT', `--status ${JSON.stringify(values.status)} must be one of ${RUN_STATUSES.join(', ')}`);
  }
  const limit = intFlag(values.limit, 'limit', 1, 100_000);
  const { store } = await openStore(values);
  try {
    const runs = await RunStore.create({ database: store.database });
    switch (sub) {
      case 'list': {
        const list = await runs.list({ modelKind: values['model-kind'], dataset: values.dataset, status: values.status as RunStatus | undefined, limit });
        console.log(format === 'json' ? JSON.stringify(list, null, 2) : table(list.map(runRow)));
        return;
      }
      case 'show': {
        const run = await runs.show(positional(positionals, 'a run id', RUNS_USAGE));
        if (format === 'json') {
          console.log(JSON.stringify(run, null, 2));
          return;
        }
        console.log(table([runRow(run)]));
        console.log(`\ncode ${run.codeVersion}  spec ${run.specHash ?? '-'}  dataset hash ${run.datasetHash ?? '-'}${run.error ? `\nerror: ${run.error}` : ''}`);
        console.log(`params: ${JSON.stringify(run.params)}\n`);
        if (run.report) console.log(formatReport(run.report as unknown as EvaluationReport));
        else {
          // Runs recorded without a report: the metrics per split, one column per split.
          const splits = Object.keys(run.metrics);
          const names = [...new Set(splits.flatMap((s) => Object.keys(run.metrics[s]!)))];
          console.log(table(names.map((metric) => ({ metric, ...Object.fromEntries(splits.map((s) => [s, num(run.metrics[s]![metric])])) }))));
        }
        if (run.trials.length > 0) {
          console.log(`\n${run.trials.length} trials:`);
          console.log(table(run.trials.map((x) => ({ trial: x.trial, score: num(x.score), 'duration ms': Math.round(x.durationMs), params: JSON.stringify(x.params), metrics: Object.entries(x.metrics).map(([k, v]) => `${k}=${num(v)}`).join(' ') }))));
        }
        return;
      }
      case 'compare': {
        const c = await runs.compare(positionals);
        if (format === 'json') {
          console.log(JSON.stringify(c, null, 2));
          return;
        }
        const header = (name: string, cells: (string | number | null)[]): Row => Object.fromEntries([['', name], ...c.runs.map((r, i) => [r.id, cells[i] === null ? '-' : String(cells[i])])]);
        console.log(table([
          header('kind', c.runs.map((r) => r.modelKind)),
          header('dataset', c.runs.map((r) => r.dataset)),
          header('status', c.runs.map((r) => r.status)),
          ...c.metrics.map((m) => header(m.name, m.values.map((x) => (x === null ? null : num(x))))),
          ...c.params.map((p) => header(`param ${p.name}`, p.values)),
        ]));
        return;
      }
    }
  } finally {
    await store.close();
  }
}
