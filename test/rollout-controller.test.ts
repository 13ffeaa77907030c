/**
 * The rollout controller alone: a real SQLite file and fleet registry, an injected clock, commands
 * captured instead of published. Exact timing of waves, timeouts, late results, and every refusal.
 */
import test from 'ava';
import { join } from 'node:path';
import { openDatabase } from '../io/sqlite.ts';
import { sqliteSql } from '../gateway/sql.ts';
import { FleetRegistry } from '../gateway/fleet.ts';
import { RolloutStore } from '../gateway/rollout-store.ts';
import { RolloutController, type ModelSource } from '../gateway/rollout-controller.ts';
import { parseRolloutRequest } from '../gateway/rollout-request.ts';
import { isEdgeloopError, EdgeloopError } from '../src/errors.ts';
import type { Command, CommandResult, DeviceStatusOnline } from '../src/contracts/device.ts';
import { unsignedManifest } from './helpers/registry-fixture.ts';
import { tempDir } from './helpers/tmp.ts';

const models: ModelSource = {
  async resolve(ref) {
    if (!ref.startsWith('occ')) throw new EdgeloopError('NOT_FOUND', `model ${ref} is not registered`);
    return { model: 'occ', version: ref.endsWith('@1') ? 1 : 2 };
  },
  async manifest(ref) { return { ...unsignedManifest(), model: 'occ', version: Number(ref.split('@')[1]) }; },
  async artifact() { return new Uint8Array(5000); },
};

function status(device: string, active: number | null, fleet = 'lab'): DeviceStatusOnline {
  return {
    online: true, fleet, device, tsMs: 1, startedAtMs: 1, agentVersion: 't', runtimes: ['onnxruntime-node'], tags: ['pi4'],
    hardware: { arch: 'arm64', platform: 'linux', nodeVersion: '20', cpus: 4, memoryBytes: 1 },
    models: active === null ? [] : [{ model: 'occ', active, shadow: null, previous: [] }],
  };
}

async function setup(devices = 5, withModels: boolean | ModelSource = true) {
  const clock = { t: 1_000_000 };
  const db = openDatabase(join(tempDir(), 'c.db'));
  const sql = sqliteSql(db);
  const fleet = await FleetRegistry.create({ sql, now: () => clock.t });
  for (let i = 1; i <= devices; i++) await fleet.applyStatus('lab', `d${i}`, status(`d${i}`, 1));
  const sent: { device: string; command: Command }[] = [];
  const offered: string[] = [];
  let n = 0;
  const c = new RolloutController({
    store: await RolloutStore.create(sql), fleet, models: withModels === true ? models : withModels === false ? null : withModels, now: () => clock.t, newId: () => `ro-${++n}`,
    send: async (_f, device, command) => { sent.push({ device, command }); },
    offer: async (f, m) => { offered.push(`${f}:${m.model}@${m.version}`); },
  });
  const ok = (device: string, cmd: Command, active: number | null): CommandResult => ({ id: cmd.id, type: cmd.type, ok: true, tsMs: clock.t, detail: 'ok', models: active === null ? [] : [{ model: 'occ', active, shadow: null, previous: [] }] });
  const fail = (cmd: Command, code: string): CommandResult => ({ id: cmd.id, type: cmd.type, ok: false, tsMs: clock.t, error: { code, message: `${code} on device` }, models: [] });
  return { clock, db, fleet, c, sent, offered, ok, fail };
}

const req = (body: object) => parseRolloutRequest({ model: 'occ@2', target: 'all', fleet: 'lab', ...body });

