/**
 * Streaming window features: push one reading at a time, get a feature row when a window closes.
 * This is the one implementation of windowed features — the batch pipeline feeds it the sorted
 * readings, the device feeds it live readings — so both compute the same rows from the same code.
 *
 * mean/std/min/max/range/ptp/median come from O(1)-amortized rolling state (rolling.ts); the other
 * statistics are computed from the window buffer when a window is emitted (stats.ts definitions).
 */
import { EdgeloopError } from '../errors.ts';
import { FloatRing } from './ring.ts';
import { RollingSensor } from './rolling.ts';
import { statColumns, windowStats, type Band, type WindowStat } from './stats.ts';
import type { WindowSpec } from './windows.ts';

export interface WindowFeatureConfig {
  window: WindowSpec;
  /** A larger gap between consecutive readings of a device starts a new segment. */
  maxGapMs: number;
  sensors: readonly string[];
  stats: readonly WindowStat[];
  /** Delta degrees of freedom of `std` (default 1, as pandas). */
  ddof: number;
  sampleRateHz?: number;
  bands: readonly Band[];
}

export interface WindowEmission {
  /** Timestamp of the last reading of the window. */
  tsMs: number;
  /** Push counter (0-based, per windower) of the window's last reading, to look up its label. */
  lastSeq: number;
  /** Number of readings in the window. */
  count: number;
  features: number[];
}

/** Feature names produced by `config`, in row order: per sensor, stats then bands. `none`: the sensor names. */
export function windowFeatureColumns(config: Pick<WindowFeatureConfig, 'window' | 'sensors' | 'stats' | 'bands'>): string[] {
  if (config.window.type === 'none') return [...config.sensors];
  return config.sensors.flatMap((s) => statColumns(s, config.stats, config.bands));
}

const ROLLING_STATS: ReadonlySet<WindowStat> = new Set(['last', 'mean', 'std', 'min', 'max', 'range', 'ptp', 'median']);

// Small integer codes for the emit loop: a string switch per value per window is measurable at 1M rows.
const enum Op { Last, Mean, Std, Min, Max, Range, Median, Slow }
function opOf(stat: WindowStat): Op {
  switch (stat) {
    case 'last': return Op.Last;
    case 'mean': return Op.Mean;
    case 'std': return Op.Std;
    case 'min': return Op.Min;
    case 'max': return Op.Max;
    case 'range': case 'ptp': return Op.Range;
    case 'median': return Op.Median;
    default: return Op.Slow;
  }
}

/** Windows of one device. */
export class DeviceWindower {
  private readonly ts: FloatRing;
  private readonly sensors: RollingSensor[];
  private readonly slowStats: WindowStat[];
  private readonly slowIndex: number[];
  private readonly ops: Op[];
  private readonly width: number;
  private lastTsMs: number | null = null;
  private seq = 0;
  private sinceEmit = 0;
  private lastEmitMs: number | null = null;
  private bucket = NaN;
  private readonly scratchX: Float64Array[] = [];
  private readonly slowOut: Float64Array;

  constructor(private readonly config: WindowFeatureConfig) {
    const w = config.window;
    const capacity = w.type === 'tumbling-count' || w.type === 'sliding-count' ? w.sizeReadings + 1 : 64;
    this.ts = new FloatRing(capacity);
    const trackMedian = w.type !== 'none' && config.stats.includes('median');
    this.sensors = config.sensors.map(() => new RollingSensor({ trackMedian, initialCapacity: capacity }));
    this.slowStats = config.stats.filter((s) => !ROLLING_STATS.has(s));
    this.slowIndex = config.stats.map((s) => this.slowStats.indexOf(s));
    this.ops = config.stats.map(opOf);
    this.width = windowFeatureColumns(config).length;
    this.slowOut = new Float64Array(this.slowStats.length + config.bands.length);
  }

  /** Readings currently held (for tests and memory accounting). */
  get bufferedReadings(): number {
    return this.ts.length;
  }

