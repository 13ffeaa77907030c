/**
 * The fleet registry: one row per device, kept from its retained `status` and its `heartbeat`s
 * (and the model slots its command results report). On gateway/sql.ts: the gateway's SQLite file, or the
 * PostgreSQL that scaled-out gateways share (written by the elected instance, read by all).
 * Health is computed at read time from the age of the last message, so a device that vanished without
 * its last will (a power cut behind a NAT that keeps the TCP session) still turns stale, then offline.
 */
import { EdgeloopError } from '../src/errors.ts';
import { assertSafeName } from '../src/names.ts';
import type { DeviceHardware, DeviceStatus, Heartbeat, ModelSlotStatus, RuntimeName } from '../src/contracts/device.ts';
import { createTables, type SqlDb } from './sql.ts';
import { placeholders } from './sql-batch.ts';

export type DeviceHealth = 'online' | 'stale' | 'offline';

export interface FleetDevice {
  fleet: string;
  device: string;
  tags: string[];
  health: DeviceHealth;
  /** What the device last said about itself (false after its last will). */
  reportedOnline: boolean;
  hardware: DeviceHardware | null;
  runtimes: RuntimeName[];
  agentVersion: string | null;
  startedAtMs: number | null;
  /** Installed models: active, shadow and previous versions per model. */
  models: ModelSlotStatus[];
  lastSeenMs: number;
  lastStatusMs: number | null;
  lastHeartbeatMs: number | null;
  heartbeatSeq: number | null;
  /** Heartbeats missed, from gaps in their sequence numbers since the agent started. */
  heartbeatsMissed: number;
  transfer: Heartbeat['transfer'];
}

export interface FleetOptions {
  sql: SqlDb;
  /** No message for this long: stale. */
  staleAfterMs?: number;
  /** No message for this long: offline (also at once when the last will arrives). */
  offlineAfterMs?: number;
  now?: () => number;
}

