/**
 * Drift benchmark on the real UCI occupancy recordings, through the device's code path:
 * readings → streaming pipeline (src/pipeline/streaming.ts) → drift monitor over the model inputs
 * minus the clock features → report (JSON, parsed as the gateway does) → policy.
 * Run: node --import tsx bench/drift.ts [--quick]
 *
 * Reference: the training split (datatraining.txt) profiled and calibrated on its own windows
 * (src/drift/calibrate.ts). Window and cadence: DEVICE_DRIFT_DEFAULTS (1,440 samples = one day,
 * a report every 240 = 4 h). Policy: DEFAULT_DRIFT_POLICY.
 *
 * 1. Update cost: ns per sample of monitor.update() on the pipeline's rows, against a baseline
 *    measured in the same run (copying the row into a ring buffer), and the pipeline's own push.
 * 2. False alarms: clean replays of datatest.txt and datatest2.txt in time order; share of judged
 *    reports (full windows) whose verdict is not 'ok' (warn raises an alert at the gateway too).
 * 3. Detection delay: each fault injected into the raw readings from several onsets; delay = judged
 *    reports from the onset to the first non-ok verdict that names a feature of the faulted sensor
 *    (1 = the first report after the onset).
 * Last line: `drift: delay <windows> windows, false alarms <pct>%, update <ns> ns/sample` — the
 * median delay over every fault and onset of both files (a missed onset counts as never; 'missed'
 * if that is the median) and the flagged share over both clean replays.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readDatasetFile } from '../device/csv-source.ts';
import type { Frame } from '../src/frame.ts';
import { createStreamingPipeline, fitPipeline } from '../src/pipeline/index.ts';
import type { FittedPipeline } from '../src/pipeline/fitted.ts';
import { buildReferenceProfile, type ReferenceProfile } from '../src/drift/profile.ts';
import { calibrateProfile } from '../src/drift/calibrate.ts';
import { createDriftMonitor } from '../src/drift/monitor.ts';
import { parseDriftReport } from '../src/drift/report.ts';
import { evaluateDrift, DEFAULT_DRIFT_POLICY } from '../src/drift/policy.ts';
import { DEVICE_DRIFT_DEFAULTS, driftColumns, profileValueIndices } from '../src/drift/defaults.ts';

const quick = process.argv.includes('--quick');
const flag = (name: string): number | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : Number(process.argv[i + 1]);
};
const SENSORS = ['Temperature', 'Humidity', 'Light', 'CO2', 'HumidityRatio'];
// --window N, --report-every N and --margin X override the defaults (for the table in docs/drift.md).
const WINDOW = flag('--window') ?? DEVICE_DRIFT_DEFAULTS.windowSize;
const REPORT_EVERY = flag('--report-every') ?? DEVICE_DRIFT_DEFAULTS.reportEvery;
const POLICY = { ...DEFAULT_DRIFT_POLICY, ...(flag('--margin') !== undefined ? { calibrationMargin: flag('--margin')! } : {}) };
const spec = JSON.parse(readFileSync(new URL('../src/pipeline/examples/occupancy.json', import.meta.url), 'utf8')) as unknown;

interface Reading { ts: number; values: Record<string, number> }

/** A recording as the device's CSV input reads it (device/csv-source.ts), local times in Brussels. */
function readings(file: string): Reading[] {
  const path = fileURLToPath(new URL(`../datasets/occupancy/${file}`, import.meta.url));
  return readDatasetFile(path, { timeZone: 'Europe/Brussels' }).records.map((r) => ({ ts: Number(r.ts), values: r.values }));
}

