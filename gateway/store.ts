/**
 * The gateway's storage interface. Implementations: SQLite (gateway/store-sqlite.ts, the embedded
 * default); PostgreSQL comes with scale-out. Every implementation passes test/store-contract.ts.
 *
 * Durability rule: `writeBatch` resolves only after the transaction holding the batch has committed;
 * the MQTT session sends PUBACK only after that. Readings are identified by (fleet, device, sensor, ts):
 * writing one twice stores it once (the first value wins; a different value is counted as a conflict).
 */
import type { Reading, RejectReason } from '../src/contracts/telemetry.ts';

export type Transport = 'mqtt' | 'http' | 'import';

/** A message that failed validation, kept with its raw payload so an operator can see why. */
export interface Reject {
  receivedAtMs: number;
  transport: Transport;
  topic: string;
  /** MQTT client id, HTTP remote address, or file name. */
  source: string;
  reason: RejectReason;
  detail: string;
  payload: Uint8Array;
}

export interface QuarantineRow extends Omit<Reject, 'payload'> {
  id: number;
  /** The payload as stored (truncated to the store's limit). */
  payload: Uint8Array;
  payloadBytes: number;
  truncated: boolean;
}

export interface WriteResult {
  inserted: number;
  duplicates: number;
  /** Duplicates whose value differed from the stored one (first value kept). */
  conflicts: number;
  quarantined: number;
}

export interface ReadingQuery {
  fleet: string;
  device?: string;
  sensors?: string[];
  fromMs?: number;
  /** Exclusive. */
  toMs?: number;
}

export interface SeriesStats {
  fleet: string;
  device: string;
  sensor: string;
  count: number;
  firstTsMs: number;
  lastTsMs: number;
  min: number;
  max: number;
  mean: number;
}

export interface SensorRange {
  device: string;
  sensor: string;
  firstTsMs: number;
  lastTsMs: number;
}

export interface IngestCounters {
  inserted: number;
  duplicates: number;
  conflicts: number;
  /** Rejects per reason since the store was created (kept even when old quarantine rows are evicted). */
  rejected: Partial<Record<RejectReason, number>>;
  quarantineEvicted: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Stores readings and rejects in one transaction; resolves after commit. */
  writeBatch(readings: readonly Reading[], rejects: readonly Reject[]): Promise<WriteResult>;
  /** Readings ordered by device then ts (sensors of one instant in a fixed, unspecified order), streamed: exports of any size use bounded memory. */
  readings(query: ReadingQuery): AsyncIterable<Reading>;
  countReadings(query: ReadingQuery): Promise<number>;
  stats(fleet?: string): Promise<SeriesStats[]>;
  /**
   * First and last reading ts of each of `sensors` per device of `fleet` (devices without them left
   * out): two index lookups per (device, sensor), where `stats` scans every reading of the fleet.
   */
  sensorRanges(fleet: string, sensors: readonly string[]): Promise<SensorRange[]>;
  quarantine(options?: { limit?: number; reason?: RejectReason; afterId?: number }): Promise<QuarantineRow[]>;
  counters(): Promise<IngestCounters>;
  close(): Promise<void>;
}

/** Builds IngestCounters from the (name, n) rows both stores keep in their `counters` table. */
export function countersFromRows(rows: readonly { name: string; n: number }[]): IngestCounters {
  const c: IngestCounters = { inserted: 0, duplicates: 0, conflicts: 0, rejected: {}, quarantineEvicted: 0 };
  for (const { name, n } of rows) {
    if (name === 'inserted') c.inserted = n;
    else if (name === 'duplicates') c.duplicates = n;
    else if (name === 'conflicts') c.conflicts = n;
    else if (name === 'quarantine_evicted') c.quarantineEvicted = n;
    else if (name.startsWith('rejected:')) c.rejected[name.slice(9) as RejectReason] = n;
  }
  return c;
}