/** Heartbeats come every 15 s by default in the agent: stale after ~3 missed, offline after ~10. */
export const FLEET_DEFAULTS = { staleAfterMs: 45_000, offlineAfterMs: 150_000 };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS fleet_devices (
  fleet TEXT NOT NULL, device TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '[]', reported_online INTEGER NOT NULL DEFAULT 0,
  hardware TEXT, runtimes TEXT NOT NULL DEFAULT '[]', agent_version TEXT, started_at {time}, models TEXT NOT NULL DEFAULT '[]',
  last_seen {time} NOT NULL, last_status {time}, last_heartbeat {time}, heartbeat_seq {time},
  heartbeats_missed INTEGER NOT NULL DEFAULT 0, transfer TEXT,
  PRIMARY KEY (fleet, device)
);
`;

interface Row {
  fleet: string; device: string; tags: string; reported_online: number; hardware: string | null; runtimes: string; agent_version: string | null;
  started_at: number | null; models: string; last_seen: number; last_status: number | null; last_heartbeat: number | null;
  heartbeat_seq: number | null; heartbeats_missed: number; transfer: string | null;
}

/**
 * The upserts, per dialect only in the larger-of-two function (SQLite's two-argument max is PostgreSQL's
 * GREATEST); `IS NOT DISTINCT FROM` is null-safe equality in both.
 */
function statements(dialect: SqlDb['dialect']) {
  const greatest = dialect === 'sqlite' ? 'max' : 'GREATEST';
  return {
    upsertOnline: `INSERT INTO fleet_devices AS f (fleet, device, tags, reported_online, hardware, runtimes, agent_version, started_at, models, last_seen, last_status)
      VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (fleet, device) DO UPDATE SET tags = excluded.tags, reported_online = 1, hardware = excluded.hardware, runtimes = excluded.runtimes,
        agent_version = excluded.agent_version, models = excluded.models, last_seen = ${greatest}(f.last_seen, excluded.last_seen), last_status = excluded.last_status,
        heartbeat_seq = CASE WHEN f.started_at IS NOT DISTINCT FROM excluded.started_at THEN f.heartbeat_seq ELSE NULL END, started_at = excluded.started_at`,
    markOffline: `INSERT INTO fleet_devices AS f (fleet, device, reported_online, last_seen, last_status) VALUES (?, ?, 0, ?, ?)
      ON CONFLICT (fleet, device) DO UPDATE SET reported_online = 0, last_status = excluded.last_status, transfer = NULL`,
    heartbeat: `INSERT INTO fleet_devices AS f (fleet, device, reported_online, last_seen, last_heartbeat, heartbeat_seq, transfer)
      VALUES (?, ?, 1, ?, ?, ?, ?)
      ON CONFLICT (fleet, device) DO UPDATE SET reported_online = 1, last_seen = ${greatest}(f.last_seen, excluded.last_seen), last_heartbeat = excluded.last_heartbeat,
        heartbeats_missed = f.heartbeats_missed + CASE WHEN f.heartbeat_seq IS NOT NULL AND excluded.heartbeat_seq > f.heartbeat_seq + 1 THEN excluded.heartbeat_seq - f.heartbeat_seq - 1 ELSE 0 END,
        heartbeat_seq = excluded.heartbeat_seq, transfer = excluded.transfer`,
    models: `UPDATE fleet_devices SET models = ?, last_seen = ${greatest}(last_seen, ?) WHERE fleet = ? AND device = ?`,
    get: 'SELECT * FROM fleet_devices WHERE fleet = ? AND device = ?',
    modelsOf: 'SELECT models FROM fleet_devices WHERE fleet = ? AND device = ?',
    all: 'SELECT * FROM fleet_devices ORDER BY fleet, device',
    ofFleet: 'SELECT * FROM fleet_devices WHERE fleet = ? ORDER BY device',
    fleets: 'SELECT DISTINCT fleet FROM fleet_devices ORDER BY fleet',
  };
}

/** Ids per getMany query: far below SQLite's and PostgreSQL's parameter limits, few distinct statement texts. */
const GET_MANY_BATCH = 500;

export class FleetRegistry {
  readonly #db: SqlDb;
  readonly #staleAfterMs: number;
  readonly #offlineAfterMs: number;
  readonly #now: () => number;
  readonly #sql: ReturnType<typeof statements>;

  private constructor(options: FleetOptions) {
    this.#db = options.sql;
    this.#staleAfterMs = options.staleAfterMs ?? FLEET_DEFAULTS.staleAfterMs;
    this.#offlineAfterMs = options.offlineAfterMs ?? FLEET_DEFAULTS.offlineAfterMs;
    this.#now = options.now ?? Date.now;
    this.#sql = statements(options.sql.dialect);
  }

  /** Creates the table when missing. */
  static async create(options: FleetOptions): Promise<FleetRegistry> {
    const staleAfterMs = options.staleAfterMs ?? FLEET_DEFAULTS.staleAfterMs;
    const offlineAfterMs = options.offlineAfterMs ?? FLEET_DEFAULTS.offlineAfterMs;
    if (!(staleAfterMs > 0 && offlineAfterMs >= staleAfterMs)) {
      throw new EdgeloopError('BAD_ARGUMENT', `fleet health: staleAfterMs (${staleAfterMs}) must be > 0 and offlineAfterMs (${offlineAfterMs}) >= staleAfterMs`);
    }
    await createTables(options.sql, 'fleet', SCHEMA);
    return new FleetRegistry(options);
  }

  /** Applies a retained status (or the last will). The status must name the device of its topic. */
  async applyStatus(fleet: string, device: string, status: DeviceStatus, atMs = this.#now()): Promise<void> {
    if (!status.online) {
      await this.#db.run(this.#sql.markOffline, [fleet, device, atMs, atMs]);
      return;
    }
    if (status.fleet !== fleet || status.device !== device) {
      throw new EdgeloopError('BAD_PAYLOAD', `status names ${status.fleet}/${status.device} but was published on the topic of ${fleet}/${device}`);
    }
    await this.#db.run(this.#sql.upsertOnline, [
      fleet, device, JSON.stringify([...new Set(status.tags)].sort()), JSON.stringify(status.hardware), JSON.stringify(status.runtimes),
      status.agentVersion, status.startedAtMs, JSON.stringify(status.models), atMs, atMs,
    ]);
  }

  async applyHeartbeat(fleet: string, device: string, heartbeat: Heartbeat, atMs = this.#now()): Promise<void> {
    await this.#db.run(this.#sql.heartbeat, [fleet, device, atMs, atMs, heartbeat.seq, heartbeat.transfer ? JSON.stringify(heartbeat.transfer) : null]);
  }

  /**
   * Model slots from a command result (fresher than the retained status until the agent republishes it).
   * Results carry no high-water mark; the one the last status reported is kept (it never goes down).
   */
  async applyModels(fleet: string, device: string, models: ModelSlotStatus[], atMs = this.#now()): Promise<void> {
    const row = await this.#db.get<Pick<Row, 'models'>>(this.#sql.modelsOf, [fleet, device]);
    const before = row ? (JSON.parse(row.models) as ModelSlotStatus[]) : [];
    const merged = models.map((m) => {
      const highWater = before.find((b) => b.model === m.model)?.highWater;
      return m.highWater !== undefined || highWater === undefined ? m : { ...m, highWater };
    });
    await this.#db.run(this.#sql.models, [JSON.stringify(merged), atMs, fleet, device]);
  }

  async get(fleet: string, device: string): Promise<FleetDevice | null> {
    const row = await this.#db.get<Row>(this.#sql.get, [assertSafeName('fleet', fleet), assertSafeName('device', device)]);
    return row ? this.#toDevice(row, this.#now()) : null;
  }

  /**
   * The known devices among `devices`, by id (unknown ones are absent): one query per
   * GET_MANY_BATCH ids, not one per device (a wave of a thousand devices starts with this).
   */
  async getMany(fleet: string, devices: readonly string[]): Promise<Map<string, FleetDevice>> {
    assertSafeName('fleet', fleet);
    const now = this.#now();
    const out = new Map<string, FleetDevice>();
    const ids = [...new Set(devices)];
    for (let i = 0; i < ids.length; i += GET_MANY_BATCH) {
      const part = ids.slice(i, i + GET_MANY_BATCH);
      // Padded (repeating the last id) to a power of two: a handful of statement texts to prepare, not one per list length.
      const size = Math.min(GET_MANY_BATCH, 2 ** Math.ceil(Math.log2(part.length)));
      const params = [...part, ...new Array<string>(size - part.length).fill(part[part.length - 1]!)];
      const rows = await this.#db.all<Row>(`SELECT * FROM fleet_devices WHERE fleet = ? AND device IN ${placeholders(size)}`, [fleet, ...params]);
      for (const r of rows) out.set(r.device, this.#toDevice(r, now));
    }
    return out;
  }

  /** Devices sorted by fleet then id; `fleet` and `tag` filter. */
  async list(filter: { fleet?: string; tag?: string } = {}): Promise<FleetDevice[]> {
    const now = this.#now();
    const rows = filter.fleet === undefined
      ? await this.#db.all<Row>(this.#sql.all)
      : await this.#db.all<Row>(this.#sql.ofFleet, [assertSafeName('fleet', filter.fleet)]);
    const out = rows.map((r) => this.#toDevice(r, now));
    return filter.tag === undefined ? out : out.filter((d) => d.tags.includes(filter.tag!));
  }

  async fleets(): Promise<string[]> {
    return (await this.#db.all<{ fleet: string }>(this.#sql.fleets)).map((r) => r.fleet);
  }

  healthOf(reportedOnline: boolean, lastSeenMs: number, nowMs = this.#now()): DeviceHealth {
    if (!reportedOnline) return 'offline';
    const age = nowMs - lastSeenMs;
    if (age <= this.#staleAfterMs) return 'online';
    return age <= this.#offlineAfterMs ? 'stale' : 'offline';
  }

  #toDevice(r: Row, nowMs: number): FleetDevice {
    return {
      fleet: r.fleet,
      device: r.device,
      tags: JSON.parse(r.tags) as string[],
      health: this.healthOf(r.reported_online === 1, r.last_seen, nowMs),
      reportedOnline: r.reported_online === 1,
      hardware: r.hardware === null ? null : (JSON.parse(r.hardware) as DeviceHardware),
      runtimes: JSON.parse(r.runtimes) as RuntimeName[],
      agentVersion: r.agent_version,
      startedAtMs: r.started_at,
      models: JSON.parse(r.models) as ModelSlotStatus[],
      lastSeenMs: r.last_seen,
      lastStatusMs: r.last_status,
      lastHeartbeatMs: r.last_heartbeat,
      heartbeatSeq: r.heartbeat_seq,
      heartbeatsMissed: r.heartbeats_missed,
      transfer: r.transfer === null ? null : (JSON.parse(r.transfer) as Heartbeat['transfer']),
    };
  }
}

/** The active and previous version of one model on a device (null when the device does not have it). */
export function modelVersionsOf(device: Pick<FleetDevice, 'models'>, model: string): { active: number | null; shadow: number | null; previous: number | null } {
  const slot = device.models.find((m) => m.model === model);
  return { active: slot?.active ?? null, shadow: slot?.shadow ?? null, previous: slot?.previous[0] ?? null };
}

/**
 * The highest version of `model` this device is known to have activated: its reported high-water mark,
 * and its active and previous versions (all an older agent reports). A shadow version does not count:
 * it raises no mark on the device. null: none known.
 */
export function highestKnownVersion(device: Pick<FleetDevice, 'models'>, model: string): number | null {
  const slot = device.models.find((m) => m.model === model);
  if (!slot) return null;
  const versions = [slot.highWater, slot.active, ...slot.previous].filter((v): v is number => typeof v === 'number');
  return versions.length === 0 ? null : Math.max(...versions);
}
