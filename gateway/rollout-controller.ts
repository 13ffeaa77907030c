/**
 * The rollout controller: turns a rollout request into per-device install commands, wave by wave,
 * follows the devices' command results and heartbeats, applies the abort rule and per-device timeouts,
 * and rolls back updated devices when a rollout aborts. Decisions come from src/rollout-plan.ts; every
 * state change is committed (RolloutStore) before the command it implies is sent, so a restart resumes.
 * No MQTT here: commands go through `send`, models through `offer` (see gateway/rollout.ts).
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
  signRollback?(claim: { fleet: string; device: string; ref: string }): { model: string; version: number; rollback: SignedRollback };
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

  /** After a (re)start: re-offers the models of live rollouts and gives queued results time to arrive. */
  async resume(graceMs: number): Promise<void> {
    this.#graceUntilMs = this.#now() + graceMs;
    for (const r of this.#store.live()) {
      try {
        await this.#offerModel(r.fleet, `${r.model}@${r.version}`, r.format, r.variant);
        this.#log.info(`resuming rollout ${r.id} (${r.state}, wave ${r.currentWave + 1} of ${r.waves})`);
      } catch (err) {
        this.#log.error(`cannot re-offer ${r.model}@${r.version} for rollout ${r.id}: ${errorMessage(err)}`);
      }
    }
  }

  async create(req: ParsedRolloutRequest): Promise<RolloutSummary> {
    if (!this.#o.models) throw new EdgeloopError('NOT_FOUND', 'this gateway has no model registry configured: rollouts need one to resolve models');
    const resolved = await this.#o.models.resolve(req.ref);
    const fleet = req.fleet ?? this.#defaultFleet();
    const live = this.#store.live().find((r) => r.fleet === fleet && r.model === resolved.model);
    if (live) throw new EdgeloopError('BAD_ARGUMENT', `rollout ${live.id} of model ${live.model} is ${live.state} in fleet ${fleet}: abort it or let it finish before starting another`);
    const id = this.#newId();
    const now = this.#now();
    const plan = req.plan;
    const known = this.#fleet.list({ fleet });
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
    let control: string[] = [];
    if (plan.mode.kind === 'ab') {
      const arm = selectAbDevices(ordered, plan.mode.fraction);
      control = ordered.slice(arm.length);
      ordered = arm;
    }
    const downgrades = this.#downgrades(fleet, resolved.model, resolved.version, ordered);
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
    this.#store.transaction(() => {
      this.#store.insert({
        id, fleet, model: resolved.model, version: resolved.version, ref: req.ref, format: req.format, variant: req.variant, plan, seed, state: 'running', reason: null,
        waves: waves.length, currentWave: -1, waveStartedAtMs: null, waveSettledAtMs: null, skipped, control, rollbackRequested: false, createdAtMs: now, updatedAtMs: now, finishedAtMs: null, createdBy: req.createdBy,
      }, devices);
      this.#store.event(id, null, now, 'created', `${resolved.model}@${resolved.version} (${req.ref}) to ${ordered.length} devices of ${fleet} in ${waves.length} wave(s): ${waves.map((w) => w.length).join(' + ')}; mode ${formatMode(plan.mode)}${skipped.length ? `; skipped ${skipped.length}` : ''}${plan.allowDowngrade === true ? `; downgrade allowed (${downgrades.length ? `signed rollbacks for ${formatDowngrades(resolved.version, downgrades)}` : 'no device ran a newer version yet'})` : ''}`);
    });
    this.#log.info(`rollout ${id}: ${resolved.model}@${resolved.version} to ${ordered.length} devices of ${fleet} in ${waves.length} waves`);
    this.tick();
    return this.summary(id);
  }

  /** Devices among `devices` known to have activated a version of `model` above `version`. */
  #downgrades(fleet: string, model: string, version: number, devices: readonly string[]): { device: string; from: number }[] {
    const out: { device: string; from: number }[] = [];
    for (const device of devices) {
      const known = this.#fleet.get(fleet, device);
      const from = known ? highestKnownVersion(known, model) : null;
      if (from !== null && from > version) out.push({ device, from });
    }
    return out;
  }

  /** A signed rollback for an install below what the device already ran, when the rollout allows it. */
  #signedRollback(r: RolloutRecord, device: string, now: number): SignedRollback | undefined {
    if (r.plan.allowDowngrade !== true) return undefined;
    const [down] = this.#downgrades(r.fleet, r.model, r.version, [device]);
    if (!down) return undefined;
    try {
      if (!this.#o.models?.signRollback) throw new EdgeloopError('NOT_FOUND', 'the model registry cannot sign rollbacks');
      const { rollback } = this.#o.models.signRollback({ fleet: r.fleet, device, ref: `${r.model}@${r.version}` });
      this.#store.event(r.id, device, now, 'signed-rollback', `install of ${r.model}@${r.version} carries a rollback signed by key ${rollback.keyId}, issued at ${rollback.issuedAtMs} (the device already ran v${down.from})`);
      return rollback;
    } catch (err) {
      // Sent unsigned: the device refuses it (MODEL_DOWNGRADE) and that failure counts like any other.
      this.#store.event(r.id, device, now, 'signed-rollback-failed', `cannot sign a rollback of ${r.model}@${r.version} for ${device} (it already ran v${down.from}): ${errorMessage(err)}`);
      this.#log.error(`rollout ${r.id}: cannot sign a rollback for ${device}: ${errorMessage(err)}`);
      return undefined;
    }
  }

  #defaultFleet(): string {
    const fleets = this.#fleet.fleets();
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
  tick(): void {
    for (const r of this.#store.live()) {
      try {
        this.#step(r);
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
  #step(r: RolloutRecord): void {
    const now = this.#now();
    if (now >= this.#graceUntilMs) {
      const late = this.#store.inFlightDispatchedBefore(r.id, now - r.plan.timeoutMs);
      // One commit for a whole fleet timing out, not two per device.
      if (late.length > 0) this.#store.transaction(() => {
        for (const d of late) this.#transition(r, d, 'timeout', { errorCode: 'TIMEOUT', errorMessage: `no install result within ${r.plan.timeoutMs} ms (last state ${d.state})` });
      });
    }
    const counts = this.#store.counts(r.id);
    const succeeded = counts.active;
    const failed = counts.failed;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const verdict = evaluateAbort({ succeeded, failed }, r.plan);
    if (verdict.abort) {
      this.#abort(r, `aborted automatically: ${verdict.reason}`, true);
      return;
    }
    let settledAt = r.waveSettledAtMs;
    if (r.currentWave >= 0 && settledAt === null) {
      const wave = this.#store.waveCounts(r.id, r.currentWave);
      if (wave.pending + wave.transferring + wave.verifying === 0) {
        settledAt = now;
        this.#store.updateRollout(r.id, { waveSettledAtMs: now }, now);
        this.#store.event(r.id, null, now, 'wave-settled', `wave ${r.currentWave + 1} of ${r.waves} settled: ${wave.active} active, ${wave.failed} failed`);
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
        this.#store.updateRollout(r.id, { state: 'completed', finishedAtMs: now, reason: `${succeeded} of ${total} devices active, ${failed} failed` }, now);
        this.#store.event(r.id, null, now, 'completed', `${succeeded} active, ${failed} failed`);
        this.#log.info(`rollout ${r.id} completed: ${succeeded} active, ${failed} failed`);
        this.#changed(r.id);
        return;
      }
      case 'start':
        this.#startWave(r, decision.wave, this.#store.waveDevices(r.id, decision.wave));
        return;
      default:
        decision satisfies never;
    }
  }

  #startWave(r: RolloutRecord, wave: number, devices: RolloutDeviceRecord[]): void {
    const now = this.#now();
    const commands: { device: string; command: Command }[] = [];
    this.#store.transaction(() => {
      this.#store.updateRollout(r.id, { currentWave: wave, waveStartedAtMs: now, waveSettledAtMs: null }, now);
      this.#store.event(r.id, null, now, 'wave-started', `wave ${wave + 1} of ${r.waves}: ${devices.length} devices`);
      for (const d of devices) {
        if (d.state !== 'pending') continue;
        const known = this.#fleet.get(r.fleet, d.device);
        const commandId = `${r.id}/${d.device}/install`;
        this.#store.updateDevice(r.id, d.device, { state: 'transferring', commandId, dispatchedAtMs: now, fromVersion: known ? modelVersionsOf(known, r.model).active : null }, now);
        const command: Command = { id: commandId, type: 'install', model: r.model, version: r.version, format: r.format, variant: r.variant, mode: d.installMode };
        const rollback = this.#signedRollback(r, d.device, now);
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

  #transition(r: RolloutRecord, d: RolloutDeviceRecord, event: DeviceRolloutEvent, extra: { errorCode?: string; errorMessage?: string } = {}, detail?: string): boolean {
    const next = deviceTransition(d.state, event);
    if (next === null) return false;
    const now = this.#now();
    const terminal = next === 'active' || next === 'failed' || next === 'rolled-back';
    this.#store.updateDevice(r.id, d.device, { state: next, ...(terminal ? { finishedAtMs: now } : {}), ...extra }, now);
    this.#store.event(r.id, d.device, now, next, extra.errorMessage ? `${extra.errorCode}: ${extra.errorMessage}` : `${d.state} → ${next}${detail ? `: ${detail}` : ''}`);
    this.#changed(r.id);
    return true;
  }

  /** A device answered a command (cmd/result). */
  onCommandResult(fleet: string, device: string, result: CommandResult): void {
    if (result.id === null) return;
    if (result.models.length > 0) this.#fleet.applyModels(fleet, device, result.models);
    const install = this.#store.byCommand(result.id);
    if (install && install.device === device) {
      const r = this.#store.mustGet(install.rolloutId);
      if (r.fleet !== fleet) return;
      if (result.ok) {
        if (this.#transition(r, install, 'install-ok')) {
          // The rollout was aborted or rolled back while this device installed: undo it too.
          if (r.rollbackRequested) this.#rollbackDevices(r, [{ ...install, state: 'active' }]);
        } else if (install.state === 'failed') {
          // Success after the device was counted as timed out: it does run the candidate. The count stays
          // (the abort decision was taken on it), but a rollback that was asked for must reach it too.
          const now = this.#now();
          this.#store.event(r.id, device, now, 'late-result', `install succeeded after the device was counted as failed (${install.error?.code ?? 'unknown'}); it runs ${r.model}@${r.version}`);
          if (r.rollbackRequested && install.rollbackCommandId === null) this.#rollbackDevices(r, [install]);
          this.#changed(r.id);
        }
      } else {
        this.#transition(r, install, 'install-failed', { errorCode: result.error.code, errorMessage: result.error.message });
      }
      return;
    }
    const rollback = this.#store.byRollback(result.id);
    if (rollback && rollback.device === device) {
      const r = this.#store.mustGet(rollback.rolloutId);
      if (result.ok) this.#transition(r, rollback, 'rollback-ok', {}, result.detail);
      else {
        const now = this.#now();
        this.#store.updateDevice(r.id, device, { rollbackError: `${result.error.code}: ${result.error.message}` }, now);
        this.#store.event(r.id, device, now, 'rollback-failed', `${result.error.code}: ${result.error.message}`);
        this.#changed(r.id);
      }
    }
  }

  /** Transfer progress from a heartbeat: all chunks in → verifying (the smoke test runs next). */
  onHeartbeat(fleet: string, device: string, hb: Heartbeat): void {
    const t = hb.transfer;
    if (!t) return;
    for (const d of this.#store.inFlightFor(fleet, device, t.model, t.version)) {
      const now = this.#now();
      this.#store.updateDevice(d.rolloutId, device, { receivedChunks: t.receivedChunks, totalChunks: t.totalChunks }, now);
      if (t.totalChunks > 0 && t.receivedChunks >= t.totalChunks) this.#transition(this.#store.mustGet(d.rolloutId), d, 'transfer-complete');
      else this.#changed(d.rolloutId);
    }
  }

  pause(id: string): RolloutSummary {
    return this.#setState(id, ['running'], 'paused', 'paused by operator');
  }

  resumeRollout(id: string): RolloutSummary {
    return this.#setState(id, ['paused'], 'running', 'resumed by operator');
  }

  /** Stops sending installs; devices already updated keep the candidate (use rollback to undo them). */
  abort(id: string, reason = 'aborted by operator'): RolloutSummary {
    const r = this.#store.mustGet(id);
    this.#assertState(r, LIVE, 'abort');
    this.#abort(r, reason, false);
    return this.summary(id);
  }

  /** Stops the rollout and sends rollback to every device that reached active (and to late installers). */
  rollback(id: string, reason = 'rolled back by operator'): RolloutSummary {
    const r = this.#store.mustGet(id);
    this.#assertState(r, ['running', 'paused', 'completed', 'aborted'], 'roll back');
    const now = this.#now();
    this.#store.updateRollout(id, { state: 'rolled-back', reason, finishedAtMs: now, rollbackRequested: true }, now);
    this.#store.event(id, null, now, 'rolled-back', reason);
    this.#rollbackDevices({ ...r, state: 'rolled-back' }, this.#updatedDevices(r));
    this.#changed(id);
    return this.summary(id);
  }

  #abort(r: RolloutRecord, reason: string, rollback: boolean): void {
    const now = this.#now();
    this.#store.updateRollout(r.id, { state: 'aborted', reason, finishedAtMs: now, rollbackRequested: rollback }, now);
    this.#store.event(r.id, null, now, 'aborted', reason);
    this.#log.warn(`rollout ${r.id} ${reason}`);
    if (rollback) this.#rollbackDevices({ ...r, state: 'aborted' }, this.#updatedDevices(r));
    this.#changed(r.id);
  }

  /**
   * Devices to roll back: those that reached active, and failed ones the fleet registry shows running the
   * candidate (a late success). Devices still installing are not sent a rollback now — the agent would
   * queue it behind the install and, if the install failed, roll back the version before — their result
   * decides when it arrives (onCommandResult).
   */
  #updatedDevices(r: RolloutRecord): RolloutDeviceRecord[] {
    return this.#store.devices(r.id).filter((d) => {
      if (d.rollbackCommandId !== null) return false;
      if (d.state === 'active') return true;
      if (d.state !== 'failed') return false;
      const known = this.#fleet.get(r.fleet, d.device);
      return known !== null && modelVersionsOf(known, r.model).active === r.version && d.fromVersion !== r.version;
    });
  }

  #rollbackDevices(r: RolloutRecord, devices: RolloutDeviceRecord[]): void {
    if (devices.length === 0) return;
    const now = this.#now();
    if (r.plan.mode.kind === 'shadow') {
      // A shadow candidate never served predictions; the contract's rollback would change the *active*
      // model, so it is left alone and the event says so.
      this.#store.event(r.id, null, now, 'rollback-skipped', `shadow mode: ${devices.length} devices keep ${r.model}@${r.version} in their shadow slot (the device contract has no command to drop a shadow model)`);
      return;
    }
    const commands: { device: string; command: Command }[] = [];
    this.#store.transaction(() => {
      for (const d of devices) {
        const commandId = `${r.id}/${d.device}/rollback`;
        this.#store.updateDevice(r.id, d.device, { rollbackCommandId: commandId, rollbackSentAtMs: now }, now);
        // toVersion null: the device ran no version of the model before this rollout (a first install),
        // so rolling back deactivates the model there (docs/rollouts.md).
        const command: Command = { id: commandId, type: 'rollback', model: r.model, toVersion: d.fromVersion };
        commands.push({ device: d.device, command });
      }
      this.#store.event(r.id, null, now, 'rollback-sent', `rollback sent to ${devices.length} devices: ${devices.map((d) => d.device).join(', ')}`);
    });
    for (const c of commands) this.#send(r.fleet, c.device, c.command);
  }

  #assertState(r: RolloutRecord, allowed: readonly RolloutState[], action: string): void {
    if (!allowed.includes(r.state)) {
      throw new EdgeloopError('BAD_ARGUMENT', `cannot ${action} rollout ${r.id}: it is ${r.state} (${action} needs ${allowed.join(' or ')})`);
    }
  }

  #setState(id: string, from: readonly RolloutState[], to: RolloutState, why: string): RolloutSummary {
    const r = this.#store.mustGet(id);
    this.#assertState(r, from, to === 'paused' ? 'pause' : 'resume');
    const now = this.#now();
    this.#store.updateRollout(id, { state: to }, now);
    this.#store.event(id, null, now, to, why);
    this.#changed(id);
    if (to === 'running') this.tick();
    return this.summary(id);
  }

  /** Records shadow agreement counts for a device of a shadow rollout. */
  addShadowAgreement(rolloutId: string, device: string, agree: number, total: number): void {
    this.#store.addShadow(rolloutId, device, agree, total);
    this.#changed(rolloutId);
  }

  summary(id: string): RolloutSummary {
    const r = this.#store.mustGet(id);
    const counts = this.#store.counts(id);
    const targets = Object.values(counts).reduce((a, b) => a + b, 0);
    const finished = counts.active + counts.failed + counts['rolled-back'];
    let agree = 0;
    let total = 0;
    if (r.plan.mode.kind === 'shadow') for (const d of this.#store.devices(id)) { agree += d.shadow.agree; total += d.shadow.total; }
    const { plan, ...rest } = r;
    return {
      ...rest,
      target: formatTarget(plan.target), strategy: plan.strategy, canary: formatAmount(plan.canary), waveSize: formatAmount(plan.waveSize),
      waveIntervalMs: plan.waveIntervalMs, abortFailureRate: plan.abortFailureRate, timeoutMs: plan.timeoutMs, mode: formatMode(plan.mode),
      allowDowngrade: plan.allowDowngrade === true,
      counts, targets, failureRate: finished === 0 ? 0 : counts.failed / finished, shadowAgreement: total === 0 ? null : agree / total,
    };
  }

  list(limit = 100): RolloutSummary[] {
    return this.#store.list(limit).map((r) => this.summary(r.id));
  }

  #changed(id: string): void {
    this.#o.onChange?.(id);
  }
}
