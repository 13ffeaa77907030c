/**
 * The device agent's inference loop end to end with real parts: an aedes broker, a signed registry
 * holding a really trained occupancy classifier (ONNX float32 in onnxruntime-node), in-process
 * agents installing it over MQTT, a CSV replay of the UCI occupancy recordings as input.
 */
import test from 'ava';
import { startEmbeddedBroker } from '../gateway/broker.ts';
import { CsvInput } from '../device/input-csv.ts';
import { PredictHttp } from '../device/predict-http.ts';
import { fileURLToPath } from 'node:url';
import { InferenceRig, collectPredictions, DATA, MODEL, occupancyFrame } from './device-inference-rig.ts';
import { waitFor } from './helpers/tmp.ts';
import type { InputDoneSummary } from '../device/inference.ts';

const DATA_PATH = fileURLToPath(DATA);

test('csv input: the device predicts what the gateway batch-predicts on the same rows, active and shadow, with the same ts', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  const rig = await InferenceRig.create(broker.url, 2);
  t.teardown(async () => {
    await rig.close();
    await broker.stop();
  });
  // Install v1 (active) and v2 (shadow), then restart the agent with an input: both load at start.
  const obs = await rig.observer('pi1');
  const first = await rig.agent('pi1', undefined);
  await rig.install(obs, 1);
  await rig.install(obs, 2, 'shadow');
  const stateDir = (first as unknown as { o: { stateDir: string } }).o.stateDir;
  await first.stop();
  rig.agents.splice(rig.agents.indexOf(first), 1);

  const got = await collectPredictions(broker.url, 'pi1');
  t.teardown(() => got.close());
  let done: InputDoneSummary | null = null;
  const input = await CsvInput.create({ path: DATA_PATH, timeZone: 'Europe/Brussels', ratePerS: 50_000 });
  const agent = await rig.agent('pi1', { input, batchSize: 64, batchMs: 100, onInputDone: (s) => { done = s; } }, stateDir);
  const expected = await rig.batchPredictions(occupancyFrame(), 1);
  await waitFor(() => done !== null, 40_000, 'input-done');
  await waitFor(() => got.predictions.length >= 2 * expected.size, 20_000, `${2 * expected.size} predictions`);

  const s = done! as InputDoneSummary;
  t.is(s.readings, input.total);
  t.is(s.rejected, 0);
  t.is(s.rows, expected.size, 'one feature row per batch-transform row');
  t.is(s.predictions, expected.size);
  t.is(s.shadowPredictions, expected.size);
  const v1 = got.predictions.filter((p) => p.version === 1);
  const v2 = got.predictions.filter((p) => p.version === 2);
  t.is(v1.length, expected.size);
  t.is(v2.length, expected.size);
  let mismatches = 0;
  let maxProbaErr = 0;
  for (const p of v1) {
    const e = expected.get(p.ts);
    if (!e || e.output !== p.output) mismatches++;
    else maxProbaErr = Math.max(maxProbaErr, ...p.proba!.map((x, k) => Math.abs(x - e.proba[k]!)));
  }
  t.is(mismatches, 0, 'every device prediction has a batch row with that ts and the same class');
  t.true(maxProbaErr < 1e-5, `max |proba error| ${maxProbaErr}`);
  // Shadow pairs: the same ts for both versions; the active one first within the batch.
  t.deepEqual(v2.map((p) => p.ts), v1.map((p) => p.ts));
  const firstOf = new Map<number, number>();
  for (const p of got.predictions) if (!firstOf.has(p.ts)) firstOf.set(p.ts, p.version);
  t.true([...firstOf.values()].every((v) => v === 1), 'the active prediction precedes its shadow');
  // Stats in the status command result and the heartbeat.
  const status = await obs.command({ type: 'status' });
  t.true(status.ok);
  const inf = status.ok ? status.inference : undefined;
  t.like(inf, { readingsIn: input.total, rowsIn: expected.size, predictionsOut: expected.size, inputDone: true, rejectedInputs: 0, runErrors: 0 });
  t.is(inf!.driftReports, Math.floor(expected.size / 240), 'a drift report every 240 rows (the default)');
  t.true(inf!.runnerP50Us! > 0 && inf!.runnerP99Us! >= inf!.runnerP50Us!);
  t.true(inf!.endToEndP99Us! >= inf!.endToEndP50Us!);
  await waitFor(() => obs.heartbeats.some((h) => h.inference?.inputDone === true), 5000, 'a heartbeat with inference stats');
  const stats = agent.inference!.stats();
  t.deepEqual(stats.models.map((m) => [m.role, m.version, m.error]), [['active', 1, null], ['shadow', 2, null]]);
  t.log(`${s.readings} readings → ${s.rows} rows; runner p50 ${inf!.runnerP50Us} µs p99 ${inf!.runnerP99Us} µs; end-to-end p50 ${inf!.endToEndP50Us} µs p99 ${inf!.endToEndP99Us} µs; ${got.batches} prediction messages`);
});

