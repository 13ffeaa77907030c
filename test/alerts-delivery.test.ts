/**
 * Alert delivery: webhook retries with backoff against a real local HTTP server, bounded queue, MQTT
 * republish at start. Cooldown and de-duplication are in the store contract (test/drift-contract.ts).
 */
import test from 'ava';
import http from 'node:http';
import { openDatabase } from '../io/sqlite.ts';
import { sqliteSql } from '../gateway/sql.ts';
import { AlertManager, type AlertInput, type AlertPublisher } from '../gateway/alerts.ts';
import { alertsTopic } from '../src/topics.ts';
import { EdgeloopError } from '../src/errors.ts';
import { waitFor } from './helpers/tmp.ts';

interface Hook {
  url: string;
  bodies: string[];
  times: number[];
  close(): Promise<void>;
}

/** A webhook receiver answering `status(n)` to the n-th POST (0-based). */
async function webhookServer(status: (n: number) => number): Promise<Hook> {
  const bodies: string[] = [];
  const times: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = bodies.length;
      bodies.push(Buffer.concat(chunks).toString());
      times.push(performance.now());
      res.writeHead(status(n)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hook`, bodies, times,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const input = (device: string, kind: AlertInput['kind'] = 'drift'): AlertInput => ({
  fleet: 'f', device, model: 'm', version: 1, kind, severity: 'critical', message: `${kind} on ${device}`, details: { x: 1 },
});

test('webhook: two failures then success → delivered once, two retries counted, backoff doubles', async (t) => {
  const hook = await webhookServer((n) => (n < 2 ? 500 : 204));
  t.teardown(() => hook.close());
  const alerts = await AlertManager.create(sqliteSql(openDatabase(':memory:')), { topic: alertsTopic, webhookUrl: hook.url, webhook: { backoffBaseMs: 40 } });
  await alerts.start();
  t.teardown(() => alerts.stop());
  const r = await alerts.record(input('d1'));
  if (!r.sent) return t.fail('first alert must be sent');
  alerts.deliver(r.alert);
  await waitFor(() => alerts.stats.webhookDelivered === 1, 5000, 'delivery');
  t.is(hook.bodies.length, 3);
  t.true(hook.bodies.every((b) => b === hook.bodies[0]), 'the same alert is retried');
  t.like(JSON.parse(hook.bodies[2]!), { id: r.alert.id, device: 'd1', kind: 'drift', severity: 'critical', details: { x: 1 } });
  t.like(alerts.stats, { webhookDelivered: 1, webhookRetries: 2, webhookFailed: 0, webhookDropped: 0, webhookQueue: 0 });
  t.like((await alerts.list())[0], { webhook: 'delivered', webhookAttempts: 3, mqtt: 'disabled' });
  const gap1 = hook.times[1]! - hook.times[0]!;
  const gap2 = hook.times[2]! - hook.times[1]!;
  t.true(gap1 >= 35 && gap2 >= 75, `backoff gaps ${gap1.toFixed(0)} ms, ${gap2.toFixed(0)} ms`);
  // Nothing more is sent afterwards.
  await new Promise((res) => setTimeout(res, 150));
  t.is(hook.bodies.length, 3);
});

test('webhook: gives up after maxAttempts and marks the alert failed; a network error counts as a failure', async (t) => {
  const hook = await webhookServer(() => 503);
  t.teardown(() => hook.close());
  const alerts = await AlertManager.create(sqliteSql(openDatabase(':memory:')), { topic: alertsTopic, webhookUrl: hook.url, webhook: { backoffBaseMs: 5, maxAttempts: 3 } });
  await alerts.start();
  t.teardown(() => alerts.stop());
  const r = await alerts.record(input('d1'));
  if (r.sent) alerts.deliver(r.alert);
  await waitFor(() => alerts.stats.webhookFailed === 1, 5000, 'give up');
  t.is(hook.bodies.length, 3);
  t.like((await alerts.list())[0], { webhook: 'failed', webhookAttempts: 3 });

  const dead = await AlertManager.create(sqliteSql(openDatabase(':memory:')), { topic: alertsTopic, webhookUrl: 'http://127.0.0.1:9/unreachable', webhook: { backoffBaseMs: 5, maxAttempts: 2, timeoutMs: 500 } });
  await dead.start();
  t.teardown(() => dead.stop());
  const d = await dead.record(input('d2'));
  if (d.sent) dead.deliver(d.alert);
  await waitFor(() => dead.stats.webhookFailed === 1, 5000, 'network failure give up');
  t.like(dead.stats, { webhookRetries: 1, webhookDelivered: 0 });
});

test('webhook queue is bounded: the oldest waiting alert is evicted and marked dropped', async (t) => {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => { release = resolve; });
  // The first POST hangs until released, so alerts pile up behind it.
  const post = async (_url: string, _body: string): Promise<number> => {
    await gate;
    return 200;
  };
  const alerts = await AlertManager.create(sqliteSql(openDatabase(':memory:')), { topic: alertsTopic, webhookUrl: 'http://127.0.0.1:1/x', webhook: { maxQueue: 2 }, post });
  await alerts.start();
  t.teardown(() => alerts.stop());
  for (const d of ['a', 'b', 'c', 'e']) {
    const r = await alerts.record(input(d));
    if (r.sent) alerts.deliver(r.alert);
  }
  t.like(alerts.stats, { webhookDropped: 2, webhookQueue: 2 });
  const byDevice = Object.fromEntries((await alerts.list()).map((a) => [a.device, a.webhook]));
  // 'a' is in flight (never evicted), 'b' and 'c' were evicted in turn, 'e' waits.
  t.deepEqual(byDevice, { a: 'pending', b: 'dropped', c: 'dropped', e: 'pending' });
  release();
  await waitFor(() => alerts.stats.webhookDelivered === 2, 5000, 'drain');
  t.deepEqual(Object.fromEntries((await alerts.list()).map((a) => [a.device, a.webhook])), { a: 'delivered', b: 'dropped', c: 'dropped', e: 'delivered' });
});

test('MQTT publish failures leave the alert pending; the next start publishes it', async (t) => {
  const db = openDatabase(':memory:');
  const failing: AlertPublisher = { publish: () => Promise.reject(new Error('broker down')) };
  const a1 = await AlertManager.create(sqliteSql(db), { topic: alertsTopic, publisher: failing });
  await a1.start();
  const r = await a1.record(input('d1'));
  if (r.sent) a1.deliver(r.alert);
  await waitFor(() => a1.stats.mqttFailed === 1, 2000, 'failure');
  await a1.stop();
  t.is((await a1.list())[0]!.mqtt, 'pending');
  const got: { topic: string; payload: string }[] = [];
  const a2 = await AlertManager.create(sqliteSql(db), { topic: alertsTopic, publisher: { publish: async (topic, payload) => { got.push({ topic, payload }); } } });
  await a2.start();
  await waitFor(() => a2.stats.mqttPublished === 1, 2000, 'republish');
  await a2.stop();
  t.is(got[0]!.topic, 'edgeloop/f/alerts');
  t.like(JSON.parse(got[0]!.payload), { device: 'd1', kind: 'drift' });
  t.is((await a2.list())[0]!.mqtt, 'delivered');
});

test('bad alert options fail with BAD_CONFIG listing every problem', async (t) => {
  const err = await t.throwsAsync(AlertManager.create(sqliteSql(openDatabase(':memory:')), {
    topic: alertsTopic, cooldownMs: -1, webhookUrl: 'ftp://x', webhook: { maxQueue: 0, maxAttempts: 0, backoffBaseMs: 10, backoffMaxMs: 5, timeoutMs: 0 },
  }), { instanceOf: EdgeloopError });
  t.is(err.code, 'BAD_CONFIG');
  t.is(err.message, 'alert options are invalid: cooldownMs must be a finite number ≥ 0, got -1; webhook.maxQueue must be an integer ≥ 1, got 0; '
    + 'webhook.maxAttempts must be an integer in [1, 100], got 0; webhook backoff must satisfy 0 < backoffBaseMs ≤ backoffMaxMs, got 10 and 5; '
    + 'webhook.timeoutMs must be > 0, got 0; webhookUrl "ftp://x" must be an http:// or https:// URL');
});
