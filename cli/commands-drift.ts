/**
 * `edgeloop drift status|show` and `edgeloop alerts list`: read the gateway database's drift and alert
 * tables — the SQLite file, or the PostgreSQL of scaled-out gateways (`--db postgres://…`).
 */
import { EdgeloopError } from '../src/errors.ts';
import { assertSafeName } from '../src/names.ts';
import { alertsTopic } from '../src/topics.ts';
import { openDatabase } from '../io/sqlite.ts';
import { postgresSql, sqliteSql, type SqlDb } from '../gateway/sql.ts';
import { isPostgresUrl } from '../gateway/store-factory.ts';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { DriftStore } from '../gateway/drift-store.ts';
import { AlertManager, ALERT_KINDS, type AlertKind } from '../gateway/alerts.ts';
import { parse, requireFlag, intFlag } from './args.ts';
import { loadConfig, dbPathOf } from './config.ts';

const DRIFT_USAGE = `edgeloop drift status [--fleet F] [--format table|json] [--db path|postgres://…]
       edgeloop drift show --device D [--fleet F] [--feature NAME] [--limit N] [--format table|json] [--db path|postgres://…]`;
const ALERTS_USAGE = 'edgeloop alerts list [--fleet F] [--device D] [--kind drift|performance] [--limit N] [--format table|json] [--db path|postgres://…]';

export type Print = (line: string) => void;

/** The gateway's database: its SQLite file, or the PostgreSQL of scaled-out gateways (the tables are created if missing). */
async function openDb(values: { config?: string; db?: string }): Promise<{ sql: SqlDb; close(): Promise<void> }> {
  const config = loadConfig({ file: values.config, overrides: values.db ? [{ path: ['gateway', 'db'], value: values.db }] : [] });
  const db = dbPathOf(config);
  if (isPostgresUrl(db)) {
    const store = await PostgresStore.create({ url: db, poolSize: 1 });
    return { sql: postgresSql(store.pool), close: () => store.close() };
  }
  const sqlite = openDatabase(db, { synchronous: config.gateway.synchronous });
  return { sql: sqliteSql(sqlite), close: async () => { sqlite.close(); } };
}

function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd();
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => String(r[c]))))].join('\n');
}

function format(value: string | undefined, usage: string): 'table' | 'json' {
  const f = value ?? 'table';
  if (f !== 'table' && f !== 'json') throw new EdgeloopError('BAD_ARGUMENT', `--format ${JSON.stringify(f)} must be table or json\nusage: ${usage}`);
  return f;
}

const num = (v: number | null, digits = 4): string => (v === null ? '-' : Number(v.toPrecision(digits)).toString());
const iso = (ms: number): string => new Date(ms).toISOString();

