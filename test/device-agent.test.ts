/**
 * The device agent in-process against a real aedes broker, a real TransferServer and the real ONNX
 * runtime (onnxruntime-node) running test/fixtures/device-mlp.onnx: install, smoke test, activation,
 * rollback, pruning, refusals, crash-loop and start-up rollbacks.
 */
import test from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, type AgentOptions } from '../device/agent.ts';
import { isEdgeloopError } from '../src/errors.ts';
import type { DeviceStatusOnline } from '../src/contracts/device.ts';
import { buildManifest, failingSmoke, keyPair, mlpFixture } from './helpers/device-model.ts';
import { DeviceObserver } from './helpers/device-observer.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';
import { agentRig, type AgentRig } from './helpers/agent-rig.ts';

const FLEET = 'lab';
const pair = keyPair();
const fixture = mlpFixture();

interface Rig extends Omit<AgentRig, 'start'> {
  offer(version: number, opts?: { failing?: boolean; signed?: boolean }): Promise<void>;
  agent(dir: string, extra?: Partial<AgentOptions>): Promise<Agent>;
}

async function rig(t: { teardown(fn: () => unknown): void }, device = 'pi1'): Promise<Rig> {
  const base = await agentRig(t, FLEET, device);
  return {
    ...base,
    async offer(version, opts = {}) {
      const smoke = opts.failing ? failingSmoke(fixture.smoke) : fixture.smoke;
      await base.server.offer(buildManifest({ model: 'occ', version, bytes: fixture.bytes, chunkBytes: 256, smoke, pair: opts.signed === false ? null : pair }), fixture.bytes);
    },
    agent: (dir, extra = {}) => base.start({ brokerUrl: base.broker.url, fleet: FLEET, id: device, stateDir: dir, pinned: pair.publicKey, tags: ['pi4', 'lab'], heartbeatS: 0.2, transfer: { chunkTimeoutMs: 300, manifestTimeoutMs: 300, maxStalledRounds: 3 }, ...extra }),
  };
}

const install = (version: number, extra: object = {}) => ({ type: 'install', model: 'occ', version, format: 'onnx', variant: 'float32', ...extra });

test('announces itself: retained status with hardware and runtimes, heartbeats, offline on stop', async (t) => {
  const r = await rig(t);
  const agent = await r.agent(tempDir());
  await waitFor(() => r.obs.statuses.some((s) => s.online), 5000, 'online status');
  const s = r.obs.statuses.find((x) => x.online) as DeviceStatusOnline;
  t.is(s.device, 'pi1');
  t.is(s.fleet, FLEET);
  t.is(s.hardware.arch, process.arch);
  t.is(s.hardware.platform, process.platform);
  t.is(s.hardware.nodeVersion, process.versions.node);
  t.true(s.hardware.cpus >= 1 && s.hardware.memoryBytes > 0);
  t.true(s.runtimes.includes('onnxruntime-node'));
  t.deepEqual(s.tags, ['pi4', 'lab']);
  t.deepEqual(s.models, []);
  await waitFor(() => r.obs.heartbeats.length >= 2, 5000, 'two heartbeats');
  t.deepEqual(r.obs.heartbeats.slice(0, 2).map((h) => h.seq), [0, 1]);
  // A late subscriber gets the retained status.
  const late = await DeviceObserver.connect(r.broker.url, FLEET, 'pi1');
  t.teardown(() => late.close());
  await waitFor(() => late.statuses.length > 0, 5000, 'retained status');
  t.true(late.statuses[0].online);
  await agent.stop();
  await waitFor(() => r.obs.lastStatus?.online === false, 5000, 'offline status');
  const n = r.obs.heartbeats.length;
  await new Promise((res) => setTimeout(res, 500));
  t.is(r.obs.heartbeats.length, n, 'no heartbeat after stop');
});

