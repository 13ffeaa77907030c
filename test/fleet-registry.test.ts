/** The fleet registry on a real SQLite file, with an injected clock: health by age, last will, heartbeat gaps. */
import test from 'ava';
import { join } from 'node:path';
import { FleetRegistry, modelVersionsOf } from '../gateway/fleet.ts';
import { sqliteSql } from '../gateway/sql.ts';
import { openDatabase } from '../io/sqlite.ts';
import { isEdgeloopError } from '../src/errors.ts';
import type { DeviceStatusOnline, Heartbeat } from '../src/contracts/device.ts';
import { tempDir } from './helpers/tmp.ts';

function status(device: string, extra: Partial<DeviceStatusOnline> = {}): DeviceStatusOnline {
  return {
    online: true, fleet: 'lab', device, tsMs: 1, startedAtMs: 1000, agentVersion: '0.1.0',
    hardware: { arch: 'arm64', platform: 'linux', nodeVersion: '20.11.0', cpus: 4, memoryBytes: 4 * 2 ** 30 },
    runtimes: ['onnxruntime-node'], tags: ['pi4', 'kitchen', 'pi4'], models: [{ model: 'occ', active: 3, shadow: null, previous: [2, 1] }], ...extra,
  };
}
const hb = (seq: number, transfer: Heartbeat['transfer'] = null): Heartbeat => ({ tsMs: 1, seq, uptimeS: seq, active: { occ: 3 }, transfer });

async function fleet(clock: { t: number }) {
  const db = openDatabase(join(tempDir(), 'f.db'));
  return { db, fleet: await FleetRegistry.create({ sql: sqliteSql(db), now: () => clock.t, staleAfterMs: 10_000, offlineAfterMs: 60_000 }) };
}

test('status and heartbeats: tags, hardware, models, health by age', async (t) => {
  const clock = { t: 1_000_000 };
  const { fleet: f } = await fleet(clock);
  await f.applyStatus('lab', 'pi1', status('pi1'));
  const d = (await f.get('lab', 'pi1'))!;
  t.deepEqual(d.tags, ['kitchen', 'pi4'], 'deduplicated and sorted');
  t.is(d.hardware?.arch, 'arm64');
  t.deepEqual(modelVersionsOf(d, 'occ'), { active: 3, shadow: null, previous: 2 });
  t.deepEqual(modelVersionsOf(d, 'other'), { active: null, shadow: null, previous: null });
  t.is(d.health, 'online');
  clock.t += 10_001;
  t.is((await f.get('lab', 'pi1'))!.health, 'stale');
  await f.applyHeartbeat('lab', 'pi1', hb(0));
  t.is((await f.get('lab', 'pi1'))!.health, 'online', 'a heartbeat freshens it');
  clock.t += 60_001;
  t.is((await f.get('lab', 'pi1'))!.health, 'offline', 'silent for longer than offlineAfterMs');
  await f.applyHeartbeat('lab', 'pi1', hb(1, { model: 'occ', version: 4, receivedChunks: 3, totalChunks: 9 }));
  t.deepEqual((await f.get('lab', 'pi1'))!.transfer, { model: 'occ', version: 4, receivedChunks: 3, totalChunks: 9 });
});

test('last will turns a device offline at once; heartbeat gaps are counted; a restart resets the sequence', async (t) => {
  const clock = { t: 5_000_000 };
  const { fleet: f } = await fleet(clock);
  await f.applyStatus('lab', 'pi1', status('pi1'));
  await f.applyHeartbeat('lab', 'pi1', hb(0));
  await f.applyHeartbeat('lab', 'pi1', hb(1));
  await f.applyHeartbeat('lab', 'pi1', hb(5));
  t.is((await f.get('lab', 'pi1'))!.heartbeatsMissed, 3);
  t.is((await f.get('lab', 'pi1'))!.heartbeatSeq, 5);
  await f.applyStatus('lab', 'pi1', { online: false });
  const off = (await f.get('lab', 'pi1'))!;
  t.is(off.health, 'offline');
  t.false(off.reportedOnline);
  t.is(off.hardware?.cpus, 4, 'what we knew is kept');
  // The agent restarts (new startedAtMs): its heartbeats count from 0 again without a false gap.
  await f.applyStatus('lab', 'pi1', status('pi1', { startedAtMs: 9000 }));
  await f.applyHeartbeat('lab', 'pi1', hb(0));
  t.is((await f.get('lab', 'pi1'))!.heartbeatsMissed, 3);
  t.is((await f.get('lab', 'pi1'))!.health, 'online');
});

