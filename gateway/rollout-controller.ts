/**
 * The rollout controller: turns a rollout request into per-device install commands, wave by wave,
 * follows the devices' command results and heartbeats, applies the abort rule and per-device timeouts,
 * and rolls back updated devices when a rollout aborts. Decisions come from src/rollout-plan.ts; every
 * state change is committed (RolloutStore) before the command it implies is sent, so a restart resumes.
 * No MQTT here: commands go through `send`, models through `offer` (see gateway/rollout.ts).
 *
 * The store is asynchronous (SQLite or PostgreSQL), so the controller's decisions are serialised: every
 * entry point runs under one lock (`exclusive`), one step at a time, as they were when the store was
 * synchronous — a tick never reads counts half-way through a batch of results. The lock is not
 * reentrant: code under it calls the private steps (or the `LockedController` it was handed), never a
 * public method.
 */
import { randomUUID } from 'node:crypto';
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import type { ModelFormat, ModelManifest, ModelVariant } from '../src/manifest.ts';
import type { Command, CommandResult, Heartbeat, InstallMode, SignedRollback } from '../src/contracts/device.ts';
import {
  deviceTransition, evaluateAbort, formatAmount, formatMode, formatTarget, matchesTarget, nextWave, orderDevices, planWaves, selectAbDevices,
  type DeviceRolloutEvent, type DeviceRolloutState, type RolloutState,
} from '../src/rollout-plan.ts';
import { highestKnownVersion, modelVersionsOf, type FleetRegistry } from './fleet.ts';
import { RolloutStore, type RolloutDeviceRecord, type RolloutRecord } from './rollout-store.ts';
import type { ParsedRolloutRequest } from './rollout-request.ts';

/** What the controller needs from the model registry (gateway/registry.ts satisfies it). */
export interface ModelSource {
  resolve(ref: string): Promise<{ model: string; version: number }>;
  manifest(ref: string, format: ModelFormat, variant: ModelVariant): Promise<ModelManifest>;
  artifact(ref: string, format: ModelFormat, variant: ModelVariant): Promise<Uint8Array>;
  /**
   * Signs a rollback of one device to `ref` (install command.rollback): devices refuse an install below
   * the highest version they ever activated without one. Without it, downgrading rollouts are refused.
   */
  signRollback?(claim: { fleet: string; device: string; ref: string }): Promise<{ model: string; version: number; rollback: SignedRollback }>;
}

export interface RolloutControllerOptions {
  store: RolloutStore;
  fleet: FleetRegistry;
  models: ModelSource | null;
  /** Publishes a command to edgeloop/<fleet>/<device>/cmd. */
  send: (fleet: string, device: string, command: Command) => Promise<void>;
  /** Makes a signed model version available to the fleet's transfer server. */
  offer: (fleet: string, manifest: ModelManifest, bytes: Uint8Array) => Promise<void>;
  logger?: Logger;
  now?: () => number;
  newId?: () => string;
  /** Called after every change a dashboard should show. */
  onChange?: (rolloutId: string) => void;
  /** Called once a rollout is completed, aborted or rolled back (committed): its model may be withdrawn. */
  onFinished?: (rollout: RolloutRecord) => void;
}

/** The controller's steps for code that holds its lock (`exclusive`): RolloutService's message batches. */
export interface LockedController {
  onCommandResult(fleet: string, device: string, result: CommandResult): Promise<void>;
  onHeartbeat(fleet: string, device: string, hb: Heartbeat): Promise<void>;
  tick(): Promise<void>;
}

export interface RolloutSummary extends Omit<RolloutRecord, 'plan'> {
  target: string;
  strategy: string;
  canary: string;
  waveSize: string;
  waveIntervalMs: number;
  abortFailureRate: number;
  timeoutMs: number;
  mode: string;
  /** Installs below a version a device already ran are signed (the request's allowDowngrade). */
  allowDowngrade: boolean;
  counts: Record<DeviceRolloutState, number>;
  targets: number;
  failureRate: number;
  /** Shadow mode: share of paired predictions where candidate and active model agreed (null: none yet). */
  shadowAgreement: number | null;
}

const LIVE: readonly RolloutState[] = ['running', 'paused'];

