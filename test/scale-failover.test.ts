/**
 * Fail-over of the singleton duties (issue #9) with real parts: one PostgreSQL cluster, one mosquitto,
 * two gateway instances on the same schema — A in its own process, B in this one. Both ingest (MQTT 5
 * shared subscription); only the elected one runs retraining. A opens a retraining job (approve mode)
 * and is SIGKILLed; B is elected at its next lock attempt, finds the job A opened in PostgreSQL (no
 * duplicate when triggered again), and trains, evaluates and decides it. A second test takes the lock
 * session away from a leader that stays alive: it stops its duties, and exactly one instance leads.
 * Skipped (visibly) only when PostgreSQL or mosquitto is not installed and not in CI.
 */
import test from 'ava';
import { join } from 'node:path';
import { Gateway } from '../gateway/gateway.ts';
import { PostgresStore } from '../gateway/store-postgres.ts';
import type { RetrainJob } from '../gateway/retrain-jobs.ts';
import { retrainCommand } from '../cli/commands-retrain.ts';
import { pgRig } from './helpers/pg-rig.ts';
import { seedOccupancy } from './helpers/pg-seed.ts';
import { failoverGatewayOptions, type FailoverInstance, callJson, spawnFailoverInstance } from './helpers/pg-gateway-options.ts';
import { killHard } from './helpers/gateway-process.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

const FLEET = 'lab';
const MODEL = 'occupancy';
const RETRY_MS = 200;

const rig = pgRig({ database: 'failover', mosquitto: true });

// One share group per test (mosquitto keeps queuing a dead member's share); the first test uses the default schema.
function instance(id: string, group: string, keyDir: string): FailoverInstance {
  return { id, dbUrl: rig.dbUrl, schema: group === 'fo1' ? 'edgeloop' : group, brokerUrl: rig.broker!.url, keyDir, fleet: FLEET, retryMs: RETRY_MS, sharedGroup: group };
}

async function inProcess(o: FailoverInstance): Promise<{ gw: Gateway; store: PostgresStore }> {
  const store = await PostgresStore.create({ url: o.dbUrl, schema: o.schema, poolSize: 3 });
  const gw = new Gateway({ ...failoverGatewayOptions(o), store });
  await gw.start();
  return { gw, store };
}


const pgTest = rig.available ? test.serial : test.skip;

