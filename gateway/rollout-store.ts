/**
 * Persistence of rollouts: the rollout row, one row per target device (its state machine) and an event
 * log that says why each thing happened. Everything the controller decides is committed here before a
 * command leaves, so a gateway restarted mid-rollout — or the gateway elected after the leader died,
 * on PostgreSQL — resumes from these rows.
 *
 * On gateway/sql.ts, so the same class runs on the gateway's SQLite file and on the PostgreSQL shared by
 * scaled-out gateways (test/rollout-store-contract.ts runs on both). Only the elected instance writes;
 * the controller groups a step's writes with `transaction`.
 */
import { EdgeloopError } from '../src/errors.ts';
import type { ModelFormat, ModelVariant } from '../src/manifest.ts';
import type { InstallMode } from '../src/contracts/device.ts';
import type { DeviceRolloutState, RolloutPlan, RolloutState } from '../src/rollout-plan.ts';
import { createTables, type SqlDb, type SqlValue } from './sql.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rollouts (
  id TEXT PRIMARY KEY, fleet TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL, ref TEXT NOT NULL,
  format TEXT NOT NULL, variant TEXT NOT NULL, plan TEXT NOT NULL, seed {time} NOT NULL, state TEXT NOT NULL, reason TEXT,
  waves INTEGER NOT NULL, current_wave INTEGER NOT NULL DEFAULT -1, wave_started_at {time}, wave_settled_at {time},
  skipped TEXT NOT NULL DEFAULT '[]', control TEXT NOT NULL DEFAULT '[]', rollback_requested INTEGER NOT NULL DEFAULT 0,
  created_at {time} NOT NULL, updated_at {time} NOT NULL, finished_at {time}, created_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rollouts_by_state ON rollouts (state);
