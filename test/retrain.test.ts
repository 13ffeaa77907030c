/**
 * The retraining loop end to end on the real occupancy recordings: a gateway (embedded aedes broker,
 * SQLite file, drift service, registry, rollouts) ingests datatraining.txt and datatest2.txt (with a
 * CO2 sensor fault, +800 ppm from 2015-02-14) replayed over MQTT; occupancy@1 is trained on the
 * training period and promoted to production; two real device agents join the fleet. Then:
 * an alert-triggered job rejected for a too-small gain (both figures in the reason) and the cooldown;
 * an approve-mode job approved over HTTP that retrains, beats the current model on the recent holdout,
 * registers a signed v2, runs a paused canary rollout, and is promoted on labelled live predictions;
 * and a job rolled back because the candidate's live accuracy fell.
 */
import test from 'ava';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gateway } from '../gateway/gateway.ts';
import { readDatasetFile } from '../device/csv-source.ts';
import { replay } from '../device/replay.ts';
import { Agent } from '../device/agent.ts';
import { pinKeys } from '../device/verify.ts';
import { connectMqtt, endAsync, publishAsync, type MqttClient } from '../io/mqtt-client.ts';
import { deviceTopic } from '../src/topics.ts';
import { DatasetStore } from '../gateway/datasets.ts';
import { RunStore } from '../gateway/runs.ts';
import { publishModel } from '../gateway/publish.ts';
import { splitsOf, trainModel } from '../models/training.ts';
import { prepareDataset, readSpec } from '../cli/commands-prepare.ts';
import type { SqliteStore } from '../gateway/store-sqlite.ts';
import { RetrainService, SqlRetrainJobs, rolloutsOf, type RetrainServiceOptions } from '../gateway/retrain.ts';
import { attachRetraining } from '../gateway/retrain-attach.ts';
import { sqliteSql } from '../gateway/sql.ts';
import { retrainCommand } from '../cli/commands-retrain.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

const FLEET = 'lab';
const MODEL = 'occupancy';
const DATA = fileURLToPath(new URL('../datasets/occupancy/', import.meta.url));
const DAY_MS = 24 * 3600_000;
const FAULT_FROM_MS = Date.parse('2015-02-14T00:00:00+01:00');

interface Ctx { gateway: Gateway; agents: Agent[]; mqtt: MqttClient; dbPath: string }
let ctx: Ctx;

test.before(async () => {
  const dir = tempDir('edgeloop-retrain-');
  const gateway = new Gateway({ id: 'rt', dbPath: join(dir, 'gateway.db'), embeddedBroker: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, synchronous: 'normal', rollouts: { tickMs: 50, resumeGraceMs: 0 },
    drift: { performance: { minAccuracy: 0.85, minSamples: 40 } }, retrain: false });
  await gateway.start();
  const train = readDatasetFile(join(DATA, 'datatraining.txt'), { timeZone: 'Europe/Brussels' }).records;
  const recent = readDatasetFile(join(DATA, 'datatest2.txt'), { timeZone: 'Europe/Brussels' }).records
    .map((r) => (Number(r.ts) >= FAULT_FROM_MS ? { ...r, values: { ...r.values, CO2: r.values.CO2! + 800 } } : r));
  await replay(train, { brokerUrl: gateway.brokerUrl, fleet: FLEET, device: 'office-a', batchSize: 50, maxInFlight: 32 });
  await replay(recent, { brokerUrl: gateway.brokerUrl, fleet: FLEET, device: 'office-b', batchSize: 50, maxInFlight: 32 });
  const expected = (train.length + recent.length) * 6;
  await waitFor(async () => (await gateway.store.countReadings({ fleet: FLEET })) >= expected, 30_000, 'all readings stored');

  // occupancy@1: the occupancy recipe (logistic regression) on the training period, evaluated on test2.
  const spec = readSpec('occupancy') as { split: { ranges: { name: string }[] } };
  spec.split.ranges = spec.split.ranges.filter((r) => r.name !== 'test1');
  const db = (gateway.store as SqliteStore).database;
  const prepared = await prepareDataset(gateway.store, await DatasetStore.create(db), { spec, fleet: FLEET, out: 'occ-v1' });
  const trained = await trainModel(splitsOf(prepared.matrix), { kind: 'logreg', task: 'classification', classes: ['0', '1'], seed: 7 });
  const runs = await RunStore.create({ database: db });
  const run = await runs.record({ modelKind: trained.kind, params: trained.params, dataset: prepared.name, metrics: trained.metrics, durationMs: trained.durationMs });
  const datasets = await DatasetStore.create(db);
  const v1 = await publishModel(gateway.registry!, {
    model: MODEL, trained: trained.model, classes: ['0', '1'], createdBy: 'test', runId: run.id,
    dataset: { name: prepared.name, spec, fitted: datasets.load(prepared.name).fitted, matrix: prepared.matrix, dataHash: prepared.dataHash, trainSplit: 'train' },
    targets: [{ format: 'onnx', variant: 'float32' }],
  }, { maxEvalRows: 500 });
  await gateway.registry!.promote(`${MODEL}@${v1.version}`, 'production', { by: 'test' });
  await gateway.drift!.registerManifest(v1.manifests[0]!);

  const pinned = pinKeys([gateway.registry!.publicKey().pem]);
  const agents: Agent[] = [];
  for (const id of ['pi1', 'pi2']) {
    const agent = await Agent.create({
      brokerUrl: gateway.brokerUrl, fleet: FLEET, id, stateDir: tempDir(`edgeloop-rt-agent-${id}-`), pinned, tags: ['pi4'], heartbeatS: 0.2,
      transfer: { chunkTimeoutMs: 300, manifestTimeoutMs: 1000, maxStalledRounds: 5 },
    });
    await agent.start();
    agents.push(agent);
  }
  await waitFor(async () => (await gateway.rollouts!.fleet.list({ fleet: FLEET })).filter((d) => d.health === 'online').length === 2, 10_000, 'agents online');
  ctx = { gateway, agents, mqtt: await connectMqtt(gateway.brokerUrl, { clientId: 'rt-feed' }), dbPath: join(dir, 'gateway.db') };
});

