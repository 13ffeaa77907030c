/**
 * Window statistics against pandas/numpy golden vectors (scripts/golden/features.py).
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { statColumns, windowStats, type WindowStat } from '../src/features/stats.ts';

interface Golden {
  tsMs: number[];
  windows: number[];
  sampleRateHz: number;
  bands: [number, number][];
  series: {
    name: string;
    values: number[];
    rolling: Record<string, Record<string, (number | null)[]>>;
    perWindow: Record<string, Record<string, (number | number[])[]>>;
  }[];
}

const golden = JSON.parse(readFileSync(new URL('./fixtures/features-golden.json', import.meta.url), 'utf8')) as Golden;
const bands = golden.bands.map(([loHz, hiHz]) => ({ loHz, hiHz }));
const STATS: WindowStat[] = ['mean', 'std', 'min', 'max', 'median', 'skew', 'kurt', 'slope', 'rms', 'energy',
  'zero_crossings', 'mean_crossings', 'ptp', 'dominant_freq'];

function close(actual: number, expected: number, rel: number, scale: number): boolean {
  return Math.abs(actual - expected) <= rel * Math.max(Math.abs(expected), scale);
}

function compute(values: number[], end: number, w: number, ddof: number): Map<string, number> {
  const out = new Float64Array(STATS.length + bands.length);
  windowStats(values.slice(end - w, end), golden.tsMs.slice(end - w, end), STATS,
    { ddof, sampleRateHz: golden.sampleRateHz, bands }, out, 0);
  const names = statColumns('x', STATS, bands);
  return new Map(names.map((n, i) => [n.slice(3), out[i]]));
}

for (const s of golden.series) {
  for (const w of golden.windows) {
    test(`rolling ${s.name} w=${w}: mean/std/min/max/median/skew/kurt match pandas`, (t) => {
      const roll = s.rolling[String(w)];
      const scale = Math.max(...s.values.map(Math.abs));
      let checked = 0;
      for (let end = w; end <= s.values.length; end++) {
        const got = compute(s.values, end, w, 1);
        const got0 = compute(s.values, end, w, 0);
        const i = end - 1;
        for (const stat of ['mean', 'min', 'max', 'median'] as const) {
          t.true(close(got.get(stat)!, roll[stat][i]!, 1e-12, scale), `${stat} at ${i}: ${got.get(stat)} vs ${roll[stat][i]}`);
        }
        // std relative to itself: an error relative to the data scale would hide cancellation bugs.
        t.true(close(got.get('std')!, roll.std[i]!, 1e-9, 0), `std at ${i}: ${got.get('std')} vs ${roll.std[i]}`);
        t.true(close(got0.get('std')!, roll.std_ddof0[i]!, 1e-9, 0), `std ddof0 at ${i}`);
        // pandas' rolling skew/kurt use raw power sums, which lose digits when |mean| ≫ std; compare
        // tightly to Series.skew/kurt (nanops) and loosely to the rolling result.
        const per = s.perWindow[String(w)];
        const j = end - w;
        for (const stat of ['skew', 'kurt'] as const) {
          const exact = per[`${stat}_nanops`][j] as number;
          t.true(close(got.get(stat)!, exact, 1e-9, 1e-12), `${stat} vs nanops at ${i}: ${got.get(stat)} vs ${exact}`);
          const rolled = roll[stat][i];
          if (rolled !== null) t.true(close(got.get(stat)!, rolled, s.name === 'offset_large' ? 1e-3 : 1e-8, 1e-6), `${stat} vs rolling at ${i}`);
        }
        checked++;
      }
      t.is(checked, s.values.length - w + 1);
    });

    test(`per-window ${s.name} w=${w}: slope/rms/energy/crossings/ptp/fft match numpy`, (t) => {
      const per = s.perWindow[String(w)];
      for (let end = w; end <= s.values.length; end++) {
        const j = end - w;
        const got = compute(s.values, end, w, 1);
        for (const stat of ['slope', 'rms', 'energy', 'ptp'] as const) {
          t.true(close(got.get(stat)!, per[stat][j] as number, 1e-9, 1e-9), `${stat} window ${j}: ${got.get(stat)} vs ${per[stat][j]}`);
        }
        t.is(got.get('zero_crossings'), per.zero_crossings[j] as number, `zero crossings window ${j}`);
        t.is(got.get('mean_crossings'), per.mean_crossings[j] as number, `mean crossings window ${j}`);
        t.true(close(got.get('dominant_freq')!, per.dominant_freq[j] as number, 1e-12, 1e-12), `dominant freq window ${j}`);
        const expectedBands = per.bands[j] as number[];
        bands.forEach((b, bi) => {
          const name = `band_${b.loHz}_${b.hiHz}hz`;
          // Band powers scale with the variance; compare relative to the total power of the window.
          const total = expectedBands.reduce((a, v) => a + v, 0);
          t.true(close(got.get(name)!, expectedBands[bi], 1e-9, total), `${name} window ${j}: ${got.get(name)} vs ${expectedBands[bi]}`);
        });
      }
    });
  }
}

test('constant window: std 0, skew and kurt 0 (pandas Series convention), crossings 0', (t) => {
  const out = new Float64Array(STATS.length + bands.length);
  windowStats([2, 2, 2, 2, 2], [0, 1000, 2000, 3000, 4000], STATS, { ddof: 1, sampleRateHz: 1, bands }, out, 0);
  const names = statColumns('x', STATS, bands);
  const m = new Map(names.map((n, i) => [n.slice(3), out[i]]));
  t.is(m.get('mean'), 2);
  t.is(m.get('std'), 0);
  t.is(m.get('skew'), 0);
  t.is(m.get('kurt'), 0);
  t.is(m.get('slope'), 0);
  t.is(m.get('mean_crossings'), 0);
  t.is(m.get('dominant_freq'), 0);
});

test('too few readings: std/skew/kurt/slope are NaN, not made up', (t) => {
  const out = new Float64Array(4);
  windowStats([1, 5], [0, 1000], ['std', 'skew', 'kurt', 'slope'], { ddof: 2, bands: [] }, out, 0);
  t.true(Number.isNaN(out[0]));
  t.true(Number.isNaN(out[1]));
  t.true(Number.isNaN(out[2]));
  t.is(out[3], 4);
});
