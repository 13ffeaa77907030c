/**
 * `edgeloop gateway --db postgres://…` as a real child process: readings land in PostgreSQL, the
 * password never reaches the ready line, SIGTERM shuts down cleanly. Skipped only when PostgreSQL is
 * not installed and not in CI.
 */
import test from 'ava';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { connectMqtt, endAsync } from '../io/mqtt-client.ts';
import { findPostgresBin, startPostgres, type Postgres } from './helpers/postgres.ts';
import { spawnGateway, killHard } from './helpers/gateway-process.ts';
import { waitFor } from './helpers/tmp.ts';

const available = findPostgresBin() !== null || Boolean(process.env.CI);
let server: Postgres | null = null;

test.before(async () => {
  server = await startPostgres();
});

test.after.always(async () => {
  await server?.stop();
});

(available ? test : test.skip)('edgeloop gateway --db postgres://… stores into PostgreSQL and redacts the password', async (t) => {
  const url = (await server!.createDatabase('cli')).replace('postgres@', 'postgres:s3cret@');
  const gw = await spawnGateway(['--db', url, '--mqtt-port', '0', '--no-http', '--id', 'pgcli']);
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