test.after.always(async () => {
  if (!ctx) return;
  await endAsync(ctx.mqtt);
  for (const a of ctx.agents) await a.stop();
  await ctx.gateway.stop();
});

async function service(t: { teardown(fn: () => Promise<void>): void }, extra: Partial<RetrainServiceOptions> = {}): Promise<RetrainService> {
  const g = ctx.gateway;
  const s = await RetrainService.create({
    database: (g.store as SqliteStore).database, store: g.store, registry: g.registry!, rollouts: rolloutsOf(g.rollouts!), alerts: g.drift!.alerts, live: g.drift!.performance,
    defaultFleet: FLEET, tickMs: 50, ...extra, policy: { recentWindowMs: 6 * DAY_MS, ...extra.policy },
  });
  await s.start();
  t.teardown(() => s.stop());
  return s;
}

/** Labelled live predictions of one version, published by a device over MQTT (drift service → perf tables). */
async function feed(device: string, version: number, n: number, correct: (i: number) => boolean, ts0: number): Promise<void> {
  const predictions = [];
  const labels = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    predictions.push({ ts: ts0 + i * 1000, model: MODEL, version, output: correct(i) ? label : 1 - label });
    labels.push({ ts: ts0 + i * 1000, label });
  }
  await publishAsync(ctx.mqtt, deviceTopic('predictions', FLEET, device), JSON.stringify(predictions), { qos: 1 });
  await publishAsync(ctx.mqtt, deviceTopic('labels', FLEET, device), JSON.stringify(labels), { qos: 1 });
}

async function post(path: string, body: unknown): Promise<{ status: number; doc: Record<string, unknown> }> {
  const res = await fetch(ctx.gateway.httpUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, doc: (await res.json()) as Record<string, unknown> };
}