test('installs a signed ONNX model end to end, runs it, upgrades, rolls back and prunes old versions', async (t) => {
  const r = await rig(t);
  const dir = tempDir();
  const agent = await r.agent(dir, { keepPrevious: 1 });
  await r.offer(1);
  const res1 = await r.obs.command(install(1));
  t.true(res1.ok, JSON.stringify(res1));
  if (!res1.ok) return;
  t.is(res1.type, 'install');
  t.is(res1.detail, 'installed and activated occ v1');
  t.is(res1.transfer?.totalChunks, Math.ceil(fixture.bytes.length / 256));
  t.is(res1.transfer?.tamperedChunks, 0);
  t.deepEqual(res1.models, [{ model: 'occ', active: 1, shadow: null, previous: [] }]);
  // The active runner really is the model: it reproduces numpy's forward pass.
  const runner = agent.runner('occ');
  t.truthy(runner);
  const out = await runner!.run(Float32Array.from(fixture.smoke.inputs.flat()), [fixture.smoke.inputs.length, 4]);
  fixture.smoke.expected.flat().forEach((e, i) => t.true(Math.abs(out[0][i] - e) < 1e-5));
  t.false(existsSync(join(dir, 'pending.json')));
  // A transfer that completes at once is never written to disk (device/transfer-client.ts persistAfterMs).
  t.deepEqual(existsSync(join(dir, 'transfers', 'occ')) ? readdirSync(join(dir, 'transfers', 'occ')) : [], [], 'partial transfer cleaned up');

  await r.offer(2);
  const res2 = await r.obs.command(install(2));
  t.true(res2.ok);
  t.is(res2.ok && res2.detail, 'installed and activated occ v2 (previous v1 kept for rollback)');
  t.deepEqual(res2.models, [{ model: 'occ', active: 2, shadow: null, previous: [1] }]);

  const back = await r.obs.command({ type: 'rollback' });
  t.true(back.ok);
  t.is(back.ok && back.detail, 'rolled back occ from v2 to v1 (requested)');
  t.deepEqual(back.models, [{ model: 'occ', active: 1, shadow: null, previous: [] }]);
  t.deepEqual(readdirSync(join(dir, 'models', 'occ')).sort(), ['1', 'current.json'], 'the rolled-back-from slot is deleted');

  await r.offer(3);
  await r.offer(4);
  t.true((await r.obs.command(install(3))).ok);
  const res4 = await r.obs.command(install(4));
  t.deepEqual(res4.models, [{ model: 'occ', active: 4, shadow: null, previous: [3] }]);
  t.deepEqual(readdirSync(join(dir, 'models', 'occ')).sort(), ['3', '4', 'current.json'], 'keepPrevious 1: v1 pruned');
  const pointer = JSON.parse(readFileSync(join(dir, 'models', 'occ', 'current.json'), 'utf8')) as { active: number };
  t.is(pointer.active, 4);

  // Shadow install, then activation of the shadow version.
  await r.offer(5);
  const sh = await r.obs.command(install(5, { mode: 'shadow' }));
  t.deepEqual(sh.models, [{ model: 'occ', active: 4, shadow: 5, previous: [3] }]);
  const act = await r.obs.command({ type: 'activate', model: 'occ', version: 5 });
  t.is(act.ok && act.detail, 'activated occ v5 (was v4)');
  t.deepEqual(act.models, [{ model: 'occ', active: 5, shadow: null, previous: [4] }]);
  await waitFor(() => { const s = r.obs.lastStatus; return s?.online === true && s.models[0]?.active === 5; }, 5000, 'status shows v5');
  // Re-installing a version kept on disk needs no transfer.
  const again = await r.obs.command(install(4));
  t.true(again.ok);
  t.is(again.ok && again.transfer?.requestedChunks, 0);
  t.deepEqual(again.models, [{ model: 'occ', active: 4, shadow: null, previous: [5] }]);
  const st = await r.obs.command({ type: 'status' });
  t.is(st.ok && st.detail, 'status published');
});

test('a failing smoke test leaves the previous version active and reports why', async (t) => {
  const r = await rig(t);
  const dir = tempDir();
  const agent = await r.agent(dir);
  await r.offer(1);
  t.true((await r.obs.command(install(1))).ok);
  await r.offer(2, { failing: true });
  const res = await r.obs.command(install(2));
  t.false(res.ok);
  if (res.ok) return;
  t.is(res.error.code, 'SMOKE_TEST');
  t.regex(res.error.message, /^smoke test of occ v2: row 0 output 0 is [0-9.e-]+, expected [0-9.e-]+ .*; v2 not activated, v1 stays active$/);
  t.deepEqual(res.models, [{ model: 'occ', active: 1, shadow: null, previous: [] }]);
  t.deepEqual(readdirSync(join(dir, 'models', 'occ')).sort(), ['1', 'current.json'], 'failed slot removed');
  t.truthy(agent.runner('occ'));
});

test('bad commands are answered with an error result, never crash the agent', async (t) => {
  const r = await rig(t);
  await r.agent(tempDir());
  await r.obs.sendRaw('{not json');
  await waitFor(() => r.obs.results.length === 1, 5000, 'a result');
  t.like(r.obs.results[0], { id: null, type: null, ok: false, error: { code: 'NOT_JSON' } });
  await r.obs.sendRaw(JSON.stringify({ id: 'x1', type: 'reboot' }));
  const unknown = await r.obs.result('x1');
  t.like(unknown, { ok: false, error: { code: 'BAD_PAYLOAD', message: "command.type must be one of 'install', 'activate', 'rollback', 'status', got \"reboot\"" } });
  const badName = await r.obs.command(install(1, { model: '../../etc' }));
  t.like(badName, { ok: false, error: { code: 'BAD_PAYLOAD' } });
  t.regex(!badName.ok ? badName.error.message : '', /^install command\.model "\.\.\/\.\.\/etc" is not a model name/);
  const noManifest = await r.obs.command(install(9));
  t.like(noManifest, { ok: false, type: 'install', error: { code: 'TIMEOUT' } });
  const nothingToRollBack = await r.obs.command({ type: 'rollback', model: 'occ' });
  t.like(nothingToRollBack, { ok: false, error: { code: 'NOT_FOUND', message: 'model occ has no previous version to roll back to (active: none)' } });
  await r.offer(3, { signed: false }).catch(() => undefined); // the server refuses to offer it …
  const { publishAsync } = await import('../io/mqtt-client.ts');
  const { manifestTopic } = await import('../src/topics.ts');
  // … so a rogue publisher puts an unsigned manifest on the topic.
  await publishAsync(r.gw, manifestTopic(FLEET, 'occ', 3), JSON.stringify(buildManifest({ model: 'occ', version: 3, bytes: fixture.bytes, chunkBytes: 256, smoke: fixture.smoke, pair: null })), { qos: 1, retain: true });
  const unsigned = await r.obs.command(install(3));
  t.like(unsigned, { ok: false, error: { code: 'MODEL_SIGNATURE' } });
  await r.offer(4);
  const wrongVariant = await r.obs.command(install(4, { variant: 'int8' }));
  t.like(wrongVariant, { ok: false, error: { code: 'BAD_PAYLOAD', message: 'install command asks for occ v4 as onnx/int8, but its signed manifest is onnx/float32' } });
  const noTflite = await r.obs.command(install(4, { format: 'tflite' }));
  t.true(noTflite.ok === false && ['BAD_PAYLOAD', 'MODEL_UNSUPPORTED'].includes(noTflite.error.code));
  // Still alive and serving commands.
  t.true((await r.obs.command(install(4))).ok);
});