test('list filters by fleet and tag; fleets(); model slots from command results', async (t) => {
  const clock = { t: 1 };
  const { fleet: f } = await fleet(clock);
  await f.applyStatus('lab', 'b', status('b'));
  await f.applyStatus('lab', 'a', status('a', { tags: ['pi5'] }));
  await f.applyStatus('farm', 'x', { ...status('x'), fleet: 'farm' });
  t.deepEqual((await f.list()).map((d) => `${d.fleet}/${d.device}`), ['farm/x', 'lab/a', 'lab/b']);
  t.deepEqual((await f.list({ fleet: 'lab', tag: 'pi4' })).map((d) => d.device), ['b']);
  t.deepEqual(await f.fleets(), ['farm', 'lab']);
  await f.applyModels('lab', 'a', [{ model: 'occ', active: 4, shadow: null, previous: [3] }]);
  t.is((await f.get('lab', 'a'))!.models[0]!.active, 4);
  t.is(await f.get('lab', 'zzz'), null);
});

test('getMany: the known devices of one fleet among many ids, in queries of at most 500 ids', async (t) => {
  const clock = { t: 1 };
  const { fleet: f } = await fleet(clock);
  const ids = Array.from({ length: 1203 }, (_, i) => `d${i}`);
  for (const id of ids) await f.applyStatus('lab', id, status(id, { startedAtMs: 1000 + Number(id.slice(1)) }));
  await f.applyStatus('farm', 'd5', { ...status('d5'), fleet: 'farm', startedAtMs: 42 });
  // Every known id comes back once with its own row, whatever the padding of the last query; unknown
  // ids and another fleet's device of the same name do not.
  const asked = [...ids, 'ghost', 'd7', 'd7'];
  const got = await f.getMany('lab', asked);
  t.is(got.size, ids.length);
  t.false(got.has('ghost'));
  t.is(got.get('d5')!.startedAtMs, 1005, 'the lab device, not the farm one');
  t.is(got.get('d1202')!.startedAtMs, 2202);
  for (const n of [1, 3, 500, 501]) t.is((await f.getMany('lab', ids.slice(0, n))).size, n, `${n} ids`);
  t.is((await f.getMany('lab', [])).size, 0);
  t.deepEqual([...(await f.getMany('farm', ['d5', 'd6'])).keys()], ['d5']);
});

test('bad input: a status naming another device, bad names, bad health options', async (t) => {
  const { fleet: f, db } = await fleet({ t: 1 });
  const err = await t.throwsAsync(f.applyStatus('lab', 'pi1', status('pi2')));
  t.true(isEdgeloopError(err, 'BAD_PAYLOAD'));
  t.is(err!.message, 'status names lab/pi2 but was published on the topic of lab/pi1');
  const name = await t.throwsAsync(f.get('lab', '../etc'));
  t.true(isEdgeloopError(name, 'BAD_NAME'));
  t.true(name!.message.startsWith('device name "../etc" is not allowed'));
  const opts = await t.throwsAsync(FleetRegistry.create({ sql: sqliteSql(db), staleAfterMs: 10, offlineAfterMs: 5 }));
  t.true(isEdgeloopError(opts, 'BAD_ARGUMENT'));
  t.is(opts!.message, 'fleet health: staleAfterMs (10) must be > 0 and offlineAfterMs (5) >= staleAfterMs');
});
