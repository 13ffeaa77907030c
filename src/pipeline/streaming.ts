/**
 * The streaming pipeline for a device: push one reading, get the finished feature row (cleaned,
 * windowed, dated, derived, selected, scaled) when a window completes. Same code as the batch
 * transform, so the same readings give the same rows.
 *
 * Cleaning runs per reading (applyClean on a one-row frame), so only row-local clean steps are
 * allowed here; steps that look at neighbouring rows (dedupe, fill, interpolate, resample) are
 * refused with BAD_SPEC — run those upstream (the gateway) instead.
 */
import { EdgeloopError } from '../errors.ts';
import type { Frame } from '../frame.ts';
import { applyClean, type CleanStep } from '../clean/index.ts';
import { DeviceWindower, type WindowEmission } from '../features/streaming.ts';
import { BaseRowBuilder, finishRow, windowConfig } from './extract.ts';
import type { FittedPipeline } from './fitted.ts';
import { checkFitted } from './transform.ts';

export interface StreamReading {
  ts: number;
  device: string;
  values: Record<string, number | null>;
  /** Categorical inputs of row-local clean steps (input.categorical). */
  cat?: Record<string, string | null>;
}

export interface StreamingPipeline {
  readonly columns: readonly string[];
  /** Feature row completed by this reading, or null. Throws BAD_TIMESTAMP if time goes backwards for the device. */
  push(reading: StreamReading): number[] | null;
  /** Rows of windows still open at end of data (tumbling-time buckets), one per device at most. */
  flush(): { device: string; ts: number; row: number[] }[];
  /** Readings dropped by cleaning or for a missing/non-finite sensor value. */
  readonly skippedReadings: number;
}

const NOT_ROW_LOCAL = new Set(['dedupe', 'fill', 'interpolate', 'resample']);

export function createStreamingPipeline(specInput: unknown, fitted: FittedPipeline): StreamingPipeline {
  const spec = checkFitted(specInput, fitted);
  const steps = spec.clean as CleanStep[];
  const refused = fitted.clean.ops.filter((op) => NOT_ROW_LOCAL.has(op));
  if (refused.length > 0) throw new EdgeloopError('BAD_SPEC', `clean step(s) ${refused.map((o) => `'${o}'`).join(', ')} need neighbouring rows and cannot run per reading; allowed in streaming: row-local steps only`);
  const config = windowConfig(spec);
  const builder = new BaseRowBuilder(spec);
  const sensors = spec.input.sensors;
  const windowers = new Map<string, DeviceWindower>();
  const values = new Float64Array(sensors.length);
  let skipped = 0;
  const finish = (e: WindowEmission, device: string): number[] => finishRow(builder.build(e), device, fitted);
  return {
    columns: fitted.columns,
    get skippedReadings() {
      return skipped;
    },
    push(reading: StreamReading): number[] | null {
      let num: Record<string, number | null> = reading.values;
      let ts = reading.ts;
      if (steps.length > 0) {
        const frame: Frame = { ts: [reading.ts], device: [reading.device], num: {}, cat: {} };
        for (const [k, v] of Object.entries(reading.values)) frame.num[k] = [v];
        for (const [k, v] of Object.entries(reading.cat ?? {})) frame.cat[k] = [v];
        const out = applyClean(frame, steps, fitted.clean).frame;
        if (out.ts.length === 0) {
          skipped++;
          return null;
        }
        num = Object.fromEntries(Object.entries(out.num).map(([k, v]) => [k, v[0]]));
        ts = out.ts[0];
      }
      for (let j = 0; j < sensors.length; j++) {
        const v = num[sensors[j]];
        if (v === null || v === undefined || !Number.isFinite(v)) {
          skipped++;
          return null;
        }
        values[j] = v;
      }
      let w = windowers.get(reading.device);
      if (!w) windowers.set(reading.device, (w = new DeviceWindower(config)));
      const e = w.push(ts, values);
      return e ? finish(e, reading.device) : null;
    },
    flush() {
      const out: { device: string; ts: number; row: number[] }[] = [];
      for (const [device, w] of [...windowers.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        const e = w.flush();
        if (e) out.push({ device, ts: e.tsMs, row: finish(e, device) });
      }
      return out;
    },
  };
}
