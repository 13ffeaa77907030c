/**
 * A small local reader for the UCI occupancy files (test and bench use; see datasets/occupancy/README.md):
 * rows are `"id","YYYY-MM-DD hh:mm:ss",T,RH,Light,CO2,W,Occupancy` (the date unquoted in datatest2.txt).
 * Features: the 5 sensors + seconds since midnight (NSM) + weekend flag (WS), both from the recorded
 * local date, as in the authors' R script.
 */
import { readFileSync } from 'node:fs';

export const OCCUPANCY_FEATURES = ['Temperature', 'Humidity', 'Light', 'CO2', 'HumidityRatio', 'NSM', 'WS'] as const;

export interface OccupancySet {
  X: number[][];
  y: number[];
}

export function readOccupancy(file: 'datatraining.txt' | 'datatest.txt' | 'datatest2.txt'): OccupancySet {
  const text = readFileSync(new URL(`../../datasets/occupancy/${file}`, import.meta.url), 'utf8');
  const X: number[][] = [];
  const y: number[] = [];
  const lines = text.split('\n');
  for (let li = 1; li < lines.length; li++) {
    const line = lines[li].trim();
    if (line === '') continue;
    const f = line.split(',').map((s) => s.replace(/^"|"$/g, ''));
    if (f.length !== 8) throw new Error(`${file}:${li + 1}: expected 8 fields, got ${f.length}`);
    const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(f[1]);
    if (!m) throw new Error(`${file}:${li + 1}: bad date ${f[1]}`);
    const [, yy, mo, dd, hh, mi, ss] = m.map(Number);
    const nsm = hh * 3600 + mi * 60 + ss;
    const dow = new Date(Date.UTC(yy, mo - 1, dd)).getUTCDay(); // calendar date as recorded, no time zone shift
    const weekend = dow === 0 || dow === 6 ? 1 : 0;
    X.push([Number(f[2]), Number(f[3]), Number(f[4]), Number(f[5]), Number(f[6]), nsm, weekend]);
    y.push(Number(f[7]));
  }
  return { X, y };
}
