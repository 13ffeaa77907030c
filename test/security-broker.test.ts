/**
 * The embedded broker with credentials and ACLs: password and client-certificate logins, what each
 * identity may publish and subscribe to, denials logged and counted, and the whole gateway ingesting
 * through it under its own gateway identity.
 */
import test from 'ava';
import net from 'node:net';
import { join } from 'node:path';
import { startEmbeddedBroker, packetSizeGuard, type EmbeddedBroker } from '../gateway/broker.ts';
import { hashPassword, type CredentialEntry } from '../gateway/broker-auth.ts';
import { DurableSubscriber, type ReceivedMessage } from '../gateway/mqtt-session.ts';
import { Gateway } from '../gateway/gateway.ts';
import { connectMqtt, publishAsync, endAsync, type MqttClient, type IClientOptions } from '../io/mqtt-client.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { createLogger, type Logger } from '../src/log.ts';
import { makePki, makeRogueClient, type TestPki } from './helpers/certs.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

const NOW = Date.UTC(2025, 5, 1);
const PASSWORDS = { 'lab/node7': 'device-secret-7', 'lab/node8': 'device-secret-8', 'other/node1': 'other-secret', '_gateway/gw1': 'gateway-secret' } as const;

let users: CredentialEntry[];
let pki: TestPki;

/** Warnings and errors, their messages only, into `lines`. */
function recordingLogger(lines: string[]): Logger {
  return createLogger({ level: 'warn', json: true, sink: (line) => lines.push((JSON.parse(line) as { msg: string }).msg) });
}

test.before(async () => {
  users = await Promise.all(Object.entries(PASSWORDS).map(async ([identity, pw]) => ({ identity, passwordHash: await hashPassword(pw), createdAtMs: NOW })));
  // Certificate-only identities: listed without a password.
  users.push({ identity: 'lab/cert1', createdAtMs: NOW }, { identity: '_gateway/gwcert', createdAtMs: NOW });
  pki = makePki();
});

async function login(url: string, username: string, password: string, extra: IClientOptions = {}): Promise<MqttClient> {
  return connectMqtt(url, { username, password, reconnectPeriod: 0, ...extra }, 5000);
}

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

/** A gateway-identity listener on edgeloop/#. */
async function listen(url: string, extra: IClientOptions = {}): Promise<{ client: MqttClient; got: string[] }> {
  const client = await login(url, '_gateway/gw1', PASSWORDS['_gateway/gw1'], extra);
  const got: string[] = [];
  client.on('message', (topic) => got.push(topic));
  const granted = await client.subscribeAsync('edgeloop/#', { qos: 1 });
  if (granted[0]!.qos !== 1) throw new Error('gateway subscription refused');
  return { client, got };
}

test('without auth or tls the broker stays open (unchanged behaviour)', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  t.teardown(() => broker.stop());
  t.is(broker.security, null);
  t.regex(broker.url, /^mqtt:\/\//);
  const c = await connectMqtt(broker.url, { reconnectPeriod: 0 });
  await publishAsync(c, 'anything/goes', 'x');
  await endAsync(c);
  t.pass();
});

test('password login: right password in, wrong/unknown/missing refused and counted', async (t) => {
  const lines: string[] = [];
  const broker = await startEmbeddedBroker({ port: 0, auth: { users }, logger: recordingLogger(lines) });
  t.teardown(() => broker.stop());
  const ok = await login(broker.url, 'lab/node7', PASSWORDS['lab/node7']);
  await endAsync(ok);
  for (const [u, p] of [['lab/node7', 'wrong'], ['lab/ghost', 'x'], ['lab/cert1', 'anything']] as const) {
    const err = await t.throwsAsync(login(broker.url, u, p));
    t.true(isEdgeloopError(err, 'BAD_CONFIG'));
    t.regex(err!.message, /Bad username or password/i, `${u} refused with code 4`);
  }
  const anonymous = await t.throwsAsync(connectMqtt(broker.url, { reconnectPeriod: 0 }, 5000));
  t.regex(anonymous!.message, /Bad username or password|Not authorized/i);
  t.deepEqual(broker.security, { connectsAccepted: 1, connectsRefused: 4, publishesDenied: 0, publishesDeniedRepeats: 0, subscribesDenied: 0 });
  t.true(lines.some((l) => /refused connection .*wrong password for lab\/node7/.test(l)));
  t.false(lines.some((l) => l.includes(PASSWORDS['lab/node7'])), 'passwords never logged');
});

