/**
 * Gateway broker security from configuration (issue #10): `edgeloop gateway --config` with the
 * embedded broker on TLS, logins required (credentials written by `edgeloop acl`) and client
 * certificates accepted; `edgeloop device` logging in with a password file or a client certificate;
 * the gateway's own clients (ingest, drift, rollouts) logging in too, proven by a rollout through the
 * secured broker. Certificates are made in the test (openssl, test/helpers/certs.ts).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ChildGroup } from '../cli/child-processes.ts';
import { gatewayFromConfig } from '../cli/commands-gateway.ts';
import { loadConfig } from '../cli/config.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { silentLogger } from '../src/log.ts';
import { Gateway } from '../gateway/gateway.ts';
import { Agent } from '../device/agent.ts';
import { pinKeys } from '../device/verify.ts';
import { makePki, makeRogueClient } from './helpers/certs.ts';
import { spawnGateway, killHard } from './helpers/gateway-process.ts';
import { registerOccupancy } from './helpers/gateway-rollouts-model.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/edgeloop.js', import.meta.url));

interface FleetDevice { device: string; health: string; models: { model: string; active: number | null }[] }

test('edgeloop gateway on TLS with logins: devices by password file and by client certificate, a rollout through the secured broker', async (t) => {
  const dir = tempDir('edgeloop-gw-auth-');
  const pki = makePki();
  const db = join(dir, 'gw.db');
  const credentials = join(dir, 'broker-credentials.json');
  const env = { ...process.env, EDGELOOP_LOG_LEVEL: 'warn', EDGELOOP_DATA_DIR: dir };
  const acl = async (args: string[]) => (await run(process.execPath, [BIN, 'acl', ...args, '--credentials', credentials], { env })).stdout;
  const password = /password: (\S+)/.exec(await acl(['add-device', '--fleet', 'lab', '--device', 'd1']))![1]!;
  writeFileSync(join(dir, 'd1.password'), password + '\n', { mode: 0o600 });
  await acl(['add-device', '--fleet', 'lab', '--device', 'd2', '--no-password']);
  const d2 = pki.client('lab/d2');
  await registerOccupancy(db, join(dir, 'keys'));
  const configFile = join(dir, 'edgeloop.json');
  writeFileSync(configFile, JSON.stringify({
    dataDir: dir,
    gateway: { db, id: 'gwa', mqttPort: 0, httpPort: 0 },
    broker: { auth: true, credentialsFile: credentials, tls: { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.ca.certPath, requestCert: true } },
  }));

  const gateway = await spawnGateway(['--config', configFile], env);
  const devices = new ChildGroup({ env });
  t.teardown(async () => {
    await devices.stop();
    await killHard(gateway.child);
  });
  const { broker, http } = gateway.ready as { broker: string; http: string };
  t.regex(broker, /^mqtts:\/\/127\.0\.0\.1:\d+$/);
  const health = (await (await fetch(`${http}/healthz`)).json()) as { mqtt: boolean };
  t.true(health.mqtt, "the gateway's ingest session logged in over TLS");
  const publicKey = join(dir, 'keys', 'ed25519.pub');
  const common = (id: string, stateDir = `device-${id}`) => ['device', '--broker', broker, '--fleet', 'lab', '--id', id, '--dir', join(dir, stateDir), '--public-key', publicKey, '--heartbeat-s', '1', '--log-level', 'warn', '--ca', pki.ca.certPath];
  await devices.spawn('d1', [...common('d1'), '--password-file', join(dir, 'd1.password')], 'device-ready');
  await devices.spawn('d2', [...common('d2'), '--cert', d2.certPath, '--key', d2.keyPath], 'device-ready');

  // Refused: a wrong password, a certificate from another CA, no CA to verify the broker with.
  writeFileSync(join(dir, 'wrong.password'), 'not-the-password');
  const wrong = await t.throwsAsync(devices.spawn('bad1', [...common('d1', 'bad1'), '--password-file', join(dir, 'wrong.password')], 'device-ready'));
  t.regex(wrong!.message, /exited before its 'device-ready' event.*(Bad username or password|Not authorized)/s);
  const rogue = makeRogueClient('lab/d2');
  const rogueErr = await t.throwsAsync(devices.spawn('bad2', [...common('d2', 'bad2'), '--cert', rogue.certPath, '--key', rogue.keyPath], 'device-ready'));
  t.regex(rogueErr!.message, /Not authorized|Bad username/);
  const noCa = common('d1', 'bad3').filter((a, i, all) => a !== '--ca' && all[i - 1] !== '--ca');
  const noCaErr = await t.throwsAsync(devices.spawn('bad3', [...noCa, '--password-file', join(dir, 'd1.password')], 'device-ready'));
  t.regex(noCaErr!.message, /self-signed|unable to verify|certificate/i);

  const fleet = async () => (await (await fetch(`${http}/v1/fleet`)).json()) as FleetDevice[];
  await waitFor(async () => (await fleet()).filter((d) => d.health === 'online').length === 2, 20_000, 'd1 and d2 online');
  const created = JSON.parse((await run(process.execPath, [BIN, 'rollout', 'create', '--model', 'occupancy@1', '--target', 'all', '--strategy', 'all-at-once', '--timeout', '60s', '--format', 'json', '--gateway', http], { env })).stdout) as { id: string; targets: number };
  t.is(created.targets, 2);
  await waitFor(async () => (await fleet()).every((d) => d.models.some((m) => m.model === 'occupancy' && m.active === 1)), 30_000, 'occupancy@1 active on d1 and d2')
    .catch(async (err: unknown) => {
      t.log(JSON.stringify(await (await fetch(`${http}/v1/rollouts/${created.id}`)).json()));
      t.log(gateway.stderr());
      for (const c of devices.children) t.log(c.name, c.stderr());
      throw err;
    });
  const summary = async () => (await (await fetch(`${http}/v1/rollouts/${created.id}`)).json()) as { state: string; counts: { active: number } };
  await waitFor(async () => (await summary()).state === 'completed', 10_000, 'rollout completed');
  t.is((await summary()).counts.active, 2);
});

test('security settings: every config problem listed, unreadable files named, and a gateway that could not log in refuses to start', async (t) => {
  const bad = t.throws(() => loadConfig({
    env: { EDGELOOP_BROKER_AUTH: 'maybe', EDGELOOP_BROKER_TLS_REQUEST_CERT: 'true', EDGELOOP_GATEWAY_TLS_CERT: '/x.crt' },
  }));
  t.true(isEdgeloopError(bad, 'BAD_CONFIG'));
  t.regex(bad!.message, /EDGELOOP_BROKER_AUTH="maybe": expected true or false/);
  t.regex(bad!.message, /broker\.tls\.cert: /);
  t.regex(bad!.message, /broker\.tls\.key: /);
  t.regex(bad!.message, /gateway\.tls: cert and key go together/);
  const noCa = t.throws(() => loadConfig({ env: {}, overrides: [{ path: ['broker', 'tls'], value: { cert: 'a', key: 'b', requestCert: true } }] }));
  t.regex(noCa!.message, /broker\.tls: requestCert needs ca/);

  const dir = tempDir('edgeloop-gw-auth-cfg-');
  const missing = loadConfig({ env: {}, overrides: [{ path: ['dataDir'], value: dir }, { path: ['broker', 'tls'], value: { cert: join(dir, 'nope.crt'), key: join(dir, 'nope.key') } }] });
  const unreadable = t.throws(() => gatewayFromConfig(missing, silentLogger));
  t.true(isEdgeloopError(unreadable, 'BAD_CONFIG'));
  t.regex(unreadable!.message, /broker\.tls\.cert: cannot read .*nope\.crt/);
  // broker.* configures the embedded broker only: with an external broker the files are not even read.
  const external = loadConfig({ env: {}, overrides: [{ path: ['dataDir'], value: dir }, { path: ['gateway', 'broker'], value: 'mqtt://127.0.0.1:1' }, { path: ['broker', 'tls'], value: { cert: join(dir, 'nope.crt'), key: join(dir, 'nope.key') } }] });
  const warnings: string[] = [];
  gatewayFromConfig(external, { ...silentLogger, warn: (m) => { warnings.push(typeof m === 'function' ? m() : m); } });
  t.deepEqual(warnings, ['broker.auth and broker.tls configure the embedded broker; they are ignored with gateway.broker mqtt://127.0.0.1:1']);

  const pki = makePki();
  // Client certificates only (no password logins): the gateway's own clients need a certificate too.
  const certOnly = new Gateway({
    id: 'gwc', dbPath: join(dir, 'c.db'), http: null, logger: silentLogger,
    embeddedBroker: { host: '127.0.0.1', port: 0, tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true } },
    tls: { ca: pki.ca.cert },
  });
  const err = await t.throwsAsync(certOnly.start());
  t.true(isEdgeloopError(err, 'BAD_CONFIG'));
  t.regex(err!.message, /give the gateway a client certificate \(tls\.cert and tls\.key, CN _gateway\/<id>\)/);
  const named = new Gateway({ id: 'gwn', dbPath: join(dir, 'n.db'), http: null, logger: silentLogger, username: '_gateway/other', embeddedBroker: { host: '127.0.0.1', port: 0, auth: { users: [] } } });
  const namedErr = await t.throwsAsync(named.start());
  t.regex(namedErr!.message, /gateway username "_gateway\/other" has no password/);
});

test('mTLS only: the gateway and a device log in with certificates and a rollout goes through (in-process)', async (t) => {
  const dir = tempDir('edgeloop-gw-mtls-');
  const pki = makePki();
  const gwCert = pki.client('_gateway/gwm');
  const devCert = pki.client('lab/m1');
  const db = join(dir, 'm.db');
  await registerOccupancy(db, join(dir, 'keys'));
  const gateway = new Gateway({
    id: 'gwm', dbPath: db, http: { host: '127.0.0.1', port: 0 }, logger: silentLogger, rollouts: { tickMs: 50, resumeGraceMs: 200 },
    embeddedBroker: { host: '127.0.0.1', port: 0, tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true } },
    tls: { ca: pki.ca.cert, cert: gwCert.cert, key: gwCert.key },
  });
  await gateway.start();
  t.teardown(() => gateway.stop());
  t.truthy(gateway.rollouts);
  t.truthy(gateway.registry);
  t.deepEqual(gateway.mqttLogin.username, undefined, 'no password login: the certificate is the identity');
  const agent = await Agent.create({
    brokerUrl: gateway.brokerUrl, fleet: 'lab', id: 'm1', stateDir: join(dir, 'agent'), pinned: pinKeys([gateway.registry!.publicKey().pem]), heartbeatS: 0.2,
    mqtt: { ca: pki.ca.cert, cert: devCert.cert, key: devCert.key },
  });
  await agent.start();
  t.teardown(() => agent.stop());
  await waitFor(async () => (await gateway.rollouts!.fleet.list({ fleet: 'lab' })).some((d) => d.device === 'm1' && d.health === 'online'), 10_000, 'm1 online');
  // The dashboard's event stream carries rollout changes (Gateway broadcasts RolloutService.onChange).
  const sse = new AbortController();
  const stream = await fetch(`${gateway.httpUrl}/v1/events`, { signal: sse.signal });
  const reader = stream.body!.getReader();
  const rolloutEvent = (async () => {
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return null;
      text += Buffer.from(value).toString('utf8');
      const m = /event: rollout\ndata: (.*)\n/.exec(text);
      if (m) return JSON.parse(m[1]!) as { id: string; model: string };
    }
  })();
  const res = await fetch(`${gateway.httpUrl}/v1/rollouts`, { method: 'POST', body: JSON.stringify({ model: 'occupancy@1', target: 'all' }) });
  t.is(res.status, 201);
  const { id } = (await res.json()) as { id: string };
  await waitFor(async () => (await gateway.rollouts!.controller.summary(id)).state === 'completed', 20_000, 'rollout completed');
  t.is((await agent.status()).models.find((m) => m.model === 'occupancy')?.active, 1);
  const panels = (await (await fetch(`${gateway.httpUrl}/v1/panels`)).json()) as { id: string }[];
  t.true(panels.some((p) => p.id === 'rollouts') && panels.some((p) => p.id === 'fleet'), 'rollout panels on the dashboard');
  const event = await rolloutEvent;
  sse.abort();
  t.deepEqual([event?.id, event?.model], [id, 'occupancy']);
});
