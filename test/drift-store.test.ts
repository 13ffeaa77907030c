/**
 * The drift, performance and alert tables through one contract (test/drift-contract.ts) on a real
 * SQLite file (two handles on it, as a restarted gateway) and on a real PostgreSQL cluster (two pools
 * on one schema, as the old and the new leader). PostgreSQL is skipped (visibly) only when not
 * installed and not in CI. Last, SQLite files from before: migrated with their rows.
 */
import test from 'ava';
import { join } from 'node:path';
import { openDatabase } from '../io/sqlite.ts';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { postgresSql, sqliteSql } from '../gateway/sql.ts';
import { DriftService } from '../gateway/drift-monitor.ts';
import { DriftStore } from '../gateway/drift-store.ts';
import { AlertManager } from '../gateway/alerts.ts';
import type { ReceivedMessage } from '../gateway/mqtt-session.ts';
import { alertsTopic } from '../src/topics.ts';
import { driftContract } from './drift-contract.ts';
import { pgRig } from './helpers/pg-rig.ts';
import { tempDir } from './helpers/tmp.ts';

const rig = pgRig({ database: 'drift' });
let schemas = 0;

driftContract('sqlite', async () => {
  const path = join(tempDir(), 'drift.db');
  const da = openDatabase(path);
  const db = openDatabase(path);
  return { a: sqliteSql(da), b: sqliteSql(db), close: async () => { da.close(); db.close(); } };
});

if (rig.available) {
  driftContract('postgres', async () => {
    const schema = `d${++schemas}`;
    const sa = await PostgresStore.create({ url: rig.dbUrl, schema, poolSize: 2 });
    const sb = await PostgresStore.create({ url: rig.dbUrl, schema, poolSize: 2 });
    return { a: postgresSql(sa.pool), b: postgresSql(sb.pool), close: async () => { await sa.close(); await sb.close(); } };
  });
} else {
  test('drift tables on postgres: PostgreSQL not installed, skipped', (t) => t.pass());
}

const T0 = Date.UTC(2024, 0, 1);
const raw = (topic: string, body: unknown, receivedAtMs = T0): ReceivedMessage => ({ topic, payload: Buffer.from(JSON.stringify(body)), qos: 1, dup: false, receivedAtMs });

