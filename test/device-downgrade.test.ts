/**
 * Downgrade refusal (issue #10): a real aedes broker, a real Registry signing manifests and rollbacks,
 * the real TransferServer and a real device agent running the ONNX fixture.
 *   - v2 active: the still-retained signed manifest of v1 replayed as an install is refused with
 *     MODEL_DOWNGRADE before any chunk is requested; v2 keeps serving.
 *   - A rollback signed by the registry for this device and v1 is accepted; the same one replayed is
 *     refused; one signed by another key, for another device or issued in the future is refused.
 *   - The high-water mark and the last accepted rollback survive an agent restart.
 */
import test from 'ava';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from '../gateway/registry.ts';
import { Agent, type AgentOptions } from '../device/agent.ts';
import { ModelStore } from '../device/model-store.ts';
import { parsePublicKey } from '../io/ed25519.ts';
import { openDatabase } from '../io/sqlite.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { validateCommand, type CommandResult, type SignedRollback } from '../src/contracts/device.ts';
import { mlpFixture } from './helpers/device-model.ts';
import { tempDir } from './helpers/tmp.ts';
import { agentRig } from './helpers/agent-rig.ts';

const FLEET = 'lab';
const fixture = mlpFixture();

async function registry(): Promise<Registry> {
  const reg = await Registry.create({ database: openDatabase(':memory:'), keyDir: join(tempDir(), 'keys') });
  for (let v = 1; v <= 2; v++) {
    await reg.register({
      model: 'occ', task: 'classification', classes: ['empty', 'occupied'], createdBy: 'test', chunkBytes: 256,
      artifacts: [{ format: 'onnx', variant: 'float32', bytes: fixture.bytes, metrics: {}, io: { inputs: [{ name: 'input', shape: [-1, 4], dtype: 'float32' }], outputs: [{ name: 'probabilities', shape: [-1, 2], dtype: 'float32' }] } }],
      pipeline: { spec: {}, fitted: {} }, lineage: {}, smokeTest: fixture.smoke, reference: null,
    });
  }
  return reg;
}

async function rig(t: { teardown(fn: () => unknown): void }) {
  const base = await agentRig(t, FLEET, 'pi1');
  const reg = await registry();
  for (const v of [1, 2]) await base.server.offer(await reg.manifest(`occ@${v}`, 'onnx', 'float32'), await reg.artifact(`occ@${v}`, 'onnx', 'float32'));
  const pinned = parsePublicKey(reg.publicKey().pem);
  return {
    server: base.server, obs: base.obs, reg,
    // keepPrevious 0: v1 is pruned when v2 activates, so only a signed rollback can bring it back.
    agent: (dir: string, extra: Partial<AgentOptions> = {}): Promise<Agent> => base.start({ brokerUrl: base.broker.url, fleet: FLEET, id: 'pi1', stateDir: dir, pinned, keepPrevious: 0, heartbeatS: 5, transfer: { chunkTimeoutMs: 300, manifestTimeoutMs: 1000, maxStalledRounds: 3 }, ...extra }),
  };
}

const install = (version: number, rollback?: SignedRollback) => ({ type: 'install', model: 'occ', version, format: 'onnx', variant: 'float32', ...(rollback ? { rollback } : {}) });

function refused(t: { is(a: unknown, b: unknown, m?: string): void; regex(s: string, r: RegExp, m?: string): void }, res: CommandResult, code: string, message: RegExp): void {
  t.is(res.ok, false, `refused with ${code}`);
  if (res.ok) return;
  t.is(res.error.code, code);
  t.regex(res.error.message, message);
}