export async function driftCommand(argv: string[], print: Print = (l) => console.log(l)): Promise<void> {
  const [sub, ...rest] = argv;
  const { values } = parse(rest, { fleet: { type: 'string' }, device: { type: 'string' }, feature: { type: 'string' }, limit: { type: 'string' }, format: { type: 'string' } }, DRIFT_USAGE);
  const fmt = format(values.format, DRIFT_USAGE);
  const fleet = values.fleet === undefined ? undefined : assertSafeName('fleet', values.fleet);
  switch (sub) {
    case 'status': {
      const db = await openDb(values);
      try {
        const rows = await (await DriftStore.create(db.sql)).latestPerDevice(fleet);
        if (fmt === 'json') return print(JSON.stringify({ devices: rows }, null, 2));
        print(table(rows.map((r) => ({
          fleet: r.fleet, device: r.device, model: r.model === null ? '-' : `${r.model} v${r.version}`, verdict: r.verdict, samples: r.sampleCount,
          report: iso(r.generatedAtMs), drifted: r.drifted.map((d) => `${d.name}:${d.level}`).join(' ') || '-',
        }))));
      } finally {
        await db.close();
      }
      return;
    }
    case 'show': {
      const device = assertSafeName('device', requireFlag(values.device, 'device', DRIFT_USAGE));
      const limit = intFlag(values.limit, 'limit', 1, 100_000) ?? 50;
      const db = await openDb(values);
      try {
        const store = await DriftStore.create(db.sql);
        const fleets = [...new Set((await store.latestPerDevice(fleet)).filter((r) => r.device === device).map((r) => r.fleet))];
        if (fleets.length === 0) throw new EdgeloopError('NOT_FOUND', `no drift report from device ${device}${fleet ? ` in fleet ${fleet}` : ''}`);
        if (fleets.length > 1) throw new EdgeloopError('BAD_ARGUMENT', `device ${device} reports in several fleets (${fleets.join(', ')}): add --fleet`);
        const points = await store.series(fleets[0]!, device, { feature: values.feature, limit });
        if (values.feature !== undefined && points.length === 0) throw new EdgeloopError('NOT_FOUND', `device ${device} has no drift statistics for feature ${JSON.stringify(values.feature)}`);
        if (fmt === 'json') return print(JSON.stringify({ fleet: fleets[0], device, reports: await store.reports(fleets[0]!, device, limit), series: points }, null, 2));
        print(table(points.map((p) => ({
          report: iso(p.generatedAtMs), feature: p.isOutput ? `${p.feature} (output)` : p.feature, n: p.count, psi: num(p.psi), ks_or_chi2: num(p.testStat),
          p: num(p.testP, 3), js: num(p.js), wasserstein: num(p.wasserstein), missing: num(p.missingRate, 3), out_of_range: num(p.outRate, 3), level: p.level,
        }))));
      } finally {
        await db.close();
      }
      return;
    }
    default:
      throw new EdgeloopError('BAD_ARGUMENT', `unknown drift subcommand ${JSON.stringify(sub ?? '')}\nusage: ${DRIFT_USAGE}`);
  }
}

export async function alertsCommand(argv: string[], print: Print = (l) => console.log(l)): Promise<void> {
  const [sub, ...rest] = argv;
  const { values } = parse(rest, { fleet: { type: 'string' }, device: { type: 'string' }, kind: { type: 'string' }, limit: { type: 'string' }, format: { type: 'string' } }, ALERTS_USAGE);
  if (sub !== 'list') throw new EdgeloopError('BAD_ARGUMENT', `unknown alerts subcommand ${JSON.stringify(sub ?? '')}\nusage: ${ALERTS_USAGE}`);
  const fmt = format(values.format, ALERTS_USAGE);
  if (values.kind !== undefined && !ALERT_KINDS.includes(values.kind as AlertKind)) {
    throw new EdgeloopError('BAD_ARGUMENT', `--kind ${JSON.stringify(values.kind)} must be one of ${ALERT_KINDS.join(', ')}`);
  }
  const filter = {
    fleet: values.fleet === undefined ? undefined : assertSafeName('fleet', values.fleet),
    device: values.device === undefined ? undefined : assertSafeName('device', values.device),
    kind: values.kind as AlertKind | undefined,
    limit: intFlag(values.limit, 'limit', 1, 100_000) ?? 100,
  };
  const db = await openDb(values);
  try {
    const rows = await (await AlertManager.create(db.sql, { topic: alertsTopic })).list(filter);
    if (fmt === 'json') return print(JSON.stringify({ alerts: rows }, null, 2));
    print(table(rows.map((a) => ({
      id: a.id, raised: iso(a.raisedAtMs), fleet: a.fleet, device: a.device, model: a.model === null ? '-' : `${a.model} v${a.version}`, kind: a.kind,
      severity: a.severity, repeats: a.suppressed, mqtt: a.mqtt, webhook: a.webhook, message: a.message.length > 100 ? a.message.slice(0, 99) + '…' : a.message,
    }))));
  } finally {
    await db.close();
  }
}
