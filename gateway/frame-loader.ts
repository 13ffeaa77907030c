/** Reads stored readings into the pipeline's Frame: one row per (device, ts), one column per sensor. */
import type { Frame } from '../src/frame.ts';
import { exportRows } from './data-io.ts';
import type { ReadingQuery, Store } from './store.ts';

export async function loadFrame(store: Store, query: ReadingQuery & { sensors?: string[] }): Promise<Frame> {
  const rows: { device: string; ts: number; values: Record<string, number> }[] = [];
  const sensors = new Set<string>(query.sensors ?? []);
  for await (const row of exportRows(store, query)) {
    rows.push(row);
    if (!query.sensors) for (const s of Object.keys(row.values)) sensors.add(s);
  }
  const frame: Frame = { ts: new Array(rows.length), device: new Array(rows.length), num: {}, cat: {} };
  for (const s of sensors) frame.num[s] = new Array(rows.length).fill(null);
  rows.forEach((row, i) => {
    frame.ts[i] = row.ts;
    frame.device[i] = row.device;
    for (const [s, v] of Object.entries(row.values)) {
      const col = frame.num[s];
      if (col) col[i] = v;
    }
  });
  return frame;
}