test('a replayed older manifest is refused; a signed rollback is accepted once; forged, foreign and future ones are refused; all of it survives a restart', async (t) => {
  const r = await rig(t);
  const dir = tempDir();
  const first = await r.agent(dir);
  t.true((await r.obs.command(install(1))).ok);
  const up = await r.obs.command(install(2));
  t.true(up.ok);
  t.deepEqual(up.models, [{ model: 'occ', active: 2, shadow: null, previous: [] }]);

  // The signed manifest of v1 is still retained on the broker: replaying the install must not work.
  const requestsBefore = r.server.stats.chunksRequested;
  const replay = await r.obs.command(install(1));
  refused(t, replay, 'MODEL_DOWNGRADE', /^install occ v1 refused: v2 was already activated on this device and v1 is older; a downgrade needs a signed rollback/);
  t.deepEqual(replay.models, [{ model: 'occ', active: 2, shadow: null, previous: [] }], 'v2 still active');
  t.is(r.server.stats.chunksRequested, requestsBefore, 'refused before any chunk was requested');
  t.truthy(first.runner('occ'), 'v2 still serving');

  // Signed by a key the device does not pin (another registry).
  const rogue = await registry();
  refused(t, await r.obs.command(install(1, (await rogue.signRollback({ fleet: FLEET, device: 'pi1', ref: 'occ@1' })).rollback)), 'MODEL_SIGNATURE', /signed rollback of occ to v1 for lab\/pi1 is signed by unknown key [0-9a-f]{16}; pinned keys: /);
  // Right key, but made for another device, or another version.
  refused(t, await r.obs.command(install(1, (await r.reg.signRollback({ fleet: FLEET, device: 'pi2', ref: 'occ@1' })).rollback)), 'MODEL_SIGNATURE', /signature by key [0-9a-f]{16} is invalid/);
  refused(t, await r.obs.command(install(1, (await r.reg.signRollback({ fleet: FLEET, device: 'pi1', ref: 'occ@2' })).rollback)), 'MODEL_SIGNATURE', /signature by key [0-9a-f]{16} is invalid/);
  // Issued an hour ahead of the device clock.
  refused(t, await r.obs.command(install(1, (await r.reg.signRollback({ fleet: FLEET, device: 'pi1', ref: 'occ@1', issuedAtMs: Date.now() + 3_600_000 })).rollback)), 'BAD_TIMESTAMP', /issued at \d+, 3\d{3} s ahead of this device's clock \(at most 300 s allowed\)/);
  t.is(r.server.stats.chunksRequested, requestsBefore, 'no refused install transferred anything');

  // The registry's signed rollback for this device and v1.
  const signed = await r.reg.signRollback({ fleet: FLEET, device: 'pi1', ref: 'occ@1' });
  t.like(signed, { model: 'occ', version: 1, rollback: { keyId: r.reg.publicKey().keyId } });
  const back = await r.obs.command(install(1, signed.rollback));
  t.true(back.ok, JSON.stringify(back));
  t.deepEqual(back.models, [{ model: 'occ', active: 1, shadow: null, previous: [] }]);
  t.true(r.server.stats.chunksRequested > requestsBefore, 'v1 was fetched again');

  // The very same signed rollback replayed (a new command id, same signature).
  refused(t, await r.obs.command(install(1, signed.rollback)), 'MODEL_DOWNGRADE', /is a replay: this device already accepted a rollback of occ issued at \d+; sign a new one/);
  // Upgrading again needs nothing: v2 is not below the mark.
  t.true((await r.obs.command(install(2))).ok);

  const state = JSON.parse(readFileSync(join(dir, 'models', 'occ', 'current.json'), 'utf8')) as { active: number; highWater: number; rollbackIssuedAtMs: number };
  t.like(state, { active: 2, highWater: 2, rollbackIssuedAtMs: signed.rollback.issuedAtMs });

  // Restart: the mark and the last accepted rollback come back from disk.
  await first.stop();
  await r.agent(dir);
  refused(t, await r.obs.command(install(1)), 'MODEL_DOWNGRADE', /^install occ v1 refused: v2 was already activated/);
  refused(t, await r.obs.command(install(1, signed.rollback)), 'MODEL_DOWNGRADE', /is a replay/);
  const later = await r.reg.signRollback({ fleet: FLEET, device: 'pi1', ref: 'occ@1', issuedAtMs: signed.rollback.issuedAtMs + 1 });
  const again = await r.obs.command(install(1, later.rollback));
  t.true(again.ok, 'a newer signed rollback is accepted after the restart');
});

test('a version still kept for the local rollback command may be re-installed without a signature (it adds nothing the rollback command cannot do)', async (t) => {
  const r = await rig(t);
  await r.agent(tempDir(), { keepPrevious: 1 });
  t.true((await r.obs.command(install(1))).ok);
  t.true((await r.obs.command(install(2))).ok);
  const kept = await r.obs.command(install(1));
  t.true(kept.ok);
  t.deepEqual(kept.models, [{ model: 'occ', active: 1, shadow: null, previous: [2] }]);
  // The local rollback command stays allowed too.
  const back = await r.obs.command({ type: 'rollback', model: 'occ' });
  t.true(back.ok);
  t.deepEqual(back.models, [{ model: 'occ', active: 2, shadow: null, previous: [] }]);
});

test('pointers written before the guard existed derive their high-water mark from the versions they name', async (t) => {
  const dir = tempDir();
  const store = await ModelStore.open({ dir });
  mkdirSync(join(dir, 'models', 'occ'), { recursive: true });
  writeFileSync(join(dir, 'models', 'occ', 'current.json'), JSON.stringify({ active: 3, shadow: null, previous: [5, 2], activatedAtMs: 1 }));
  t.deepEqual(await store.downgradeGuard('occ'), { highWater: 5, rollbackIssuedAtMs: null });
  t.deepEqual(await store.downgradeGuard('other'), { highWater: null, rollbackIssuedAtMs: null });
  t.deepEqual(await store.pointer('occ'), { active: 3, shadow: null, previous: [5, 2], activatedAtMs: 1 }, 'the pointer keeps its shape');
});

test('the rollback field is validated with the field named; signRollback refuses bad calls', async (t) => {
  const base = { id: 'c1', ...install(1) };
  const ok = { issuedAtMs: 1_700_000_000_000, keyId: '0123456789abcdef', signature: `${'A'.repeat(86)}==` };
  t.deepEqual(validateCommand({ ...base, rollback: ok }), { ...base, mode: 'active', rollback: ok });
  const bad = (rollback: unknown, message: string) => {
    const err = t.throws(() => validateCommand({ ...base, rollback }));
    t.true(isEdgeloopError(err, 'BAD_PAYLOAD'));
    t.is(err!.message, message);
  };
  bad('x', 'install command.rollback must be a JSON object, got string');
  bad({ ...ok, extra: 1 }, 'install command.rollback has unknown field "extra" (allowed: issuedAtMs, keyId, signature)');
  bad({ ...ok, issuedAtMs: 1.5 }, 'install command.rollback.issuedAtMs must be an integer (epoch ms), got 1.5');
  bad({ ...ok, issuedAtMs: -1 }, 'install command.rollback.issuedAtMs must be a finite number >= 0, got -1');
  bad({ ...ok, keyId: 'XYZ' }, 'install command.rollback.keyId must be 16 lowercase hex characters, got "XYZ"');
  bad({ ...ok, signature: 'abc' }, 'install command.rollback.signature must be a 64-byte ed25519 signature in base64 (88 characters), got 3 characters');
  bad({ ...ok, signature: 5 }, 'install command.rollback.signature must be a 64-byte ed25519 signature in base64 (88 characters), got number');

  const reg = await registry();
  const e1 = await t.throwsAsync(reg.signRollback({ fleet: FLEET, device: 'pi1', ref: 'occ@9' }));
  t.true(isEdgeloopError(e1, 'NOT_FOUND'));
  t.regex(e1!.message, /model occ has no version 9 \(versions 1\.\.2\)/);
  const e2 = await t.throwsAsync(reg.signRollback({ fleet: FLEET, device: '../pi1', ref: 'occ@1' }));
  t.true(isEdgeloopError(e2, 'BAD_NAME'));
  const e3 = await t.throwsAsync(reg.signRollback({ fleet: FLEET, device: 'pi1', ref: 'occ@1', issuedAtMs: -5 }));
  t.true(isEdgeloopError(e3, 'BAD_ARGUMENT'));
  t.is(e3!.message, 'signRollback: issuedAtMs must be a non-negative integer (epoch ms), got -5');
});
