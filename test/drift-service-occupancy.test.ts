/**
 * The drift service end to end on the UCI occupancy data, over a real in-process broker: three
 * simulated devices run src/drift's streaming monitor and publish their reports on MQTT; one gets a
 * CO2 +400 ppm offset mid-stream. The gateway must flag that one (alert topic, alerts table,
 * verdict 'alert') within two report windows of the onset and leave the others alone.
 *
 * Reference data. datatest2.txt (Feb 11-18) is itself shifted from datatraining.txt (Feb 4-10): CO2
 * median 639 vs 453 ppm, humidity 30 vs 26 %. Against a profile of datatraining every device is at
 * 'alert' from the first report, fault or not (second test below pins that). So the fault-detection
 * test profiles a seeded random half of datatest2 and streams the other half, in a seeded shuffled
 * order per device: time-ordered windows of a few hours are not representative of a week-long
 * reference (day/night cycles) and every window would be flagged.
 */
import test from 'ava';
import { join } from 'node:path';
import { readOccupancy } from './helpers/models-occupancy.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { HttpServer } from '../gateway/http.ts';
import { DriftService } from '../gateway/drift-monitor.ts';
import type { Alert } from '../gateway/alerts.ts';
import { connectMqtt, endAsync, publishAsync, type MqttClient } from '../io/mqtt-client.ts';
import { buildReferenceProfile, type ReferenceProfile } from '../src/drift/profile.ts';
import { createDriftMonitor } from '../src/drift/monitor.ts';
import { createRandom } from '../src/random.ts';
import { alertsTopic, deviceTopic } from '../src/topics.ts';
import type { FeatureMatrix } from '../src/frame.ts';

const SENSORS = ['Temperature', 'Humidity', 'Light', 'CO2', 'HumidityRatio'];
const CO2 = 3;
const WINDOW = 500;
const REPORT_EVERY = 250;
const ONSET = 2000;
const T0 = Date.UTC(2015, 1, 11);

function matrix(X: number[][], split?: string[]): FeatureMatrix {
  return { columns: SENSORS, X, ts: X.map((_, i) => T0 + i * 60_000), device: X.map(() => 'room'), ...(split ? { split } : {}) };
}

