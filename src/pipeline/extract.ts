/**
 * Base features (windows + dates) of a cleaned frame, and the per-row finishing steps (derived
 * features, selection, scaling) shared by the batch transform and the streaming pipeline.
 */
import { EdgeloopError } from '../errors.ts';
import type { Frame } from '../frame.ts';
import { ZoneCalendar } from '../features/date.ts';
import { appendDerived } from '../features/derived.ts';
import { DeviceWindower, type WindowEmission, type WindowFeatureConfig } from '../features/streaming.ts';
import { scaleRow } from '../scale/scaler.ts';
import type { FittedPipeline } from './fitted.ts';
import { resolvedWindow, type PipelineSpec } from './spec.ts';

export function windowConfig(spec: PipelineSpec): WindowFeatureConfig {
  const f = spec.features;
  return { window: resolvedWindow(f), maxGapMs: f.maxGapMs, sensors: spec.input.sensors, stats: f.stats, ddof: f.ddof, sampleRateHz: f.sampleRateHz, bands: f.bands };
}

/** Turns a window emission into the base feature row (window features, then date features). */
export class BaseRowBuilder {
  private readonly calendar: ZoneCalendar | null;
  constructor(private readonly spec: PipelineSpec) {
    this.calendar = spec.features.date ? new ZoneCalendar(spec.features.date.timeZone) : null;
  }
  build(e: WindowEmission): number[] {
    const row = Array.from(e.features);
    if (this.calendar && this.spec.features.date) this.calendar.write(e.tsMs, this.spec.features.date.features, row, row.length);
    return row;
  }
}

export interface BaseRows {
  X: number[][];
  ts: number[];
  device: string[];
  /** Frame row of each feature row's newest reading (its label comes from there). */
  sourceRow: number[];
  /** Readings not fed to the windows because a sensor value was missing or not finite. */
  skippedReadings: number;
}

/** Sensor values of frame row i, or null when one is missing or not finite. */
function sensorValues(frame: Frame, sensors: readonly string[], i: number, out: Float64Array): boolean {
  for (let j = 0; j < sensors.length; j++) {
    const v = frame.num[sensors[j]][i];
    if (v === null || !Number.isFinite(v)) return false;
    out[j] = v;
  }
  return true;
}

/** Base features of a frame sorted by (device, ts); `breakBefore` marks split-run boundaries. */
export function extractBase(frame: Frame, spec: PipelineSpec, breakBefore?: readonly boolean[]): BaseRows {
  const sensors = spec.input.sensors;
  for (const s of sensors) if (!Object.hasOwn(frame.num, s)) throw new EdgeloopError('BAD_DATA', `frame has no numeric sensor column '${s}' (input.sensors)`);
  const config = windowConfig(spec);
  const builder = new BaseRowBuilder(spec);
  const out: BaseRows = { X: [], ts: [], device: [], sourceRow: [], skippedReadings: 0 };
  const values = new Float64Array(sensors.length);
  let windower: DeviceWindower | null = null;
  let seqToRow: number[] = [];
  let pendingBreak = false;
  const take = (e: WindowEmission | null, device: string): void => {
    if (!e) return;
    out.X.push(builder.build(e));
    out.ts.push(e.tsMs);
    out.device.push(device);
    out.sourceRow.push(seqToRow[e.lastSeq]);
  };
  for (let i = 0; i < frame.ts.length; i++) {
    const device = frame.device[i];
    if (i === 0 || device !== frame.device[i - 1]) {
      if (windower && i > 0) take(windower.flush(), frame.device[i - 1]);
      windower = new DeviceWindower(config);
      seqToRow = [];
      pendingBreak = false;
    }
    pendingBreak ||= breakBefore?.[i] ?? false;
    if (!sensorValues(frame, sensors, i, values)) {
      out.skippedReadings++;
      continue;
    }
    seqToRow.push(i);
    take(windower!.push(frame.ts[i], values, pendingBreak), device);
    pendingBreak = false;
  }
  if (windower && frame.ts.length > 0) take(windower.flush(), frame.device[frame.ts.length - 1]);
  return out;
}

/** Derived features, selection and scaling of one base row (fitted state only). */
export function finishRow(base: number[], device: string, fitted: FittedPipeline): number[] {
  const row = [...base];
  fitted.derived.forEach((d, k) => appendDerived(d, k === 0 ? fitted.baseColumns : fitted.derivedColumns[k - 1], row, device));
  const out = fitted.selected.map((j) => row[j]);
  scaleRow(out, fitted.scaler);
  return out;
}