function frameOf(sets: [string, Reading[]][]): Frame {
  const frame: Frame = { ts: [], device: [], num: Object.fromEntries([...SENSORS, 'Occupancy'].map((s) => [s, []])), cat: {} };
  for (const [device, rs] of sets) {
    for (const r of rs) {
      frame.ts.push(r.ts);
      frame.device.push(device);
      for (const s of [...SENSORS, 'Occupancy']) frame.num[s]!.push(r.values[s]!);
    }
  }
  return frame;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export type Fault = 'co2+600' | 'light-stuck' | 'temp*1.5' | 'temp+3';
export const FAULTS: readonly Fault[] = ['co2+600', 'light-stuck', 'temp*1.5', 'temp+3'];

/** The reading with the fault applied; `stuck` is the Light value at the onset. */
function inject(values: Record<string, number>, fault: Fault, stuck: number): Record<string, number> {
  const v = { ...values };
  switch (fault) {
    case 'co2+600': v.CO2 = v.CO2! + 600; break;
    case 'light-stuck': v.Light = stuck; break;
    case 'temp*1.5': v.Temperature = v.Temperature! * 1.5; break;
    case 'temp+3': v.Temperature = v.Temperature! + 3; break;
  }
  return v;
}

interface Replay { verdicts: string[]; reportAt: number[]; delay: number | null; reportMs: number[] }

/** The sensor a fault corrupts: a detection must name one of its features. */
const FAULT_SENSOR: Record<Fault, string> = { 'co2+600': 'CO2', 'light-stuck': 'Light', 'temp*1.5': 'Temperature', 'temp+3': 'Temperature' };

function replay(fitted: FittedPipeline, profile: ReferenceProfile, stream: Reading[], fault?: { kind: Fault; onset: number }): Replay {
  const pipeline = createStreamingPipeline(spec, fitted);
  const idx = profileValueIndices(profile, fitted.columns);
  const monitor = createDriftMonitor(profile, { windowSize: WINDOW, now: () => 0 });
  const stuck = fault ? stream[fault.onset]!.values.Light! : 0;
  const out: Replay = { verdicts: [], reportAt: [], delay: null, reportMs: [] };
  let rows = 0;
  let judgedSinceOnset = 0;
  stream.forEach((r, i) => {
    const values = fault && i >= fault.onset ? inject(r.values, fault.kind, stuck) : r.values;
    const row = pipeline.push({ ts: r.ts, device: 'office', values });
    if (!row) return;
    monitor.update(idx.map((j) => row[j]!), { tsMs: r.ts });
    if (++rows % REPORT_EVERY !== 0) return;
    const t0 = process.hrtime.bigint();
    const report = parseDriftReport(JSON.parse(JSON.stringify(monitor.report({ nowMs: r.ts }))));
    const ev = evaluateDrift(report, profile, POLICY);
    const verdict = ev.verdict;
    out.reportMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    out.verdicts.push(verdict);
    out.reportAt.push(i);
    if (fault && i >= fault.onset && verdict !== 'insufficient') {
      judgedSinceOnset++;
      // Attributed detection: the device is flagged and a feature of the faulted sensor is among the
      // drifted ones (a flag raised by another sensor's natural drift is not a detection).
      const prefix = `${FAULT_SENSOR[fault.kind]}__`;
      if (out.delay === null && verdict !== 'ok' && ev.drifted.some((d) => d.name.startsWith(prefix))) out.delay = judgedSinceOnset;
    }
  });
  return out;
}

function updateCost(fitted: FittedPipeline, profile: ReferenceProfile, stream: Reading[]): { monitorNs: number; baselineNs: number; pipelineNs: number } {
  const pipeline = createStreamingPipeline(spec, fitted);
  const idx = profileValueIndices(profile, fitted.columns);
  const t0 = process.hrtime.bigint();
  const rows: number[][] = [];
  for (const r of stream) {
    const row = pipeline.push({ ts: r.ts, device: 'office', values: r.values });
    if (row) rows.push(idx.map((j) => row[j]!));
  }
  const pipelineNs = Number(process.hrtime.bigint() - t0) / stream.length;
  const n = quick ? 200_000 : 1_000_000;
  const monitor = createDriftMonitor(profile, { windowSize: WINDOW, now: () => 0 });
  const width = idx.length;
  const ring = new Float64Array(WINDOW * width);
  const run = (fn: (row: number[], i: number) => void): number => {
    for (let i = 0; i < 50_000; i++) fn(rows[i % rows.length]!, i); // JIT warm-up
    const s = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(rows[i % rows.length]!, i);
    return Number(process.hrtime.bigint() - s) / n;
  };
  const baselineNs = run((row, i) => {
    const base = (i % WINDOW) * width;
    for (let f = 0; f < width; f++) ring[base + f] = row[f]!;
  });
  const monitorNs = run((row, i) => monitor.update(row, { tsMs: i }));
  return { monitorNs, baselineNs, pipelineNs };
}

const files = { train: readings('datatraining.txt'), test1: readings('datatest.txt'), test2: readings('datatest2.txt') };
// Devices are keyed by recording, so windows never straddle two recordings; splits by device.
const { fitted, matrix } = fitPipeline(frameOf([['train', files.train], ['test1', files.test1], ['test2', files.test2]]), spec);
const columns = driftColumns(fitted.columns);
const base = buildReferenceProfile(columns, { ...matrix, columns: fitted.columns }, { split: 'train', rangeMarginFrac: DEVICE_DRIFT_DEFAULTS.rangeMarginFrac });
const profile = calibrateProfile(base, matrix, { windowSize: WINDOW, reportEvery: REPORT_EVERY, split: 'train' });
const cal = profile.calibration!;
const p = POLICY;

const cost = updateCost(fitted, profile, files.test2);
console.log(`update: ${cost.monitorNs.toFixed(0)} ns/sample (${columns.length} features, window ${WINDOW}); baseline ring copy ${cost.baselineNs.toFixed(0)} ns/sample (ratio ${(cost.monitorNs / cost.baselineNs).toFixed(1)}x); streaming pipeline push ${cost.pipelineNs.toFixed(0)} ns/reading (update adds ${((100 * cost.monitorNs) / cost.pipelineNs).toFixed(1)}%)`);
console.log(`flat-run max: ${Object.entries(cal.flatRunMax ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}`);
console.log(`profile: ${columns.length} features (clock features ${fitted.columns.filter((c) => !columns.includes(c)).join(', ')} not monitored), calibrated on ${cal.windows} reference windows; psiMax ${Object.entries(cal.psiMax).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
console.log(`policy: PSI warn ${p.psiWarn} / alert ${p.psiAlert} scaled by max(1, ${p.calibrationMargin}·psiMax/${p.psiWarn}), Wasserstein ${p.calibrationMargin}·max, flat run > ${p.flatRunMargin}·max; KS (${p.correction}, alpha ${p.alpha}) supporting only; worst feature decides; window ${WINDOW}, report every ${REPORT_EVERY}`);

let judgedAll = 0;
let flaggedAll = 0;
const co2Delays: number[] = [];
let co2Missed = 0;
const allDelays: number[] = [];
for (const name of ['test1', 'test2'] as const) {
  const stream = files[name];
  const clean = replay(fitted, profile, stream);
  const judged = clean.verdicts.filter((v) => v !== 'insufficient');
  const flagged = judged.filter((v) => v !== 'ok');
  judgedAll += judged.length;
  flaggedAll += flagged.length;
  console.log(`[${name}] clean: ${judged.length} reports judged, flagged ${flagged.length} (${((100 * flagged.length) / judged.length).toFixed(1)}%: ${flagged.filter((v) => v === 'alert').length} alert, ${flagged.filter((v) => v === 'warn').length} warn); report+parse+evaluate median ${median(clean.reportMs).toFixed(1)} ms`);
  // Onsets: after the first full window, leaving at least two reports before the end.
  const first = WINDOW + 60;
  const last = stream.length - 2 * REPORT_EVERY - 10;
  const count = quick ? 2 : 5;
  const onsets = Array.from({ length: count }, (_, k) => Math.round(first + ((last - first) * k) / Math.max(1, count - 1)));
  for (const kind of FAULTS) {
    const delays = onsets.map((onset) => replay(fitted, profile, stream, { kind, onset }).delay);
    const found = delays.filter((d): d is number => d !== null);
    allDelays.push(...delays.map((d) => d ?? Infinity));
    if (kind === 'co2+600') {
      co2Delays.push(...found);
      co2Missed += delays.length - found.length;
    }
    console.log(`[${name}] ${kind.padEnd(11)} delay per onset (readings ${onsets.join(', ')}): ${delays.map((d) => d ?? 'missed').join(', ')} report windows; within 2: ${delays.filter((d) => d !== null && d <= 2).length}/${onsets.length}`);
  }
}
const falsePct = (100 * flaggedAll) / judgedAll;
// Missed onsets count as infinitely late; a median that lands on one is printed as 'missed'.
const medianOf = (xs: number[]): string => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  return Number.isFinite(m) ? String(m) : 'missed';
};
console.log(`co2+600 over both files: detected ${co2Delays.length}/${co2Delays.length + co2Missed} onsets, within 2 report windows ${co2Delays.filter((d) => d <= 2).length}`);
console.log(`all faults over both files: detected ${allDelays.filter(Number.isFinite).length}/${allDelays.length}, within 2 report windows ${allDelays.filter((d) => d <= 2).length}; median delay ${medianOf(allDelays)} (missed counted as never)`);
console.log(`drift: delay ${medianOf(allDelays)} windows, false alarms ${falsePct.toFixed(1)}%, update ${cost.monitorNs.toFixed(0)} ns/sample`);