function shuffled<T>(rows: readonly T[], seed: number): T[] {
  const r = createRandom(seed);
  const out = [...rows];
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

interface Rig {
  broker: EmbeddedBroker;
  store: SqliteStore;
  service: DriftService;
  http: HttpServer;
  device: MqttClient;
  watcher: MqttClient;
  alerts: Alert[];
  close(): Promise<void>;
}

async function rig(fleet: string): Promise<Rig> {
  const broker = await startEmbeddedBroker({ port: 0 });
  const store = await SqliteStore.create({ path: join(tempDir(), 'gw.db'), synchronous: 'normal' });
  const service = await DriftService.create({ database: store.database, brokerUrl: broker.url, fleet, clientId: `drift-${fleet}` });
  const http = new HttpServer({ port: 0 });
  service.registerRoutes(http);
  await http.start();
  await service.start();
  const watcher = await connectMqtt(broker.url, { clientId: `watch-${fleet}` });
  const alerts: Alert[] = [];
  watcher.on('message', (_topic, payload) => alerts.push(JSON.parse(payload.toString()) as Alert));
  await new Promise<void>((resolve, reject) => watcher.subscribe(alertsTopic(fleet), { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  const device = await connectMqtt(broker.url, { clientId: `devices-${fleet}` });
  return {
    broker, store, service, http, device, watcher, alerts,
    async close() {
      await endAsync(device);
      await endAsync(watcher);
      await service.stop();
      await http.stop();
      await store.close();
      await broker.stop();
    },
  };
}

/** Runs one device's monitor over `rows`, publishing a report every REPORT_EVERY samples; returns the count. */
async function streamDevice(client: MqttClient, fleet: string, device: string, profile: ReferenceProfile, rows: readonly number[][], fault?: { from: number }): Promise<number> {
  const monitor = createDriftMonitor(profile, { windowSize: WINDOW, now: () => 0 });
  let published = 0;
  for (let i = 0; i < rows.length; i++) {
    const values = [...rows[i]!];
    if (fault && i >= fault.from) values[CO2]! += 400;
    const tsMs = T0 + i * 60_000;
    monitor.update(values, { tsMs });
    if ((i + 1) % REPORT_EVERY === 0) {
      await publishAsync(client, deviceTopic('drift', fleet, device), JSON.stringify(monitor.report({ nowMs: tsMs })), { qos: 1 });
      published++;
    }
  }
  return published;
}

test('a CO2 +400 offset on one of three devices is flagged within two report windows; the others stay ok', async (t) => {
  const fleet = 'occ';
  const all = readOccupancy('datatest2.txt').X.map((r) => r.slice(0, 5));
  const pick = createRandom(11);
  const split = all.map(() => (pick.next() < 0.5 ? 'train' : 'live'));
  const profile = buildReferenceProfile(SENSORS, matrix(all, split));
  const live = all.filter((_, i) => split[i] === 'live');
  const r = await rig(fleet);
  t.teardown(() => r.close());
  await r.service.registerProfile('occupancy', 3, profile, { task: 'classification', testMetrics: { test_accuracy: 0.98 } });
  const devices = ['dev-1', 'dev-2', 'dev-3'];
  for (const d of devices) await r.service.setDeviceModel(fleet, d, 'occupancy', 3);

  let expected = 0;
  for (const [k, d] of devices.entries()) {
    expected += await streamDevice(r.device, fleet, d, profile, shuffled(live, 100 + k), d === 'dev-3' ? { from: ONSET } : undefined);
  }
  await waitFor(async () => (await Promise.all(devices.map((d) => r.service.store.reports(fleet, d, 1000)))).every((x) => x.length === expected / 3), 15_000, 'all reports stored');

  const verdicts = async (d: string) => (await r.service.store.reports(fleet, d, 1000)).reverse().map((x) => x.verdict);
  // Report k (1-based) covers samples up to k·REPORT_EVERY; the first with faulty samples is ONSET/REPORT_EVERY + 1.
  const firstFaulty = ONSET / REPORT_EVERY;
  const faulty = await verdicts('dev-3');
  t.deepEqual(faulty.slice(0, firstFaulty), new Array(firstFaulty).fill('ok'), 'before the onset the faulty device is ok');
  const flaggedAt = faulty.indexOf('alert');
  t.true(flaggedAt >= firstFaulty && flaggedAt < firstFaulty + 2, `flagged at report ${flaggedAt + 1}, onset before report ${firstFaulty + 1}`);
  t.true(faulty.slice(flaggedAt).every((v) => v === 'alert'), 'stays at alert while the offset lasts');
  for (const d of ['dev-1', 'dev-2']) t.deepEqual(new Set(await verdicts(d)), new Set(['ok']), `${d} verdicts`);

  // Exactly one alert (the transition), on the topic and in the table; none for the healthy devices.
  await waitFor(() => r.alerts.length >= 1, 5000, 'alert on the alert topic');
  await new Promise((res) => setTimeout(res, 200));
  t.is(r.alerts.length, 1);
  const alert = r.alerts[0]!;
  t.like(alert, { fleet, device: 'dev-3', model: 'occupancy', version: 3, kind: 'drift', severity: 'critical' });
  t.regex(alert.message, /drift ok → alert: .*CO2: PSI/);
  const rows = await r.service.alerts.list({ fleet });
  t.is(rows.length, 1);
  t.like(rows[0], { id: alert.id, device: 'dev-3', mqtt: 'delivered', webhook: 'disabled', suppressed: 0 });

  // JSON API: latest verdict per device, and the CO2 time series of the faulty device.
  const status = (await (await fetch(`${r.http.url}/v1/drift`)).json()) as { devices: { device: string; verdict: string }[] };
  t.deepEqual(status.devices.map((x) => [x.device, x.verdict]), [['dev-1', 'ok'], ['dev-2', 'ok'], ['dev-3', 'alert']]);
  const show = (await (await fetch(`${r.http.url}/v1/drift/dev-3?feature=CO2&points=1000`)).json()) as { series: { psi: number; level: string; feature: string }[] };
  t.is(show.series.length, expected / 3);
  t.true(show.series.every((p) => p.feature === 'CO2'));
  t.true(show.series.slice(0, firstFaulty).every((p) => p.psi < 0.1), 'CO2 PSI small before the onset');
  t.true(show.series.at(-1)!.psi > 0.25, `CO2 PSI after the onset: ${show.series.at(-1)!.psi}`);
  t.is(show.series.at(-1)!.level, 'alert');

  // /metrics carries the same picture.
  const metrics = await (await fetch(`${r.http.url}/metrics`)).text();
  const value = (re: RegExp): number => Number(re.exec(metrics)?.[1]);
  t.true(value(/^edgeloop_drift_psi\{fleet="occ",device="dev-3",feature="CO2"\} (\S+)$/m) > 0.25);
  t.true(value(/^edgeloop_drift_psi\{fleet="occ",device="dev-1",feature="CO2"\} (\S+)$/m) < 0.1);
  t.is(value(/^edgeloop_drift_verdict_level\{fleet="occ",device="dev-3"\} (\S+)$/m), 2);
  t.is(value(/^edgeloop_drift_verdict_level\{fleet="occ",device="dev-2"\} (\S+)$/m), 0);
  t.is(value(/^edgeloop_alerts_total\{kind="drift",severity="critical"\} (\S+)$/m), 1);
  t.is(value(/^edgeloop_drift_reports_total\{verdict="alert"\} (\S+)$/m), faulty.filter((v) => v === 'alert').length);
  t.is(value(/^edgeloop_device_model_info\{fleet="occ",device="dev-1",model="occupancy",version="3"\} (\S+)$/m), 1);
});

test('against the datatraining profile, datatest2 is drifted on every device (the real week-to-week shift)', async (t) => {
  const fleet = 'occ2';
  const train = readOccupancy('datatraining.txt').X.map((row) => row.slice(0, 5));
  const profile = buildReferenceProfile(SENSORS, matrix(train));
  const test2 = readOccupancy('datatest2.txt').X.map((row) => row.slice(0, 5)).slice(0, 1000);
  const r = await rig(fleet);
  t.teardown(() => r.close());
  await r.service.registerProfile('occupancy', 1, profile);
  for (const d of ['a', 'b']) {
    await r.service.setDeviceModel(fleet, d, 'occupancy', 1);
    await streamDevice(r.device, fleet, d, profile, shuffled(test2, 5));
  }
  await waitFor(async () => (await Promise.all(['a', 'b'].map((d) => r.service.store.reports(fleet, d)))).every((x) => x.length === 4), 10_000, 'reports');
  for (const d of ['a', 'b']) {
    const rep = await r.service.store.reports(fleet, d);
    t.true(rep.every((x) => x.verdict === 'alert'), d);
    const drifted = rep[0]!.drifted.map((x) => x.name);
    t.true(drifted.includes('CO2') && drifted.includes('Humidity'), drifted.join(','));
  }
  await waitFor(() => r.alerts.length === 2, 5000, 'one alert per device');
  t.deepEqual(r.alerts.map((a) => a.device).sort(), ['a', 'b']);
});