test('device ACL: own topics pass, another device\'s topic is acknowledged, dropped and not delivered', async (t) => {
  const lines: string[] = [];
  const broker = await startEmbeddedBroker({ port: 0, auth: { users }, logger: recordingLogger(lines) });
  t.teardown(() => broker.stop());
  const { client: gw, got } = await listen(broker.url);
  const dev = await login(broker.url, 'lab/node7', PASSWORDS['lab/node7']);
  const own = ['telemetry', 'telemetry/temp', 'status', 'heartbeat', 'predictions', 'drift', 'labels', 'cmd/result', 'model/request'].map((s) => `edgeloop/lab/node7/${s}`);
  for (const topic of own) await publishAsync(dev, topic, '{}');
  await waitFor(() => got.length === own.length, 5000, 'own publishes delivered');
  t.deepEqual([...got].sort(), [...own].sort());

  // Denied publishes are acknowledged and dropped (gateway/broker.ts; test/security-acl-loop.test.ts).
  for (const topic of ['edgeloop/lab/node8/telemetry', 'edgeloop/lab/node7/cmd', 'edgeloop/lab/models/m/1/manifest', 'edgeloop/lab/alerts', 'other/topic']) {
    await publishAsync(dev, topic, '{"spoof":true}', { qos: 1 });
  }
  // The notices are QoS 0 publishes of the broker: wait for them, then a little for anything else to show up.
  await waitFor(() => got.filter((topic) => !own.includes(topic)).length >= 5, 10_000, 'five ACL notices');
  await new Promise((r) => setTimeout(r, 200));
  // What arrives besides the own publishes: one ACL notice per denied topic on node7's rejected topic.
  t.deepEqual(got.filter((topic) => !own.includes(topic)), Array(5).fill('edgeloop/lab/node7/rejected'), 'no denied publish reached the gateway');
  t.is(broker.security!.publishesDenied, 5);
  t.true(lines.some((l) => /denied publish by lab\/node7 on "edgeloop\/lab\/node8\/telemetry"/.test(l)));

  // mqtt.js rejects a subscribe whose SUBACK says 0x80; the code is on the packet.
  const grants = (filter: string) => dev.subscribeAsync(filter, { qos: 1 }).then(
    (g) => g[0]!.qos,
    (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] ?? -1,
  );
  t.is(await grants('edgeloop/lab/node7/cmd'), 1);
  t.is(await grants('edgeloop/lab/node7/rejected'), 1);
  t.is(await grants('edgeloop/lab/models/#'), 1);
  t.is(await grants('edgeloop/lab/models/occupancy/3/chunk/+'), 1);
  for (const f of ['edgeloop/lab/node8/cmd', 'edgeloop/lab/+/cmd', 'edgeloop/lab/#', 'edgeloop/other/models/#', '#', 'edgeloop/+/models/#', '$share/g/edgeloop/lab/node7/cmd']) {
    t.is(await grants(f), 128, `${f} refused`);
  }
  t.is(broker.security!.subscribesDenied, 7);
  t.true(dev.connected, 'a refused subscription keeps the connection');
  await endAsync(dev);
  await endAsync(gw);
});

