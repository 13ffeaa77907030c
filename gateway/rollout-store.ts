/**
 * Persistence of rollouts: the rollout row, one row per target device (its state machine) and an event
 * log that says why each thing happened. Everything the controller decides is committed here before a
 * command leaves, so a gateway restarted mid-rollout resumes from these rows.
 */
import { EdgeloopError } from '../src/errors.ts';
import type { ModelFormat, ModelVariant } from '../src/manifest.ts';
import type { InstallMode } from '../src/contracts/device.ts';
import type { DeviceRolloutState, RolloutPlan, RolloutState } from '../src/rollout-plan.ts';
import type { SqliteDatabase, SqliteStatement } from '../io/sqlite.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rollouts (
  id TEXT PRIMARY KEY, fleet TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL, ref TEXT NOT NULL,
  format TEXT NOT NULL, variant TEXT NOT NULL, plan TEXT NOT NULL, seed INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT,
  waves INTEGER NOT NULL, current_wave INTEGER NOT NULL DEFAULT -1, wave_started_at INTEGER, wave_settled_at INTEGER,
  skipped TEXT NOT NULL DEFAULT '[]', control TEXT NOT NULL DEFAULT '[]', rollback_requested INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, finished_at INTEGER, created_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rollouts_by_state ON rollouts (state);
