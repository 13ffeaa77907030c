/**
 * The drift service on PostgreSQL over a real broker (mosquitto), as the elected leader runs it: two
 * gateway instances (two pools on one schema) with the same MQTT client id. The first leads, stores a
 * report and raises its alert, then is demoted (stop); reports published while no instance leads wait in
 * the shared persistent session, and the next leader (start on the other instance) takes the session
 * over and stores them: nothing lost, nothing twice. Leadership back: the first instance starts again.
 * `edgeloop drift status` and `alerts list --db postgres://…` read the shared tables. Skipped (visibly) only when PostgreSQL or mosquitto
 * is not installed and this is not CI.
 */
import test from 'ava';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { postgresSql } from '../gateway/sql.ts';
import { DriftService } from '../gateway/drift-monitor.ts';
import { alertsCommand, driftCommand } from '../cli/commands-drift.ts';
import { connectMqtt, endAsync, publishAsync } from '../io/mqtt-client.ts';
import { buildReferenceProfile } from '../src/drift/profile.ts';
import { createDriftMonitor } from '../src/drift/monitor.ts';
import { createRandom } from '../src/random.ts';
import { alertsTopic, deviceTopic } from '../src/topics.ts';
import type { Alert } from '../gateway/alerts.ts';
import { pgRig } from './helpers/pg-rig.ts';
import { waitFor } from './helpers/tmp.ts';

const rig = pgRig({ database: 'driftsvc', mosquitto: true });
const T0 = Date.UTC(2024, 0, 1);

test('the next leader takes over the drift session: reports queued while no instance led are stored once, alerts raised once', async (t) => {
  if (!rig.available || !rig.broker) return t.pass('PostgreSQL or mosquitto not installed: skipped');
  // The default schema (edgeloop), where the CLI looks.
  const stores = await Promise.all([1, 2].map(() => PostgresStore.create({ url: rig.dbUrl, poolSize: 2 })));
  t.teardown(async () => { for (const s of stores) await s.close(); });
  // The same client id on every instance: the leader owns the persistent session (and its unacknowledged messages).
  const services = await Promise.all(stores.map((s) => DriftService.create({ sql: postgresSql(s.pool), brokerUrl: rig.broker!.url, fleet: 'f', clientId: 'edgeloop-drift-f' })));
  t.teardown(async () => { for (const s of services) await s.stop(); });
  const [first, next] = services as [DriftService, DriftService];

  const r = createRandom(1);
  const X = Array.from({ length: 500 }, () => [20 + r.next()]);
  const profile = buildReferenceProfile(['temp'], { columns: ['temp'], X, ts: X.map((_, i) => i), device: X.map(() => 'd') });
  await first.registerProfile('occ', 1, profile);
  const report = (shift: number, startMs: number): string => {
    const mon = createDriftMonitor(profile, { windowSize: 300, now: () => startMs });
    for (let i = 0; i < 300; i++) mon.update([20 + shift + r.next()], { tsMs: startMs + i * 1000 });
    return JSON.stringify({ ...mon.report({ nowMs: startMs + 299_000 }), model: 'occ', modelVersion: 1 });
  };

  const watcher = await connectMqtt(rig.broker.url, { clientId: 'watch-alerts' });
  t.teardown(() => endAsync(watcher));
  const alerts: Alert[] = [];
  watcher.on('message', (_topic, payload) => alerts.push(JSON.parse(payload.toString()) as Alert));
  await watcher.subscribeAsync(alertsTopic('f'), { qos: 1 });
  const device = await connectMqtt(rig.broker.url, { clientId: 'devices' });
  t.teardown(() => endAsync(device));

  await first.start();
  await publishAsync(device, deviceTopic('drift', 'f', 'hot'), report(3, T0));
  await publishAsync(device, deviceTopic('drift', 'f', 'ok1'), report(0, T0));
  await waitFor(async () => (await first.store.latestPerDevice('f')).length === 2, 10_000, 'the leader stores both reports');
  await first.stop();

  // No leader: the broker queues these in the session.
  await publishAsync(device, deviceTopic('drift', 'f', 'hot2'), report(3, T0 + 1_000_000));
  await publishAsync(device, deviceTopic('drift', 'f', 'ok1'), report(0, T0 + 1_000_000));
  await next.start();
  await waitFor(async () => (await next.store.latestPerDevice('f')).length === 3, 10_000, 'the next leader stores the queued reports');
  await waitFor(() => alerts.length === 2, 10_000, 'two alerts on the alert topic');

  const latest = await next.store.latestPerDevice('f');
  t.deepEqual(latest.map((x) => [x.device, x.verdict]), [['hot', 'alert'], ['hot2', 'alert'], ['ok1', 'ok']]);
  t.is((await next.store.reports('f', 'ok1')).length, 2);
  // The publisher's PUBACK may come after the watcher's copy: then the status write follows.
  await waitFor(async () => (await next.alerts.list()).every((a) => a.mqtt === 'delivered'), 10_000, 'both alerts marked delivered');
  t.deepEqual((await next.alerts.list()).map((a) => [a.device, a.kind, a.severity, a.mqtt]).sort(), [['hot', 'drift', 'critical', 'delivered'], ['hot2', 'drift', 'critical', 'delivered']]);
  t.deepEqual(alerts.map((a) => a.device).sort(), ['hot', 'hot2']);

  // Leadership back to the first instance: a stopped service starts again.
  await next.stop();
  await first.start();
  await publishAsync(device, deviceTopic('drift', 'f', 'hot3'), report(3, T0 + 2_000_000));
  await waitFor(() => alerts.length === 3, 10_000, 'the third alert, from the first instance again');
  t.is((await first.store.reports('f', 'hot3')).length, 1);

  const lines: string[] = [];
  await driftCommand(['status', '--db', rig.dbUrl, '--format', 'json'], (l) => lines.push(l));
  const status = JSON.parse(lines.pop()!) as { devices: { device: string; verdict: string }[] };
  t.deepEqual(status.devices.map((d) => [d.device, d.verdict]), [['hot', 'alert'], ['hot2', 'alert'], ['hot3', 'alert'], ['ok1', 'ok']]);
  await alertsCommand(['list', '--db', rig.dbUrl, '--device', 'hot2', '--format', 'json'], (l) => lines.push(l));
  t.deepEqual((JSON.parse(lines.pop()!) as { alerts: { device: string; kind: string }[] }).alerts.map((a) => [a.device, a.kind]), [['hot2', 'drift']]);
});