test('waves start only after the previous wave settled plus the interval, to the millisecond', async (t) => {
  const { clock, c, sent, offered, ok } = await setup(5);
  const r = await c.create(req({ strategy: 'waves', canary: '1', waveSize: '2', waveInterval: '10s', seed: 1 }));
  t.deepEqual(offered, ['lab:occ@2'], 'the model is offered before any install');
  t.is(sent.length, 1, 'only the canary');
  const canary = sent[0]!;
  t.deepEqual({ ...canary.command, id: 'x' }, { id: 'x', type: 'install', model: 'occ', version: 2, format: 'onnx', variant: 'float32', mode: 'active' });
  t.is(canary.command.id, `ro-1/${canary.device}/install`);
  t.is((await c.store.device(r.id, canary.device))!.fromVersion, 1);
  clock.t += 2000;
  await c.onCommandResult('lab', canary.device, ok(canary.device, canary.command, 2));
  await c.tick();
  t.is((await c.summary(r.id)).waveSettledAtMs, clock.t);
  clock.t += 9999;
  await c.tick();
  t.is(sent.length, 1, 'soaking');
  clock.t += 1;
  await c.tick();
  t.is(sent.length, 3, 'wave 2 after exactly 10 s');
  for (const s of sent.slice(1)) await c.onCommandResult('lab', s.device, ok(s.device, s.command, 2));
  await c.tick(); // the service ticks after every batch of device messages
  clock.t += 10_000;
  await c.tick();
  t.is(sent.length, 5);
  for (const s of sent.slice(3)) await c.onCommandResult('lab', s.device, ok(s.device, s.command, 2));
  await c.tick();
  clock.t += 10_000;
  await c.tick();
  const done = await c.summary(r.id);
  t.is(done.state, 'completed');
  t.is(done.counts.active, 5);
  t.is(done.reason, '5 of 5 devices active, 0 failed');
  t.deepEqual(new Set(sent.map((s) => s.device)).size, 5, 'each device got one install');
});

test('a restarted controller sends the installs in flight again once its grace ends (not downgrades, not finished devices, once)', async (t) => {
  const { clock, db, fleet, c, sent, ok } = await setup(4);
  const r = await c.create(req({ strategy: 'all-at-once', abortFailureRate: '100%' }));
  t.is(sent.length, 4);
  const first = new Map(sent.map((s) => [s.device, s.command]));
  // d1 finished; d2 is verifying; d3 and d4 never got their command (the process died after the commit).
  await c.onCommandResult('lab', 'd1', ok('d1', first.get('d1')!, 2));
  await c.onHeartbeat('lab', 'd2', { tsMs: 1, seq: 1, uptimeS: 1, active: { occ: 1 }, transfer: { model: 'occ', version: 2, receivedChunks: 5, totalChunks: 5 } });
  // d4 meanwhile reports it ran v3 once: its install of v2 is a downgrade and needs the signed rollback it carried.
  await fleet.applyModels('lab', 'd4', [{ model: 'occ', active: 3, shadow: null, previous: [1] }]);

  clock.t += 5000;
  const resent: { device: string; command: Command }[] = [];
  const restarted = new RolloutController({
    store: await RolloutStore.create(sqliteSql(db)), fleet, models, now: () => clock.t,
    send: async (_f, device, command) => { resent.push({ device, command }); },
    offer: async () => undefined,
  });
  await restarted.resume(2000);
  await restarted.tick();
  t.deepEqual(resent, [], 'nothing during the grace: devices are still reconnecting');
  clock.t += 2000;
  await restarted.tick();
  t.deepEqual(resent.map((x) => x.device).sort(), ['d2', 'd3'], 'the installs in flight, not the finished one, not the downgrade');
  for (const x of resent) t.deepEqual(x.command, first.get(x.device), 'the same command: same id, model, version, mode');
  t.regex((await restarted.store.events(r.id)).map((e) => `${e.kind}: ${e.detail}`).join('\n'), /resent: 2 installs in flight sent again after the controller resumed/);
  await restarted.tick();
  t.is(resent.length, 2, 'once');
  // A result for a resent install completes the device as usual.
  await restarted.onCommandResult('lab', 'd3', ok('d3', first.get('d3')!, 2));
  t.is((await restarted.store.device(r.id, 'd3'))!.state, 'active');
});

test('heartbeat progress moves a device to verifying; a failed smoke test is recorded with the device code', async (t) => {
  const { c, sent, fail } = await setup(2);
  const r = await c.create(req({ strategy: 'all-at-once', abortFailureRate: '100%' }));
  const [a, b] = sent;
  await c.onHeartbeat('lab', a!.device, { tsMs: 1, seq: 1, uptimeS: 1, active: { occ: 1 }, transfer: { model: 'occ', version: 2, receivedChunks: 2, totalChunks: 5 } });
  t.like(await c.store.device(r.id, a!.device), { state: 'transferring', receivedChunks: 2, totalChunks: 5 });
  await c.onHeartbeat('lab', a!.device, { tsMs: 1, seq: 2, uptimeS: 1, active: { occ: 1 }, transfer: { model: 'occ', version: 2, receivedChunks: 5, totalChunks: 5 } });
  t.is((await c.store.device(r.id, a!.device))!.state, 'verifying');
  await c.onCommandResult('lab', a!.device, fail(a!.command, 'SMOKE_TEST'));
  t.deepEqual((await c.store.device(r.id, a!.device))!.error, { code: 'SMOKE_TEST', message: 'SMOKE_TEST on device' });
  // A result from another device, or with an unknown id, changes nothing.
  await c.onCommandResult('lab', b!.device, fail(a!.command, 'RUNTIME'));
  await c.onCommandResult('lab', b!.device, { ...fail(b!.command, 'RUNTIME'), id: 'ro-9/x/install' });
  t.is((await c.store.device(r.id, b!.device))!.state, 'transferring');
});

