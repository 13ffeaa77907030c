/**
 * Rollouts end to end with real processes: `edgeloop gateway` (embedded broker, SQLite, registry,
 * rollout service), three `edgeloop device` agents pinned to the gateway's signing key, and the
 * `edgeloop rollout` / `edgeloop fleet` commands against the gateway's HTTP API. A trained occupancy
 * model (logistic regression, ONNX) goes out as a canary rollout; a second version's rollout survives
 * a SIGKILL of the gateway between waves; a third is aborted after its first wave and rolled back.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ChildGroup } from '../cli/child-processes.ts';
import { Gateway } from '../gateway/gateway.ts';
import { spawnGateway, killHard, type GatewayProcess } from './helpers/gateway-process.ts';
import { registerOccupancy } from './helpers/gateway-rollouts-model.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/edgeloop.js', import.meta.url));

interface Summary {
  id: string; state: string; model: string; version: number; waves: number; currentWave: number; targets: number;
  counts: Record<string, number>; reason: string | null;
  devices?: { device: string; wave: number; state: string; fromVersion: number | null }[];
  events?: { kind: string; detail: string; atMs: number }[];
}
interface FleetDevice { device: string; health: string; models: { model: string; active: number | null; previous: number[] }[] }

test('edgeloop gateway runs rollouts: canary to 3 device processes, SIGKILL mid-rollout resumes, abort and rollback', async (t) => {
  const dir = tempDir('edgeloop-gw-rollouts-');
  const db = join(dir, 'gw.db');
  const keyDir = join(dir, 'keys');
  const env = { ...process.env, EDGELOOP_LOG_LEVEL: 'warn', EDGELOOP_DATA_DIR: dir };
  const v1 = await registerOccupancy(db, keyDir);
  t.is(v1.version, 1);
  t.true(v1.artifacts[0]!.metrics.test1_accuracy! > 0.9, `trained model accuracy ${v1.artifacts[0]!.metrics.test1_accuracy}`);

  const gatewayArgs = (mqttPort: number, httpPort: number) => ['--db', db, '--id', 'gwr', '--mqtt-port', String(mqttPort), '--http-port', String(httpPort)];
  let gateway: GatewayProcess = await spawnGateway(gatewayArgs(0, 0), env);
  const devices = new ChildGroup({ env });
  t.teardown(async () => {
    await devices.stop();
    await killHard(gateway.child);
  });
  const ready = gateway.ready as GatewayProcess['ready'] & { rollouts: boolean; publicKey: string; keyId: string };
  t.true(ready.rollouts);
  t.is(ready.publicKey, join(keyDir, 'ed25519.pub'), 'the key the registry signed v1 with, next to the database');
  await waitFor(() => /model signing key \w+: .*ed25519\.pub — pin it on devices/.test(gateway.stderr()), 10_000, 'the key line on stderr');
  const http = ready.http!;
  const mqttPort = Number(new URL(ready.broker).port);
  const httpPort = Number(new URL(http).port);

  const edgeloop = async (args: string[]): Promise<string> => (await run(process.execPath, [BIN, ...args, '--gateway', http], { env })).stdout;
  const api = async <T>(path: string): Promise<T> => (await (await fetch(http + path)).json()) as T;
  const summary = (id: string) => api<Summary>(`/v1/rollouts/${id}`);
  const activeVersions = async () => Object.fromEntries((await api<FleetDevice[]>('/v1/fleet')).map((d) => [d.device, d.models.find((m) => m.model === 'occupancy')?.active ?? null]));

  await Promise.all(['d1', 'd2', 'd3'].map((id) => devices.spawn(id, [
    'device', '--broker', ready.broker, '--fleet', 'lab', '--id', id, '--dir', join(dir, `device-${id}`), '--public-key', ready.publicKey,
    '--heartbeat-s', '1', '--tags', 'pi4', '--log-level', 'warn',
  ], 'device-ready')));
  await waitFor(async () => (await api<FleetDevice[]>('/v1/fleet')).filter((d) => d.health === 'online').length === 3, 20_000, '3 devices online in the gateway fleet registry');

  // 1. occupancy@1 as a canary rollout to all three devices, through the CLI.
  const created = JSON.parse(await edgeloop(['rollout', 'create', '--model', 'occupancy@1', '--target', 'all', '--strategy', 'canary', '--canary', '34%',
    '--wave-interval', '1s', '--timeout', '60s', '--format', 'json'])) as Summary;
  t.is(created.targets, 3);
  t.is(created.waves, 2);
  await waitFor(async () => (await summary(created.id)).state !== 'running', 40_000, `rollout ${created.id} to finish`);
  const first = await summary(created.id);
  t.log(`canary rollout of occupancy@1 to 3 device processes: ${Math.max(...first.events!.map((e) => e.atMs)) - Math.min(...first.events!.map((e) => e.atMs))} ms from created to completed`);
  t.is(first.state, 'completed', JSON.stringify(first.events));
  t.is(first.counts.active, 3);
  const canaryWave = first.devices!.filter((d) => d.wave === 0).length;
  t.true(canaryWave >= 1 && canaryWave < 3, `canary wave of ${canaryWave} devices`);
  const statusText = await edgeloop(['rollout', 'status', created.id]);
  t.regex(statusText, new RegExp(`${created.id}\\s+occupancy@1\\s+lab\\s+all\\s+canary\\s+active\\s+completed\\s+2/2\\s+3/3`));
  const fleet = JSON.parse(await edgeloop(['fleet', 'list', '--format', 'json'])) as FleetDevice[];
  t.deepEqual(fleet.map((d) => [d.device, d.models.find((m) => m.model === 'occupancy')?.active]), [['d1', 1], ['d2', 1], ['d3', 1]]);
  t.regex(await edgeloop(['fleet', 'list']), /lab\s+d1\s+online\s+pi4\s+occupancy@1/);

  // 2. occupancy@2 (registered while the gateway runs) in waves of one; the gateway is SIGKILLed
  //    after the first wave settled and restarted on the same database and ports: the rollout resumes.
  t.is((await registerOccupancy(db, keyDir)).version, 2);
  const second = JSON.parse(await edgeloop(['rollout', 'create', '--model', 'occupancy@2', '--target', 'all', '--strategy', 'waves', '--wave-size', '1',
    '--wave-interval', '3s', '--timeout', '60s', '--format', 'json'])) as Summary;
  t.is(second.waves, 3);
  await waitFor(async () => (await summary(second.id)).counts.active >= 1, 30_000, 'the first wave of the second rollout');
  await killHard(gateway.child);
  const killedAtMs = Date.now();
  t.is((await summary(second.id).catch(() => null)), null, 'the gateway is gone');
  gateway = await spawnGateway(gatewayArgs(mqttPort, httpPort), env);
  t.is(gateway.ready.http, http, 'restarted on the same HTTP address');
  const resumed = await summary(second.id);
  t.true(['running', 'completed'].includes(resumed.state), `after the restart the rollout is ${resumed.state}`);
  await waitFor(async () => (await summary(second.id)).state !== 'running', 60_000, `rollout ${second.id} to finish after the restart`);
  const secondDone = await summary(second.id);
  t.is(secondDone.state, 'completed', JSON.stringify(secondDone.events));
  t.is(secondDone.counts.active, 3);
  const wavesAfterRestart = secondDone.events!.filter((e) => e.kind === 'wave-started' && e.atMs > killedAtMs).map((e) => e.detail);
  t.true(wavesAfterRestart.some((d) => d.startsWith('wave 3 of 3')), `waves started by the restarted gateway: ${wavesAfterRestart.join('; ')}`);
  t.log(`second rollout: ${[...secondDone.events!].reverse().map((e) => `${e.kind}${e.atMs > killedAtMs ? ' (after restart)' : ''}`).join(', ')}`);
  t.deepEqual(await activeVersions(), { d1: 2, d2: 2, d3: 2 });

  // 3. occupancy@3 in slow waves: aborted by the operator after the first wave, then rolled back.
  t.is((await registerOccupancy(db, keyDir)).version, 3);
  const third = JSON.parse(await edgeloop(['rollout', 'create', '--model', 'occupancy@3', '--target', 'all', '--strategy', 'waves', '--wave-size', '1',
    '--wave-interval', '10m', '--timeout', '60s', '--format', 'json'])) as Summary;
  await waitFor(async () => (await summary(third.id)).counts.active === 1, 30_000, 'the first wave of the third rollout');
  const aborted = JSON.parse(await edgeloop(['rollout', 'abort', third.id, '--reason', 'operator test', '--format', 'json'])) as Summary;
  t.is(aborted.state, 'aborted');
  t.is(aborted.reason, 'operator test');
  const upgraded = (await summary(third.id)).devices!.find((d) => d.state === 'active')!.device;
  const versions = await activeVersions();
  t.deepEqual(Object.values(versions).sort(), [2, 2, 3], 'the abort stops further waves');
  const rolledBack = JSON.parse(await edgeloop(['rollout', 'rollback', third.id, '--format', 'json'])) as Summary;
  t.is(rolledBack.state, 'rolled-back');
  await waitFor(async () => (await activeVersions())[upgraded] === 2, 30_000, `${upgraded} back on occupancy@2`);
  await waitFor(async () => (await summary(third.id)).counts['rolled-back'] === 1, 30_000, 'the rollback confirmed');
  t.deepEqual(await activeVersions(), { d1: 2, d2: 2, d3: 2 });
  const fleetAfter = JSON.parse(await edgeloop(['fleet', 'list', '--format', 'json'])) as FleetDevice[];
  t.true(fleetAfter.every((d) => d.health === 'online'));
});

test('rollouts: false leaves registry, rollout service and their routes out; by default the key sits next to the database', async (t) => {
  const dir = tempDir('edgeloop-gw-norollouts-');
  const off = new Gateway({ id: 'off', dbPath: join(dir, 'off.db'), embeddedBroker: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, rollouts: false, drift: false });
  await off.start();
  t.teardown(() => off.stop());
  t.is(off.registry, null);
  t.is(off.rollouts, null);
  t.is(off.publicKeyPath, null);
  t.is((await fetch(`${off.httpUrl}/v1/rollouts`)).status, 404);
  const on = new Gateway({ id: 'on', dbPath: join(dir, 'sub', 'on.db'), embeddedBroker: { host: '127.0.0.1', port: 0 }, http: null, drift: false });
  t.is(on.rollouts, null, 'nothing exists before start()');
  mkdirSync(join(dir, 'sub'));
  await on.start();
  t.teardown(() => on.stop());
  t.is(on.publicKeyPath, join(dir, 'sub', 'keys', 'ed25519.pub'));
  t.is(on.registry!.publicKey().pem, readFileSync(on.publicKeyPath!, 'utf8'));
  t.deepEqual(await on.rollouts!.controller.list(), []);
});