/** The install command of a rollout for one device (sent at its wave, and again, same id, when it must be resent). */
export function installCommand(r: Pick<RolloutRecord, 'model' | 'version' | 'format' | 'variant'>, commandId: string, mode: InstallMode): Command & { type: 'install' } {
  return { id: commandId, type: 'install', model: r.model, version: r.version, format: r.format, variant: r.variant, mode };
}

function formatDowngrades(version: number, downgrades: readonly { device: string; from: number }[]): string {
  return [...downgrades].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0)).map((d) => `${d.device} (v${d.from} → v${version})`).join(', ');
}

function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class RolloutController {
  readonly #store: RolloutStore;
  readonly #fleet: FleetRegistry;
  readonly #o: RolloutControllerOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #newId: () => string;
  /** Timeouts are not judged before this (results queued in the broker while we were down arrive first). */
  #graceUntilMs = 0;
  /** When resume() ran: installs dispatched before it are sent again once, when the grace ends. */
  #resumedAtMs: number | null = null;
  /** The tail of the lock's queue. */
  #lockTail: Promise<unknown> = Promise.resolve();
  /** The steps handed to code that holds the lock. */
  readonly #locked: LockedController = {
    onCommandResult: (fleet, device, result) => this.#onCommandResult(fleet, device, result),
    onHeartbeat: (fleet, device, hb) => this.#onHeartbeat(fleet, device, hb),
    tick: () => this.#tick(),
  };

  constructor(options: RolloutControllerOptions) {
    this.#o = options;
    this.#store = options.store;
    this.#fleet = options.fleet;
    this.#log = (options.logger ?? silentLogger).child('rollout');
    this.#now = options.now ?? Date.now;
    this.#newId = options.newId ?? (() => `ro-${randomUUID().slice(0, 8)}`);
  }

  get store(): RolloutStore {
    return this.#store;
  }

  /**
   * Runs `fn` under the controller's lock: one decision at a time. `fn` gets the steps it may call
   * while holding it (a public method from inside would wait for the lock `fn` holds: a deadlock).
   */
  exclusive<T>(fn: (locked: LockedController) => Promise<T>): Promise<T> {
    const run = this.#lockTail.then(() => fn(this.#locked));
    this.#lockTail = run.catch(() => undefined);
    return run;
  }

  /** After a (re)start: re-offers the models of live rollouts and gives queued results time to arrive. */
  async resume(graceMs: number): Promise<void> {
    this.#resumedAtMs = this.#now();
    this.#graceUntilMs = this.#resumedAtMs + graceMs;
    for (const r of await this.#store.live()) {
      try {
        await this.#offerModel(r.fleet, `${r.model}@${r.version}`, r.format, r.variant);
        this.#log.info(`resuming rollout ${r.id} (${r.state}, wave ${r.currentWave + 1} of ${r.waves})`);
      } catch (err) {
        this.#log.error(`cannot re-offer ${r.model}@${r.version} for rollout ${r.id}: ${errorMessage(err)}`);
      }
    }
  }

  create(req: ParsedRolloutRequest): Promise<RolloutSummary> {
    return this.exclusive(() => this.#create(req));
  }

  async #create(req: ParsedRolloutRequest): Promise<RolloutSummary> {
    if (!this.#o.models) throw new EdgeloopError('NOT_FOUND', 'this gateway has no model registry configured: rollouts need one to resolve models');
    const resolved = await this.#o.models.resolve(req.ref);
    const fleet = req.fleet ?? (await this.#defaultFleet());
    const live = (await this.#store.live()).find((r) => r.fleet === fleet && r.model === resolved.model);
    if (live) throw new EdgeloopError('BAD_ARGUMENT', `rollout ${live.id} of model ${live.model} is ${live.state} in fleet ${fleet}: abort it or let it finish before starting another`);
    const id = this.#newId();
    const now = this.#now();
    const plan = req.plan;
    const known = await this.#fleet.list({ fleet });
    const skipped: { device: string; why: string }[] = [];
    if (plan.target.kind === 'devices') {
      for (const d of plan.target.devices) if (!known.some((k) => k.device === d)) skipped.push({ device: d, why: 'unknown to the fleet registry (never sent a status)' });
    }
    const eligible: string[] = [];
    for (const d of known.filter((k) => matchesTarget(plan.target, k))) {
      if (d.health === 'offline') skipped.push({ device: d.device, why: 'offline' });
      else eligible.push(d.device);
    }
    if (eligible.length === 0) {
      throw new EdgeloopError('BAD_ARGUMENT', `target ${formatTarget(plan.target)} matches no online device in fleet ${fleet}${skipped.length ? ` (skipped: ${skipped.map((s) => `${s.device}: ${s.why}`).join('; ')})` : ''}`);
    }
    const seed = req.seed ?? hashSeed(id);
    let ordered = orderDevices(eligible, seed);
    // Deferred devices go last (stable within each group): the canary and early waves are the others.
    const deferred = new Set(req.defer.filter((d) => ordered.includes(d)));
    if (deferred.size > 0) ordered = [...ordered.filter((d) => !deferred.has(d)), ...ordered.filter((d) => deferred.has(d))];
    let control: string[] = [];
    if (plan.mode.kind === 'ab') {
      const arm = selectAbDevices(ordered, plan.mode.fraction);
      control = ordered.slice(arm.length);
      ordered = arm;
    }
    const downgrades = await this.#downgrades(fleet, resolved.model, resolved.version, ordered);
    if (downgrades.length > 0 && plan.allowDowngrade !== true) {
      throw new EdgeloopError('BAD_ARGUMENT', `rollout of ${resolved.model}@${resolved.version} would downgrade ${downgrades.length} device${downgrades.length === 1 ? '' : 's'} of ${fleet} that already ran a newer version: ${formatDowngrades(resolved.version, downgrades)}; devices refuse that without a signed rollback: set allowDowngrade: true (CLI --allow-downgrade) to roll them back`);
    }
    if (plan.allowDowngrade === true && !this.#o.models.signRollback) {
      throw new EdgeloopError('BAD_ARGUMENT', 'allowDowngrade: this gateway\'s model registry cannot sign rollbacks, so devices would refuse the downgrade');
    }
    const waves = planWaves(ordered, plan);
    await this.#offerModel(fleet, `${resolved.model}@${resolved.version}`, req.format, req.variant);
    const installMode: InstallMode = plan.mode.kind === 'shadow' ? 'shadow' : 'active';
    let position = 0;
    const devices = waves.flatMap((wave, w) => wave.map((device) => ({
      device, wave: w, position: position++, state: 'pending' as const, installMode, fromVersion: null, commandId: null, dispatchedAtMs: null, finishedAtMs: null,
      receivedChunks: null, totalChunks: null, error: null, rollbackCommandId: null, rollbackSentAtMs: null, rollbackError: null, shadow: { agree: 0, total: 0 }, updatedAtMs: now,
    })));
    // The rollout, its devices and the 'created' event: one commit.
    await this.#store.transaction(async () => {
      await this.#store.insert({
        id, fleet, model: resolved.model, version: resolved.version, ref: req.ref, format: req.format, variant: req.variant, plan, seed, state: 'running', reason: null,
        waves: waves.length, currentWave: -1, waveStartedAtMs: null, waveSettledAtMs: null, skipped, control, rollbackRequested: false, createdAtMs: now, updatedAtMs: now, finishedAtMs: null, createdBy: req.createdBy,
      }, devices);
      await this.#store.event(id, null, now, 'created', `${resolved.model}@${resolved.version} (${req.ref}) to ${ordered.length} devices of ${fleet} in ${waves.length} wave(s): ${waves.map((w) => w.length).join(' + ')}; mode ${formatMode(plan.mode)}${skipped.length ? `; skipped ${skipped.length}` : ''}${deferred.size ? `; deferred to the end: ${[...deferred].join(', ')}` : ''}${plan.allowDowngrade === true ? `; downgrade allowed (${downgrades.length ? `signed rollbacks for ${formatDowngrades(resolved.version, downgrades)}` : 'no device ran a newer version yet'})` : ''}`);
    });
    this.#log.info(`rollout ${id}: ${resolved.model}@${resolved.version} to ${ordered.length} devices of ${fleet} in ${waves.length} waves`);
    await this.#tick();
    return this.summary(id);
  }

  /**
   * After a restart (or on the instance elected after the leader died): the installs that were in flight
   * before it are sent again, once the devices had the grace to reconnect. A command committed but never
   * published (the process died between the commit and the publish), or published while the device had
   * no session, would otherwise only end at its timeout, counted as a failure. The agent's install is
   * idempotent (same command id; a version already on disk is not transferred again) and a second result
   * is ignored. An install that is a downgrade is not resent: it carried a signed rollback, accepted
   * once; it ends with its result or its timeout.
   */
  async #resendInFlight(dispatchedBeforeMs: number): Promise<void> {
    for (const r of await this.#store.live()) {
      const inFlight = (await this.#store.inFlightDispatchedBefore(r.id, dispatchedBeforeMs)).filter((d) => d.commandId !== null);
      if (inFlight.length === 0) continue;
      const downgrades = new Set((await this.#downgrades(r.fleet, r.model, r.version, inFlight.map((d) => d.device))).map((x) => x.device));
      let resent = 0;
      for (const d of inFlight) {
        if (downgrades.has(d.device)) continue;
        this.#send(r.fleet, d.device, installCommand(r, d.commandId!, d.installMode));
        resent++;
      }
      if (resent === 0) continue;
      await this.#store.event(r.id, null, this.#now(), 'resent', `${resent} install${resent === 1 ? '' : 's'} in flight sent again after the controller resumed`);
      this.#log.info(`rollout ${r.id}: sent ${resent} install${resent === 1 ? '' : 's'} in flight again after resuming`);
      this.#changed(r.id);
    }
  }

  /** Devices among `devices` known to have activated a version of `model` above `version`. */
  async #downgrades(fleet: string, model: string, version: number, devices: readonly string[]): Promise<{ device: string; from: number }[]> {
    const out: { device: string; from: number }[] = [];
    const known = await this.#fleet.getMany(fleet, devices);
    for (const device of devices) {
      const k = known.get(device);
      const from = k ? highestKnownVersion(k, model) : null;
      if (from !== null && from > version) out.push({ device, from });
    }
    return out;
  }

  /** A signed rollback for an install below what the device already ran, when the rollout allows it. */
  async #signedRollback(r: RolloutRecord, device: string, now: number): Promise<SignedRollback | undefined> {
    if (r.plan.allowDowngrade !== true) return undefined;
    const [down] = await this.#downgrades(r.fleet, r.model, r.version, [device]);
    if (!down) return undefined;
    try {
      if (!this.#o.models?.signRollback) throw new EdgeloopError('NOT_FOUND', 'the model registry cannot sign rollbacks');
      const { rollback } = await this.#o.models.signRollback({ fleet: r.fleet, device, ref: `${r.model}@${r.version}` });
      await this.#store.event(r.id, device, now, 'signed-rollback', `install of ${r.model}@${r.version} carries a rollback signed by key ${rollback.keyId}, issued at ${rollback.issuedAtMs} (the device already ran v${down.from})`);
      return rollback;
    } catch (err) {
      // Sent unsigned: the device refuses it (MODEL_DOWNGRADE) and that failure counts like any other.
      await this.#store.event(r.id, device, now, 'signed-rollback-failed', `cannot sign a rollback of ${r.model}@${r.version} for ${device} (it already ran v${down.from}): ${errorMessage(err)}`);
      this.#log.error(`rollout ${r.id}: cannot sign a rollback for ${device}: ${errorMessage(err)}`);
      return undefined;
    }
  }

  async #defaultFleet(): Promise<string> {
    const fleets = await this.#fleet.fleets();
    if (fleets.length === 1) return fleets[0]!;
    throw new EdgeloopError('BAD_ARGUMENT', fleets.length === 0 ? 'no device has reported to this gateway yet: there is no fleet to roll out to' : `fleet is required: this gateway knows ${fleets.join(', ')}`);
  }

  async #offerModel(fleet: string, ref: string, format: ModelFormat, variant: ModelVariant): Promise<void> {
    if (!this.#o.models) throw new EdgeloopError('NOT_FOUND', 'no model registry configured');
    const manifest = await this.#o.models.manifest(ref, format, variant);
    const [model, version] = ref.split('@');
    if (manifest.model !== model || String(manifest.version) !== version) {
      // Devices check the manifest against the install command; never offer one that would be refused.
      throw new EdgeloopError('MODEL_CORRUPT', `the registry returned the manifest of ${manifest.model}@${manifest.version} for ${ref} (${format}/${variant})`);
    }
    const bytes = await this.#o.models.artifact(ref, format, variant);
    await this.#o.offer(fleet, manifest, bytes);
  }

  /** One control step over every live rollout: timeouts, abort rule, wave progression, completion. */
  tick(): Promise<void> {
    return this.exclusive(() => this.#tick());
  }

  async #tick(): Promise<void> {
    if (this.#resumedAtMs !== null && this.#now() >= this.#graceUntilMs) {
      const before = this.#resumedAtMs;
      this.#resumedAtMs = null;
      await this.#resendInFlight(before).catch((err: unknown) => this.#log.error(`cannot resend the installs in flight: ${errorMessage(err)}`));
    }
    for (const r of await this.#store.live()) {
      try {
        await this.#step(r);
      } catch (err) {
        this.#log.error(`rollout ${r.id} step failed: ${errorMessage(err)}`);
      }
    }
  }

  /**
   * Runs after every batch of device messages, so it reads aggregates (counts per state, the timed-out
   * devices) rather than every device row: with a thousand devices the row-by-row version was most of
   * the gateway's work during a rollout.
   */
  async #step(r: RolloutRecord): Promise<void> {
    const now = this.#now();
    if (now >= this.#graceUntilMs) {
      const late = await this.#store.inFlightDispatchedBefore(r.id, now - r.plan.timeoutMs);
      // One commit for a whole fleet timing out, not two per device.
      if (late.length > 0) await this.#store.transaction(async () => {
        for (const d of late) await this.#transition(r, d, 'timeout', { errorCode: 'TIMEOUT', errorMessage: `no install result within ${r.plan.timeoutMs} ms (last state ${d.state})` });
      });
    }
    const counts = await this.#store.counts(r.id);
    const succeeded = counts.active;
    const failed = counts.failed;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const verdict = evaluateAbort({ succeeded, failed }, r.plan);
    if (verdict.abort) {
      await this.#abort(r, `aborted automatically: ${verdict.reason}`, true);
      return;
    }
    let settledAt = r.waveSettledAtMs;
    if (r.currentWave >= 0 && settledAt === null) {
      const wave = await this.#store.waveCounts(r.id, r.currentWave);
      if (wave.pending + wave.transferring + wave.verifying === 0) {
        settledAt = now;
        await this.#store.transaction(async () => {
          await this.#store.updateRollout(r.id, { waveSettledAtMs: now }, now);
          await this.#store.event(r.id, null, now, 'wave-settled', `wave ${r.currentWave + 1} of ${r.waves} settled: ${wave.active} active, ${wave.failed} failed`);
        });
        this.#changed(r.id);
      }
    }
    if (r.state !== 'running') return;
    // Right after a restart devices are still reconnecting to the broker: a command sent now could reach
    // no session (a restarted in-memory broker keeps none) and only fail at the timeout.
    if (now < this.#graceUntilMs) return;
    const decision = nextWave({ current: r.currentWave, waves: r.waves, settledAtMs: settledAt, nowMs: now }, r.currentWave < 0 ? 0 : r.plan.waveIntervalMs);
    switch (decision.kind) {
      case 'wait':
        return;
      case 'complete': {
        await this.#store.transaction(async () => {
          await this.#store.updateRollout(r.id, { state: 'completed', finishedAtMs: now, reason: `${succeeded} of ${total} devices active, ${failed} failed` }, now);
          await this.#store.event(r.id, null, now, 'completed', `${succeeded} active, ${failed} failed`);
        });
        this.#log.info(`rollout ${r.id} completed: ${succeeded} active, ${failed} failed`);
        this.#changed(r.id);
        this.#o.onFinished?.({ ...r, state: 'completed' });
        return;
      }
      case 'start':
        await this.#startWave(r, decision.wave, await this.#store.waveDevices(r.id, decision.wave));
        return;
      default:
        decision satisfies never;
    }
  }

  async #startWave(r: RolloutRecord, wave: number, devices: RolloutDeviceRecord[]): Promise<void> {
    const now = this.#now();
    const commands: { device: string; command: Command }[] = [];
    await this.#store.transaction(async () => {
      await this.#store.updateRollout(r.id, { currentWave: wave, waveStartedAtMs: now, waveSettledAtMs: null }, now);
      await this.#store.event(r.id, null, now, 'wave-started', `wave ${wave + 1} of ${r.waves}: ${devices.length} devices`);
      const fleetRows = await this.#fleet.getMany(r.fleet, devices.filter((d) => d.state === 'pending').map((d) => d.device));
      for (const d of devices) {
        if (d.state !== 'pending') continue;
        const known = fleetRows.get(d.device);
        const commandId = `${r.id}/${d.device}/install`;
        await this.#store.updateDevice(r.id, d.device, { state: 'transferring', commandId, dispatchedAtMs: now, fromVersion: known ? modelVersionsOf(known, r.model).active : null }, now);
        const command = installCommand(r, commandId, d.installMode);
        const rollback = await this.#signedRollback(r, d.device, now);
        if (rollback) command.rollback = rollback;
        commands.push({ device: d.device, command });
      }
    });
    this.#log.info(`rollout ${r.id}: wave ${wave + 1} of ${r.waves} → ${commands.length} devices`);
    for (const c of commands) this.#send(r.fleet, c.device, c.command);
    this.#changed(r.id);
  }

  #send(fleet: string, device: string, command: Command): void {
    this.#o.send(fleet, device, command).catch((err: unknown) => {
      // The device's timeout turns a lost install into a failure; a lost rollback shows as not confirmed.
      this.#log.warn(`cannot send ${command.type} ${command.id} to ${fleet}/${device}: ${errorMessage(err)}`);
    });
  }

  async #transition(r: RolloutRecord, d: RolloutDeviceRecord, event: DeviceRolloutEvent, extra: { errorCode?: string; errorMessage?: string } = {}, detail?: string): Promise<boolean> {
    const next = deviceTransition(d.state, event);
    if (next === null) return false;
    const now = this.#now();
    const terminal = next === 'active' || next === 'failed' || next === 'rolled-back';
    await this.#store.transaction(async () => {
      await this.#store.updateDevice(r.id, d.device, { state: next, ...(terminal ? { finishedAtMs: now } : {}), ...extra }, now);
      await this.#store.event(r.id, d.device, now, next, extra.errorMessage ? `${extra.errorCode}: ${extra.errorMessage}` : `${d.state} → ${next}${detail ? `: ${detail}` : ''}`);
    });
    this.#changed(r.id);
    return true;
  }

  /** A device answered a command (cmd/result). */
  onCommandResult(fleet: string, device: string, result: CommandResult): Promise<void> {
    return this.exclusive(() => this.#onCommandResult(fleet, device, result));
  }

  async #onCommandResult(fleet: string, device: string, result: CommandResult): Promise<void> {
    if (result.id === null) return;
    if (result.models.length > 0) await this.#fleet.applyModels(fleet, device, result.models);
    const install = await this.#store.byCommand(result.id);
    if (install && install.device === device) {
      const r = await this.#store.mustGet(install.rolloutId);
      if (r.fleet !== fleet) return;
      if (result.ok) {
        if (await this.#transition(r, install, 'install-ok')) {
          // The rollout was aborted or rolled back while this device installed: undo it too.
          if (r.rollbackRequested) await this.#rollbackDevices(r, [{ ...install, state: 'active' }]);
        } else if (install.state === 'failed') {
          // Success after the device was counted as timed out: it does run the candidate. The count stays
          // (the abort decision was taken on it), but a rollback that was asked for must reach it too.
          const now = this.#now();
          await this.#store.event(r.id, device, now, 'late-result', `install succeeded after the device was counted as failed (${install.error?.code ?? 'unknown'}); it runs ${r.model}@${r.version}`);
          if (r.rollbackRequested && install.rollbackCommandId === null) await this.#rollbackDevices(r, [install]);
          this.#changed(r.id);
        }
      } else {
        await this.#transition(r, install, 'install-failed', { errorCode: result.error.code, errorMessage: result.error.message });
      }
      return;
    }
    const rollback = await this.#store.byRollback(result.id);
    if (rollback && rollback.device === device) {
      const r = await this.#store.mustGet(rollback.rolloutId);
      if (result.ok) await this.#transition(r, rollback, 'rollback-ok', {}, result.detail);
      else {
        const now = this.#now();
        const error = result.error;
        await this.#store.transaction(async () => {
          await this.#store.updateDevice(r.id, device, { rollbackError: `${error.code}: ${error.message}` }, now);
          await this.#store.event(r.id, device, now, 'rollback-failed', `${error.code}: ${error.message}`);
        });
        this.#changed(r.id);
      }
    }
  }

  /** Transfer progress from a heartbeat: all chunks in → verifying (the smoke test runs next). */
  onHeartbeat(fleet: string, device: string, hb: Heartbeat): Promise<void> {
    return this.exclusive(() => this.#onHeartbeat(fleet, device, hb));
  }

  async #onHeartbeat(fleet: string, device: string, hb: Heartbeat): Promise<void> {
    const t = hb.transfer;
    if (!t) return;
    for (const d of await this.#store.inFlightFor(fleet, device, t.model, t.version)) {
      const now = this.#now();
      await this.#store.updateDevice(d.rolloutId, device, { receivedChunks: t.receivedChunks, totalChunks: t.totalChunks }, now);
      if (t.totalChunks > 0 && t.receivedChunks >= t.totalChunks) await this.#transition(await this.#store.mustGet(d.rolloutId), d, 'transfer-complete');
      else this.#changed(d.rolloutId);
    }
  }

  pause(id: string): Promise<RolloutSummary> {
    return this.#setState(id, ['running'], 'paused', 'paused by operator');
  }

  resumeRollout(id: string): Promise<RolloutSummary> {
    return this.#setState(id, ['paused'], 'running', 'resumed by operator');
  }

  /** Stops sending installs; devices already updated keep the candidate (use rollback to undo them). */
  abort(id: string, reason = 'aborted by operator'): Promise<RolloutSummary> {
    return this.exclusive(async () => {
      const r = await this.#store.mustGet(id);
      this.#assertState(r, LIVE, 'abort');
      await this.#abort(r, reason, false);
      return this.summary(id);
    });
  }

  /** Stops the rollout and sends rollback to every device that reached active (and to late installers). */
  rollback(id: string, reason = 'rolled back by operator'): Promise<RolloutSummary> {
    return this.exclusive(async () => {
      const r = await this.#store.mustGet(id);
      this.#assertState(r, ['running', 'paused', 'completed', 'aborted'], 'roll back');
      const now = this.#now();
      await this.#store.transaction(async () => {
        await this.#store.updateRollout(id, { state: 'rolled-back', reason, finishedAtMs: now, rollbackRequested: true }, now);
        await this.#store.event(id, null, now, 'rolled-back', reason);
      });
      await this.#rollbackDevices({ ...r, state: 'rolled-back' }, await this.#updatedDevices(r));
      this.#changed(id);
      this.#o.onFinished?.({ ...r, state: 'rolled-back' });
      return this.summary(id);
    });
  }

  async #abort(r: RolloutRecord, reason: string, rollback: boolean): Promise<void> {
    const now = this.#now();
    await this.#store.transaction(async () => {
      await this.#store.updateRollout(r.id, { state: 'aborted', reason, finishedAtMs: now, rollbackRequested: rollback }, now);
      await this.#store.event(r.id, null, now, 'aborted', reason);
    });
    this.#log.warn(`rollout ${r.id} ${reason}`);
    if (rollback) await this.#rollbackDevices({ ...r, state: 'aborted' }, await this.#updatedDevices(r));
    this.#changed(r.id);
    this.#o.onFinished?.({ ...r, state: 'aborted' });
  }

  /**
   * Devices to roll back: those that reached active, and failed ones the fleet registry shows running the
   * candidate (a late success). Devices still installing are not sent a rollback now — the agent would
   * queue it behind the install and, if the install failed, roll back the version before — their result
   * decides when it arrives (onCommandResult).
   */
  async #updatedDevices(r: RolloutRecord): Promise<RolloutDeviceRecord[]> {
    const out: RolloutDeviceRecord[] = [];
    for (const d of await this.#store.devices(r.id)) {
      if (d.rollbackCommandId !== null) continue;
      if (d.state === 'active') out.push(d);
      else if (d.state === 'failed') {
        const known = await this.#fleet.get(r.fleet, d.device);
        if (known !== null && modelVersionsOf(known, r.model).active === r.version && d.fromVersion !== r.version) out.push(d);
      }
    }
    return out;
  }

  async #rollbackDevices(r: RolloutRecord, devices: RolloutDeviceRecord[]): Promise<void> {
    if (devices.length === 0) return;
    const now = this.#now();
    if (r.plan.mode.kind === 'shadow') {
      // A shadow candidate never served predictions; the contract's rollback would change the *active*
      // model, so it is left alone and the event says so.
      await this.#store.event(r.id, null, now, 'rollback-skipped', `shadow mode: ${devices.length} devices keep ${r.model}@${r.version} in their shadow slot (the device contract has no command to drop a shadow model)`);
      return;
    }
    const commands: { device: string; command: Command }[] = [];
    await this.#store.transaction(async () => {
      for (const d of devices) {
        const commandId = `${r.id}/${d.device}/rollback`;
        await this.#store.updateDevice(r.id, d.device, { rollbackCommandId: commandId, rollbackSentAtMs: now }, now);
        // toVersion null: the device ran no version of the model before this rollout (a first install),
        // so rolling back deactivates the model there (docs/rollouts.md).
        const command: Command = { id: commandId, type: 'rollback', model: r.model, toVersion: d.fromVersion };
        commands.push({ device: d.device, command });
      }
      await this.#store.event(r.id, null, now, 'rollback-sent', `rollback sent to ${devices.length} devices: ${devices.map((d) => d.device).join(', ')}`);
    });
    for (const c of commands) this.#send(r.fleet, c.device, c.command);
  }

  #assertState(r: RolloutRecord, allowed: readonly RolloutState[], action: string): void {
    if (!allowed.includes(r.state)) {
      throw new EdgeloopError('BAD_ARGUMENT', `cannot ${action} rollout ${r.id}: it is ${r.state} (${action} needs ${allowed.join(' or ')})`);
    }
  }

  #setState(id: string, from: readonly RolloutState[], to: RolloutState, why: string): Promise<RolloutSummary> {
    return this.exclusive(async () => {
      const r = await this.#store.mustGet(id);
      this.#assertState(r, from, to === 'paused' ? 'pause' : 'resume');
      const now = this.#now();
      await this.#store.transaction(async () => {
        await this.#store.updateRollout(id, { state: to }, now);
        await this.#store.event(id, null, now, to, why);
      });
      this.#changed(id);
      if (to === 'running') await this.#tick();
      return this.summary(id);
    });
  }

  /** Records shadow agreement counts for a device of a shadow rollout. */
  async addShadowAgreement(rolloutId: string, device: string, agree: number, total: number): Promise<void> {
    await this.#store.addShadow(rolloutId, device, agree, total);
    this.#changed(rolloutId);
  }

  summary(id: string): Promise<RolloutSummary> {
    return rolloutSummary(this.#store, id);
  }

  list(limit = 100): Promise<RolloutSummary[]> {
    return rolloutSummaries(this.#store, limit);
  }

  #changed(id: string): void {
    this.#o.onChange?.(id);
  }
}

