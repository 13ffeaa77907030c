/**
 * The contract the rollout state passes on every database it runs on (a SQLite file, a PostgreSQL
 * schema shared by scaled-out gateways): gateway/sql.ts `transaction` (commit, rollback, nesting, what
 * joins it), the rollout store (rows, counts, updates, events, values past 32 bits) and the fleet
 * registry (upserts written per dialect: heartbeat gaps, last seen never going back, the high-water
 * mark kept). Call `rolloutStoreContract(name, open)` from a *.test.ts file; `open` gives two SqlDb
 * handles on the same tables (two connections, as two gateway instances).
 */
import test from 'ava';
import { FleetRegistry, highestKnownVersion } from '../gateway/fleet.ts';
import { RolloutStore, type RolloutDeviceRecord, type RolloutRecord } from '../gateway/rollout-store.ts';
import type { SqlDb } from '../gateway/sql.ts';
import { parseRolloutRequest } from '../gateway/rollout-request.ts';
import { isEdgeloopError } from '../src/errors.ts';
import type { DeviceStatusOnline } from '../src/contracts/device.ts';

export type SqlPair = { a: SqlDb; b: SqlDb; close(): Promise<void> };

const T0 = 1_790_000_000_000; // milliseconds past 2^31 and 2^32: 64-bit columns on both databases

function rollout(id: string, overrides: Partial<RolloutRecord> = {}): RolloutRecord {
  const plan = parseRolloutRequest({ model: 'occ@2', fleet: 'lab', target: 'all', strategy: 'waves', waveSize: 2, createdBy: 'test' }).plan;
  return {
    id, fleet: 'lab', model: 'occ', version: 2, ref: 'occ@2', format: 'onnx', variant: 'float32', plan, seed: 0xfffffff0, state: 'running', reason: null,
    waves: 2, currentWave: -1, waveStartedAtMs: null, waveSettledAtMs: null, skipped: [{ device: 'pi9', why: 'offline' }], control: [], rollbackRequested: false,
    createdAtMs: T0, updatedAtMs: T0, finishedAtMs: null, createdBy: 'test', ...overrides,
  };
}

function devices(names: string[]): Omit<RolloutDeviceRecord, 'rolloutId'>[] {
  return names.map((device, position) => ({
    device, wave: Math.floor(position / 2), position, state: 'pending', installMode: 'active', fromVersion: 1, commandId: null, dispatchedAtMs: null,
    finishedAtMs: null, receivedChunks: null, totalChunks: null, error: null, rollbackCommandId: null, rollbackSentAtMs: null, rollbackError: null,
    shadow: { agree: 0, total: 0 }, updatedAtMs: T0,
  }));
}

function status(device: string, extra: Partial<DeviceStatusOnline> = {}): DeviceStatusOnline {
  return {
    online: true, fleet: 'lab', device, tsMs: T0, startedAtMs: T0 - 5000, agentVersion: '0.1.0',
    hardware: { arch: 'arm64', platform: 'linux', nodeVersion: '20.11.0', cpus: 4, memoryBytes: 4 * 2 ** 30 },
    runtimes: ['onnxruntime-node'], tags: ['pi4'], models: [{ model: 'occ', active: 3, shadow: null, previous: [2], highWater: 3 }], ...extra,
  };
}