  /**
   * Adds one reading (`values` in `config.sensors` order, all finite). `breakBefore` forces a new
   * segment (the batch pipeline sets it at split boundaries). Returns the window this reading
   * completes or closes, or null. Throws BAD_TIMESTAMP when time goes backwards for this device.
   */
  push(tsMs: number, values: ArrayLike<number>, breakBefore = false): WindowEmission | null {
    if (this.lastTsMs !== null && tsMs < this.lastTsMs) {
      throw new EdgeloopError('BAD_TIMESTAMP', `tsMs must not decrease within a device: got ${tsMs} after ${this.lastTsMs}`);
    }
    const gap = this.lastTsMs !== null && (breakBefore || tsMs - this.lastTsMs > this.config.maxGapMs);
    this.lastTsMs = tsMs;
    const seq = this.seq++;
    const w = this.config.window;
    let emitted: WindowEmission | null = null;
    switch (w.type) {
      case 'none': {
        const features: number[] = [];
        for (let j = 0; j < this.width; j++) features.push(values[j]);
        return { tsMs, lastSeq: seq, count: 1, features };
      }
      case 'tumbling-count':
        if (gap) this.clear();
        this.add(tsMs, values);
        if (this.ts.length === w.sizeReadings) {
          emitted = this.emit(seq);
          this.clear();
        }
        return emitted;
      case 'sliding-count':
        if (gap) this.clear();
        this.add(tsMs, values);
        this.sinceEmit++;
        if (this.ts.length > w.sizeReadings) this.evict();
        if (this.ts.length === w.sizeReadings && (this.lastEmitMs === null || this.sinceEmit >= w.stepReadings)) {
          emitted = this.emit(seq);
          this.sinceEmit = 0;
          this.lastEmitMs = tsMs;
        }
        return emitted;
      case 'tumbling-time': {
        const bucket = Math.floor(tsMs / w.sizeMs);
        if (this.ts.length > 0 && (gap || bucket !== this.bucket)) {
          if (this.ts.length >= w.minReadings) emitted = this.emit(seq - 1);
          this.clear();
        }
        this.bucket = bucket;
        this.add(tsMs, values);
        return emitted;
      }
      case 'sliding-time':
        if (gap) this.clear();
        while (this.ts.length > 0 && tsMs - this.ts.first() >= w.sizeMs) this.evict();
        this.add(tsMs, values);
        if (this.ts.length >= w.minReadings && (this.lastEmitMs === null || tsMs - this.lastEmitMs >= w.stepMs)) {
          emitted = this.emit(seq);
          this.lastEmitMs = tsMs;
        }
        return emitted;
      default: {
        const never: never = w;
        throw new Error(`unreachable window ${String(never)}`);
      }
    }
  }

  /** Emits a pending tumbling-time bucket (end of data); other windows have nothing pending. */
  flush(): WindowEmission | null {
    const w = this.config.window;
    if (w.type !== 'tumbling-time' || this.ts.length === 0) return null;
    const emitted = this.ts.length >= w.minReadings ? this.emit(this.seq - 1) : null;
    this.clear();
    return emitted;
  }

  private add(tsMs: number, values: ArrayLike<number>): void {
    this.ts.push(tsMs);
    for (let j = 0; j < this.sensors.length; j++) this.sensors[j].push(values[j]);
  }

  private evict(): void {
    this.ts.shift();
    for (const s of this.sensors) s.evictOldest();
  }

  private clear(): void {
    this.ts.clear();
    for (const s of this.sensors) s.clear();
    this.sinceEmit = 0;
    this.lastEmitMs = null;
  }

  private emit(lastSeq: number): WindowEmission {
    const n = this.ts.length;
    // A plain array: cheaper to allocate than a typed array at one row per reading.
    const features: number[] = [];
    const { bands, ddof } = this.config;
    const ops = this.ops;
    const needBuffer = this.slowOut.length > 0;
    let tsCopy: Float64Array | null = null;
    if (needBuffer) {
      tsCopy = new Float64Array(n);
      this.ts.copyTo(tsCopy);
    }
    for (let j = 0; j < this.sensors.length; j++) {
      const r = this.sensors[j];
      if (needBuffer) {
        let x = this.scratchX[j];
        if (!x || x.length !== n) x = this.scratchX[j] = new Float64Array(n);
        r.values.copyTo(x);
        windowStats(x, tsCopy!, this.slowStats, { ddof, sampleRateHz: this.config.sampleRateHz, bands: [...bands] }, this.slowOut, 0);
      }
      for (let si = 0; si < ops.length; si++) {
        let v: number;
        switch (ops[si]) {
          case Op.Last: v = r.values.last(); break;
          case Op.Mean: v = r.mean(); break;
          case Op.Std: v = Math.sqrt(r.variance(ddof)); break;
          case Op.Min: v = r.min(); break;
          case Op.Max: v = r.max(); break;
          case Op.Range: v = r.max() - r.min(); break;
          case Op.Median: v = r.median(); break;
          default: v = this.slowOut[this.slowIndex[si]];
        }
        features.push(v);
      }
      for (let b = 0; b < bands.length; b++) features.push(this.slowOut[this.slowStats.length + b]);
    }
    return { tsMs: this.ts.last(), lastSeq, count: n, features };
  }
}