CREATE TABLE IF NOT EXISTS rollout_devices (
  rollout_id TEXT NOT NULL REFERENCES rollouts (id), device TEXT NOT NULL, wave INTEGER NOT NULL, position INTEGER NOT NULL,
  state TEXT NOT NULL, install_mode TEXT NOT NULL, from_version INTEGER, command_id TEXT, dispatched_at INTEGER, finished_at INTEGER,
  received_chunks INTEGER, total_chunks INTEGER, error_code TEXT, error_message TEXT,
  rollback_command_id TEXT, rollback_sent_at INTEGER, rollback_error TEXT,
  shadow_agree INTEGER NOT NULL DEFAULT 0, shadow_total INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL,
  PRIMARY KEY (rollout_id, device)
);
CREATE INDEX IF NOT EXISTS rollout_devices_by_command ON rollout_devices (command_id);
CREATE INDEX IF NOT EXISTS rollout_devices_by_rollback ON rollout_devices (rollback_command_id);
-- Every status and heartbeat looks up the device's part in its latest rollout (and in-flight installs).
CREATE INDEX IF NOT EXISTS rollout_devices_by_device ON rollout_devices (device);
-- The controller steps after every batch of device messages: counts per state (and per wave) and the
-- timed-out installs are read from these covering indexes, not from every device row.
CREATE INDEX IF NOT EXISTS rollout_devices_by_state ON rollout_devices (rollout_id, state, dispatched_at);
CREATE INDEX IF NOT EXISTS rollout_devices_by_wave ON rollout_devices (rollout_id, wave, state);
CREATE TABLE IF NOT EXISTS rollout_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, rollout_id TEXT NOT NULL, device TEXT, at INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rollout_events_by_rollout ON rollout_events (rollout_id, id);
`;

export interface RolloutRecord {
  id: string;
  fleet: string;
  model: string;
  version: number;
  ref: string;
  format: ModelFormat;
  variant: ModelVariant;
  plan: RolloutPlan;
  seed: number;
  state: RolloutState;
  reason: string | null;
  waves: number;
  currentWave: number;
  waveStartedAtMs: number | null;
  waveSettledAtMs: number | null;
  skipped: { device: string; why: string }[];
  /** A/B: targets left on their current model (the control arm). */
  control: string[];
  /** Devices that reached active are (or were) being rolled back: late installers are rolled back too. */
  rollbackRequested: boolean;
  createdAtMs: number;
  updatedAtMs: number;
  finishedAtMs: number | null;
  createdBy: string;
}

export interface RolloutDeviceRecord {
  rolloutId: string;
  device: string;
  wave: number;
  position: number;
  state: DeviceRolloutState;
  installMode: InstallMode;
  fromVersion: number | null;
  commandId: string | null;
  dispatchedAtMs: number | null;
  finishedAtMs: number | null;
  receivedChunks: number | null;
  totalChunks: number | null;
  error: { code: string; message: string } | null;
  rollbackCommandId: string | null;
  rollbackSentAtMs: number | null;
  rollbackError: string | null;
  shadow: { agree: number; total: number };
  updatedAtMs: number;
}

export interface RolloutEvent {
  device: string | null;
  atMs: number;
  kind: string;
  detail: string;
}

interface RolloutRow {
  id: string; fleet: string; model: string; version: number; ref: string; format: ModelFormat; variant: ModelVariant; plan: string; seed: number;
  state: RolloutState; reason: string | null; waves: number; current_wave: number; wave_started_at: number | null; wave_settled_at: number | null;
  skipped: string; control: string; rollback_requested: number; created_at: number; updated_at: number; finished_at: number | null; created_by: string;
}

interface DeviceRow {
  rollout_id: string; device: string; wave: number; position: number; state: DeviceRolloutState; install_mode: InstallMode; from_version: number | null;
  command_id: string | null; dispatched_at: number | null; finished_at: number | null; received_chunks: number | null; total_chunks: number | null;
  error_code: string | null; error_message: string | null; rollback_command_id: string | null; rollback_sent_at: number | null; rollback_error: string | null;
  shadow_agree: number; shadow_total: number; updated_at: number;
}

function toRollout(r: RolloutRow): RolloutRecord {
  return {
    id: r.id, fleet: r.fleet, model: r.model, version: r.version, ref: r.ref, format: r.format, variant: r.variant,
    plan: JSON.parse(r.plan) as RolloutPlan, seed: r.seed, state: r.state, reason: r.reason, waves: r.waves, currentWave: r.current_wave,
    waveStartedAtMs: r.wave_started_at, waveSettledAtMs: r.wave_settled_at,
    skipped: JSON.parse(r.skipped) as RolloutRecord['skipped'], control: JSON.parse(r.control) as string[], rollbackRequested: r.rollback_requested === 1,
    createdAtMs: r.created_at, updatedAtMs: r.updated_at, finishedAtMs: r.finished_at, createdBy: r.created_by,
  };
}

function countsOf(rows: { state: DeviceRolloutState; n: number }[]): Record<DeviceRolloutState, number> {
  const out: Record<DeviceRolloutState, number> = { pending: 0, transferring: 0, verifying: 0, active: 0, failed: 0, 'rolled-back': 0 };
  for (const r of rows) out[r.state] = r.n;
  return out;
}

function toDevice(r: DeviceRow): RolloutDeviceRecord {
  return {
    rolloutId: r.rollout_id, device: r.device, wave: r.wave, position: r.position, state: r.state, installMode: r.install_mode, fromVersion: r.from_version,
    commandId: r.command_id, dispatchedAtMs: r.dispatched_at, finishedAtMs: r.finished_at, receivedChunks: r.received_chunks, totalChunks: r.total_chunks,
    error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
    rollbackCommandId: r.rollback_command_id, rollbackSentAtMs: r.rollback_sent_at, rollbackError: r.rollback_error,
    shadow: { agree: r.shadow_agree, total: r.shadow_total }, updatedAtMs: r.updated_at,
  };
}

export class RolloutStore {
  readonly #db: SqliteDatabase;
  readonly #s: Record<string, SqliteStatement>;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.exec(SCHEMA);
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      get: p('SELECT * FROM rollouts WHERE id = ?'),
      state: p('SELECT state FROM rollouts WHERE id = ?'),
      list: p('SELECT * FROM rollouts ORDER BY created_at DESC, id DESC LIMIT ?'),
      live: p("SELECT * FROM rollouts WHERE state IN ('running', 'paused') ORDER BY created_at"),
      devices: p('SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY position'),
      device: p('SELECT * FROM rollout_devices WHERE rollout_id = ? AND device = ?'),
      byCommand: p('SELECT * FROM rollout_devices WHERE command_id = ?'),
      byRollback: p('SELECT * FROM rollout_devices WHERE rollback_command_id = ?'),
      transferring: p(`SELECT d.* FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id
        WHERE r.fleet = ? AND d.device = ? AND r.model = ? AND r.version = ? AND d.state IN ('transferring', 'verifying')`),
      latestForDevice: p(`SELECT d.*, r.model, r.version FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id
        WHERE r.fleet = ? AND d.device = ? ORDER BY r.created_at DESC LIMIT 1`),
      counts: p('SELECT state, count(*) AS n FROM rollout_devices WHERE rollout_id = ? GROUP BY state'),
      waveCounts: p('SELECT state, count(*) AS n FROM rollout_devices WHERE rollout_id = ? AND wave = ? GROUP BY state'),
      waveDevices: p('SELECT * FROM rollout_devices WHERE rollout_id = ? AND wave = ? ORDER BY position'),
      dispatchedBefore: p(`SELECT * FROM rollout_devices WHERE rollout_id = ? AND state IN ('transferring', 'verifying')
        AND dispatched_at IS NOT NULL AND dispatched_at < ? ORDER BY position`),
      events: p('SELECT device, at, kind, detail FROM rollout_events WHERE rollout_id = ? ORDER BY id DESC LIMIT ?'),
      event: p('INSERT INTO rollout_events (rollout_id, device, at, kind, detail) VALUES (?, ?, ?, ?, ?)'),
    };
  }

  /** Prepared once per SQL text: updates are built from the fields given, a few shapes in all. */
  readonly #prepared = new Map<string, SqliteStatement>();

  #prepare(sql: string): SqliteStatement {
    let st = this.#prepared.get(sql);
    if (!st) {
      st = this.#db.prepare(sql);
      this.#prepared.set(sql, st);
    }
    return st;
  }

  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }

  insert(r: RolloutRecord, devices: Omit<RolloutDeviceRecord, 'rolloutId'>[]): void {
    this.transaction(() => {
      this.#db.prepare(`INSERT INTO rollouts (id, fleet, model, version, ref, format, variant, plan, seed, state, reason, waves, current_wave, skipped, control, created_at, updated_at, created_by)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(r.id, r.fleet, r.model, r.version, r.ref, r.format, r.variant, JSON.stringify(r.plan), r.seed, r.state, r.reason, r.waves, r.currentWave,
          JSON.stringify(r.skipped), JSON.stringify(r.control), r.createdAtMs, r.updatedAtMs, r.createdBy);
      const ins = this.#db.prepare(`INSERT INTO rollout_devices (rollout_id, device, wave, position, state, install_mode, from_version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const d of devices) ins.run(r.id, d.device, d.wave, d.position, d.state, d.installMode, d.fromVersion, d.updatedAtMs);
    });
  }

  get(id: string): RolloutRecord | null {
    const row = this.#s.get!.get(id) as RolloutRow | undefined;
    return row ? toRollout(row) : null;
  }

  /** Just the rollout's state (no plan to parse): for callers that poll it. */
  state(id: string): RolloutState | null {
    const row = this.#s.state!.get(id) as { state: RolloutState } | undefined;
    return row?.state ?? null;
  }

  mustGet(id: string): RolloutRecord {
    const r = this.get(id);
    if (!r) throw new EdgeloopError('NOT_FOUND', `rollout ${JSON.stringify(id)} does not exist (see GET /v1/rollouts)`);
    return r;
  }

  list(limit = 100): RolloutRecord[] {
    return (this.#s.list!.all(limit) as RolloutRow[]).map(toRollout);
  }

  live(): RolloutRecord[] {
    return (this.#s.live!.all() as RolloutRow[]).map(toRollout);
  }

  devices(id: string): RolloutDeviceRecord[] {
    return (this.#s.devices!.all(id) as DeviceRow[]).map(toDevice);
  }

  device(id: string, device: string): RolloutDeviceRecord | null {
    const row = this.#s.device!.get(id, device) as DeviceRow | undefined;
    return row ? toDevice(row) : null;
  }

  byCommand(commandId: string): RolloutDeviceRecord | null {
    const row = this.#s.byCommand!.get(commandId) as DeviceRow | undefined;
    return row ? toDevice(row) : null;
  }

  byRollback(commandId: string): RolloutDeviceRecord | null {
    const row = this.#s.byRollback!.get(commandId) as DeviceRow | undefined;
    return row ? toDevice(row) : null;
  }

  inFlightFor(fleet: string, device: string, model: string, version: number): RolloutDeviceRecord[] {
    return (this.#s.transferring!.all(fleet, device, model, version) as DeviceRow[]).map(toDevice);
  }

  /** The device's part in the newest rollout that targeted it (for `fleet show`). */
  latestForDevice(fleet: string, device: string): (RolloutDeviceRecord & { model: string; version: number }) | null {
    const row = this.#s.latestForDevice!.get(fleet, device) as (DeviceRow & { model: string; version: number }) | undefined;
    return row ? { ...toDevice(row), model: row.model, version: row.version } : null;
  }

  counts(id: string): Record<DeviceRolloutState, number> {
    return countsOf(this.#s.counts!.all(id) as { state: DeviceRolloutState; n: number }[]);
  }

  /** Device counts per state within one wave. */
  waveCounts(id: string, wave: number): Record<DeviceRolloutState, number> {
    return countsOf(this.#s.waveCounts!.all(id, wave) as { state: DeviceRolloutState; n: number }[]);
  }

  /** The devices of one wave, in rollout order. */
  waveDevices(id: string, wave: number): RolloutDeviceRecord[] {
    return (this.#s.waveDevices!.all(id, wave) as DeviceRow[]).map(toDevice);
  }

  /** Devices still installing whose command went out before `beforeMs` (timeout candidates). */
  inFlightDispatchedBefore(id: string, beforeMs: number): RolloutDeviceRecord[] {
    return (this.#s.dispatchedBefore!.all(id, beforeMs) as DeviceRow[]).map(toDevice);
  }

  updateRollout(id: string, fields: Partial<Pick<RolloutRecord, 'state' | 'reason' | 'currentWave' | 'waveStartedAtMs' | 'waveSettledAtMs' | 'finishedAtMs' | 'rollbackRequested'>>, atMs: number): void {
    const cols: Record<string, string> = { state: 'state', reason: 'reason', currentWave: 'current_wave', waveStartedAtMs: 'wave_started_at', waveSettledAtMs: 'wave_settled_at', finishedAtMs: 'finished_at', rollbackRequested: 'rollback_requested' };
    const keys = Object.keys(fields) as (keyof typeof fields)[];
    const sets = keys.map((k) => `${cols[k]} = @${k}`);
    const values: Record<string, unknown> = { ...fields, atMs, id };
    if (fields.rollbackRequested !== undefined) values.rollbackRequested = fields.rollbackRequested ? 1 : 0;
    this.#prepare(`UPDATE rollouts SET ${[...sets, 'updated_at = @atMs'].join(', ')} WHERE id = @id`).run(values);
  }

  updateDevice(id: string, device: string, fields: Partial<Omit<RolloutDeviceRecord, 'rolloutId' | 'device' | 'wave' | 'position' | 'installMode' | 'error' | 'shadow' | 'updatedAtMs'>> & { errorCode?: string | null; errorMessage?: string | null }, atMs: number): void {
    const cols: Record<string, string> = {
      state: 'state', fromVersion: 'from_version', commandId: 'command_id', dispatchedAtMs: 'dispatched_at', finishedAtMs: 'finished_at',
      receivedChunks: 'received_chunks', totalChunks: 'total_chunks', errorCode: 'error_code', errorMessage: 'error_message',
      rollbackCommandId: 'rollback_command_id', rollbackSentAtMs: 'rollback_sent_at', rollbackError: 'rollback_error',
    };
    const keys = Object.keys(fields);
    const sets = keys.map((k) => `${cols[k]} = @${k}`);
    this.#prepare(`UPDATE rollout_devices SET ${[...sets, 'updated_at = @atMs'].join(', ')} WHERE rollout_id = @id AND device = @device`).run({ ...fields, atMs, id, device });
  }

  addShadow(id: string, device: string, agree: number, total: number): void {
    this.#db.prepare('UPDATE rollout_devices SET shadow_agree = shadow_agree + ?, shadow_total = shadow_total + ? WHERE rollout_id = ? AND device = ?').run(agree, total, id, device);
  }

  event(id: string, device: string | null, atMs: number, kind: string, detail: string): void {
    this.#s.event!.run(id, device, atMs, kind, detail);
  }

  events(id: string, limit = 200): RolloutEvent[] {
    return (this.#s.events!.all(id, limit) as { device: string | null; at: number; kind: string; detail: string }[]).map((e) => ({ device: e.device, atMs: e.at, kind: e.kind, detail: e.detail }));
  }
}
