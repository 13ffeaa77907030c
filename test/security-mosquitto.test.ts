/**
 * `edgeloop acl` end to end: identities created with the CLI, the generated mosquitto ACL and password
 * file loaded by a real mosquitto, and mosquitto refusing what the embedded broker refuses.
 */
import test from 'ava';
import { join } from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { aclCommand } from '../cli/commands-acl.ts';
import { readCredentialsFile, verifyPassword } from '../gateway/broker-auth.ts';
import { connectMqtt, publishAsync, endAsync, type MqttClient } from '../io/mqtt-client.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { findMosquitto } from './helpers/mosquitto.ts';
import { startConfiguredMosquitto } from './helpers/mosquitto-conf.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

async function run(argv: string[]): Promise<string> {
  let out = '';
  await aclCommand(argv, { out: (s) => { out += s; }, now: () => Date.UTC(2025, 0, 1) });
  return out;
}

const passwordOf = (out: string) => /^password: (\S+)$/m.exec(out)![1]!;

test('acl add-device prints a password once and keeps only its scrypt hash; bad calls are refused', async (t) => {
  const dir = tempDir();
  const creds = join(dir, 'creds.json');
  const out = await run(['add-device', '--fleet', 'lab', '--device', 'node7', '--credentials', creds]);
  const pw = passwordOf(out);
  t.regex(pw, /^[A-Za-z0-9_-]{32}$/);
  const text = readFileSync(creds, 'utf8');
  t.false(text.includes(pw), 'the password itself is not stored');
  t.is(statSync(creds).mode & 0o777, 0o600);
  const file = readCredentialsFile(creds);
  t.is(file.users[0]!.identity, 'lab/node7');
  t.true(await verifyPassword(pw, file.users[0]!.passwordHash!));
  t.false(await verifyPassword(pw + 'x', file.users[0]!.passwordHash!));

  const dup = await t.throwsAsync(run(['add-device', '--fleet', 'lab', '--device', 'node7', '--credentials', creds]));
  t.true(isEdgeloopError(dup, 'BAD_ARGUMENT'));
  t.regex(dup!.message, /lab\/node7 already has credentials; use --rotate/);
  const rotated = passwordOf(await run(['add-device', '--fleet', 'lab', '--device', 'node7', '--rotate', '--credentials', creds]));
  t.not(rotated, pw);
  t.false(await verifyPassword(pw, readCredentialsFile(creds).users[0]!.passwordHash!), 'rotation invalidates the old password');

  for (const [argv, code, re] of [
    [['add-device', '--fleet', 'lab', '--device', '../etc'], 'BAD_NAME', /device name "\.\.\/etc" is not allowed/],
    [['add-device', '--fleet', 'lab', '--device', 'models'], 'BAD_NAME', /device name 'models' is reserved/],
    [['add-device', '--fleet', 'lab'], 'BAD_ARGUMENT', /--device is required/],
    [['add-gateway', '--id', 'a/b'], 'BAD_NAME', /must be <fleet>\/<device> or _gateway\/<gateway id>/],
    [['remove', 'lab/ghost'], 'NOT_FOUND', /identity "lab\/ghost" is not in the credentials file/],
    [['list', '--format', 'xml'], 'BAD_ARGUMENT', /--format "xml" must be one of table, json/],
    [['frobnicate'], 'BAD_ARGUMENT', /unknown acl subcommand "frobnicate"/],
  ] as const) {
    const err = await t.throwsAsync(run([...argv, '--credentials', creds]));
    t.true(isEdgeloopError(err, code), `${argv.join(' ')} → ${code}`);
    t.regex(err!.message, re);
  }
  const certOnly = await run(['add-gateway', '--id', 'gw1', '--no-password', '--credentials', creds]);
  t.regex(certOnly, /client certificate whose CN is _gateway\/gw1/);
  t.regex(await run(['list', '--credentials', creds]), /_gateway\/gw1\s+gateway\s+certificate only\nlab\/node7\s+device\s+password/);
  t.is(await run(['remove', 'lab/node7', '--credentials', creds]), 'removed lab/node7\n');
  t.deepEqual(readCredentialsFile(creds).users.map((u) => u.identity), ['_gateway/gw1']);
});

test('a corrupt credentials file is refused with every problem listed', async (t) => {
  const { parseCredentials } = await import('../gateway/broker-auth.ts');
  const err = t.throws(() => parseCredentials({ version: 1, users: [{ identity: 'lab/a', createdAtMs: 1 }, { identity: 'lab/a', createdAtMs: 1 }, { identity: 'x', createdAtMs: 1 }, { identity: 'lab/b', passwordHash: 'md5$x', createdAtMs: 'y' }] }));
  t.true(isEdgeloopError(err, 'BAD_CONFIG'));
  t.regex(err!.message, /users\[1\]: identity lab\/a is listed twice; users\[2\]: identity "x" must be .*; users\[3\] \(lab\/b\): passwordHash must be scrypt.*; users\[3\] \(lab\/b\): createdAtMs must be a number/);
  t.throws(() => parseCredentials({ version: 2, users: [] }), { message: /version must be 1, got 2/ });
});