CREATE TABLE IF NOT EXISTS rollout_devices (
  rollout_id TEXT NOT NULL REFERENCES rollouts (id), device TEXT NOT NULL, wave INTEGER NOT NULL, position INTEGER NOT NULL,
  state TEXT NOT NULL, install_mode TEXT NOT NULL, from_version INTEGER, command_id TEXT, dispatched_at {time}, finished_at {time},
  received_chunks INTEGER, total_chunks INTEGER, error_code TEXT, error_message TEXT,
  rollback_command_id TEXT, rollback_sent_at {time}, rollback_error TEXT,
  shadow_agree INTEGER NOT NULL DEFAULT 0, shadow_total INTEGER NOT NULL DEFAULT 0, updated_at {time} NOT NULL,
  created_at {time},
  PRIMARY KEY (rollout_id, device)
);
CREATE INDEX IF NOT EXISTS rollout_devices_by_command ON rollout_devices (command_id);
CREATE INDEX IF NOT EXISTS rollout_devices_by_rollback ON rollout_devices (rollback_command_id);
-- Only the installs in flight: what a status or a heartbeat looks for costs the same after a device's
-- hundredth rollout as after its first (a device's newest rollout is read from rollout_devices_latest below).
CREATE INDEX IF NOT EXISTS rollout_devices_in_flight ON rollout_devices (device) WHERE state IN ('transferring', 'verifying');
-- The controller steps after every batch of device messages: counts per state (and per wave) and the
-- timed-out installs are read from these covering indexes, not from every device row.
CREATE INDEX IF NOT EXISTS rollout_devices_by_state ON rollout_devices (rollout_id, state, dispatched_at);
CREATE INDEX IF NOT EXISTS rollout_devices_by_wave ON rollout_devices (rollout_id, wave, state);
CREATE TABLE IF NOT EXISTS rollout_events (
  id {serial}, rollout_id TEXT NOT NULL, device TEXT, at {time} NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rollout_events_by_rollout ON rollout_events (rollout_id, id);
`;

/**
 * rollout_devices.created_at is the rollout's creation time, copied so that "the device's newest
 * rollout" (asked for every batch of predictions a device sends) is read from the end of one index
 * instead of joining and sorting every rollout that ever targeted the device. Tables from before it
 * get the column and have it filled in from their rollouts; their index on (device) alone, a prefix of
 * this one, goes (one index less to write per device row).
 */
const LATEST = `
UPDATE rollout_devices SET created_at = (SELECT r.created_at FROM rollouts r WHERE r.id = rollout_devices.rollout_id) WHERE created_at IS NULL;
CREATE INDEX IF NOT EXISTS rollout_devices_latest ON rollout_devices (device, created_at);
DROP INDEX IF EXISTS rollout_devices_by_device;
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

/** An install under way on a device (RolloutStore.inFlightForDevice). */
export type InFlightInstall = Pick<RolloutDeviceRecord, 'rolloutId' | 'state' | 'installMode' | 'commandId' | 'dispatchedAtMs'> & { model: string; version: number };

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

/**
 * A rollout's plan, skipped devices and A/B control arm never change once inserted: each JSON text is
 * parsed once (the controller reads the row per device message, and an A/B control arm lists devices).
 */
const parsedTexts = new Map<string, unknown>();

function parsedOnce<T>(text: string): T {
  let value = parsedTexts.get(text);
  if (value === undefined) {
    if (parsedTexts.size >= 256) parsedTexts.clear();
    value = deepFreeze(JSON.parse(text) as unknown);
    parsedTexts.set(text, value);
  }
  return value as T;
}

/** Shared between callers, so frozen: a change would throw (modules are strict) instead of leaking. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function toRollout(r: RolloutRow): RolloutRecord {
  return {
    id: r.id, fleet: r.fleet, model: r.model, version: r.version, ref: r.ref, format: r.format, variant: r.variant,
    plan: parsedOnce<RolloutPlan>(r.plan), seed: r.seed, state: r.state, reason: r.reason, waves: r.waves, currentWave: r.current_wave,
    waveStartedAtMs: r.wave_started_at, waveSettledAtMs: r.wave_settled_at,
    skipped: parsedOnce<RolloutRecord['skipped']>(r.skipped), control: parsedOnce<string[]>(r.control), rollbackRequested: r.rollback_requested === 1,
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

const SQL = {
  get: 'SELECT * FROM rollouts WHERE id = ?',
  state: 'SELECT state FROM rollouts WHERE id = ?',
  list: 'SELECT * FROM rollouts ORDER BY created_at DESC, id DESC LIMIT ?',
  live: "SELECT * FROM rollouts WHERE state IN ('running', 'paused') ORDER BY created_at",
  devices: 'SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY position',
  device: 'SELECT * FROM rollout_devices WHERE rollout_id = ? AND device = ?',
  byCommand: 'SELECT * FROM rollout_devices WHERE command_id = ?',
  byRollback: 'SELECT * FROM rollout_devices WHERE rollback_command_id = ?',
  transferring: `SELECT d.* FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id
    WHERE r.fleet = ? AND d.device = ? AND r.model = ? AND r.version = ? AND d.state IN ('transferring', 'verifying')`,
  // Only the columns a status check needs: every status of a device runs it, and building all of a row's
  // columns is most of its cost.
  inFlightForDevice: `SELECT d.rollout_id, d.state, d.install_mode, d.command_id, d.dispatched_at, r.model, r.version FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id
    WHERE r.fleet = ? AND d.device = ? AND d.state IN ('transferring', 'verifying') ORDER BY r.created_at`,
  latestForDevice: `SELECT d.*, r.model, r.version FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id
    WHERE r.fleet = ? AND d.device = ? ORDER BY d.created_at DESC LIMIT 1`,
  counts: 'SELECT state, count(*) AS n FROM rollout_devices WHERE rollout_id = ? GROUP BY state',
  waveCounts: 'SELECT state, count(*) AS n FROM rollout_devices WHERE rollout_id = ? AND wave = ? GROUP BY state',
  waveDevices: 'SELECT * FROM rollout_devices WHERE rollout_id = ? AND wave = ? ORDER BY position',
  dispatchedBefore: `SELECT * FROM rollout_devices WHERE rollout_id = ? AND state IN ('transferring', 'verifying')
    AND dispatched_at IS NOT NULL AND dispatched_at < ? ORDER BY position`,
  events: 'SELECT device, at, kind, detail FROM rollout_events WHERE rollout_id = ? ORDER BY id DESC LIMIT ?',
  event: 'INSERT INTO rollout_events (rollout_id, device, at, kind, detail) VALUES (?, ?, ?, ?, ?)',
  insertRollout: `INSERT INTO rollouts (id, fleet, model, version, ref, format, variant, plan, seed, state, reason, waves, current_wave, skipped, control, created_at, updated_at, created_by)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  insertDevice: 'INSERT INTO rollout_devices (rollout_id, device, wave, position, state, install_mode, from_version, updated_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  addShadow: 'UPDATE rollout_devices SET shadow_agree = shadow_agree + ?, shadow_total = shadow_total + ? WHERE rollout_id = ? AND device = ?',
};

const ROLLOUT_COLUMNS: Record<string, string> = {
  state: 'state', reason: 'reason', currentWave: 'current_wave', waveStartedAtMs: 'wave_started_at', waveSettledAtMs: 'wave_settled_at',
  finishedAtMs: 'finished_at', rollbackRequested: 'rollback_requested',
};

const DEVICE_COLUMNS: Record<string, string> = {
  state: 'state', fromVersion: 'from_version', commandId: 'command_id', dispatchedAtMs: 'dispatched_at', finishedAtMs: 'finished_at',
  receivedChunks: 'received_chunks', totalChunks: 'total_chunks', errorCode: 'error_code', errorMessage: 'error_message',
  rollbackCommandId: 'rollback_command_id', rollbackSentAtMs: 'rollback_sent_at', rollbackError: 'rollback_error',
};

/** `SET a = ?, b = ?, updated_at = ?` and its values, from the fields given (undefined ones are not set). */
function setClause(columns: Record<string, string>, fields: Record<string, unknown>, atMs: number): { sets: string; values: SqlValue[] } {
  const keys = Object.keys(fields).filter((k) => fields[k] !== undefined);
  for (const k of keys) if (!(k in columns)) throw new EdgeloopError('INTERNAL', `rollout store: no column for field ${k}`);
  const values = keys.map((k) => (typeof fields[k] === 'boolean' ? (fields[k] ? 1 : 0) : (fields[k] as SqlValue)));
  return { sets: [...keys.map((k) => `${columns[k]} = ?`), 'updated_at = ?'].join(', '), values: [...values, atMs] };
}

export type RolloutFields = Partial<Pick<RolloutRecord, 'state' | 'reason' | 'currentWave' | 'waveStartedAtMs' | 'waveSettledAtMs' | 'finishedAtMs' | 'rollbackRequested'>>;
export type RolloutDeviceFields = Partial<Omit<RolloutDeviceRecord, 'rolloutId' | 'device' | 'wave' | 'position' | 'installMode' | 'error' | 'shadow' | 'updatedAtMs'>>
  & { errorCode?: string | null; errorMessage?: string | null };

export class RolloutStore {
  readonly #db: SqlDb;

  private constructor(db: SqlDb) {
    this.#db = db;
  }

  /** Creates the tables when missing. */
  static async create(db: SqlDb): Promise<RolloutStore> {
    await createTables(db, 'rollouts', SCHEMA);
    if (db.dialect === 'postgres') {
      await createTables(db, 'rollouts-latest', `ALTER TABLE rollout_devices ADD COLUMN IF NOT EXISTS created_at BIGINT;\n${LATEST}`);
    } else {
      const columns = await db.all<{ name: string }>("SELECT name FROM pragma_table_info('rollout_devices')");
      if (!columns.some((c) => c.name === 'created_at')) await db.exec('ALTER TABLE rollout_devices ADD COLUMN created_at INTEGER');
      await db.exec(LATEST);
    }
    return new RolloutStore(db);
  }

  /** Runs `fn` in one transaction (gateway/sql.ts `transaction`: on SQLite it may await only this store and the fleet registry). */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.#db.transaction(fn);
  }

  async insert(r: RolloutRecord, devices: Omit<RolloutDeviceRecord, 'rolloutId'>[]): Promise<void> {
    await this.#db.batch([
      {
        sql: SQL.insertRollout,
        params: [r.id, r.fleet, r.model, r.version, r.ref, r.format, r.variant, JSON.stringify(r.plan), r.seed, r.state, r.reason, r.waves, r.currentWave,
          JSON.stringify(r.skipped), JSON.stringify(r.control), r.createdAtMs, r.updatedAtMs, r.createdBy],
      },
      ...devices.map((d) => ({ sql: SQL.insertDevice, params: [r.id, d.device, d.wave, d.position, d.state, d.installMode, d.fromVersion, d.updatedAtMs, r.createdAtMs] })),
    ]);
  }

  async get(id: string): Promise<RolloutRecord | null> {
    const row = await this.#db.get<RolloutRow>(SQL.get, [id]);
    return row ? toRollout(row) : null;
  }

  /** Just the rollout's state (no plan to parse): for callers that poll it. */
  async state(id: string): Promise<RolloutState | null> {
    return (await this.#db.get<{ state: RolloutState }>(SQL.state, [id]))?.state ?? null;
  }

  async mustGet(id: string): Promise<RolloutRecord> {
    const r = await this.get(id);
    if (!r) throw new EdgeloopError('NOT_FOUND', `rollout ${JSON.stringify(id)} does not exist (see GET /v1/rollouts)`);
    return r;
  }

  async list(limit = 100): Promise<RolloutRecord[]> {
    return (await this.#db.all<RolloutRow>(SQL.list, [limit])).map(toRollout);
  }

  async live(): Promise<RolloutRecord[]> {
    return (await this.#db.all<RolloutRow>(SQL.live)).map(toRollout);
  }

  async devices(id: string): Promise<RolloutDeviceRecord[]> {
    return (await this.#db.all<DeviceRow>(SQL.devices, [id])).map(toDevice);
  }

  async device(id: string, device: string): Promise<RolloutDeviceRecord | null> {
    const row = await this.#db.get<DeviceRow>(SQL.device, [id, device]);
    return row ? toDevice(row) : null;
  }

  async byCommand(commandId: string): Promise<RolloutDeviceRecord | null> {
    const row = await this.#db.get<DeviceRow>(SQL.byCommand, [commandId]);
    return row ? toDevice(row) : null;
  }

  async byRollback(commandId: string): Promise<RolloutDeviceRecord | null> {
    const row = await this.#db.get<DeviceRow>(SQL.byRollback, [commandId]);
    return row ? toDevice(row) : null;
  }

  async inFlightFor(fleet: string, device: string, model: string, version: number): Promise<RolloutDeviceRecord[]> {
    return (await this.#db.all<DeviceRow>(SQL.transferring, [fleet, device, model, version])).map(toDevice);
  }

  /** The device's installs in flight (transferring or verifying), oldest rollout first, with their model and version. */
  async inFlightForDevice(fleet: string, device: string): Promise<InFlightInstall[]> {
    type Row = Pick<DeviceRow, 'rollout_id' | 'state' | 'install_mode' | 'command_id' | 'dispatched_at'> & { model: string; version: number };
    return (await this.#db.all<Row>(SQL.inFlightForDevice, [fleet, device])).map((r) => ({
      rolloutId: r.rollout_id, state: r.state, installMode: r.install_mode, commandId: r.command_id, dispatchedAtMs: r.dispatched_at, model: r.model, version: r.version,
    }));
  }

  /** The device's part in the newest rollout that targeted it (for `fleet show`). */
  async latestForDevice(fleet: string, device: string): Promise<(RolloutDeviceRecord & { model: string; version: number }) | null> {
    const row = await this.#db.get<DeviceRow & { model: string; version: number }>(SQL.latestForDevice, [fleet, device]);
    return row ? { ...toDevice(row), model: row.model, version: row.version } : null;
  }

  async counts(id: string): Promise<Record<DeviceRolloutState, number>> {
    return countsOf(await this.#db.all<{ state: DeviceRolloutState; n: number }>(SQL.counts, [id]));
  }

  /** Device counts per state within one wave. */
  async waveCounts(id: string, wave: number): Promise<Record<DeviceRolloutState, number>> {
    return countsOf(await this.#db.all<{ state: DeviceRolloutState; n: number }>(SQL.waveCounts, [id, wave]));
  }

  /** The devices of one wave, in rollout order. */
  async waveDevices(id: string, wave: number): Promise<RolloutDeviceRecord[]> {
    return (await this.#db.all<DeviceRow>(SQL.waveDevices, [id, wave])).map(toDevice);
  }

  /** Devices still installing whose command went out before `beforeMs` (timeout candidates). */
  async inFlightDispatchedBefore(id: string, beforeMs: number): Promise<RolloutDeviceRecord[]> {
    return (await this.#db.all<DeviceRow>(SQL.dispatchedBefore, [id, beforeMs])).map(toDevice);
  }

  async updateRollout(id: string, fields: RolloutFields, atMs: number): Promise<void> {
    const { sets, values } = setClause(ROLLOUT_COLUMNS, fields, atMs);
    await this.#db.run(`UPDATE rollouts SET ${sets} WHERE id = ?`, [...values, id]);
  }

  async updateDevice(id: string, device: string, fields: RolloutDeviceFields, atMs: number): Promise<void> {
    const { sets, values } = setClause(DEVICE_COLUMNS, fields, atMs);
    await this.#db.run(`UPDATE rollout_devices SET ${sets} WHERE rollout_id = ? AND device = ?`, [...values, id, device]);
  }

  async addShadow(id: string, device: string, agree: number, total: number): Promise<void> {
    await this.#db.run(SQL.addShadow, [agree, total, id, device]);
  }

  async event(id: string, device: string | null, atMs: number, kind: string, detail: string): Promise<void> {
    await this.#db.run(SQL.event, [id, device, atMs, kind, detail]);
  }

  async events(id: string, limit = 200): Promise<RolloutEvent[]> {
    const rows = await this.#db.all<{ device: string | null; at: number; kind: string; detail: string }>(SQL.events, [id, limit]);
    return rows.map((e) => ({ device: e.device, atMs: e.at, kind: e.kind, detail: e.detail }));
  }
}
