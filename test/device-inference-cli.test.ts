/**
 * `edgeloop device --input …` as a real child process, spawned with cli/child-processes.ts as the
 * demo does: a model installed earlier (kept in the state folder) loads at start, the occupancy csv
 * is replayed with a CO2 fault and labels, and the process prints its input-done line.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedBroker } from '../gateway/broker.ts';
import { ChildGroup } from '../cli/child-processes.ts';
import { InferenceRig, collectPredictions, DATA, FLEET } from './device-inference-rig.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

test('edgeloop device --input csv: … prints device-ready then input-done, and publishes every prediction', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  const rig = await InferenceRig.create(broker.url, 1);
  const group = new ChildGroup();
  t.teardown(async () => {
    await group.stop();
    await rig.close();
    await broker.stop();
  });
  const dir = tempDir('edgeloop-cli-dev-');
  const obs = await rig.observer('cli1');
  const first = await rig.agent('cli1', undefined, dir);
  await rig.install(obs, 1);
  await first.stop();
  rig.agents.splice(rig.agents.indexOf(first), 1);
  const keyPath = join(tempDir(), 'gateway.pub');
  writeFileSync(keyPath, rig.registry.publicKey().pem);
  const got = await collectPredictions(broker.url, 'cli1');
  t.teardown(() => got.close());

  const args = ['device', '--broker', broker.url, '--fleet', FLEET, '--id', 'cli1', '--dir', dir, '--public-key', keyPath, '--log-level', 'warn',
    '--input', `csv:${fileURLToPath(DATA)}`, '--time-zone', 'Europe/Brussels', '--rate', '5000', '--labels', 'Occupancy', '--label-delay-ms', '100',
    '--fault', 'CO2:+600@0.5', '--drift-window', '500', '--drift-every', '500', '--batch-size', '100', '--http-port', '0'];
  const child = await group.spawn('cli1', args, 'device-ready', 30_000);
  const ready = child.events.find((e) => e.event === 'device-ready')!;
  t.like(ready, { fleet: FLEET, id: 'cli1', input: `csv:${fileURLToPath(DATA)}` });
  t.regex(String(ready.http), /^http:\/\/127\.0\.0\.1:\d+$/);
  const done = await child.waitFor('input-done', 40_000);
  t.log(JSON.stringify(ready));
  t.log(JSON.stringify(done));
  t.like(done, { fleet: FLEET, id: 'cli1', readings: 2665, rejected: 0, skipped: 0, rows: 2661, predictions: 2661, shadowPredictions: 0, faulted: 2665 - Math.floor(0.5 * 2665) });
  await waitFor(() => got.predictions.length >= 2661, 20_000, 'all predictions');
  t.is(new Set(got.predictions.map((p) => p.ts)).size, 2661);
  const stats = (await (await fetch(`${String(ready.http)}/stats`)).json()) as { driftReports: number; labelsOut: number; inputDone: boolean };
  t.like(stats, { driftReports: Math.floor(2661 / 500), inputDone: true });
});