test('a timeout fails the device and aborts; the active ones are rolled back; a late success is rolled back too', async (t) => {
  const { clock, c, sent, ok } = await setup(3);
  const r = await c.create(req({ strategy: 'all-at-once', timeout: '30s', abortFailureRate: '20%', seed: 5 }));
  const [a, b, slow] = sent;
  await c.onCommandResult('lab', a!.device, ok(a!.device, a!.command, 2));
  await c.onCommandResult('lab', b!.device, ok(b!.device, b!.command, 2));
  clock.t += 30_000;
  await c.tick();
  t.is((await c.summary(r.id)).state, 'running', 'not past the timeout yet');
  clock.t += 1;
  await c.tick();
  const s = await c.summary(r.id);
  t.is(s.state, 'aborted');
  t.is(s.reason, 'aborted automatically: failure rate 33.3% (1 of 3 devices attempted) is above the abort threshold 20%');
  t.deepEqual((await c.store.device(r.id, slow!.device))!.error, { code: 'TIMEOUT', message: 'no install result within 30000 ms (last state transferring)' });
  const rollbacks = sent.slice(3);
  t.deepEqual(rollbacks.map((x) => [x.device, x.command]).sort(), [a!, b!].map((x) => [x.device, { id: `ro-1/${x.device}/rollback`, type: 'rollback', model: 'occ', toVersion: 1 }]).sort());
  // The slow device's install succeeds after all: it runs v2, so it is rolled back as well.
  await c.onCommandResult('lab', slow!.device, ok(slow!.device, slow!.command, 2));
  t.is(sent.length, 6);
  t.deepEqual(sent[5], { device: slow!.device, command: { id: `ro-1/${slow!.device}/rollback`, type: 'rollback', model: 'occ', toVersion: 1 } });
  t.true((await c.store.events(r.id)).some((e) => e.kind === 'late-result' && e.device === slow!.device));
  for (const x of sent.slice(3)) await c.onCommandResult('lab', x.device, ok(x.device, x.command, 1));
  t.deepEqual((await c.summary(r.id)).counts, { pending: 0, transferring: 0, verifying: 0, active: 0, failed: 0, 'rolled-back': 3 });
  t.is((await c.summary(r.id)).state, 'aborted', 'still aborted, with its reason');
});

test('operator abort keeps updated devices; rollback reaches them; state rules are enforced', async (t) => {
  const { c, sent, ok } = await setup(2);
  const r = await c.create(req({ strategy: 'all-at-once' }));
  await c.onCommandResult('lab', sent[0]!.device, ok(sent[0]!.device, sent[0]!.command, 2));
  await c.abort(r.id, 'wrong alias');
  t.is((await c.summary(r.id)).reason, 'wrong alias');
  t.is(sent.length, 2, 'abort sends no rollback');
  // The second device finishes after the abort: it keeps v2 (abort does not undo).
  await c.onCommandResult('lab', sent[1]!.device, ok(sent[1]!.device, sent[1]!.command, 2));
  t.is(sent.length, 2);
  const errs: [() => Promise<unknown>, string][] = [
    [() => c.pause(r.id), `cannot pause rollout ${r.id}: it is aborted (pause needs running)`],
    [() => c.resumeRollout(r.id), `cannot resume rollout ${r.id}: it is aborted (resume needs paused)`],
    [() => c.abort(r.id), `cannot abort rollout ${r.id}: it is aborted (abort needs running or paused)`],
  ];
  for (const [fn, message] of errs) {
    const err = await t.throwsAsync(fn);
    t.true(isEdgeloopError(err, 'BAD_ARGUMENT'));
    t.is(err!.message, message);
  }
  await c.rollback(r.id);
  t.is((await c.summary(r.id)).state, 'rolled-back');
  t.deepEqual(sent.slice(2).map((x) => x.command.type), ['rollback', 'rollback']);
  const again = await t.throwsAsync(() => c.rollback(r.id));
  t.is(again!.message, `cannot roll back rollout ${r.id}: it is rolled-back (roll back needs running or paused or completed or aborted)`);
});

