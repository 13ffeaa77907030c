/**
 * `edgeloop gateway --db postgres://…` as a real child process: readings land in PostgreSQL, the
 * password never reaches the ready line, SIGTERM shuts down cleanly; two of them elect one leader for
 * the singleton duties and the other takes over when the leader is SIGKILLed. Skipped only when
 * PostgreSQL is not installed and not in CI.
 */
import test from 'ava';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { connectMqtt, endAsync } from '../io/mqtt-client.ts';
import { pgRig } from './helpers/pg-rig.ts';
import { spawnGateway, killHard } from './helpers/gateway-process.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';
import { join } from 'node:path';

const rig = pgRig();

(rig.available ? test : test.skip)('edgeloop gateway --db postgres://… stores into PostgreSQL and redacts the password', async (t) => {
  const url = (await rig.server!.createDatabase('cli')).replace('postgres@', 'postgres:s3cret@');
  const gw = await spawnGateway(['--db', url, '--mqtt-port', '0', '--no-http', '--id', 'pgcli'], { EDGELOOP_DATA_DIR: tempDir() });
  t.teardown(() => killHard(gw.child));
  t.is(gw.ready.db, url.replace(':s3cret@', ':***@'));
  t.false(JSON.stringify(gw.ready).includes('s3cret'));
  const pub = await connectMqtt(gw.ready.broker, { clientId: 'pgcli-pub' });
  await pub.publishAsync('edgeloop/cli/dev/telemetry', JSON.stringify({ ts: Date.UTC(2024, 5, 1), values: { t: 21.5, h: 40 } }), { qos: 1 });
  await endAsync(pub);
  const store = await PostgresStore.create({ url, poolSize: 1 });
  t.teardown(() => store.close());
  await waitFor(async () => (await store.countReadings({ fleet: 'cli' })) === 2, 10_000, '2 readings in PostgreSQL');
  const exited = new Promise<number | null>((r) => gw.child.once('exit', r));
  gw.child.kill('SIGTERM');
  t.is(await exited, 0, gw.stderr());
});

(rig.available ? test : test.skip)('two edgeloop gateways on one PostgreSQL: one leads the singleton duties; SIGKILLed, the other takes over', async (t) => {
  const url = await rig.server!.createDatabase('cli_leader');
  const keyDir = join(tempDir(), 'keys');
  const env = { EDGELOOP_GATEWAY_LEADER_RETRY_MS: '200' };
  const args = (id: string) => ['--db', url, '--mqtt-port', '0', '--http-port', '0', '--id', id, '--key-dir', keyDir];
  const a = await spawnGateway(args('gwa'), env);
  t.teardown(() => killHard(a.child));
  const b = await spawnGateway(args('gwb'), env);
  t.teardown(() => killHard(b.child));
  const ready = (g: typeof a) => g.ready as typeof g.ready & { leader: boolean; keyId: string };
  t.true(ready(a).leader, a.stderr());
  t.false(ready(b).leader);
  t.is(ready(a).keyId, ready(b).keyId, 'one signing key');
  const health = async (g: typeof a) => (await (await fetch(`${g.ready.http}/healthz`)).json()) as { leader: boolean; duties: { duties: string[] } };
  t.like(await health(b), { leader: false, duties: { duties: [] } });
  const refused = await fetch(`${b.ready.http}/v1/retrain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m","fleet":"f"}' });
  t.is(refused.status, 503);
  await killHard(a.child);
  // leader turns true when the lock is won, the duties list once they have started.
  await waitFor(async () => (await health(b)).duties.duties.includes('retrain'), 30_000, 'gwb to lead and run its duties (retraining starts last)');
  t.like(await health(b), { leader: true, duties: { duties: ['drift', 'rollouts', 'retrain'] } });
  t.regex(b.stderr(), /gateway gwb is leader: starting the singleton duties/);
  t.regex(await (await fetch(`${b.ready.http}/metrics`)).text(), /^edgeloop_leader\{gateway="gwb"\} 1$/m);
});
