/**
 * Device-side drift (#7) into the gateway's DriftService: two agents replay the model's training day
 * (datatest.txt, 2015-02-02 14:19 → 02-03 20:00) through the model's own pipeline, one of them with a
 * CO2 sensor fault (+800 ppm from the middle of the input). The drift window covers exactly the rows
 * of the training split, so the clean device's window is the reference itself; the faulty device's
 * CO2 half a day off. The gateway stores both reports (with model, modelVersion, device), judges
 * them against the manifest's reference profile and alerts on the faulty device only.
 */
import test from 'ava';
import { CsvInput } from '../device/input-csv.ts';
import { parseFault } from '../device/fault.ts';
import type { InputDoneSummary } from '../device/inference.ts';
import { parseDriftReport, type DriftReport } from '../src/drift/report.ts';
import { rigWithDriftService, FLEET, MODEL, trainingCsv } from './device-inference-rig.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

test('a device with --fault CO2:+800@0.5 raises a drift alert at the gateway, a clean one does not', async (t) => {
  const { rig, service, watch } = await rigWithDriftService(t, 'drift-test');
  const reports = new Map<string, DriftReport[]>();
  watch.on('message', (topic, payload) => {
    const device = topic.split('/')[2]!;
    reports.set(device, [...(reports.get(device) ?? []), parseDriftReport(JSON.parse(payload.toString('utf8')))]);
  });
  await watch.subscribeAsync(`edgeloop/${FLEET}/+/drift`, { qos: 1 });

  const trainRows = rig.matrix.split!.filter((s) => s === 'train').length;
  const csv = trainingCsv(tempDir());
  const done = new Map<string, InputDoneSummary>();
  for (const [id, faults] of [['clean', []], ['faulty', [parseFault('CO2:+800@0.5')]]] as const) {
    const obs = await rig.observer(id);
    const input = await CsvInput.create({ path: csv, timeZone: 'Europe/Brussels', ratePerS: 50_000 });
    await rig.agent(id, { input, faults, batchSize: 100, batchMs: 100, drift: { windowSize: trainRows, every: trainRows }, onInputDone: (s) => done.set(id, s) });
    await rig.install(obs, 1);
  }
  await waitFor(() => done.size === 2, 40_000, 'both inputs done');
  for (const id of ['clean', 'faulty']) t.is(done.get(id)!.rows, trainRows, `${id}: one row per training row`);
  t.is(done.get('faulty')!.faulted, Math.ceil(done.get('faulty')!.readings / 2));
  await waitFor(async () => (await Promise.all(['clean', 'faulty'].map((d) => service.store.reports(FLEET, d, 10)))).every((r) => r.length === 1), 15_000, 'one stored report per device');

  for (const id of ['clean', 'faulty']) {
    const r = reports.get(id)![0]!;
    t.like(r, { model: MODEL, modelVersion: 1, device: id, sampleCount: trainRows, window: { kind: 'count', size: trainRows } });
  }
  const verdict = async (d: string) => (await service.store.reports(FLEET, d, 10))[0]!;
  const clean = await verdict('clean');
  const faulty = await verdict('faulty');
  t.log(`clean: ${clean.verdict} (${clean.drifted.map((x) => x.name).join(', ') || 'nothing drifted'}); faulty: ${faulty.verdict} (${faulty.drifted.map((x) => `${x.name} ${x.level}`).join(', ')})`);
  t.is(clean.verdict, 'ok');
  t.is(faulty.verdict, 'alert');
  t.true(faulty.drifted.some((x) => x.name.includes('CO2')), 'a CO2 feature drifted');
  const alerts = await service.alerts.list({ fleet: FLEET });
  t.deepEqual(alerts.map((a) => [a.device, a.kind, a.model, a.version]), [['faulty', 'drift', MODEL, 1]]);
});
