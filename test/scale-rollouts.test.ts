/**
 * Rollouts on scaled-out gateways (issue #9) with real parts: one PostgreSQL cluster, one mosquitto,
 * two gateway instances on one schema — A in its own process (the elected leader), B in this one — and
 * three real device agents. The leader runs the rollout controller; the follower serves the fleet and
 * rollout reads from PostgreSQL and answers writes with 503 NOT_LEADER. A is SIGKILLed between two
 * waves of a rollout: B is elected, takes over the rollout service's MQTT session (one client id for
 * every instance), resumes the rollout from the rows A committed and finishes it. Drift and performance
 * monitoring is a duty too: predictions and labels a device publishes while no instance leads wait in
 * the duty's shared MQTT session and are stored by the new leader. A second test closes
 * the loop on PostgreSQL: a retraining job's accepted candidate goes out as a canary, is promoted and
 * rolled out to the rest of the fleet. Skipped (visibly) only when PostgreSQL or mosquitto is not
 * installed and not in CI.
 */
import test from 'ava';
import { join } from 'node:path';
import { Gateway } from '../gateway/gateway.ts';
import { PostgresStore } from '../gateway/store-postgres.ts';
import type { RolloutSummary } from '../gateway/rollout-controller.ts';
import type { RolloutEvent } from '../gateway/rollout-store.ts';
import { Agent } from '../device/agent.ts';
import { pinKeys } from '../device/verify.ts';
import { pgRig } from './helpers/pg-rig.ts';
import { DAY_MS, failoverGatewayOptions, type FailoverInstance, callJson, spawnFailoverInstance } from './helpers/pg-gateway-options.ts';
import { killHard } from './helpers/gateway-process.ts';
import { seedOccupancy } from './helpers/pg-seed.ts';
import { connectMqtt, endAsync, publishAsync } from '../io/mqtt-client.ts';
import type { RetrainJob } from '../gateway/retrain-jobs.ts';
import { mlpFixture } from './helpers/device-model.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

const FLEET = 'lab';
const RETRY_MS = 200;

const rig = pgRig({ database: 'rollouts', mosquitto: true });

function instance(id: string, keyDir: string, group = 'sr1'): FailoverInstance {
  return { id, dbUrl: rig.dbUrl, schema: group === 'sr1' ? 'edgeloop' : group, brokerUrl: rig.broker!.url, keyDir, fleet: FLEET, retryMs: RETRY_MS, sharedGroup: group, drift: group === 'sr1' };
}

async function startAgents(pem: string, ids: string[], t: { teardown(fn: () => Promise<void>): void }): Promise<Agent[]> {
  const agents: Agent[] = [];
  t.teardown(async () => { for (const agent of agents) await agent.stop(); });
  for (const id of ids) {
    const agent = await Agent.create({
      brokerUrl: rig.broker!.url, fleet: FLEET, id, stateDir: tempDir(`edgeloop-scale-agent-${id}-`), pinned: pinKeys([pem]), tags: ['pi4'], heartbeatS: 0.5,
      transfer: { chunkTimeoutMs: 500, manifestTimeoutMs: 2000, maxStalledRounds: 10 },
    });
    await agent.start();
    agents.push(agent);
  }
  return agents;
}


const pgTest = rig.available ? test.serial : test.skip;