test('the gateway identity ingests through the ACL broker; a device cannot forge another\'s telemetry', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0, auth: { users } });
  t.teardown(() => broker.stop());
  const gw = new Gateway({ id: 'gw1', brokerUrl: broker.url, username: '_gateway/gw1', password: PASSWORDS['_gateway/gw1'], dbPath: join(tempDir(), 'sec.db'), http: null, now: () => NOW });
  await gw.start();
  t.teardown(() => gw.stop());
  const dev = await login(broker.url, 'lab/node7', PASSWORDS['lab/node7']);
  await publishAsync(dev, 'edgeloop/lab/node7/telemetry', JSON.stringify({ ts: NOW - 1000, values: { temp: 21.5 } }));
  await waitFor(async () => (await gw.store.countReadings({ fleet: 'lab' })) === 1, 5000, 'reading stored');
  const forger = await login(broker.url, 'lab/node7', PASSWORDS['lab/node7']);
  await publishAsync(forger, 'edgeloop/lab/node8/telemetry', JSON.stringify({ ts: NOW - 500, values: { temp: 99 } }), { qos: 1 });
  await endAsync(forger, true);
  await publishAsync(dev, 'edgeloop/lab/node7/telemetry', JSON.stringify({ ts: NOW, values: { temp: 22 } }));
  await waitFor(async () => (await gw.store.countReadings({ fleet: 'lab' })) === 2, 5000, 'second reading stored');
  t.is(await gw.store.countReadings({ fleet: 'lab', device: 'node8' }), 0);
  await endAsync(dev);
  // The gateway identity with a wrong password refuses to start.
  const bad = new Gateway({ id: 'gw1', brokerUrl: broker.url, username: '_gateway/gw1', password: 'nope', dbPath: join(tempDir(), 'bad.db'), http: null, drift: false });
  const err = await t.throwsAsync(bad.start());
  t.true(isEdgeloopError(err, 'BAD_CONFIG'));
  t.regex(err!.message, /refused the connection \(code 4\)/);
});

test('mTLS: a CA-signed certificate whose CN is a listed identity logs in without a password', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0, auth: { users }, tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert, requestCert: true } });
  t.teardown(() => broker.stop());
  t.regex(broker.url, /^mqtts:\/\/127\.0\.0\.1:/);
  const tlsOpts = (kp?: { key: Buffer; cert: Buffer }): IClientOptions => ({ ca: pki.ca.cert, ...(kp ? { key: kp.key, cert: kp.cert } : {}), rejectUnauthorized: true, reconnectPeriod: 0 });

  // The gateway's durable subscriber authenticates with its own certificate.
  const gwCert = pki.client('_gateway/gwcert');
  const received: ReceivedMessage[] = [];
  const sub = new DurableSubscriber({
    url: broker.url, clientId: 'gw-mtls', filters: ['edgeloop/+/+/telemetry'],
    tls: { ca: pki.ca.cert, key: gwCert.key, cert: gwCert.cert }, onBatch: async (m) => { received.push(...m); },
  });
  await sub.start();
  t.teardown(() => sub.stop());

  const dev = await connectMqtt(broker.url, tlsOpts(pki.client('lab/cert1')), 5000);
  await publishAsync(dev, 'edgeloop/lab/cert1/telemetry', '{"ts":1,"values":{"a":1}}');
  await waitFor(() => received.length === 1, 5000, 'message over mTLS');
  t.is(received[0]!.topic, 'edgeloop/lab/cert1/telemetry');
  // The ACL applies to the certificate identity too (acknowledged, dropped, counted).
  await publishAsync(dev, 'edgeloop/lab/node7/telemetry', '{}', { qos: 1 });
  await publishAsync(dev, 'edgeloop/lab/cert1/telemetry', '{"ts":2,"values":{"a":1}}');
  await waitFor(() => received.length === 2, 5000, 'second message over mTLS');
  t.deepEqual(received.map((m) => m.topic), ['edgeloop/lab/cert1/telemetry', 'edgeloop/lab/cert1/telemetry'], 'the denied one was not delivered');
  await endAsync(dev, true);

  // A password client over TLS without a certificate still works.
  const pw = await connectMqtt(broker.url, { ...tlsOpts(), username: 'lab/node7', password: PASSWORDS['lab/node7'] }, 5000);
  await endAsync(pw);

  const refused = async (opts: IClientOptions, why: RegExp, title: string) => {
    const err = await t.throwsAsync(connectMqtt(broker.url, opts, 5000), undefined, title);
    t.regex(err!.message, why, title);
  };
  await refused(tlsOpts(makeRogueClient('lab/cert1')), /Not authorized/i, 'certificate from another CA');
  await refused(tlsOpts(pki.client('lab/unlisted')), /Not authorized/i, 'identity not in the credentials (revoked)');
  await refused(tlsOpts(pki.client('not an identity')), /Not authorized/i, 'CN that is no identity');
  await refused({ ...tlsOpts(pki.client('lab/cert1')), username: 'lab/node7', password: PASSWORDS['lab/node7'] }, /Not authorized/i, 'username differs from the certificate');
  await refused(tlsOpts(), /Bad username or password/i, 'no certificate, no password');
  t.is(broker.security!.connectsRefused, 5);
  t.is(broker.security!.publishesDenied, 1);
});