pgTest('the leader is SIGKILLed with a retraining job open; the other instance takes over the duty and decides that job (no duplicate)', async (t) => {
  if (!rig.broker) return t.pass('mosquitto not installed: skipped');
  const keyDir = join(tempDir('edgeloop-failover-keys-'), 'keys');
  // A first, so it is the leader; it creates the signing key B then loads (the key folder is shared).
  const a = await spawnFailoverInstance(instance('a', 'fo1', keyDir));
  t.teardown(() => killHard(a.proc));
  t.true(a.leader, 'the first instance is elected');
  const { gw: b, store } = await inProcess(instance('b', 'fo1', keyDir));
  t.teardown(async () => { await b.stop(); await store.close(); });
  t.false(b.isLeader);
  t.is(b.retrain, null, 'a follower runs no retraining');
  const health = await callJson(b.httpUrl!, 'GET', '/healthz');
  t.like(health.doc, { ok: true, id: 'b', leader: false });
  t.regex(await (await fetch(b.httpUrl + '/metrics')).text(), /^edgeloop_leader\{gateway="b"\} 0$/m);

  await seedOccupancy(b, store, rig.broker!.url, FLEET, MODEL);
  const refused = await callJson(b.httpUrl!, 'POST', '/v1/retrain', { model: MODEL });
  t.is(refused.status, 503);
  t.is(refused.doc.error, 'NOT_LEADER');
  const opened = await callJson(a.http, 'POST', '/v1/retrain', { model: MODEL, by: 'operator' });
  t.is(opened.status, 202);
  const job = opened.doc as unknown as RetrainJob;
  t.is(job.state, 'pending-approval');
  const seenByB = await callJson(b.httpUrl!, 'GET', '/v1/retrain');
  t.deepEqual((seenByB.doc.jobs as RetrainJob[]).map((j) => j.id), [job.id], 'the follower reads the job from PostgreSQL');

  const killedAtMs = Date.now();
  await killHard(a.proc);
  await waitFor(() => b.isLeader && b.retrain !== null, 30_000, 'b to be elected and start retraining');
  const takeoverMs = Date.now() - killedAtMs;
  t.regex(await (await fetch(b.httpUrl + '/metrics')).text(), /^edgeloop_leader\{gateway="b"\} 1$/m);
  t.like((await callJson(b.httpUrl!, 'GET', '/healthz')).doc, { leader: true, duties: { leader: true, duties: ['rollouts', 'retrain'], elections: 1 } });

  const again = await callJson(b.httpUrl!, 'POST', '/v1/retrain', { model: MODEL, by: 'operator' });
  t.is(again.status, 202);
  t.is((again.doc as unknown as RetrainJob).id, job.id, 'the new leader returns the open job instead of opening a second one');
  const approved = await callJson(b.httpUrl!, 'POST', `/v1/retrain/${job.id}/approve`);
  t.is(approved.status, 200);
  t.is((approved.doc as unknown as RetrainJob).state, 'training');
  await waitFor(async () => (await b.duties!.jobs.mustGet(job.id)).state === 'rejected', 120_000, 'the job to be decided on b');
  const decided = await b.duties!.jobs.mustGet(job.id);
  t.regex(decided.reason!, /^not better: candidate accuracy \d\.\d{4} vs current occupancy@1 \d\.\d{4} on \d+ recent holdout rows; gain -?\d\.\d{4} < minGain 1$/);
  t.true(decided.evaluation!.holdoutRows > 500);
  t.deepEqual(decided.trigger, { kind: 'manual', by: 'operator' }, 'the trigger recorded by A');
  const all = await b.duties!.jobs.list({ model: MODEL });
  t.is(all.length, 1, 'exactly one job: opened by A, decided by B');
  const panel = await fetch(b.httpUrl + '/v1/dashboard/retrain');
  t.is(panel.status, 200, 'the dashboard panel of the leader reads the shared jobs');
  t.is(((await panel.json()) as unknown[]).length, 1);
  const printed: string[] = [];
  await retrainCommand(['list', '--db', rig.dbUrl, '--format', 'json'], (l) => printed.push(l));
  t.deepEqual((JSON.parse(printed.join('\n')) as RetrainJob[]).map((j) => [j.id, j.state]), [[job.id, 'rejected']], 'edgeloop retrain list --db postgres://… reads the shared jobs');
  t.log(`fail-over: leader a SIGKILLed, b leader and retraining after ${takeoverMs} ms (retryMs ${RETRY_MS}); job ${job.id} opened on a, approved and decided on b: ${decided.state} (${decided.reason})`);
});

pgTest('a leader that loses its lock session stops its duties; exactly one instance leads afterwards', async (t) => {
  if (!rig.broker) return t.pass('mosquitto not installed: skipped');
  const keyDir = join(tempDir('edgeloop-failover-keys-'), 'keys');
  const a = await inProcess(instance('a2', 'fo2', keyDir));
  t.teardown(async () => { await a.gw.stop(); await a.store.close(); });
  const b = await inProcess(instance('b2', 'fo2', keyDir));
  t.teardown(async () => { await b.gw.stop(); await b.store.close(); });
  t.true(a.gw.isLeader);
  t.not(a.gw.retrain, null);
  t.false(b.gw.isLeader);
  // The server ends the session that holds the advisory lock (as after a network partition or an admin kill).
  const killed = await rig.server!.psql('failover', "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted");
  t.is(killed.trim(), '1');
  const elections = () => a.gw.duties!.status().elections + b.gw.duties!.status().elections;
  await waitFor(() => elections() >= 2 && a.gw.isLeader !== b.gw.isLeader && (a.gw.isLeader ? a.gw.retrain : b.gw.retrain) !== null, 30_000, 'a second election, one instance leading with its duties');
  t.is(a.gw.duties!.status().lastDemotion, 'connection-lost', 'the old leader demoted itself when its session ended');
  const follower = a.gw.isLeader ? b.gw : a.gw;
  t.false(follower.isLeader);
  t.is(follower.retrain, null, 'the instance that does not lead runs no retraining');
  // stop() hands over: the other instance becomes leader.
  const leader = a.gw.isLeader ? a : b;
  const other = leader === a ? b : a;
  await leader.gw.stop();
  await waitFor(() => other.gw.isLeader && other.gw.retrain !== null, 30_000, 'hand-over on stop');
  t.pass();
});