test('POST /predict: a feature row runs the active model, a reading goes through the pipeline; GET /stats; clear 4xx/503 errors', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  const rig = await InferenceRig.create(broker.url, 1);
  t.teardown(async () => {
    await rig.close();
    await broker.stop();
  });
  const obs = await rig.observer('pi2');
  const agent = await rig.agent('pi2', { batchSize: 10, batchMs: 100 });
  const http = await PredictHttp.create({ engine: agent.inference!, port: 0 });
  await http.start();
  t.teardown(() => http.stop());
  const post = async (body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${http.url}/predict`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  // No model yet: 503.
  const none = await post({ features: [0, 0] });
  t.is(none.status, 503);
  t.is(none.json.error, 'NOT_FOUND');

  await rig.install(obs, 1);
  const m = rig.manifests[0]!;
  const width = m.io.inputs[0]!.shape.at(-1)!;
  const row = m.smokeTest.inputs[0]!;
  const one = await post({ features: row });
  t.is(one.status, 200);
  const p = one.json.prediction as { model: string; version: number; output: number; proba: number[] };
  t.like(p, { model: MODEL, version: 1 });
  const exp = m.smokeTest.expected[0]!;
  t.is(p.output, exp[1]! > exp[0]! ? 1 : 0);
  t.true(Math.abs(p.proba[1]! - exp[1]!) < 1e-5);

  // Readings: the first four fill the 5-reading window, the fifth completes it.
  const frame = occupancyFrame();
  const results: { windowCompleted: boolean; predictions: { ts: number; output: number }[] }[] = [];
  for (let i = 0; i < 5; i++) {
    const values = Object.fromEntries(['Temperature', 'Humidity', 'Light', 'CO2', 'HumidityRatio'].map((k) => [k, frame.num[k]![i]!]));
    const r = await post({ ts: frame.ts[i], values });
    t.is(r.status, 200);
    results.push(r.json as never);
  }
  t.deepEqual(results.map((r) => r.windowCompleted), [false, false, false, false, true]);
  const expected = await rig.batchPredictions({ ...frame, ts: frame.ts.slice(0, 5), device: frame.device.slice(0, 5), num: Object.fromEntries(Object.entries(frame.num).map(([k, v]) => [k, v.slice(0, 5)])) });
  t.is(results[4]!.predictions[0]!.ts, frame.ts[4]);
  t.is(results[4]!.predictions[0]!.output, expected.get(frame.ts[4]!)!.output);

  // Bad calls.
  const wrongWidth = await post({ features: [1, 2] });
  t.is(wrongWidth.status, 400);
  t.regex(wrongWidth.json.message as string, new RegExp(`features must have ${width} values`));
  t.is((await post('not json')).status, 400);
  t.is((await post({ nothing: 1 })).status, 400);
  const old = await post({ ts: frame.ts[0], values: { Temperature: 21 } });
  t.is(old.status, 400);
  t.is(old.json.error, 'BAD_TIMESTAMP');
  const badValue = await post({ ts: frame.ts[10], values: { Temperature: 'hot' } });
  t.is(badValue.status, 400);
  t.is(badValue.json.error, 'BAD_VALUE');
  const unknownModel = await post({ features: row, model: 'nope' });
  t.is(unknownModel.status, 404);
  t.is((await fetch(`${http.url}/nowhere`)).status, 404);
  const stats = (await (await fetch(`${http.url}/stats`)).json()) as { readingsIn: number; rowsIn: number; rejectedInputs: number; models: { version: number }[] };
  t.like(stats, { readingsIn: 5, rowsIn: 1, rejectedInputs: 1 });
  t.deepEqual(stats.models.map((x) => x.version), [1]);
});

test('activating a new version mid-stream swaps the pipeline cleanly: every row predicted once, no gap, then by the new version', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  const rig = await InferenceRig.create(broker.url, 2);
  t.teardown(async () => {
    await rig.close();
    await broker.stop();
  });
  const obs = await rig.observer('pi5');
  const got = await collectPredictions(broker.url, 'pi5');
  t.teardown(() => got.close());
  let done: InputDoneSummary | null = null;
  const input = await CsvInput.create({ path: DATA_PATH, timeZone: 'Europe/Brussels', ratePerS: 1500 });
  await rig.agent('pi5', { input, batchSize: 20, batchMs: 50, onInputDone: (s) => { done = s; } });
  await rig.install(obs, 1);
  await waitFor(() => got.predictions.length >= 300, 20_000, 'predictions by v1');
  await rig.install(obs, 2);
  await waitFor(() => done !== null, 40_000, 'input-done');
  const expected = await rig.batchPredictions(occupancyFrame(), 2);
  await waitFor(() => got.predictions.length >= expected.size, 20_000, 'all predictions');
  const ts = got.predictions.map((p) => p.ts);
  t.is(new Set(ts).size, ts.length, 'no row predicted twice');
  t.deepEqual([...ts].sort((a, b) => a - b), [...expected.keys()].sort((a, b) => a - b), 'no row left out by the swap');
  const versions = got.predictions.map((p) => p.version);
  const switchAt = versions.indexOf(2);
  t.true(switchAt > 0, 'v1 served first');
  t.true(versions.slice(switchAt).every((v) => v === 2), 'then only v2');
  t.true(got.predictions.every((p) => p.output === expected.get(p.ts)!.output), 'same classes as the batch prediction');
  t.log(`swap after ${switchAt} predictions of ${ts.length}`);
});
