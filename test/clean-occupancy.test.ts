// The cleaning pipeline on the real UCI Occupancy training file, with injected faults.
import test from 'ava';
import { readFileSync } from 'node:fs';
import type { Frame } from '../src/frame.ts';
import { applyClean, fitClean, type CleanStep } from '../src/clean/index.ts';

/** Header has 7 names, rows have 8 fields (a leading quoted row id); dates are quoted local times. */
function loadOccupancy(file: string): Frame {
  const lines = readFileSync(new URL(`../datasets/occupancy/${file}`, import.meta.url), 'utf8').trim().split('\n');
  const names = ['Temperature', 'Humidity', 'Light', 'CO2', 'HumidityRatio', 'Occupancy'];
  const f: Frame = { ts: [], device: [], num: Object.fromEntries(names.map((n) => [n, []])), cat: { date: [] } };
  for (const line of lines.slice(1)) {
    const fields = line.split(',');
    f.ts.push(0); // set by normalize-timestamp from the local date column
    f.device.push('umons-office');
    f.cat.date.push(fields[1].replaceAll('"', ''));
    names.forEach((n, j) => f.num[n].push(Number(fields[j + 2])));
  }
  return f;
}

test('occupancy training data: realistic spec with injected sentinels, duplicates and a °F column', (t) => {
  const clean = loadOccupancy('datatraining.txt');
  t.is(clean.ts.length, 8143);
  // Faults: every 97th temperature is reported in °F by a misconfigured sensor (a separate column
  // here, as a gateway would store it), every 101st CO2 reading is the -200 sentinel, and 25 rows
  // arrive twice (MQTT QoS 1 redelivery).
  const f: Frame = structuredClone(clean);
  f.num.TemperatureF = clean.num.Temperature.map((c) => (c as number) * 1.8 + 32);
  let sentinels = 0;
  f.num.CO2 = f.num.CO2.map((v, i) => (i % 101 === 50 ? (sentinels++, -200) : v));
  const dupRows = Array.from({ length: 25 }, (_, k) => 300 + k * 311);
  for (const i of dupRows) {
    f.ts.push(f.ts[i]);
    f.device.push(f.device[i]);
    f.cat.date.push(f.cat.date[i]);
    for (const n of Object.keys(f.num)) f.num[n].push(f.num[n][i]);
  }
  const steps: CleanStep[] = [
    { op: 'normalize-timestamp', column: 'date', format: 'local', timeZone: 'Europe/Brussels', output: 'ts' },
    { op: 'dedupe', keys: ['device', 'ts'] },
    { op: 'sentinel', columns: ['CO2'], values: [-200] },
    { op: 'convert-unit', column: 'TemperatureF', from: 'degF', to: 'degC' },
    { op: 'range', column: 'Humidity', min: 0, max: 100, action: 'null' },
    { op: 'interpolate', columns: ['CO2'], maxGapMs: 5 * 60_000 },
    { op: 'iqr', columns: ['Light'], k: 3, action: 'clip' },
    { op: 'log', columns: ['Light'], negative: 'null' },
  ];
  const fit = fitClean(f, steps);
  const r = fit.report;
  t.is(r.rowsIn, 8143 + 25);
  t.is(r.rowsOut, 8143);
  t.is(r.steps[0].changes.ts?.rewritten, 8168);
  t.is(r.steps[1].rowsDropped, 25);
  t.is(sentinels, 81);
  t.deepEqual(r.steps[2].changes.CO2, { nulled: 81 });
  t.deepEqual(r.steps[3].changes.TemperatureF, { converted: 8143 });
  const maxDiff = Math.max(...fit.frame.num.TemperatureF.map((v, i) => Math.abs((v as number) - (clean.num.Temperature[i] as number))));
  t.true(maxDiff < 1e-9, `°F→°C round trip within 1e-9, got ${maxDiff}`);
  t.deepEqual(r.steps[4].changes, {});
  // Readings are ~1 min apart, so every sentinel hole is interpolated from its neighbours.
  t.deepEqual(r.steps[5].changes.CO2, { interpolated: 81 });
  t.true(fit.frame.num.CO2.every((v) => v !== null && v > 400));
  // Light: pandas gives Q1=0, Q3=256.375, so the k=3 upper bound is 1025.5 and 2 readings exceed it.
  t.deepEqual(r.steps[6].changes.Light, { clipped: 2 });
  t.like(fit.state.steps[6], { bounds: { Light: { q1: 0, q3: 256.375, upper: 1025.5 } } });
  t.deepEqual(r.steps[7].changes.Light, { converted: 8143 });
  // Brussels is UTC+1 in February: the first reading 2015-02-04 17:51:00 local is 16:51Z.
  t.is(fit.frame.ts[0], Date.UTC(2015, 1, 4, 16, 51));
  t.true(fit.frame.ts.every((ts, i) => i === 0 || ts > fit.frame.ts[i - 1]));

  // The fitted state carries to another file (test set 1) as JSON, without refitting.
  const test1 = loadOccupancy('datatest.txt');
  test1.num.TemperatureF = test1.num.Temperature.map((c) => (c as number) * 1.8 + 32);
  const applied = applyClean(test1, steps, JSON.parse(JSON.stringify(fit.state)) as typeof fit.state);
  t.is(applied.report.rowsOut, 2665);
  const iqrState = fit.state.steps[6] as { bounds: Record<string, { upper: number }> };
  const lightMaxLog = Math.max(...(applied.frame.num.Light as number[]));
  t.true(Math.abs(lightMaxLog - Math.log1p(iqrState.bounds.Light.upper)) < 1e-9, 'test light clipped at the train bound');
});