test('crash loop: maxBoots starts within the window after an activation roll the version back by itself', async (t) => {
  const r = await rig(t);
  const dir = tempDir();
  const crashLoop = { maxBoots: 3, windowS: 300 };
  const first = await r.agent(dir, { crashLoop });
  await r.offer(1);
  await r.offer(2);
  t.true((await r.obs.command(install(1))).ok);
  t.true((await r.obs.command(install(2))).ok);
  await first.stop();
  for (let boot = 1; boot <= 2; boot++) {
    const a = await r.agent(dir, { crashLoop });
    t.is(a.runner('occ') !== undefined, true);
    await a.stop();
    const p = JSON.parse(readFileSync(join(dir, 'models', 'occ', 'current.json'), 'utf8')) as { active: number };
    t.is(p.active, 2, `still v2 after restart ${boot}`);
  }
  await r.agent(dir, { crashLoop });
  const auto = await r.obs.result(null, 5000, (x) => x.type === 'rollback');
  t.true(auto.ok);
  t.regex(auto.ok ? auto.detail : '', /^automatic rollback of occ from v2 to v1 \(crash loop: the agent started 3 times within 300 s of activating v2\)$/);
  t.deepEqual(auto.models, [{ model: 'occ', active: 1, shadow: null, previous: [] }]);
});

test('an active model damaged on disk is refused at start and rolled back by itself', async (t) => {
  const r = await rig(t);
  const dir = tempDir();
  const first = await r.agent(dir);
  await r.offer(1);
  await r.offer(2);
  t.true((await r.obs.command(install(1))).ok);
  t.true((await r.obs.command(install(2))).ok);
  await first.stop();
  const file = join(dir, 'models', 'occ', '2', 'model.onnx');
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] ^= 0x01;
  writeFileSync(file, bytes);
  const a = await r.agent(dir);
  const auto = await r.obs.result(null, 5000, (x) => x.type === 'rollback');
  t.regex(auto.ok ? auto.detail : '', /^automatic rollback of occ from v2 to v1 \(v2 failed at start: slot occ\/2: artifact sha256 [0-9a-f]{16}… differs from the manifest's/);
  t.deepEqual(auto.models, [{ model: 'occ', active: 1, shadow: null, previous: [] }]);
  t.truthy(a.runner('occ'));
});

test('Agent.create refuses bad options with their reason', async (t) => {
  const base: AgentOptions = { brokerUrl: 'mqtt://127.0.0.1:1', fleet: 'lab', id: 'pi1', stateDir: tempDir(), pinned: pair.publicKey };
  const e1 = await t.throwsAsync(Agent.create({ ...base, id: 'pi/1' }));
  t.true(isEdgeloopError(e1, 'BAD_NAME'));
  t.regex(e1!.message, /^device name "pi\/1" is not allowed/);
  const e2 = await t.throwsAsync(Agent.create({ ...base, brokerUrl: 'http://x' }));
  t.is(e2?.message, 'brokerUrl must be an mqtt://, mqtts://, ws:// or wss:// URL, got "http://x"');
  const e3 = await t.throwsAsync(Agent.create({ ...base, heartbeatS: 0 }));
  t.is(e3?.message, 'heartbeatS must be in (0, 86400], got 0');
  const e4 = await t.throwsAsync(Agent.create({ ...base, tags: ['ok', 'bad tag'] }));
  t.is(e4?.message, 'tag "bad tag" must be 1-64 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit');
  const e5 = await t.throwsAsync(Agent.create({ ...base, crashLoop: { maxBoots: 0, windowS: 10 } }));
  t.true(isEdgeloopError(e5, 'BAD_ARGUMENT'));
  const e6 = await t.throwsAsync(Agent.create({ ...base, keepPrevious: -1 }));
  t.is(e6?.message, 'keepPrevious must be an integer in 0..100, got -1');
});
