/** `edgeloop drift status|show` and `edgeloop alerts list` on a database the drift service wrote (commands called in-process). */
import test from 'ava';
import { join } from 'node:path';
import { tempDir } from './helpers/tmp.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { DriftService } from '../gateway/drift-monitor.ts';
import { driftCommand, alertsCommand } from '../cli/commands-drift.ts';
import { buildReferenceProfile } from '../src/drift/profile.ts';
import { createDriftMonitor } from '../src/drift/monitor.ts';
import { createRandom } from '../src/random.ts';
import { EdgeloopError, type ErrorCode } from '../src/errors.ts';

const T = Date.UTC(2024, 0, 1);

async function populated(): Promise<string> {
  const db = join(tempDir(), 'gw.db');
  const store = await SqliteStore.create({ path: db });
  const svc = await DriftService.create({ database: store.database, brokerUrl: 'mqtt://127.0.0.1:1', fleet: 'f', alertPublisher: null, now: () => T });
  const r = createRandom(9);
  const X = Array.from({ length: 500 }, () => [20 + r.next()]);
  const profile = buildReferenceProfile(['temp'], { columns: ['temp'], X, ts: X.map((_, i) => i), device: X.map(() => 'd') });
  await svc.registerProfile('occ', 1, profile);
  for (const [device, shift] of [['ok1', 0], ['hot', 3]] as const) {
    await svc.setDeviceModel('f', device, 'occ', 1);
    const mon = createDriftMonitor(profile, { windowSize: 300, now: () => T });
    for (let i = 0; i < 600; i++) {
      mon.update([20 + shift + r.next()], { tsMs: T + i * 1000 });
      if ((i + 1) % 300 === 0) {
        await svc.handleMessages([{ topic: `edgeloop/f/${device}/drift`, payload: Buffer.from(JSON.stringify(mon.report({ nowMs: T + i * 1000 }))), qos: 1, dup: false, receivedAtMs: T }]);
      }
    }
  }
  await store.close();
  return db;
}

const capture = async (f: (print: (l: string) => void) => Promise<void>): Promise<string> => {
  const out: string[] = [];
  await f((l) => out.push(l));
  return out.join('\n');
};

test('drift status, drift show and alerts list (table and json)', async (t) => {
  const db = await populated();
  const status = JSON.parse(await capture((p) => driftCommand(['status', '--db', db, '--format', 'json'], p))) as { devices: { device: string; verdict: string }[] };
  t.deepEqual(status.devices.map((d) => [d.device, d.verdict]), [['hot', 'alert'], ['ok1', 'ok']]);
  const statusTable = await capture((p) => driftCommand(['status', '--db', db], p));
  t.regex(statusTable, /^fleet\s+device\s+model\s+verdict\s+samples\s+report\s+drifted$/m);
  t.regex(statusTable, /^f\s+hot\s+occ v1\s+alert\s+300\s+\S+\s+temp:alert$/m);
  const show = await capture((p) => driftCommand(['show', '--device', 'hot', '--feature', 'temp', '--db', db], p));
  const lines = show.split('\n');
  t.is(lines.length, 4, 'header, rule, two reports');
  t.regex(lines[3]!, /temp\s+300\s+[\d.]+\s+1\s+/);
  const showJson = JSON.parse(await capture((p) => driftCommand(['show', '--device', 'ok1', '--db', db, '--format', 'json'], p))) as { series: { psi: number }[] };
  t.is(showJson.series.length, 2);
  t.true(showJson.series.every((s) => s.psi < 0.1));
  const alerts = JSON.parse(await capture((p) => alertsCommand(['list', '--db', db, '--device', 'hot', '--format', 'json'], p))) as { alerts: { device: string; kind: string; severity: string }[] };
  t.deepEqual(alerts.alerts.map((a) => [a.device, a.kind, a.severity]), [['hot', 'drift', 'critical']]);
  t.regex(await capture((p) => alertsCommand(['list', '--db', db, '--device', 'hot'], p)), /^\d+\s+\S+\s+f\s+hot\s+occ v1\s+drift\s+critical\s+0\s+disabled\s+disabled\s+drift ok → alert/m);
  t.is(await capture((p) => alertsCommand(['list', '--db', db, '--device', 'nobody'], p)), '(none)');
});

test('bad CLI arguments fail with their code and message', async (t) => {
  const db = await populated();
  const bad = async (f: () => Promise<void>, code: ErrorCode, message: string | RegExp) => {
    const err = await t.throwsAsync(f(), { instanceOf: EdgeloopError });
    t.is(err?.code, code);
    if (typeof message === 'string') t.is(err?.message.split('\n')[0], message);
    else t.regex(err?.message ?? '', message);
  };
  await bad(() => driftCommand(['show', '--db', db]), 'BAD_ARGUMENT', '--device is required');
  await bad(() => driftCommand(['show', '--device', 'nobody', '--db', db]), 'NOT_FOUND', 'no drift report from device nobody');
  await bad(() => driftCommand(['show', '--device', 'hot', '--feature', 'CO2', '--db', db]), 'NOT_FOUND', 'device hot has no drift statistics for feature "CO2"');
  await bad(() => driftCommand(['status', '--format', 'xml', '--db', db]), 'BAD_ARGUMENT', '--format "xml" must be table or json');
  await bad(() => driftCommand(['explode', '--db', db]), 'BAD_ARGUMENT', 'unknown drift subcommand "explode"');
  await bad(() => alertsCommand(['list', '--kind', 'fire', '--db', db]), 'BAD_ARGUMENT', '--kind "fire" must be one of drift, performance');
  await bad(() => alertsCommand(['list', '--limit', '0', '--db', db]), 'BAD_ARGUMENT', '--limit "0" must be an integer in 1..100000');
  await bad(() => alertsCommand(['purge', '--db', db]), 'BAD_ARGUMENT', 'unknown alerts subcommand "purge"');
  await bad(() => alertsCommand(['list', '--device', 'a/b', '--db', db]), 'BAD_NAME', /^device name "a\/b" is not allowed/);
});
