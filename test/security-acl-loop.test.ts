/**
 * A publish the ACL denies must not turn into a reconnect loop (issue #10). aedes closes the connection
 * when authorizePublish fails; mqtt.js then reconnects and resends the unacknowledged QoS 1 packet,
 * forever (12 reconnects and 12 denials in 3 s before the fix). The embedded broker now acknowledges
 * and drops the packet: the client stays connected, nothing reaches a subscriber or the retained store,
 * the denial is logged and counted once per (identity, topic), and the device gets one Rejection on its
 * `rejected` topic. Real aedes broker, real mqtt.js clients with automatic reconnect on.
 */
import test from 'ava';
import { startEmbeddedBroker } from '../gateway/broker.ts';
import { hashPassword, type CredentialEntry } from '../gateway/broker-auth.ts';
import { connectMqtt, publishAsync, endAsync, type MqttClient } from '../io/mqtt-client.ts';
import { createLogger, type Logger } from '../src/log.ts';
import type { Rejection } from '../src/contracts/device.ts';
import { waitFor } from './helpers/tmp.ts';

const PASSWORDS = { 'lab/node7': 'pw-7', 'lab/node8': 'pw-8', '_gateway/gw1': 'pw-gw' } as const;
let users: CredentialEntry[];

test.before(async () => {
  users = await Promise.all(Object.entries(PASSWORDS).map(async ([identity, pw]) => ({ identity, passwordHash: await hashPassword(pw), createdAtMs: 0 })));
});

/** Warnings and errors, their messages only, into `lines`. */
function recordingLogger(lines: string[]): Logger {
  return createLogger({ level: 'warn', json: true, sink: (line) => lines.push((JSON.parse(line) as { msg: string }).msg) });
}

async function login(url: string, identity: keyof typeof PASSWORDS, clientId: string): Promise<MqttClient> {
  // Automatic reconnect on (fast), as on a real device: a loop would show up as reconnects.
  return connectMqtt(url, { username: identity, password: PASSWORDS[identity], clientId, reconnectPeriod: 100 }, 5000);
}