test('requestCert without a CA and a tiny packet limit are refused with the argument named', async (t) => {
  const e1 = await t.throwsAsync(startEmbeddedBroker({ port: 0, tls: { key: pki.server.key, cert: pki.server.cert, requestCert: true } }));
  t.true(isEdgeloopError(e1, 'BAD_ARGUMENT'));
  t.regex(e1!.message, /'tls.requestCert' needs 'tls.ca'/);
  const e2 = await t.throwsAsync(startEmbeddedBroker({ port: 0, maxPacketBytes: 10 }));
  t.true(isEdgeloopError(e2, 'BAD_ARGUMENT'));
  t.regex(e2!.message, /'maxPacketBytes' must be an integer >= 1024, got 10/);
});

test('an oversized MQTT packet closes that client before its body is buffered; others carry on', async (t) => {
  const broker: EmbeddedBroker = await startEmbeddedBroker({ port: 0, maxPacketBytes: 64 * 1024 });
  t.teardown(() => broker.stop());
  const big = await connectMqtt(broker.url, { reconnectPeriod: 0 });
  const gone = closed(big);
  big.publish('edgeloop/lab/node7/telemetry', Buffer.alloc(200 * 1024, 0x20), { qos: 0 });
  await gone;
  await endAsync(big, true);
  // A raw client announcing a 200 MB packet and then trickling bytes is cut off at the header.
  const raw = net.connect(broker.port, '127.0.0.1');
  await new Promise<void>((r) => raw.once('connect', () => r()));
  const rawClosed = new Promise<void>((r) => raw.once('close', () => r()));
  raw.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x60]));
  await rawClosed;
  const ok = await connectMqtt(broker.url, { reconnectPeriod: 0 });
  await publishAsync(ok, 'edgeloop/lab/node7/telemetry', Buffer.alloc(32 * 1024, 0x20));
  await endAsync(ok);
  t.pass();
});

test('packetSizeGuard follows MQTT framing across arbitrary chunk boundaries', (t) => {
  const packet = (len: number) => {
    const header = [0x30];
    let x = len;
    do { let b = x % 128; x = Math.floor(x / 128); if (x > 0) b |= 0x80; header.push(b); } while (x > 0);
    return Buffer.concat([Buffer.from(header), Buffer.alloc(len, 7)]);
  };
  const stream = Buffer.concat([packet(10), packet(1000), packet(0), packet(300), packet(5000)]);
  for (const step of [1, 2, 3, 7, 64, stream.length]) {
    const guard = packetSizeGuard(2000);
    let verdict: string | null = null;
    for (let i = 0; i < stream.length && verdict === null; i += step) verdict = guard(stream.subarray(i, i + step));
    t.is(verdict, 'a 5000-byte packet (limit 2000)', `chunks of ${step}`);
  }
  t.is(packetSizeGuard(1 << 30)(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), 'a malformed packet length');
  // 1 type byte + 2 length bytes + body: 1997 fills the 2000-byte limit exactly, 1998 is over it.
  t.is(packetSizeGuard(2000)(Buffer.concat([packet(1997), packet(1998)])), 'a 1998-byte packet (limit 2000)', 'the limit counts the whole packet');
});
