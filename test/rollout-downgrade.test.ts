/**
 * Rolling a fleet back to an older model version through the rollout controller (issues #6/#10): a real
 * aedes broker, a real SQLite file, the real registry signing manifests and rollbacks, a RolloutService
 * and real device agents that refuse downgrades (keepPrevious 0: an older version is never kept on the
 * device, so only a signed rollback can bring it back).
 *   - v2 everywhere: a rollout of v1 without allowDowngrade is refused at create time, naming every
 *     device; with it each install carries a signed rollback and every device ends active on v1; the
 *     same signed command replayed is refused by the device.
 *   - A device back on v1 after running v3 reports its high-water mark in its status: a rollout of v2
 *     is a downgrade for it although v2 > its active v1, and is refused or signed accordingly.
 */
import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { startEmbeddedBroker } from '../gateway/broker.ts';
import { Registry } from '../gateway/registry.ts';
import { RolloutService } from '../gateway/rollout.ts';
import type { RolloutSummary } from '../gateway/rollout-controller.ts';
import { parseRolloutRequest, type RolloutRequest } from '../gateway/rollout-request.ts';
import { Agent } from '../device/agent.ts';
import { pinKeys } from '../device/verify.ts';
import { openDatabase } from '../io/sqlite.ts';
import { sqliteSql } from '../gateway/sql.ts';
import { connectMqtt, endAsync, publishAsync } from '../io/mqtt-client.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { deviceTopic } from '../src/topics.ts';
import { validateCommand, validateCommandResult, type Command, type CommandResult } from '../src/contracts/device.ts';
import { mlpFixture } from './helpers/device-model.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

const FLEET = 'lab';
const MODEL = 'occ';

async function rig(t: ExecutionContext, versions: number, devices: number) {
  const broker = await startEmbeddedBroker({ port: 0 });
  const dir = tempDir('edgeloop-downgrade-');
  const db = openDatabase(join(dir, 'edgeloop.db'));
  const registry = await Registry.create({ database: db, keyDir: join(dir, 'keys') });
  const fx = mlpFixture();
  for (let v = 1; v <= versions; v++) {
    await registry.register({
      model: MODEL, task: 'classification', classes: ['empty', 'occupied'], createdBy: 'test', chunkBytes: 256,
      artifacts: [{ format: 'onnx', variant: 'float32', bytes: fx.bytes, metrics: {}, io: { inputs: [{ name: 'input', shape: [-1, 4], dtype: 'float32' }], outputs: [{ name: 'probabilities', shape: [-1, 2], dtype: 'float32' }] } }],
      pipeline: { spec: { v }, fitted: {} }, lineage: {}, smokeTest: fx.smoke, reference: null,
    });
  }
  // The gateway's side of the wire: every command and every result, as published.
  const spy = await connectMqtt(broker.url, { clientId: 'spy' });
  const commands: { device: string; payload: string; command: Command }[] = [];
  const results: { device: string; result: CommandResult }[] = [];
  spy.on('message', (topic, payload) => {
    const device = topic.split('/')[2]!;
    if (topic.endsWith('/cmd')) commands.push({ device, payload: payload.toString(), command: validateCommand(JSON.parse(payload.toString())) });
    else results.push({ device, result: validateCommandResult(JSON.parse(payload.toString())) });
  });
  await spy.subscribeAsync([`edgeloop/${FLEET}/+/cmd`, `edgeloop/${FLEET}/+/cmd/result`], { qos: 1 });
  const service = await RolloutService.create({ sql: sqliteSql(db), brokerUrl: broker.url, registry, tickMs: 50, resumeGraceMs: 300 });
  await service.start();
  const agents: Agent[] = [];
  t.teardown(async () => {
    for (const a of agents) await a.stop();
    await service.stop();
    await endAsync(spy, true);
    await broker.stop();
    db.close();
  });
  const pinned = pinKeys([registry.publicKey().pem]);
  for (let i = 1; i <= devices; i++) {
    const agent = await Agent.create({
      brokerUrl: broker.url, fleet: FLEET, id: `pi${i}`, stateDir: tempDir(`edgeloop-agent-pi${i}-`), pinned, tags: ['pi4'], heartbeatS: 0.2, keepPrevious: 0,
      transfer: { chunkTimeoutMs: 300, manifestTimeoutMs: 1000, maxStalledRounds: 5 },
    });
    await agent.start();
    agents.push(agent);
  }
  await waitFor(async () => (await service.fleet.list({ fleet: FLEET })).filter((d) => d.health === 'online').length === devices, 10_000, 'agents in the fleet registry');
  const create = (request: Partial<RolloutRequest>): Promise<RolloutSummary> =>
    service.controller.create(parseRolloutRequest({ fleet: FLEET, target: 'all', strategy: 'all-at-once', timeout: '20s', ...request }));
  const run = async (request: Partial<RolloutRequest>): Promise<RolloutSummary> => {
    const { id } = await create(request);
    await waitFor(async () => ['completed', 'aborted'].includes((await service.controller.summary(id)).state), 20_000, `rollout ${id} to finish`);
    return service.controller.summary(id);
  };
  const activeVersions = async () => {
    const out: Record<string, number | null> = {};
    for (const a of agents) {
      const s = await a.status();
      out[s.device] = s.models.find((m) => m.model === MODEL)?.active ?? null;
    }
    return out;
  };
  return { spy, registry, service, agents, commands, results, create, run, activeVersions };
}