pgTest('the leader runs the rollout, the follower reads it; the leader is SIGKILLed between waves and the follower finishes the rollout', async (t) => {
  if (!rig.broker) return t.pass('mosquitto not installed: skipped');
  const keyDir = join(tempDir('edgeloop-scale-rollouts-keys-'), 'keys');
  const a = await spawnFailoverInstance(instance('a', keyDir));
  t.teardown(() => killHard(a.proc));
  t.true(a.leader, 'the first instance is elected');
  const store = await PostgresStore.create({ url: rig.dbUrl, schema: 'edgeloop', poolSize: 3 });
  const b = new Gateway({ ...failoverGatewayOptions(instance('b', keyDir)), store });
  await b.start();
  t.teardown(async () => { await b.stop(); await store.close(); });
  t.false(b.isLeader);
  t.is(b.rollouts, null, 'a follower runs no rollout service');

  // occ@1 in the shared registry (written through the follower: the registry is not a singleton duty).
  const fx = mlpFixture();
  await b.registry!.register({
    model: 'occ', task: 'classification', classes: ['empty', 'occupied'], createdBy: 'test', chunkBytes: 256,
    artifacts: [{ format: 'onnx', variant: 'float32', bytes: fx.bytes, metrics: { test_accuracy: 0.9 },
      io: { inputs: [{ name: 'input', shape: [-1, 4], dtype: 'float32' }], outputs: [{ name: 'probabilities', shape: [-1, 2], dtype: 'float32' }] } }],
    pipeline: { spec: {}, fitted: {} }, lineage: {}, smokeTest: fx.smoke, reference: null,
  });

  const agents = await startAgents(b.registry!.publicKey().pem, ['pi1', 'pi2', 'pi3'], t);
  // The leader writes the fleet registry; the follower reads it from PostgreSQL.
  await waitFor(async () => (await callJson<{ device: string; health: string }[]>(b.httpUrl!, 'GET', `/v1/fleet?fleet=${FLEET}`)).doc.filter((d) => d.health === 'online').length === 3, 20_000, 'three devices online, seen by the follower');

  const request = { model: 'occ@1', fleet: FLEET, target: 'all', strategy: 'waves', canary: 0, waveSize: 1, waveInterval: '3s', timeout: '60s', createdBy: 'test' };
  const refused = await callJson(b.httpUrl!, 'POST', '/v1/rollouts', request);
  t.is(refused.status, 503);
  t.is(refused.doc.error, 'NOT_LEADER');
  t.regex(String(refused.doc.message), /not the leader .*rollouts/);
  const created = await callJson<RolloutSummary>(a.http, 'POST', '/v1/rollouts', request);
  t.is(created.status, 201);
  const id = created.doc.id;
  t.is(created.doc.waves, 3);

  // The first wave settles on A; the follower sees it.
  const summary = async () => (await callJson<RolloutSummary>(b.httpUrl!, 'GET', `/v1/rollouts/${id}`)).doc;
  await waitFor(async () => { const s = await summary(); return s.counts.active >= 1 && s.waveSettledAtMs !== null; }, 30_000, 'the first wave to settle on the leader');
  const before = await summary();
  t.is(before.state, 'running');

  // Predictions and labels of pi1: the leader's drift service joins them in PostgreSQL, the follower reads them.
  const device = await connectMqtt(rig.broker.url, { clientId: 'scale-rollouts-pi1-feed' });
  t.teardown(() => endAsync(device));
  const T = Date.UTC(2026, 10, 27, 8);
  const feed = async (from: number, n: number) => {
    const ts = Array.from({ length: n }, (_, i) => T + (from + i) * 60_000);
    await publishAsync(device, `edgeloop/${FLEET}/pi1/predictions`, JSON.stringify(ts.map((x, i) => ({ ts: x, model: 'occ', version: 1, output: i % 2, proba: i % 2 ? [0.2, 0.8] : [0.8, 0.2] }))), { qos: 1 });
    await publishAsync(device, `edgeloop/${FLEET}/pi1/labels`, JSON.stringify(ts.map((x, i) => ({ ts: x, label: i % 4 === 3 ? 0 : i % 2 }))), { qos: 1 });
  };
  type Perf = { states: { device: string; model: string; version: number; samples: number; accuracy: number | null }[] };
  const samples = async () => (await callJson<Perf>(b.httpUrl!, 'GET', `/v1/performance?fleet=${FLEET}`)).doc.states.find((s) => s.device === 'pi1' && s.model === 'occ')?.samples ?? 0;
  await feed(0, 20);
  await waitFor(async () => (await samples()) === 20, 20_000, 'the leader to join 20 labelled predictions, read by the follower');

  const killedAtMs = Date.now();
  await killHard(a.proc);
  // Published while no instance leads: the broker queues them in the drift duty's session.
  await feed(20, 20);
  await waitFor(() => b.isLeader && b.rollouts !== null && b.retrain !== null, 30_000, 'b to be elected and start its duties');
  const takeoverMs = Date.now() - killedAtMs;
  t.like((await callJson(b.httpUrl!, 'GET', '/healthz')).doc, { leader: true, duties: { leader: true, duties: ['drift', 'rollouts', 'retrain'] } });
  await waitFor(async () => (await samples()) === 40, 20_000, 'the new leader to store what was published while no instance led');
  const perf = (await callJson<Perf>(b.httpUrl!, 'GET', `/v1/performance?fleet=${FLEET}`)).doc.states.find((s) => s.device === 'pi1')!;
  t.is(perf.accuracy, 0.75, 'every fourth label disagrees: 30 of 40 right, each prediction counted once');

  await waitFor(async () => (await summary()).state === 'completed', 60_000, 'the rollout to complete on the new leader');
  const done = await callJson<RolloutSummary & { events: RolloutEvent[] }>(b.httpUrl!, 'GET', `/v1/rollouts/${id}`);
  t.like(done.doc.counts, { active: 3, failed: 0, pending: 0, transferring: 0, verifying: 0 });
  const waveStarts = done.doc.events.filter((e) => e.kind === 'wave-started');
  t.is(waveStarts.length, 3, 'each wave started once, across both leaders');
  for (const agent of agents) t.is((await agent.status()).models.find((m) => m.model === 'occ')?.active, 1);
  // Writes now go to B.
  const paused = await callJson(b.httpUrl!, 'POST', `/v1/rollouts/${id}/pause`);
  t.is(paused.status, 409, 'a completed rollout cannot be paused (the leader answered, not NOT_LEADER)');
  t.log(`rollout fail-over: leader a SIGKILLed after wave ${before.currentWave + 1} of 3 (${before.counts.active} active); b leader with the rollout service after ${takeoverMs} ms; rollout ${id} completed on b: ${done.doc.reason}`);
});