test('sqlite: a file keyed the old way (predictions by ts only, reports and alerts without keys) is migrated with its rows', async (t) => {
  const db = openDatabase(join(tempDir(), 'old.db'));
  t.teardown(() => db.close());
  db.exec(`CREATE TABLE perf_predictions (
    fleet TEXT NOT NULL, device TEXT NOT NULL, ts INTEGER NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL,
    output REAL NOT NULL, proba TEXT, label REAL, received_at INTEGER NOT NULL, joined_at INTEGER,
    PRIMARY KEY (fleet, device, ts)) WITHOUT ROWID;
    CREATE INDEX perf_joined ON perf_predictions (fleet, device, model, version, ts) WHERE label IS NOT NULL;
    CREATE TABLE drift_reports (
      id INTEGER PRIMARY KEY AUTOINCREMENT, fleet TEXT NOT NULL, device TEXT NOT NULL, model TEXT, version INTEGER,
      generated_at INTEGER NOT NULL, received_at INTEGER NOT NULL, sample_count INTEGER NOT NULL,
      window_start INTEGER, window_end INTEGER, verdict TEXT NOT NULL, reasons TEXT NOT NULL, drifted TEXT NOT NULL);
    CREATE TABLE drift_features (
      report_id INTEGER NOT NULL REFERENCES drift_reports (id) ON DELETE CASCADE, feature TEXT NOT NULL, kind TEXT NOT NULL,
      is_output INTEGER NOT NULL, count INTEGER NOT NULL, missing_rate REAL NOT NULL, out_rate REAL NOT NULL, mean REAL,
      psi REAL, js REAL, test_stat REAL, test_p REAL, wasserstein REAL, level TEXT NOT NULL,
      PRIMARY KEY (report_id, feature)) WITHOUT ROWID;
    CREATE TABLE alerts (
      id INTEGER PRIMARY KEY AUTOINCREMENT, fleet TEXT NOT NULL, device TEXT NOT NULL, model TEXT, version INTEGER,
      kind TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL, details TEXT NOT NULL, raised_at INTEGER NOT NULL,
      suppressed INTEGER NOT NULL DEFAULT 0, last_suppressed_at INTEGER,
      mqtt TEXT NOT NULL, webhook TEXT NOT NULL, webhook_attempts INTEGER NOT NULL DEFAULT 0);`);
  db.prepare('INSERT INTO perf_predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run('f', 'old', T0, 'occ', 1, 1, null, 1, T0, T0);
  // The same report stored twice (delivered twice before reports were keyed), each with its feature row.
  for (let i = 0; i < 2; i++) {
    const id = db.prepare(`INSERT INTO drift_reports (fleet, device, model, version, generated_at, received_at, sample_count, verdict, reasons, drifted)
      VALUES ('f', 'd', 'occ', 1, ?, ?, 10, 'ok', '[]', '[]')`).run(T0, T0 + i).lastInsertRowid;
    db.prepare(`INSERT INTO drift_features VALUES (?, 'temp', 'numeric', 0, 10, 0, 0, 20, 0.01, 0.01, 0.1, 0.9, 0.1, 'ok')`).run(id);
  }
  db.prepare(`INSERT INTO alerts (fleet, device, model, version, kind, severity, message, details, raised_at, mqtt, webhook)
    VALUES ('f', 'd', 'occ', 1, 'drift', 'warning', 'old', '{}', ?, 'delivered', 'disabled')`).run(T0);

  const svc = await DriftService.create({ database: db, brokerUrl: 'mqtt://127.0.0.1:1', fleet: 'f', alertPublisher: null, now: () => T0 });
  t.regex(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'perf_predictions'").pluck().get() as string, /PRIMARY KEY \(fleet, device, ts, model, version\)/);
  t.is(db.prepare('SELECT count(*) FROM perf_predictions').pluck().get(), 1, 'the old prediction is kept');
  await svc.handleMessages([raw('edgeloop/f/old/predictions', [{ ts: T0, model: 'occ', version: 2, output: 0 }])]);
  t.deepEqual(db.prepare('SELECT version, label FROM perf_predictions ORDER BY version').all(), [{ version: 1, label: 1 }, { version: 2, label: 1 }], 'the shadow prediction takes the label already joined');

  t.deepEqual((await svc.store.reports('f', 'd')).map((r) => r.receivedAtMs), [T0], 'the first copy of the twice-stored report is kept');
  t.is(db.prepare('SELECT count(*) FROM drift_features').pluck().get(), 1, 'with its feature row; the copy\'s is gone');
  t.is((await svc.alerts.list())[0]!.message, 'old', 'old alerts are kept');
  t.deepEqual(db.prepare("SELECT name FROM pragma_table_info('alerts') WHERE name = 'dedupe_key'").pluck().all(), ['dedupe_key']);
  t.true((await svc.alerts.record({ fleet: 'f', device: 'e', model: null, version: null, kind: 'drift', severity: 'warning', message: 'new', details: {} })).sent);

  // Opening it again changes nothing more.
  await DriftStore.create(sqliteSql(db));
  await AlertManager.create(sqliteSql(db), { topic: alertsTopic });
  t.is((await svc.alerts.list()).length, 2);
});

test('sqlite: a read-only handle (the offline CLI) reads the drift tables without touching the schema', async (t) => {
  const path = join(tempDir(), 'ro.db');
  const db = openDatabase(path);
  t.teardown(() => db.close());
  const store = await DriftStore.create(sqliteSql(db));
  await store.setDeviceModel('f', 'd', { model: 'm', version: 3 }, T0);
  const ro = openDatabase(path, { readonly: true });
  t.teardown(() => ro.close());
  const offline = await DriftStore.create(sqliteSql(ro), { readonly: true });
  t.deepEqual(await offline.getDeviceModel('f', 'd'), { model: 'm', version: 3 });
  await t.throwsAsync(offline.setDeviceModel('f', 'd', { model: 'm', version: 4 }, T0), { message: /readonly/ });
});

test('DriftService.create needs exactly one of database and sql', async (t) => {
  const err = await t.throwsAsync(DriftService.create({ brokerUrl: 'mqtt://127.0.0.1:1', fleet: 'f' }));
  t.is(err!.message, 'drift service options are invalid: exactly one of database (SQLite) or sql must be given');
});