test('mosquitto with the generated ACL and password file refuses another device\'s topics', async (t) => {
  if (!findMosquitto()) return t.pass('mosquitto not installed');
  const dir = tempDir();
  const creds = join(dir, 'creds.json');
  const passwd = join(dir, 'edgeloop.passwd');
  const aclFile = join(dir, 'edgeloop.acl');
  const pw: Record<string, string> = {};
  for (const [f, d] of [['lab', 'node7'], ['lab', 'node8'], ['other', 'node1']]) {
    pw[`${f}/${d}`] = passwordOf(await run(['add-device', '--fleet', f!, '--device', d!, '--credentials', creds, '--mosquitto-passwd', passwd]));
  }
  pw['_gateway/gw1'] = passwordOf(await run(['add-gateway', '--id', 'gw1', '--credentials', creds, '--mosquitto-passwd', passwd]));
  const printed = await run(['mosquitto', '--out', aclFile, '--password-file', passwd, '--credentials', creds]);
  t.regex(printed, /wrote .*edgeloop\.acl \(4 identities\)/);
  const acl = readFileSync(aclFile, 'utf8');
  t.regex(acl, /^pattern write edgeloop\/%u\/telemetry$/m);
  t.regex(acl, /^user lab\/node7\ntopic read edgeloop\/lab\/models\/#$/m);
  t.regex(acl, /^user _gateway\/gw1\ntopic readwrite edgeloop\/#$/m);
  // The printed mosquitto.conf lines, used as printed.
  const confLines = printed.split('\n').filter((l) => /^(allow_anonymous|password_file|acl_file|max_queued_messages) /.test(l));
  t.is(confLines.length, 4);
  const mosq = await startConfiguredMosquitto(['persistence false', ...confLines]);
  t.teardown(() => mosq!.stop());
  const url = mosq!.url;
  const as = (id: string, extra = {}) => connectMqtt(url, { username: id, password: pw[id], reconnectPeriod: 0, ...extra }, 5000);

  const wrong = await t.throwsAsync(connectMqtt(url, { username: 'lab/node7', password: 'guess', reconnectPeriod: 0 }, 5000));
  t.regex(wrong!.message, /Not authorized|Bad username/i);
  const anon = await t.throwsAsync(connectMqtt(url, { reconnectPeriod: 0 }, 5000));
  t.regex(anon!.message, /Not authorized|Bad username/i);

  const gw = await as('_gateway/gw1');
  const got: string[] = [];
  gw.on('message', (topic) => got.push(topic));
  await gw.subscribeAsync('edgeloop/#', { qos: 1 });
  const node7 = await as('lab/node7');
  const grants = (c: MqttClient, filter: string) => c.subscribeAsync(filter, { qos: 1 }).then(
    (g) => g[0]!.qos,
    (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] ?? -1,
  );
  t.is(await grants(node7, 'edgeloop/lab/node7/cmd'), 1);
  t.is(await grants(node7, 'edgeloop/lab/models/#'), 1);
  // mosquitto 2.0's acl_file grants any SUBSCRIBE and applies `read` rules to each delivered message
  // (the embedded broker refuses the SUBACK instead): subscribe wide, then check what arrives.
  for (const f of ['edgeloop/lab/node8/cmd', 'edgeloop/lab/#', 'edgeloop/other/models/#', 'edgeloop/+/+/telemetry']) await grants(node7, f);

  const cmds: string[] = [];
  node7.on('message', (topic) => cmds.push(topic));
  await publishAsync(node7, 'edgeloop/lab/node7/telemetry', '{"own":1}');
  await publishAsync(node7, 'edgeloop/lab/node7/telemetry/temp', '21.5');
  // mosquitto drops a denied MQTT 3.1.1 publish (after a PUBACK, or closing the connection, depending
  // on the case): either way it must never be delivered. Each attempt on its own connection.
  for (const topic of ['edgeloop/lab/node8/telemetry', 'edgeloop/lab/node7/cmd', 'edgeloop/lab/models/m/1/manifest']) {
    const forger = await as('lab/node7');
    await Promise.race([publishAsync(forger, topic, '{"forged":1}').catch(() => undefined), new Promise<void>((r) => forger.once('close', () => r()))]);
    await endAsync(forger, true);
  }
  await publishAsync(gw, 'edgeloop/lab/node8/cmd', '{"for":"node8"}');
  await publishAsync(gw, 'edgeloop/lab/node7/cmd', '{"for":"node7"}');
  await waitFor(() => cmds.length >= 1 && got.includes('edgeloop/lab/node7/cmd'), 5000, 'command delivered');
  await new Promise((r) => setTimeout(r, 300));
  await publishAsync(gw, 'edgeloop/other/models/m/1/manifest', '{}');
  await publishAsync(gw, 'edgeloop/lab/models/m/2/manifest', '{}');
  await waitFor(() => cmds.length >= 2, 5000, 'fleet manifest delivered');
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(cmds, ['edgeloop/lab/node7/cmd', 'edgeloop/lab/models/m/2/manifest'],
    'node7, subscribed to edgeloop/lab/# and more, receives only its own command and its fleet\'s models (not node8\'s command, other devices\' telemetry, another fleet\'s models)');
  t.deepEqual(got.filter((x) => x.includes('/node7/telemetry') || x.includes('/node8/telemetry')).sort(), ['edgeloop/lab/node7/telemetry', 'edgeloop/lab/node7/telemetry/temp'], 'the forged node8 reading never existed');
  t.deepEqual(got.filter((x) => x.includes('/models/')).sort(), ['edgeloop/lab/models/m/2/manifest', 'edgeloop/other/models/m/1/manifest'], 'only the gateway\'s manifests exist');
  t.deepEqual(got.filter((x) => x.endsWith('/cmd')).sort(), ['edgeloop/lab/node7/cmd', 'edgeloop/lab/node8/cmd'], 'only the gateway\'s commands exist');
  await endAsync(node7);
  await endAsync(gw);
});
