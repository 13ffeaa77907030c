import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, dbPathOf } from '../cli/config.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { tempDir } from './helpers/tmp.ts';

test('defaults, then file, then environment, then flags', (t) => {
  const dir = tempDir();
  const file = join(dir, 'edgeloop.json');
  writeFileSync(file, JSON.stringify({ dataDir: '/var/lib/edgeloop', gateway: { httpPort: 9000, fleet: 'lab' } }));
  const c = loadConfig({ file, env: { EDGELOOP_GATEWAY_HTTP_PORT: '9100', EDGELOOP_GATEWAY_HTTP_ENABLED: 'false' }, overrides: [{ path: ['gateway', 'fleet'], value: 'plant' }] });
  t.is(c.dataDir, '/var/lib/edgeloop');
  t.is(c.gateway.httpPort, 9100);
  t.false(c.gateway.httpEnabled);
  t.is(c.gateway.fleet, 'plant');
  t.is(c.gateway.mqttPort, 1883);
  t.is(dbPathOf(c), '/var/lib/edgeloop/edgeloop.db');
  t.is(loadConfig({ env: {} }).telemetry.maxPayloadBytes, 256 * 1024);
});

test('bad config lists every problem and refuses to start', (t) => {
  const dir = tempDir();
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ gateway: { httpPort: 70000, fleet: 'bad name', brokr: 'x', broker: 'http://x' }, logLevel: 'loud' }));
  const err = t.throws(() => loadConfig({ file, env: { EDGELOOP_GATEWAY_MQTT_PORT: 'abc', EDGELOOP_GATEWAY_HTTP_PRT: '1' } }));
  t.true(isEdgeloopError(err, 'BAD_CONFIG'));
  const msg = err!.message;
  t.regex(msg, /invalid configuration \(\d+ problems\)/);
  t.regex(msg, /EDGELOOP_GATEWAY_MQTT_PORT="abc": expected a number/);
  t.regex(msg, /EDGELOOP_GATEWAY_HTTP_PRT: unknown setting/);
  t.regex(msg, /gateway\.httpPort: /);
  t.regex(msg, /gateway\.fleet: /);
  t.regex(msg, /gateway\.broker: must look like mqtt:\/\/host:port/);
  t.regex(msg, /brokr/);
  t.regex(msg, /logLevel: /);
});

test('an unreadable config file is a BAD_CONFIG error naming the file', (t) => {
  const dir = tempDir();
  const file = join(dir, 'broken.json');
  writeFileSync(file, '{ not json');
  const err = t.throws(() => loadConfig({ file, env: {} }));
  t.true(isEdgeloopError(err, 'BAD_CONFIG'));
  t.true(err!.message.includes(file));
});
