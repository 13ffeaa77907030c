/**
 * `edgeloop demo` (= `npm start`): the whole loop as far as it is built, on embedded defaults and the
 * occupancy data shipped in datasets/. Stages are narrated; a summary table closes the run.
 */
import { existsSync, rmSync, mkdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/log.ts';
import { deviceTopic } from '../src/topics.ts';
import { Gateway } from '../gateway/gateway.ts';
import { readDatasetFile } from '../device/csv-source.ts';
import { replay } from '../device/replay.ts';
import { connectMqtt, publishAsync, endAsync } from '../io/mqtt-client.ts';
import { parse } from './args.ts';
import { ProgressBar } from './progress.ts';
import { DatasetStore } from '../gateway/datasets.ts';
import { Registry } from '../gateway/registry.ts';
import { publishModel, type PublishResult } from '../gateway/publish.ts';
import { splitsOf, trainModel, type TrainResult } from '../models/training.ts';
import type { SqliteStore } from '../gateway/store-sqlite.ts';
import { prepareDataset, readSpec, formatFitReport } from './commands-prepare.ts';

const USAGE = 'edgeloop demo [--data-dir dir] [--dataset dir] [--http-port N]';
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const DEMO_DEVICES = [
  { device: 'office-train', file: 'datatraining.txt', role: 'training data' },
  { device: 'office-test1', file: 'datatest.txt', role: 'test set 1' },
  { device: 'office-test2', file: 'datatest2.txt', role: 'test set 2' },
] as const;

function stage(n: number, title: string): void {
  console.log(`\n▶ ${n}. ${title}`);
}

export async function demoCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, { 'data-dir': { type: 'string' }, dataset: { type: 'string' }, 'http-port': { type: 'string' } }, USAGE);
  const dataDir = resolve(values['data-dir'] ?? join(REPO, 'data', 'demo'));
  const datasetDir = resolve(values.dataset ?? (existsSync(join(REPO, '..', 'shared', 'data', 'occupancy')) ? join(REPO, '..', 'shared', 'data', 'occupancy') : join(REPO, 'datasets', 'occupancy')));
  // Re-running starts cleanly: the demo owns its data folder.
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const logger = createLogger({ level: 'warn', sink: (l) => process.stderr.write(l + '\n') });
  const started = Date.now();
  console.log(`edgeloop demo — data folder ${dataDir}, dataset ${datasetDir}`);

  stage(1, 'Gateway: embedded MQTT broker, durable ingest into SQLite, HTTP API');
  const gateway = new Gateway({
    id: 'demo', dbPath: join(dataDir, 'gateway.db'), embeddedBroker: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: values['http-port'] ? Number(values['http-port']) : 0 }, logger, synchronous: 'normal',
  });
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    console.log('\ninterrupted: stopping the gateway (committed data stays consistent)');
    void gateway.stop().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await gateway.start();
  console.log(`  broker ${gateway.brokerUrl}, HTTP ${gateway.httpUrl}, store ${join(dataDir, 'gateway.db')}`);

  stage(2, 'Devices replay the UCI occupancy recordings over MQTT (QoS 1, acknowledged after commit)');
  const summary: { device: string; role: string; records: number; readings: number; seconds: number }[] = [];
  for (const d of DEMO_DEVICES) {
    const dataset = readDatasetFile(join(datasetDir, d.file), { timeZone: 'Europe/Brussels' });
    const batchSize = 20;
    const bar = new ProgressBar(`${d.device.padEnd(13)}`, Math.ceil(dataset.records.length / batchSize), process.stdout);
    const r = await replay(dataset.records, { brokerUrl: gateway.brokerUrl, fleet: 'demo', device: d.device, batchSize, maxInFlight: 32, onProgress: (s) => bar.update(s) });
    bar.done(`${(r.durationMs / 1000).toFixed(1)} s`);
    summary.push({ device: d.device, role: d.role, records: r.records, readings: 0, seconds: r.durationMs / 1000 });
  }

  stage(3, 'A misbehaving device sends bad input: it is rejected with a reason and kept in quarantine');
  const rogue = await connectMqtt(gateway.brokerUrl, { clientId: 'rogue-device' });
  await publishAsync(rogue, deviceTopic('telemetry', 'demo', 'rogue'), 'temperature=21.5');
  await publishAsync(rogue, deviceTopic('telemetry', 'demo', 'rogue'), JSON.stringify({ ts: Date.now(), values: { Temperature: 'hot' } }));
  await publishAsync(rogue, deviceTopic('telemetry', 'demo', 'rogue'), JSON.stringify({ ts: '04/02/2015 17:51', values: { Temperature: 21 } }));
  await endAsync(rogue);
  const expected = DEMO_DEVICES.length;
  for (let i = 0; i < 100 && (await gateway.store.stats('demo')).filter((s) => s.sensor === 'Temperature').length < expected; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  const quarantine = await gateway.store.quarantine();
  for (const q of quarantine) console.log(`  quarantined #${q.id} ${q.reason}: ${q.detail}`);

  const stats = await gateway.store.stats('demo');
  for (const s of summary) s.readings = stats.filter((x) => x.device === s.device).reduce((a, x) => a + x.count, 0);
  const counters = await gateway.store.counters();

  stage(4, 'Prepare: clean, window (sliding 5 readings), time features, split by recording (train, test1, test2), scale (fitted on train only)');
  const db = (gateway.store as SqliteStore).database;
  const datasets = await DatasetStore.create(db);
  const prepared = await prepareDataset(gateway.store, datasets, { spec: readSpec('occupancy'), fleet: 'demo', out: 'occupancy' });
  console.log(formatFitReport(prepared.report).split('\n').map((l) => '  ' + l).join('\n'));

  stage(5, 'Train and tune: a search per family (3-fold CV on train); test1 (an earlier recording) picks the family, test2 stays held out');
  const data = splitsOf(prepared.matrix);
  const families: { kind: string; space?: Parameters<typeof trainModel>[1]['tune'] }[] = [
    { kind: 'lda', space: { strategy: 'grid', space: { shrinkage: { type: 'categorical', values: [null, 0.01, 0.1] } } } },
    { kind: 'logreg', space: { strategy: 'random', space: { C: { type: 'log-float', min: 0.01, max: 100 } }, maxTrials: 5 } },
  ];
  const results: (TrainResult & { cv: number })[] = [];
  for (const f of families) {
    const bar = new ProgressBar(f.kind.padEnd(8), f.space?.maxTrials ?? 3, process.stdout);
    const r = await trainModel(data, { kind: f.kind, task: 'classification', classes: ['0', '1'], seed: 7, tune: f.space, onProgress: (d) => bar.update(d) });
    const cv = r.metrics.test1!.accuracy!;
    bar.done(`cv ${Math.max(...r.trials.map((x) => x.score)).toFixed(4)} test1 ${r.metrics.test1!.accuracy!.toFixed(4)} test2 ${r.metrics.test2!.accuracy!.toFixed(4)} ${JSON.stringify(r.params).slice(0, 60)}`);
    results.push({ ...r, cv });
  }
  const best = results.reduce((a, b) => (b.cv > a.cv ? b : a));
  console.log(`  chosen on test1: ${best.kind} (test1 accuracy ${best.cv.toFixed(4)}); held-out test2 accuracy ${best.metrics.test2!.accuracy!.toFixed(4)}`);

  stage(6, 'Quantize and export: ONNX and TFLite, float32 and int8, each run in its real runtime; signed registry version');
  const registry = await Registry.create({ database: db, keyDir: join(dataDir, 'keys') });
  const published: PublishResult = await publishModel(registry, {
    model: 'occupancy', trained: best.model, classes: ['0', '1'], createdBy: 'demo',
    dataset: { name: prepared.name, spec: readSpec('occupancy'), fitted: datasets.load(prepared.name).fitted, matrix: prepared.matrix, dataHash: prepared.dataHash },
    targets: [{ format: 'onnx', variant: 'float32' }, { format: 'onnx', variant: 'int8' }, { format: 'tflite', variant: 'float32' }, { format: 'tflite', variant: 'int8' }],
  });
  await registry.promote(`occupancy@${published.version}`, 'production', { by: 'demo' });
  console.log(`  registered occupancy@${published.version} (promoted to production), signed with key ${registry.publicKey().keyId}`);

  console.log('\n■ Summary');
  console.table(summary.map((s) => ({ device: s.device, role: s.role, records: s.records, 'readings stored': s.readings, 'replay s': +s.seconds.toFixed(1) })));
  console.log(`  stored ${counters.inserted} readings, ${counters.duplicates} duplicates, rejected ${JSON.stringify(counters.rejected)}`);
  console.table(results.map((r) => ({ model: r.kind, 'cv accuracy': +Math.max(...r.trials.map((x) => x.score)).toFixed(4), 'test1 accuracy': +r.metrics.test1!.accuracy!.toFixed(4), 'test2 accuracy': +r.metrics.test2!.accuracy!.toFixed(4), 'fit s': +(r.durationMs / 1000).toFixed(2) })));
  console.table(published.artifacts.map((a) => ({ artifact: `${a.format}/${a.variant}`, bytes: a.bytes, 'test1 acc': +(a.metrics.test1_accuracy ?? 0).toFixed(4), 'test2 acc': +(a.metrics.test2_accuracy ?? 0).toFixed(4), 'agreement': +(a.metrics.test2_agreement ?? 0).toFixed(4), 'p50 µs': +a.p50Us.toFixed(1), 'p99 µs': +a.p99Us.toFixed(1) })));
  console.log(`  finished in ${((Date.now() - started) / 1000).toFixed(1)} s. Inspect: edgeloop data stats --db ${join(dataDir, 'gateway.db')}`);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await gateway.stop();
}