export function rolloutStoreContract(name: string, open: () => Promise<SqlPair>): void {
  test(`${name}: transaction commits, rolls back on a rejection, and nested calls join the outer one`, async (t) => {
    const { a, b, close } = await open();
    t.teardown(close);
    const store = await RolloutStore.create(a);
    await store.transaction(async () => {
      await store.insert(rollout('ro-1'), devices(['pi1', 'pi2']));
      await store.transaction(async () => store.event('ro-1', null, T0, 'created', 'nested'));
      t.is((await store.devices('ro-1')).length, 2, 'the transaction reads its own writes');
    });
    const other = await RolloutStore.create(b);
    t.is((await other.mustGet('ro-1')).seed, 0xfffffff0, 'committed, visible on the other connection');
    t.deepEqual((await other.events('ro-1')).map((e) => e.detail), ['nested']);

    const failed = await t.throwsAsync(store.transaction(async () => {
      await store.updateRollout('ro-1', { state: 'paused' }, T0 + 1);
      await store.event('ro-1', null, T0 + 1, 'paused', 'rolled back');
      throw new Error('boom');
    }));
    t.is(failed?.message, 'boom');
    t.is(await other.state('ro-1'), 'running', 'nothing of the failed transaction remains');
    t.is((await other.events('ro-1')).length, 1);

    // A statement failing inside (a duplicate key) takes the earlier statements with it.
    await t.throwsAsync(store.transaction(async () => {
      await store.event('ro-1', null, T0 + 2, 'x', 'gone');
      await store.insert(rollout('ro-1'), []);
    }));
    t.is((await other.events('ro-1')).length, 1);
  });

  test(`${name}: rollout rows, per-state and per-wave counts, updates, command lookups and events`, async (t) => {
    const { a, b, close } = await open();
    t.teardown(close);
    const store = await RolloutStore.create(a);
    await store.insert(rollout('ro-2'), devices(['pi1', 'pi2', 'pi3']));
    await store.insert(rollout('ro-3', { state: 'completed', createdAtMs: T0 + 10, finishedAtMs: T0 + 20 }), devices(['pi1']));
    const r = await store.mustGet('ro-2');
    t.like(r, { fleet: 'lab', model: 'occ', version: 2, state: 'running', waves: 2, currentWave: -1, rollbackRequested: false, createdAtMs: T0 });
    t.deepEqual(r.skipped, [{ device: 'pi9', why: 'offline' }]);
    t.is(r.plan.strategy, 'waves');
    t.deepEqual((await store.live()).map((x) => x.id), ['ro-2']);
    t.deepEqual((await store.list()).map((x) => x.id), ['ro-3', 'ro-2'], 'newest first');
    const err = await t.throwsAsync(store.mustGet('ro-x'));
    t.true(isEdgeloopError(err) && err.code === 'NOT_FOUND');

    await store.transaction(async () => {
      await store.updateRollout('ro-2', { currentWave: 0, waveStartedAtMs: T0 + 100, rollbackRequested: true }, T0 + 100);
      for (const d of ['pi1', 'pi2']) await store.updateDevice('ro-2', d, { state: 'transferring', commandId: `ro-2/${d}/install`, dispatchedAtMs: T0 + 100 }, T0 + 100);
    });
    await store.updateDevice('ro-2', 'pi1', { state: 'failed', finishedAtMs: T0 + 200, errorCode: 'SMOKE_TEST', errorMessage: 'outputs differ' }, T0 + 200);
    await store.addShadow('ro-2', 'pi2', 3, 4);
    await store.addShadow('ro-2', 'pi2', 1, 1);
    const reader = await RolloutStore.create(b);
    t.like(await reader.mustGet('ro-2'), { currentWave: 0, waveStartedAtMs: T0 + 100, rollbackRequested: true, updatedAtMs: T0 + 100 });
    t.like(await reader.counts('ro-2'), { pending: 1, transferring: 1, failed: 1, active: 0 });
    t.like(await reader.waveCounts('ro-2', 0), { transferring: 1, failed: 1, pending: 0 });
    t.like(await reader.waveCounts('ro-2', 1), { pending: 1 });
    t.deepEqual((await reader.waveDevices('ro-2', 1)).map((d) => d.device), ['pi3']);
    const pi1 = await reader.device('ro-2', 'pi1');
    t.deepEqual(pi1?.error, { code: 'SMOKE_TEST', message: 'outputs differ' });
    t.is(pi1?.finishedAtMs, T0 + 200);
    t.deepEqual((await reader.device('ro-2', 'pi2'))?.shadow, { agree: 4, total: 5 });
    t.is((await reader.byCommand('ro-2/pi2/install'))?.device, 'pi2');
    t.is(await reader.byCommand('nope'), null);
    t.deepEqual((await reader.inFlightDispatchedBefore('ro-2', T0 + 101)).map((d) => d.device), ['pi2'], 'only still-installing devices time out');
    t.deepEqual(await reader.inFlightDispatchedBefore('ro-2', T0 + 100), []);
    t.deepEqual((await reader.inFlightFor('lab', 'pi2', 'occ', 2)).map((d) => d.rolloutId), ['ro-2']);
    t.like(await reader.latestForDevice('lab', 'pi1'), { rolloutId: 'ro-3', model: 'occ', version: 2 }, 'the newest rollout that targeted the device');
    t.deepEqual((await reader.inFlightForDevice('lab', 'pi2')).map((d) => [d.rolloutId, d.state, d.model, d.version]), [['ro-2', 'transferring', 'occ', 2]], 'the install under way, whatever rollout is newest');
    t.deepEqual(await reader.inFlightForDevice('lab', 'pi1'), [], 'a failed install is not in flight');
    t.deepEqual(await reader.inFlightForDevice('other-fleet', 'pi2'), []);
    await store.updateDevice('ro-2', 'pi2', { rollbackCommandId: 'ro-2/pi2/rollback', rollbackSentAtMs: T0 + 300, errorCode: null }, T0 + 300);
    t.is((await reader.byRollback('ro-2/pi2/rollback'))?.rollbackSentAtMs, T0 + 300);
    for (let i = 0; i < 5; i++) await store.event('ro-2', i % 2 ? 'pi1' : null, T0 + i, `k${i}`, `d${i}`);
    t.deepEqual((await reader.events('ro-2', 3)).map((e) => [e.kind, e.device, e.atMs]), [['k4', null, T0 + 4], ['k3', 'pi1', T0 + 3], ['k2', null, T0 + 2]], 'newest first, limited');
    await t.throwsAsync(store.updateRollout('ro-2', { nope: 1 } as never, T0), { message: /no column for field nope/ });
  });

  test(`${name}: fleet registry upserts: heartbeat gaps, last seen never goes back, the high-water mark survives a command result`, async (t) => {
    const { a, b, close } = await open();
    t.teardown(close);
    let now = T0;
    const fleet = await FleetRegistry.create({ sql: a, now: () => now, staleAfterMs: 10_000, offlineAfterMs: 60_000 });
    const reader = await FleetRegistry.create({ sql: b, now: () => now, staleAfterMs: 10_000, offlineAfterMs: 60_000 });
    await fleet.applyStatus('lab', 'pi1', status('pi1'), T0);
    await fleet.applyHeartbeat('lab', 'pi1', { tsMs: T0, seq: 1, uptimeS: 1, active: { occ: 3 }, transfer: null }, T0 + 1000);
    await fleet.applyHeartbeat('lab', 'pi1', { tsMs: T0, seq: 4, uptimeS: 4, active: { occ: 3 }, transfer: { model: 'occ', version: 4, receivedChunks: 1, totalChunks: 3 } }, T0 + 4000);
    // A late message (older receive time) does not move last seen back.
    await fleet.applyHeartbeat('lab', 'pi1', { tsMs: T0, seq: 5, uptimeS: 5, active: { occ: 3 }, transfer: null }, T0 + 2000);
    let d = (await reader.get('lab', 'pi1'))!;
    t.is(d.heartbeatsMissed, 2, 'seq 1 → 4: two missed');
    t.is(d.heartbeatSeq, 5);
    t.is(d.lastSeenMs, T0 + 4000);
    t.is(d.health, 'online');
    // The same agent run announcing itself again keeps the sequence; a restart (new startedAtMs) resets it.
    await fleet.applyStatus('lab', 'pi1', status('pi1'), T0 + 5000);
    t.is((await reader.get('lab', 'pi1'))!.heartbeatSeq, 5);
    await fleet.applyStatus('lab', 'pi1', status('pi1', { startedAtMs: T0 + 5500 }), T0 + 6000);
    t.is((await reader.get('lab', 'pi1'))!.heartbeatSeq, null);
    // A command result carries no high-water mark: the reported one is kept.
    await fleet.applyModels('lab', 'pi1', [{ model: 'occ', active: 2, shadow: null, previous: [3] }], T0 + 7000);
    d = (await reader.get('lab', 'pi1'))!;
    t.is(d.models[0]?.active, 2);
    t.is(highestKnownVersion(d, 'occ'), 3);
    await fleet.applyStatus('lab', 'pi2', status('pi2', { tags: ['jetson'] }), T0);
    await fleet.applyStatus('lab', 'pi2', { online: false }, T0 + 8000);
    now = T0 + 20_000;
    t.deepEqual((await reader.list({ fleet: 'lab' })).map((x) => [x.device, x.health]), [['pi1', 'stale'], ['pi2', 'offline']]);
    t.deepEqual((await reader.list({ tag: 'jetson' })).map((x) => x.device), ['pi2']);
    t.deepEqual(await reader.fleets(), ['lab']);
  });
}