test('a denied QoS 1 publish is acknowledged and dropped: no reconnect loop, one log line, one count, one notice', async (t) => {
  const lines: string[] = [];
  const broker = await startEmbeddedBroker({ port: 0, auth: { users }, logger: recordingLogger(lines) });
  t.teardown(() => broker.stop());
  const gw = await login(broker.url, '_gateway/gw1', 'gw');
  t.teardown(() => endAsync(gw, true));
  const seen: string[] = [];
  gw.on('message', (topic) => seen.push(topic));
  await gw.subscribeAsync('edgeloop/#', { qos: 1 });

  const dev = await login(broker.url, 'lab/node7', 'node7');
  t.teardown(() => endAsync(dev, true));
  const events: string[] = [];
  for (const e of ['close', 'offline', 'reconnect', 'connect'] as const) dev.on(e, () => events.push(e));
  const notices: Rejection[] = [];
  dev.on('message', (topic, payload) => {
    if (topic === 'edgeloop/lab/node7/rejected') notices.push(JSON.parse(payload.toString()) as Rejection);
  });
  await dev.subscribeAsync('edgeloop/lab/node7/rejected', { qos: 1 });

  // The PUBACK arrives (the promise resolves) although the topic is another device's.
  const spoof = 'edgeloop/lab/node8/telemetry';
  await publishAsync(dev, spoof, '{"spoof":1}', { qos: 1 });
  // Give a loop every chance to show: many reconnect periods, then a round trip on an allowed topic.
  await new Promise((r) => setTimeout(r, 1000));
  await publishAsync(dev, 'edgeloop/lab/node7/telemetry', '{"own":1}', { qos: 1 });
  await waitFor(() => seen.includes('edgeloop/lab/node7/telemetry'), 5000, 'own publish delivered');
  await waitFor(() => notices.length === 1, 5000, 'the rejection notice');

  t.deepEqual(events, [], 'the device never lost its connection');
  t.true(dev.connected);
  t.like(broker.security, { connectsAccepted: 2, publishesDenied: 1, publishesDeniedRepeats: 0 });
  t.false(seen.includes(spoof), 'the denied publish reached nobody');
  t.like(notices[0], { topic: spoof, reason: 'BAD_TOPIC' });
  t.regex(notices[0]!.detail, /^publish denied by the broker ACL: .+; it was acknowledged and dropped$/);
  const denialLines = () => lines.filter((l) => l.startsWith('denied publish'));
  t.is(denialLines().length, 1);
  t.regex(denialLines()[0]!, /^denied publish by lab\/node7 on "edgeloop\/lab\/node8\/telemetry": .+ \(acknowledged and dropped; repeats are counted, not logged\)$/);

  // The same (identity, topic) again, at QoS 1, 0 and 2, and from a second connection of the same
  // identity: counted as repeats, not logged, no new notice.
  await publishAsync(dev, spoof, 'x', { qos: 1 });
  await publishAsync(dev, spoof, 'x', { qos: 2 });
  dev.publish(spoof, 'x', { qos: 0 });
  const dev2 = await login(broker.url, 'lab/node7', 'node7-second');
  t.teardown(() => endAsync(dev2, true));
  await publishAsync(dev2, spoof, 'x', { qos: 1 });
  await waitFor(() => broker.security!.publishesDeniedRepeats === 4, 5000, 'four repeats counted');
  t.is(broker.security!.publishesDenied, 1);
  t.is(denialLines().length, 1, 'repeats are not logged');

  // A different denied topic is a new pair: logged, counted, notified.
  await publishAsync(dev, 'edgeloop/lab/node7/cmd', '{"type":"install"}', { qos: 1 });
  await waitFor(() => notices.length === 2, 5000, 'second notice');
  t.is(notices[1]!.topic, 'edgeloop/lab/node7/cmd');
  t.is(broker.security!.publishesDenied, 2);
  t.is(denialLines().length, 2);
  await publishAsync(dev, 'edgeloop/lab/node7/telemetry', '{"own":2}', { qos: 1 });
  await waitFor(() => seen.filter((s) => s === 'edgeloop/lab/node7/telemetry').length === 2, 5000, 'second own publish');
  t.false(seen.includes(spoof) || seen.includes('edgeloop/lab/node7/cmd'), 'no denied publish was delivered');
  t.deepEqual(events, []);
  t.is(broker.security!.connectsAccepted, 3, 'no reconnects: gateway, node7 and its second connection only');
});

test('a denied retained publish does not replace the retained message of the topic it aimed at', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0, auth: { users } });
  t.teardown(() => broker.stop());
  const owner = await login(broker.url, 'lab/node8', 'node8');
  t.teardown(() => endAsync(owner, true));
  await publishAsync(owner, 'edgeloop/lab/node8/status', '{"online":true,"real":1}', { qos: 1, retain: true });
  const forger = await login(broker.url, 'lab/node7', 'node7');
  t.teardown(() => endAsync(forger, true));
  await publishAsync(forger, 'edgeloop/lab/node8/status', '{"online":false}', { qos: 1, retain: true });

  const late = await login(broker.url, '_gateway/gw1', 'gw-late');
  t.teardown(() => endAsync(late, true));
  const retained: string[] = [];
  late.on('message', (topic, payload) => retained.push(`${topic} ${payload.toString()}`));
  await late.subscribeAsync('edgeloop/lab/node8/status', { qos: 1 });
  await waitFor(() => retained.length >= 1, 5000, 'the retained status');
  // A round trip on the late client so anything else queued for it has arrived.
  await publishAsync(late, 'edgeloop/lab/node8/cmd', '{}', { qos: 1 });
  t.deepEqual(retained, ['edgeloop/lab/node8/status {"online":true,"real":1}']);
  t.like(broker.security, { publishesDenied: 1 });
});