pgTest('on PostgreSQL an accepted retraining candidate goes out as a canary, is promoted and rolled out to the rest of the fleet', async (t) => {
  if (!rig.broker) return t.pass('mosquitto not installed: skipped');
  const keyDir = join(tempDir('edgeloop-scale-retrain-keys-'), 'keys');
  const store = await PostgresStore.create({ url: rig.dbUrl, schema: 'sr2', poolSize: 3 });
  // minGain -1: any candidate is accepted (the decision itself is tested elsewhere); no live labels here, so the
  // canary's live check ends by the no-labels policy after 1 s.
  const gw = new Gateway({
    ...failoverGatewayOptions(instance('c', keyDir, 'sr2')), store,
    retrain: {
      defaultFleet: FLEET, tickMs: 50,
      policy: { mode: 'auto', minGain: -1, recentWindowMs: 6 * DAY_MS, minRecentSpanMs: 3600_000, rollout: { kind: 'canary', canary: '50%', target: 'all', timeout: '60s' }, live: { timeoutMs: 1000, onNoLabels: 'promote' } },
    },
  });
  await gw.start();
  t.teardown(async () => { await gw.stop(); await store.close(); });
  t.true(gw.isLeader);
  await seedOccupancy(gw, store, rig.broker.url, FLEET, 'occupancy');
  await startAgents(gw.registry!.publicKey().pem, ['pi4', 'pi5'], t);
  await waitFor(async () => (await gw.rollouts!.fleet.list({ fleet: FLEET })).filter((d) => d.health === 'online' && d.device.startsWith('pi')).length === 2, 20_000, 'two devices online');

  const opened = await callJson<RetrainJob>(gw.httpUrl!, 'POST', '/v1/retrain', { model: 'occupancy', by: 'operator' });
  t.is(opened.status, 202);
  const jobId = opened.doc.id;
  await waitFor(async () => ['promoted', 'rolled-back', 'rejected', 'failed'].includes((await gw.duties!.jobs.mustGet(jobId)).state), 180_000, 'the job to be decided');
  const job = await gw.duties!.jobs.mustGet(jobId);
  t.is(job.state, 'promoted', job.reason ?? '');
  t.is(job.candidateVersion, 2);
  t.regex(job.reason!, /occupancy@2 is now production; rollout ro-[0-9a-f]+ resumed to the rest of the fleet/);
  t.is((await gw.registry!.resolve('occupancy@production')).version, 2);
  const rollout = await gw.rollouts!.controller.summary(job.rolloutId!);
  t.is(rollout.createdBy, `retrain:${jobId}`);
  await waitFor(async () => (await gw.rollouts!.controller.summary(job.rolloutId!)).state === 'completed', 60_000, 'the rollout to reach the rest of the fleet');
  t.like((await gw.rollouts!.controller.summary(job.rolloutId!)).counts, { active: 2, failed: 0 });
  const models = await callJson<{ model: string; version: number; aliases: string }[]>(gw.httpUrl!, 'GET', '/v1/models');
  t.is(models.status, 200, 'the models panel reads the registry on PostgreSQL');
  t.deepEqual(models.doc.filter((m) => m.model === 'occupancy').map((m) => [m.version, m.aliases]), [[2, 'production'], [1, '']]);
  const v2 = await callJson<{ artifacts: { format: string; confusion: Record<string, { labels: string[]; matrix: number[][] }> | null; p50Us: number | null }[]; run: { id: string; status: string; metrics: Record<string, Record<string, number>> } | null }>(gw.httpUrl!, 'GET', '/v1/models/occupancy/2');
  t.truthy(job.runId);
  t.is(v2.doc.run?.id, job.runId!, 'the candidate\'s training run is recorded in PostgreSQL and shown with the version');
  t.is(v2.doc.run?.status, 'completed');
  t.true(Object.keys(v2.doc.run?.metrics ?? {}).length > 0, 'with its metrics');
  const [onnx] = v2.doc.artifacts;
  t.truthy(onnx?.confusion?.holdout, 'the retrained version\'s confusion matrix is kept in PostgreSQL');
  t.deepEqual(onnx!.confusion!.holdout!.labels, ['0', '1']);
  t.true((onnx!.p50Us ?? 0) > 0);
  t.log(`retraining on PostgreSQL: job ${jobId} ${job.state}: ${job.reason}`);
});