const installs = (commands: { device: string; command: Command }[], version: number) =>
  commands.filter((c): c is { device: string; payload: string; command: Extract<Command, { type: 'install' }> } => c.command.type === 'install' && c.command.version === version);

test('v2 everywhere: rolling back to v1 is refused without allowDowngrade, naming the devices; with it every device runs v1 again and a replayed signed install is refused', async (t) => {
  const r = await rig(t, 2, 3);
  const up = await r.run({ model: `${MODEL}@2` });
  t.is(up.state, 'completed', up.reason ?? '');
  t.false(up.allowDowngrade);
  t.deepEqual(await r.activeVersions(), { pi1: 2, pi2: 2, pi3: 2 });
  t.true(installs(r.commands, 2).every((c) => c.command.rollback === undefined), 'an upgrade carries no signed rollback');

  const before = r.commands.length;
  const err = await t.throwsAsync(r.create({ model: `${MODEL}@1` }));
  t.true(isEdgeloopError(err, 'BAD_ARGUMENT'));
  t.is(err!.message, 'rollout of occ@1 would downgrade 3 devices of lab that already ran a newer version: pi1 (v2 → v1), pi2 (v2 → v1), pi3 (v2 → v1); devices refuse that without a signed rollback: set allowDowngrade: true (CLI --allow-downgrade) to roll them back');
  t.is((await r.service.controller.list()).length, 1, 'the refused rollout was not stored');
  t.is(r.commands.length, before, 'no command left the gateway');

  const bad = t.throws(() => parseRolloutRequest({ model: 'occ@1', target: 'all', allowDowngrade: 'yes' }));
  t.true(isEdgeloopError(bad, 'BAD_ARGUMENT'));
  t.is(bad!.message, 'invalid rollout request (1 problem):\n  - allowDowngrade must be true or false, got "yes"');

  const down = await r.run({ model: `${MODEL}@1`, allowDowngrade: true });
  t.is(down.state, 'completed', down.reason ?? '');
  t.true(down.allowDowngrade);
  t.deepEqual(down.counts, { pending: 0, transferring: 0, verifying: 0, active: 3, failed: 0, 'rolled-back': 0 });
  t.deepEqual(await r.activeVersions(), { pi1: 1, pi2: 1, pi3: 1 }, 'every device really serves v1');

  const signed = installs(r.commands, 1);
  t.deepEqual(signed.map((c) => c.device).sort(), ['pi1', 'pi2', 'pi3']);
  for (const c of signed) t.is(c.command.rollback?.keyId, r.registry.publicKey().keyId, `${c.device}: the install carries a rollback signed by the registry`);
  const events = await r.service.controller.store.events(down.id);
  t.regex(events.find((e) => e.kind === 'created')!.detail, /; downgrade allowed \(signed rollbacks for pi1 \(v2 → v1\), pi2 \(v2 → v1\), pi3 \(v2 → v1\)\)$/);
  const signedEvents = events.filter((e) => e.kind === 'signed-rollback');
  t.deepEqual(signedEvents.map((e) => e.device).sort(), ['pi1', 'pi2', 'pi3']);
  for (const e of signedEvents) t.regex(e.detail, /^install of occ@1 carries a rollback signed by key [0-9a-f]{16}, issued at \d+ \(the device already ran v2\)$/);

  // The very same command, byte for byte, published again (e.g. by someone who recorded it).
  const replay = signed.find((c) => c.device === 'pi1')!;
  await publishAsync(r.spy, deviceTopic('cmd', FLEET, 'pi1'), replay.payload, { qos: 1 });
  await waitFor(() => r.results.some((x) => x.device === 'pi1' && x.result.id === replay.command.id && !x.result.ok), 15_000, 'the replay to be answered');
  const refused = r.results.find((x) => x.device === 'pi1' && x.result.id === replay.command.id && !x.result.ok)!.result;
  t.like(refused, { ok: false, error: { code: 'MODEL_DOWNGRADE' } });
  if (!refused.ok) t.regex(refused.error.message, /^signed rollback of occ to v1 issued at \d+ is a replay: this device already accepted a rollback of occ issued at \d+; sign a new one$/);
  t.deepEqual(await r.activeVersions(), { pi1: 1, pi2: 1, pi3: 1 });
  // The late failure answers a command of a device already active: the rollout's record stays as it was.
  t.like(await r.service.controller.summary(down.id), { state: 'completed', counts: { active: 3, failed: 0 } });
});