/** A rollout's summary, from the store alone (readable on every gateway instance, leader or not). */
export async function rolloutSummary(store: RolloutStore, id: string): Promise<RolloutSummary> {
  const r = await store.mustGet(id);
  const counts = await store.counts(id);
  const targets = Object.values(counts).reduce((a, b) => a + b, 0);
  const finished = counts.active + counts.failed + counts['rolled-back'];
  let agree = 0;
  let total = 0;
  if (r.plan.mode.kind === 'shadow') for (const d of await store.devices(id)) { agree += d.shadow.agree; total += d.shadow.total; }
  const { plan, ...rest } = r;
  return {
    ...rest,
    target: formatTarget(plan.target), strategy: plan.strategy, canary: formatAmount(plan.canary), waveSize: formatAmount(plan.waveSize),
    waveIntervalMs: plan.waveIntervalMs, abortFailureRate: plan.abortFailureRate, timeoutMs: plan.timeoutMs, mode: formatMode(plan.mode),
    allowDowngrade: plan.allowDowngrade === true,
    counts, targets, failureRate: finished === 0 ? 0 : counts.failed / finished, shadowAgreement: total === 0 ? null : agree / total,
  };
}

/** Summaries of the newest rollouts, newest first. */
export async function rolloutSummaries(store: RolloutStore, limit = 100): Promise<RolloutSummary[]> {
  const out: RolloutSummary[] = [];
  for (const r of await store.list(limit)) out.push(await rolloutSummary(store, r.id));
  return out;
}
