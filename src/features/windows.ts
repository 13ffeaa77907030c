/**
 * Window shapes for feature extraction. Windows are per device, never straddle a time gap larger
 * than `maxGapMs`, and never cross a "break" (the pipeline breaks at split boundaries).
 *
 * - `none`: no window; one row per reading with the raw sensor values (identity features).
 * - `tumbling-count`: consecutive, non-overlapping runs of `sizeReadings` readings; a trailing
 *   partial run is not emitted.
 * - `sliding-count`: the last `sizeReadings` readings, emitted when full and then every
 *   `stepReadings` readings.
 * - `tumbling-time`: epoch-aligned buckets [k·sizeMs, (k+1)·sizeMs); a bucket is emitted when a
 *   reading of a later bucket (or a break) closes it, or on flush, if it holds ≥ `minReadings`.
 * - `sliding-time`: at each reading t, the readings in (t − sizeMs, t]; emitted when it holds
 *   ≥ `minReadings` and at least `stepMs` passed since the previous emission (0: every reading).
 */
export type WindowSpec =
  | { type: 'none' }
  | { type: 'tumbling-count'; sizeReadings: number }
  | { type: 'sliding-count'; sizeReadings: number; stepReadings: number }
  | { type: 'tumbling-time'; sizeMs: number; minReadings: number }
  | { type: 'sliding-time'; sizeMs: number; stepMs: number; minReadings: number };

export type WindowType = WindowSpec['type'];

/** A window as a half-open index range [start, end) of one ordered reading sequence. */
export interface WindowRange {
  start: number;
  end: number;
}

/** Fewest readings any emitted window can hold (count windows: their size). */
export function minWindowReadings(window: WindowSpec): number {
  switch (window.type) {
    case 'none': return 1;
    case 'tumbling-count': case 'sliding-count': return window.sizeReadings;
    case 'tumbling-time': case 'sliding-time': return window.minReadings;
    default: {
      const never: never = window;
      return never;
    }
  }
}

/**
 * Reference enumeration of the windows of one device's readings, ordered by time. `breakBefore[i]`
 * forces a segment boundary before reading i (split boundaries). Straightforward O(n·w) code:
 * the streaming windower (streaming.ts) is tested against it.
 */
export function enumerateWindows(tsMs: readonly number[], breakBefore: readonly boolean[], window: WindowSpec, maxGapMs: number): WindowRange[] {
  const segments: WindowRange[] = [];
  let segStart = 0;
  for (let i = 1; i <= tsMs.length; i++) {
    if (i === tsMs.length || breakBefore[i] || tsMs[i] - tsMs[i - 1] > maxGapMs) {
      if (i > segStart) segments.push({ start: segStart, end: i });
      segStart = i;
    }
  }
  const out: WindowRange[] = [];
  for (const seg of segments) {
    switch (window.type) {
      case 'none':
        for (let i = seg.start; i < seg.end; i++) out.push({ start: i, end: i + 1 });
        break;
      case 'tumbling-count':
        for (let s = seg.start; s + window.sizeReadings <= seg.end; s += window.sizeReadings) out.push({ start: s, end: s + window.sizeReadings });
        break;
      case 'sliding-count':
        for (let e = seg.start + window.sizeReadings; e <= seg.end; e += window.stepReadings) out.push({ start: e - window.sizeReadings, end: e });
        break;
      case 'tumbling-time': {
        let s = seg.start;
        while (s < seg.end) {
          const bucket = Math.floor(tsMs[s] / window.sizeMs);
          let e = s;
          while (e < seg.end && Math.floor(tsMs[e] / window.sizeMs) === bucket) e++;
          if (e - s >= window.minReadings) out.push({ start: s, end: e });
          s = e;
        }
        break;
      }
      case 'sliding-time': {
        let lastEmitMs: number | null = null;
        for (let e = seg.start; e < seg.end; e++) {
          let s = seg.start;
          while (tsMs[e] - tsMs[s] >= window.sizeMs) s++;
          if (e + 1 - s >= window.minReadings && (lastEmitMs === null || tsMs[e] - lastEmitMs >= window.stepMs)) {
            out.push({ start: s, end: e + 1 });
            lastEmitMs = tsMs[e];
          }
        }
        break;
      }
      default: {
        const never: never = window;
        throw new Error(`unreachable window ${String(never)}`);
      }
    }
  }
  return out;
}