test.serial('a performance alert opens a job; a gain below minGain rejects the candidate with both figures; the cooldown holds the next alert', async (t) => {
  const s = await service(t, { policy: { minGain: 1, cooldownMs: 3600_000 } });
  // occupancy@1 degrades on a device: half its labelled predictions are wrong → performance alert.
  await feed('office-b', 1, 60, (i) => i % 4 < 2, Date.now() - 3600_000);
  await waitFor(async () => (await s.jobStore.list({ model: MODEL })).length === 1, 10_000, 'a job from the alert');
  const opened = (await s.jobStore.list({ model: MODEL }))[0]!;
  t.is(opened.trigger.kind, 'alert');
  t.true(opened.trigger.kind === 'alert' && opened.trigger.alertKind === 'performance');
  await waitFor(async () => (await s.jobStore.mustGet(opened.id)).state === 'rejected', 60_000, 'the job to be rejected');
  const job = await s.jobStore.mustGet(opened.id);
  t.log(job.reason);
  const e = job.evaluation!;
  t.is(e.metric, 'accuracy');
  t.true(e.holdoutRows > 500, `${e.holdoutRows} holdout rows`);
  t.true(e.holdoutFromMs > e.windowFromMs && e.windowToMs > e.holdoutFromMs, 'holdout after the training part');
  t.regex(job.reason!, new RegExp(`candidate accuracy ${e.candidate.toFixed(4)} vs current occupancy@1 ${e.current.toFixed(4)} on ${e.holdoutRows} recent holdout rows; gain -?\\d\\.\\d{4} < minGain 1`));
  t.is(job.candidateVersion, null, 'nothing registered');
  t.is((await ctx.gateway.registry!.versions(MODEL)).length, 1);
  // Another device's alert within the cooldown opens nothing.
  await feed('pi1', 1, 60, (i) => i % 4 < 2, Date.now() - 3500_000);
  await waitFor(async () => (await ctx.gateway.drift!.alerts.list({ device: 'pi1' })).length === 1, 10_000, 'second alert');
  await s.tick();
  t.is((await s.jobStore.list({ model: MODEL })).length, 1);
  const metrics = await (await fetch(ctx.gateway.httpUrl + '/metrics')).text();
  t.notRegex(metrics, /^edgeloop_retrain_jobs\{/m, 'retrain series appear only once the gateway wires the source');
  ctx.gateway.drift!.setMetricsSources({ retrain: () => s.metricsSnapshot() });
  const wired = await (await fetch(ctx.gateway.httpUrl + '/metrics')).text();
  t.regex(wired, /edgeloop_retrain_jobs\{state="rejected"\} 1/);
  t.regex(wired, new RegExp(`edgeloop_retrain_holdout_score\\{model="occupancy",metric="accuracy",role="candidate"\\} ${e.candidate}`));
});

test.serial('approve mode: the job waits; approved over HTTP it retrains on the faulty recent data, beats occupancy@1 on the holdout, registers v2, canaries it and promotes it on live labels', async (t) => {
  // Wired as a gateway would: routes on its HTTP server, alerts, /metrics (these routes serve the later tests too).
  const s = await attachRetraining(ctx.gateway, { defaultFleet: FLEET, tickMs: 50, policy: { recentWindowMs: 6 * DAY_MS, mode: 'approve', rollout: { canary: '1', timeout: '20s' }, live: { minSamples: 40, timeoutMs: 3600_000 } } });
  t.teardown(() => s.stop());
  const created = await post('/v1/retrain', { model: MODEL, by: 'test' });
  t.is(created.status, 202);
  const id = created.doc.id as string;
  t.is(created.doc.state, 'pending-approval');
  await s.tick();
  t.is((await s.jobStore.mustGet(id)).state, 'pending-approval', 'nothing happens before approval');
  t.is((await post(`/v1/retrain/${id}/reject-typo`, {})).status, 404);
  const approved = await post(`/v1/retrain/${id}/approve`, {});
  t.is(approved.status, 200);
  await waitFor(async () => !['training', 'evaluating'].includes((await s.jobStore.mustGet(id)).state), 60_000, 'training and evaluation');
  let job = await s.jobStore.mustGet(id);
  t.log(job.reason);
  t.is(job.state, 'rolling-out', job.reason ?? '');
  const e = job.evaluation!;
  t.true(e.candidate >= e.current + e.minGain, `candidate ${e.candidate} vs current ${e.current}`);
  t.is(job.candidateVersion, 2);
  const v2 = await ctx.gateway.registry!.resolve(`${MODEL}@2`);
  t.is(v2.lineage.parentVersion, 1);
  t.is(v2.createdBy, `retrain:${id}`);
  t.true((await ctx.gateway.registry!.verify(`${MODEL}@2`)).ok, 'v2 is signed and intact');
  t.deepEqual(v2.aliases, [], 'not promoted before the live decision');
  const controller = ctx.gateway.rollouts!.controller;
  await waitFor(async () => (await controller.summary(job.rolloutId!)).counts.active === 1, 20_000, 'the canary device active');
  const held = await controller.summary(job.rolloutId!);
  t.is(held.state, 'paused', 'the rest of the fleet waits for the decision');
  t.is(held.counts.pending, 1);
  const canary = (await controller.store.devices(job.rolloutId!)).find((d) => d.state === 'active')!.device;
  await feed(canary, 2, 50, (i) => i % 10 !== 0, Date.now() - 1800_000); // 90 % live accuracy
  await waitFor(async () => (await s.jobStore.mustGet(id)).state !== 'rolling-out', 10_000, 'the live decision');
  job = await s.jobStore.mustGet(id);
  t.log(job.reason);
  t.is(job.state, 'promoted', job.reason ?? '');
  t.deepEqual(job.live?.candidate, { samples: 50, accuracy: 0.9 });
  t.is((await ctx.gateway.registry!.resolve(`${MODEL}@production`)).version, 2);
  const done = await waitFor(async () => (await controller.summary(job.rolloutId!)).state === 'completed', 20_000, 'rollout to the whole fleet').then(() => controller.summary(job.rolloutId!));
  t.is(done.counts.active, 2);
  const list = await (await fetch(`${ctx.gateway.httpUrl}/v1/retrain?model=${MODEL}`)).json() as { jobs: { id: string; state: string }[] };
  t.deepEqual(list.jobs.map((j) => j.state), ['promoted', 'rejected']);
  t.is((await post(`/v1/retrain/${id}/approve`, {})).status, 409);
  const metrics = await (await fetch(ctx.gateway.httpUrl + '/metrics')).text();
  t.regex(metrics, /^edgeloop_retrain_jobs\{state="promoted"\} 1$/m);
  t.regex(metrics, new RegExp(`^edgeloop_retrain_holdout_score\\{model="occupancy",metric="accuracy",role="current"\\} ${e.current}$`, 'm'));
});

test.serial('a device with a critical drift alert is not the canary; the candidate\'s live accuracy falls below the current version\'s: the rollout is rolled back with the reason', async (t) => {
  const s = await service(t, { policy: { minGain: -1, triggerOn: [], rollout: { canary: '1', timeout: '20s' }, live: { minSamples: 40, maxDrop: 0.02, timeoutMs: 3600_000 } } });
  // pi1's sensor is flagged (a stuck sensor raises a critical drift alert): the candidate must not be judged there.
  await ctx.gateway.drift!.alerts.record({ fleet: FLEET, device: 'pi1', model: MODEL, version: 2, kind: 'drift', severity: 'critical', message: 'Light__last: flat for 231 samples > 80 (stuck sensor)', details: {} });
  const job0 = (await s.trigger({ model: MODEL, trigger: { kind: 'manual', by: 'test' } }))!;
  t.is(job0.state, 'training');
  await waitFor(async () => !['training', 'evaluating'].includes((await s.jobStore.mustGet(job0.id)).state), 60_000, 'training and evaluation');
  let job = await s.jobStore.mustGet(job0.id);
  t.is(job.state, 'rolling-out', job.reason ?? '');
  t.is(job.currentVersion, 2);
  t.is(job.candidateVersion, 3);
  const controller = ctx.gateway.rollouts!.controller;
  await waitFor(async () => (await controller.summary(job.rolloutId!)).counts.active === 1, 20_000, 'the canary device active');
  const devices = await controller.store.devices(job.rolloutId!);
  const canary = devices.find((d) => d.state === 'active')!.device;
  const other = devices.find((d) => d.device !== canary)!.device;
  t.is(canary, 'pi2', 'the alerting device went last');
  t.regex(job.reason!, /; canary rollout ro-[0-9a-f]+ of occupancy@3 \(not the canary, critical drift alert: pi1\)$/);
  const ts0 = Date.now() - 600_000;
  await feed(other, 2, 50, (i) => i % 20 !== 0, ts0); // current: 94 %
  await feed(canary, 3, 50, (i) => i % 5 !== 0, ts0); // candidate: 80 %
  await waitFor(async () => (await s.jobStore.mustGet(job.id)).state !== 'rolling-out', 10_000, 'the live decision');
  job = await s.jobStore.mustGet(job.id);
  t.log(job.reason);
  t.is(job.state, 'rolled-back');
  t.is(job.reason, 'live metrics fell: candidate live accuracy 0.8000 over 50 labels vs current occupancy@2 live accuracy 0.9400 over 50 labels, maxDrop 0.02');
  t.is((await controller.summary(job.rolloutId!)).state, 'rolled-back');
  t.is((await ctx.gateway.registry!.resolve(`${MODEL}@production`)).version, 2, 'production stays on v2');
});

test.serial('edgeloop retrain list|show|run|reject against the gateway, and list/show offline with --db', async (t) => {
  // The HTTP routes are those attached in the approve-mode test (an HttpServer keeps its routes).
  const jobs = await SqlRetrainJobs.create(sqliteSql((ctx.gateway.store as SqliteStore).database));
  const lines: string[] = [];
  const run = async (argv: string[]): Promise<string> => {
    lines.length = 0;
    await retrainCommand(argv, (l) => lines.push(l));
    return lines.join('\n');
  };
  const gw = ['--gateway', ctx.gateway.httpUrl!];
  const listed = await run(['list', ...gw]);
  t.log(listed);
  t.regex(listed, /occupancy\s+lab\s+rolled-back\s+manual \(test\)\s+2\s+3\s+0\.\d{4} vs 0\.\d{4}\s+ro-/);
  const started = JSON.parse(await run(['run', '--model', MODEL, '--format', 'json', ...gw])) as { id: string; state: string };
  t.is(started.state, 'pending-approval');
  const rejected = await run(['reject', started.id, '--reason', 'not during the audit', ...gw]);
  t.regex(rejected, new RegExp(`job ${started.id}: occupancy in lab — rejected`));
  t.regex(rejected, /reason: not during the audit/);
  const err = await retrainCommand(['approve', started.id, ...gw], () => {}).catch((e: unknown) => e as Error);
  t.regex(String(err), /is rejected: it cannot become training/);
  const offline = JSON.parse(await run(['list', '--db', ctx.dbPath, '--state', 'promoted', '--format', 'json'])) as { state: string; candidateVersion: number }[];
  t.deepEqual(offline.map((j) => [j.state, j.candidateVersion]), [['promoted', 2]]);
  const promoted = (await jobs.list({ state: 'promoted' }))[0]!;
  const shown = await run(['show', promoted.id, '--db', ctx.dbPath]);
  t.log(shown);
  t.regex(shown, /holdout accuracy on \d+ rows \(trained on \d+\): candidate 0\.\d{4}, current 0\.\d{4}, minGain 0\.005/);
  t.regex(shown, /live \(labels\): candidate 0\.9000 over 50 labels/);
  const bad = await retrainCommand(['run', '--model', MODEL, '--db', ctx.dbPath], () => {}).catch((e: unknown) => e as Error);
  t.regex(String(bad), /only 'list' and 'show' work with it/);
});

test.serial('no labels within the live timeout: onNoLabels=rollback rolls the canary back, onNoLabels=promote promotes a shadow candidate with an active rollout', async (t) => {
  const controller = ctx.gateway.rollouts!.controller;
  const strict = await service(t, { policy: { minGain: -1, rollout: { canary: '1', timeout: '20s' }, live: { timeoutMs: 1, onNoLabels: 'rollback' } } });
  const a = (await strict.trigger({ model: MODEL, trigger: { kind: 'manual', by: 'test' } }))!;
  await waitFor(async () => ['rolled-back', 'failed', 'rejected', 'promoted'].includes((await strict.jobStore.mustGet(a.id)).state), 60_000, 'job a to finish');
  const ja = await strict.jobStore.mustGet(a.id);
  t.log(ja.reason);
  t.is(ja.state, 'rolled-back', ja.reason ?? '');
  t.regex(ja.reason!, /^only 0 of 50 labelled live predictions of the candidate within 1 ms; policy onNoLabels=rollback$/);
  t.is(ja.live?.decidedBy, 'no-labels-policy');
  t.is((await controller.summary(ja.rolloutId!)).state, 'rolled-back');
  await strict.stop();

  const lenient = await service(t, { policy: { minGain: -1, rollout: { kind: 'shadow', timeout: '20s' }, live: { timeoutMs: 1, onNoLabels: 'promote' } } });
  const b = (await lenient.trigger({ model: MODEL, trigger: { kind: 'manual', by: 'test' } }))!;
  await waitFor(async () => ['rolled-back', 'failed', 'rejected', 'promoted'].includes((await lenient.jobStore.mustGet(b.id)).state), 60_000, 'job b to finish');
  const jb = await lenient.jobStore.mustGet(b.id);
  t.log(jb.reason);
  t.is(jb.state, 'promoted', jb.reason ?? '');
  const shadow = await controller.summary(jb.rolloutId!);
  t.is(shadow.mode, 'shadow');
  t.is(shadow.counts.active, 2, 'both devices installed the candidate in their shadow slot');
  t.is((await ctx.gateway.registry!.resolve(`${MODEL}@production`)).version, jb.candidateVersion!);
  const activeId = /active rollout (ro-[0-9a-f]+) to all/.exec(jb.reason!)?.[1];
  t.truthy(activeId, jb.reason ?? '');
  await waitFor(async () => (await controller.summary(activeId!)).state === 'completed', 20_000, 'the active rollout');
  for (const agent of ctx.agents) t.is((await agent.status()).models.find((m) => m.model === MODEL)?.active, jb.candidateVersion, 'the candidate serves on every device');
});

test.serial('too little recent data: the job waits in waiting-data, trains once the fleet has minRecentSpanMs of labels, and a job still waiting after dataWaitTimeoutMs fails with the reason', async (t) => {
  const recent = readDatasetFile(join(DATA, 'datatest2.txt'), { timeZone: 'Europe/Brussels' }).records;
  const t0 = Number(recent[0]!.ts);
  const upTo = (hours: number) => recent.filter((r) => Number(r.ts) < t0 + hours * 3600_000);
  /** Replays records into a fleet and waits until all their readings (6 columns) are stored. */
  const ingest = async (records: typeof recent, fleet: string, device: string): Promise<void> => {
    const before = await ctx.gateway.store.countReadings({ fleet });
    await replay(records, { brokerUrl: ctx.gateway.brokerUrl, fleet, device, batchSize: 50, maxInFlight: 32 });
    await waitFor(async () => (await ctx.gateway.store.countReadings({ fleet })) >= before + records.length * 6, 20_000, `${records.length} records stored in ${fleet}`);
  };
  const first = upTo(6);
  await ingest(first, 'young', 'y1');
  const s = await service(t, { policy: { minRecentSpanMs: DAY_MS, minGain: 1 } });
  const job = (await s.trigger({ model: MODEL, fleet: 'young', trigger: { kind: 'manual', by: 'test' } }))!;
  await waitFor(async () => (await s.jobStore.mustGet(job.id)).state === 'waiting-data', 20_000, 'the job to wait for data');
  t.regex((await s.jobStore.mustGet(job.id)).reason!, /^waiting until the recent labelled data of fleet 'young' spans 24\.0 h of data time \(6\.0 h so far\)$/);
  await s.tick();
  t.is((await s.jobStore.mustGet(job.id)).state, 'waiting-data', 'still 6 h: still waiting');
  await replay(upTo(30).slice(first.length), { brokerUrl: ctx.gateway.brokerUrl, fleet: 'young', device: 'y1', batchSize: 50, maxInFlight: 32 });
  await waitFor(async () => ['rejected', 'failed', 'rolling-out'].includes((await s.jobStore.mustGet(job.id)).state), 60_000, 'the job to train once 30 h are there');
  const done = await s.jobStore.mustGet(job.id);
  t.is(done.state, 'rejected', done.reason ?? '');
  t.true(done.evaluation!.windowToMs - done.evaluation!.windowFromMs >= DAY_MS, 'trained on at least a day of data');
  await s.stop();

  await ingest(upTo(2), 'young-2', 'y2');
  const impatient = await service(t, { policy: { minRecentSpanMs: DAY_MS, dataWaitTimeoutMs: 1 } });
  const late = (await impatient.trigger({ model: MODEL, fleet: 'young-2', trigger: { kind: 'manual', by: 'test' } }))!;
  await waitFor(async () => (await impatient.jobStore.mustGet(late.id)).state === 'failed', 20_000, 'the waiting job to time out');
  t.regex((await impatient.jobStore.mustGet(late.id)).reason!, /^not enough recent data within 1 ms: waiting until the recent labelled data of fleet 'young-2' spans 24\.0 h of data time \(2\.0 h so far\)$/);
  const bad = await RetrainService.create({ database: (ctx.gateway.store as SqliteStore).database, store: ctx.gateway.store, registry: ctx.gateway.registry!, rollouts: rolloutsOf(ctx.gateway.rollouts!), policy: { minRecentSpanMs: 8 * DAY_MS, dataWaitTimeoutMs: 0 } }).catch((e: Error) => e);
  t.true(bad instanceof Error && /minRecentSpanMs must be in \[0, recentWindowMs = 604800000\], got 691200000; dataWaitTimeoutMs must be > 0, got 0/.test(bad.message), String(bad));
});