test('refusals: no registry, unknown model, busy model, no or several fleets, nobody online, unknown rollout', async (t) => {
  const none = await setup(1, false);
  const e1 = await t.throwsAsync(none.c.create(req({})));
  t.true(isEdgeloopError(e1, 'NOT_FOUND'));
  t.is(e1!.message, 'this gateway has no model registry configured: rollouts need one to resolve models');

  const { c, fleet, clock } = await setup(2);
  const e2 = await t.throwsAsync(c.create(req({ model: 'nope@1' })));
  t.true(isEdgeloopError(e2, 'NOT_FOUND'));

  const first = await c.create(req({}));
  const e3 = await t.throwsAsync(c.create(req({})));
  t.true(isEdgeloopError(e3, 'BAD_ARGUMENT'));
  t.is(e3!.message, `rollout ${first.id} of model occ is running in fleet lab: abort it or let it finish before starting another`);
  await fleet.applyStatus('farm', 'x1', status('x1', null, 'farm'));
  const e4 = await t.throwsAsync(c.create(parseRolloutRequest({ model: 'occ@1', target: 'all' })));
  t.is(e4!.message, 'fleet is required: this gateway knows farm, lab');
  await fleet.applyStatus('farm', 'x1', { online: false });
  const e5 = await t.throwsAsync(c.create(parseRolloutRequest({ model: 'occ@1', target: 'device:x1,ghost', fleet: 'farm' })));
  t.true(isEdgeloopError(e5, 'BAD_ARGUMENT'));
  t.is(e5!.message, 'target device:x1,ghost matches no online device in fleet farm (skipped: ghost: unknown to the fleet registry (never sent a status); x1: offline)');
  const e6 = await t.throwsAsync(() => c.summary('ro-404'));
  t.true(isEdgeloopError(e6, 'NOT_FOUND'));
  t.is(e6!.message, 'rollout "ro-404" does not exist (see GET /v1/rollouts)');
  void clock;
  const liar = await setup(1, { ...models, manifest: async () => ({ ...unsignedManifest(), model: 'occ', version: 7 }) });
  const e8 = await t.throwsAsync(liar.c.create(req({})));
  t.true(isEdgeloopError(e8, 'MODEL_CORRUPT'));
  t.is(e8!.message, 'the registry returned the manifest of occ@7 for occ@2 (onnx/float32)');
  t.is(liar.sent.length, 0, 'nothing sent');
  t.deepEqual(await liar.c.list(), [], 'nothing recorded');
  const empty = await setup(0);
  const e7 = await t.throwsAsync(empty.c.create(parseRolloutRequest({ model: 'occ@1', target: 'all' })));
  t.is(e7!.message, 'no device has reported to this gateway yet: there is no fleet to roll out to');
});

test('deferred devices go last: never the canary while other targets can be, still in the rollout', async (t) => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const { c, sent } = await setup(4);
    const r = await c.create(req({ strategy: 'canary', canary: '1', waveInterval: '1h', seed, defer: ['d3', 'nope'] }));
    t.is(sent.length, 1);
    t.not(sent[0]!.device, 'd3', `seed ${seed}: the deferred device is not the canary`);
    const devices = await c.store.devices(r.id);
    t.deepEqual(devices.map((d) => d.device).slice(-1), ['d3'], 'last in the order, in the last wave');
    t.is(devices.length, 4, 'a device that is not a target is ignored');
    t.regex((await c.store.events(r.id)).find((e) => e.kind === 'created')!.detail, /; deferred to the end: d3$/);
  }
  // Every target deferred: the order is the seeded one, nothing is left out.
  const { c, sent } = await setup(2);
  await c.create(req({ strategy: 'canary', canary: '1', seed: 1, defer: ['d1', 'd2'] }));
  t.is(sent.length, 1);
  const bad = t.throws(() => parseRolloutRequest({ model: 'occ@2', target: 'all', defer: 'd1' }));
  t.regex(bad!.message, /defer must be an array of device names, got "d1"/);
});
