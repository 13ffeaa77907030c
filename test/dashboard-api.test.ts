/** Bad calls to the dashboard's JSON views: status, error code and a message naming the argument. */
import test from 'ava';
import { join } from 'node:path';
import { Gateway } from '../gateway/gateway.ts';
import type { SqliteStore } from '../gateway/store-sqlite.ts';
import { attachDashboardPanels } from '../gateway/dashboard-panels.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';
import { connectMqtt, endAsync, publishAsync } from '../io/mqtt-client.ts';
import { deviceTopic } from '../src/topics.ts';

test('bad calls answer 400/404 with the error code and what was wrong', async (t) => {
  const dir = tempDir();
  const gw = new Gateway({ id: 'api', dbPath: join(dir, 'g.db'), embeddedBroker: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 } });
  await gw.start();
  t.teardown(() => gw.stop());
  const feed = attachDashboardPanels({ http: gw.http!, dashboard: gw.dashboard!, store: gw.store, database: (gw.store as SqliteStore).database, registry: gw.registry, drift: gw.drift });
  const url = gw.httpUrl!;
  const call = async (path: string) => {
    const res = await fetch(`${url}${path}`);
    return { status: res.status, body: (await res.json()) as { error?: string; message?: string } };
  };
  const cases: [string, number, string, RegExp][] = [
    ['/v1/models/nope', 404, 'NOT_FOUND', /model nope is not registered \(models: none\)/],
    ['/v1/models/nope/3', 404, 'NOT_FOUND', /model nope is not registered/],
    ['/v1/models/bad%20name', 400, 'BAD_NAME', /model name "bad name" is not allowed/],
    ['/v1/dashboard/drift-heatmap?metric=ks', 400, 'BAD_ARGUMENT', /metric must be one of psi, js, got "ks"/],
    ['/v1/dashboard/drift-heatmap?fleet=a/b', 400, 'BAD_NAME', /fleet name "a\/b"/],
    ['/v1/dashboard/drift-series?device=d&feature=x', 400, 'BAD_ARGUMENT', /fleet is required/],
    ['/v1/dashboard/drift-series?fleet=f&device=d', 400, 'BAD_ARGUMENT', /feature is required/],
    ['/v1/dashboard/drift-series?fleet=f&device=d&feature=x&points=0', 400, 'BAD_ARGUMENT', /points must be an integer in 1\.\.10000, got "0"/],
    ['/v1/dashboard/drift-series?fleet=f&device=d&feature=CO2', 404, 'NOT_FOUND', /no drift statistics for feature "CO2" of device f\/d/],
    ['/v1/dashboard/alerts?limit=many', 400, 'BAD_ARGUMENT', /limit must be an integer in 1\.\.1000, got "many"/],
    ['/v1/dashboard/cleaning?datasets=99', 400, 'BAD_ARGUMENT', /datasets must be an integer in 1\.\.50/],
  ];
  for (const [path, status, code, message] of cases) {
    const r = await call(path);
    t.is(r.status, status, path);
    t.is(r.body.error, code, path);
    t.regex(r.body.message ?? '', message, path);
  }
  // Empty stores answer empty views, not errors.
  for (const path of ['/v1/models', '/v1/dashboard/alerts', '/v1/dashboard/performance', '/v1/dashboard/cleaning', '/v1/dashboard/data-quality']) {
    const r = await fetch(`${url}${path}`);
    t.is(r.status, 200, path);
    t.deepEqual(await r.json(), [], path);
  }
  t.like(await (await fetch(`${url}/v1/dashboard/drift-heatmap`)).json(), { metric: 'psi', cells: [] });

  // A drift report that is not JSON is quarantined by the drift service and counted by reason.
  const client = await connectMqtt(gw.brokerUrl, { clientId: 'api-device' });
  t.teardown(() => endAsync(client));
  await publishAsync(client, deviceTopic('drift', 'f', 'd'), 'not json', { qos: 1 });
  await waitFor(async () => (await gw.drift!.store.rejects()).length === 1, 10_000, 'drift reject');
  const quality = (await (await fetch(`${url}/v1/dashboard/data-quality`)).json()) as { source: string; reason: string; count: number; last: string }[];
  t.is(quality.length, 1);
  t.like(quality[0], { source: 'drift/predictions/labels', reason: 'NOT_JSON', count: 1 });
  t.regex(quality[0]!.last, /^\d{4}-\d{2}-\d{2}T/);
  t.deepEqual(feed.events, ['data-quality', 'cleaning', 'models', 'drift', 'alerts', 'performance']);
});