test('a device back on v1 after running v3 reports its high-water mark: a rollout of v2 is a downgrade for it and is refused, then signed', async (t) => {
  const r = await rig(t, 3, 2);
  t.is((await r.run({ model: `${MODEL}@3` })).state, 'completed');
  const back = await r.run({ model: `${MODEL}@1`, allowDowngrade: true });
  t.is(back.state, 'completed', back.reason ?? '');
  t.deepEqual(await r.activeVersions(), { pi1: 1, pi2: 1 });

  // Only the mark tells: v1 active, nothing kept (keepPrevious 0), v3 gone from the device.
  const status = await r.agents[0]!.status();
  t.deepEqual(status.models, [{ model: MODEL, active: 1, shadow: null, previous: [], highWater: 3 }]);
  await waitFor(async () => (await r.service.fleet.get(FLEET, 'pi2'))?.models[0]?.highWater === 3 && (await r.service.fleet.get(FLEET, 'pi1'))?.models[0]?.highWater === 3, 10_000, 'the marks in the fleet registry');
  t.deepEqual((await r.service.fleet.get(FLEET, 'pi1'))!.models, [{ model: MODEL, active: 1, shadow: null, previous: [], highWater: 3 }]);

  const err = await t.throwsAsync(r.create({ model: `${MODEL}@2` }));
  t.true(isEdgeloopError(err, 'BAD_ARGUMENT'));
  t.regex(err!.message, /^rollout of occ@2 would downgrade 2 devices of lab that already ran a newer version: pi1 \(v3 → v2\), pi2 \(v3 → v2\);/);

  const mid = await r.run({ model: `${MODEL}@2`, allowDowngrade: true });
  t.is(mid.state, 'completed', mid.reason ?? '');
  t.deepEqual(await r.activeVersions(), { pi1: 2, pi2: 2 });
  t.true(installs(r.commands, 2).every((c) => c.command.rollback !== undefined), 'both installs of v2 were signed');
});
