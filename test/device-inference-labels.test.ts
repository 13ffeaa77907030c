/**
 * Telemetry and delayed labels from the device's csv replay: readings go out in the gateway's
 * telemetry contract without the label column; `labelDelayMs` later the label goes out on the
 * labels topic with the ts of its prediction (the gateway's join key) and as a telemetry reading of
 * the label column at that ts (so the stored readings the gateway retrains from carry the target).
 * The gateway's performance tracking joins every label to its prediction.
 */
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { CsvInput } from '../device/input-csv.ts';
import type { InputDoneSummary } from '../device/inference.ts';
import { parseTelemetryPayload, type Reading } from '../src/contracts/telemetry.ts';
import { parseLabelBatch, type Label } from '../src/contracts/predictions.ts';
import { rigWithDriftService, FLEET, DATA, occupancyFrame } from './device-inference-rig.ts';
import { waitFor } from './helpers/tmp.ts';

test('--labels Occupancy: telemetry without the label, then labels (and the label reading) after the delay, joined by the gateway', async (t) => {
  const { rig, service, watch } = await rigWithDriftService(t, 'perf-test');
  const telemetry: { arrival: number; readings: Reading[] }[] = [];
  const labels: { arrival: number; labels: Label[] }[] = [];
  const predictionArrival = new Map<number, number>();
  const outputs = new Map<number, number>();
  let seq = 0; // message arrival order
  watch.on('message', (topic, payload) => {
    const kind = topic.split('/').slice(3).join('/');
    if (kind === 'telemetry') {
      const r = parseTelemetryPayload(FLEET, 'pi4', payload, Date.now());
      if (!r.ok) throw new Error(`gateway would refuse the telemetry: ${r.detail}`);
      telemetry.push({ arrival: ++seq, readings: r.readings });
    } else if (kind === 'labels') {
      labels.push({ arrival: ++seq, labels: parseLabelBatch(JSON.parse(payload.toString('utf8'))) });
    } else if (kind === 'predictions') {
      for (const p of JSON.parse(payload.toString('utf8')) as { ts: number; output: number }[]) {
        predictionArrival.set(p.ts, ++seq);
        outputs.set(p.ts, p.output);
      }
    }
  });
  await watch.subscribeAsync([`edgeloop/${FLEET}/pi4/telemetry`, `edgeloop/${FLEET}/pi4/labels`, `edgeloop/${FLEET}/pi4/predictions`], { qos: 1 });

  const obs = await rig.observer('pi4');
  let done: InputDoneSummary | null = null;
  const input = await CsvInput.create({ path: fileURLToPath(DATA), timeZone: 'Europe/Brussels', ratePerS: 50_000 });
  const delayMs = 300;
  await rig.agent('pi4', { input, publishTelemetry: true, labels: { column: 'Occupancy', delayMs }, batchSize: 100, batchMs: 50, onInputDone: (s) => { done = s; } });
  await rig.install(obs, 1);
  await waitFor(() => done !== null, 40_000, 'input-done');
  const n = done!.readings;
  const rows = done!.predictions;
  await waitFor(() => labels.reduce((a, b) => a + b.labels.length, 0) >= rows, 20_000, `${rows} labels`);
  await waitFor(() => telemetry.reduce((a, b) => a + b.readings.length, 0) >= n * 5 + rows, 20_000, 'sensor and label readings');

  const frame = occupancyFrame();
  const sensorReadings = telemetry.flatMap((m) => m.readings).filter((r) => r.sensor !== 'Occupancy');
  const labelReadings = telemetry.flatMap((m) => m.readings).filter((r) => r.sensor === 'Occupancy');
  t.is(sensorReadings.length, n * 5, 'five sensors per reading, as the gateway ingests them');
  t.deepEqual([...new Set(sensorReadings.map((r) => r.ts))], frame.ts, 'every reading once, in order');
  // The label column is not in the immediate telemetry: only in the delayed label messages.
  for (const m of telemetry) {
    const sensors = new Set(m.readings.map((r) => r.sensor));
    t.true(!sensors.has('Occupancy') || sensors.size === 1, 'label readings travel alone');
  }
  const allLabels = labels.flatMap((m) => m.labels);
  t.is(allLabels.length, rows, 'one label per prediction');
  const truth = new Map(frame.ts.map((ts, i) => [ts, frame.num.Occupancy![i]!]));
  t.true(allLabels.every((l) => l.label === truth.get(l.ts)), 'label = the Occupancy of the reading the prediction was made at');
  t.deepEqual(labelReadings.map((r) => [r.ts, r.value]), allLabels.map((l) => [l.ts, truth.get(l.ts)]));
  // Order, not timing: every label message arrives after the prediction it labels.
  t.true(labels.every((m) => m.labels.every((l) => predictionArrival.get(l.ts)! < m.arrival)), 'each label after its prediction');

  await waitFor(() => service.performance.counters.joined >= rows, 15_000, 'all labels joined');
  const state = (await service.performance.states({ fleet: FLEET, device: 'pi4' }))[0]!;
  t.log(`joined ${service.performance.counters.joined} of ${rows}; rolling accuracy ${state.accuracy} over ${state.samples}; status ${state.status}`);
  t.is(service.performance.counters.joined, rows);
  // The gateway's rolling accuracy is the one of the last `windowSize` (200) joined predictions by ts.
  const last = allLabels.sort((a, b) => a.ts - b.ts).slice(-state.samples);
  t.is(state.samples, 200);
  t.is(state.accuracy, last.filter((l) => outputs.get(l.ts) === l.label).length / last.length);
});
