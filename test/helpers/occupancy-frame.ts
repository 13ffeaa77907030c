/** The UCI occupancy recordings (datasets/occupancy) read into one pipeline Frame, a device per file. */
import { readFileSync } from 'node:fs';
import { parseCsv, detectColumns, tableToTelemetry } from '../../src/csv.ts';
import type { Frame } from '../../src/frame.ts';

export type OccupancyFile = 'datatraining.txt' | 'datatest.txt' | 'datatest2.txt';

/** Rows of each [file, device] in order; local times read in Europe/Brussels, as recorded. */
export function occupancyFrame(files: readonly (readonly [OccupancyFile | URL, string])[]): Frame {
  const frame: Frame = { ts: [], device: [], num: {}, cat: {} };
  for (const [file, device] of files) {
    const url = file instanceof URL ? file : new URL(`../../datasets/occupancy/${file}`, import.meta.url);
    const table = parseCsv(readFileSync(url, 'utf8'));
    for (const rec of tableToTelemetry(table, detectColumns(table), { timeZone: 'Europe/Brussels' })) {
      frame.ts.push(rec.ts as number);
      frame.device.push(device);
      for (const [k, v] of Object.entries(rec.values)) (frame.num[k] ??= []).push(v);
    }
  }
  return frame;
}
