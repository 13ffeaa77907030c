/** `edgeloop prepare` and `edgeloop datasets list|show`: stored readings → a prepared, split, scaled dataset. */
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EdgeloopError } from '../src/errors.ts';
import { fitPipeline, specHash, sha256Hex, canonicalJson, type FitReport } from '../src/pipeline/index.ts';
import type { FeatureMatrix } from '../src/frame.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { loadFrame } from '../gateway/frame-loader.ts';
import { DatasetStore } from '../gateway/datasets.ts';
import type { Store } from '../gateway/store.ts';
import { parse, requireFlag, timeFlag } from './args.ts';
import { loadConfig, dbPathOf } from './config.ts';

const USAGE = `edgeloop prepare --spec pipeline.json|occupancy --fleet F [--device D] [--from T] [--to T] --out dataset-name [--db path]
       edgeloop datasets list|show <name> [--format table|json] [--db path]`;

/** Built-in example specs, by name. */
export const BUILTIN_SPECS: Record<string, string> = {
  occupancy: fileURLToPath(new URL('../src/pipeline/examples/occupancy.json', import.meta.url)),
  'occupancy-temperature-light': fileURLToPath(new URL('../src/pipeline/examples/occupancy-temperature-light.json', import.meta.url)),
};

export function readSpec(ref: string): unknown {
  const path = BUILTIN_SPECS[ref] ?? ref;
  if (!existsSync(path)) throw new EdgeloopError('BAD_ARGUMENT', `--spec ${JSON.stringify(ref)}: no such file (built-in specs: ${Object.keys(BUILTIN_SPECS).join(', ')})`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (err) {
    throw new EdgeloopError('BAD_SPEC', `${path} is not valid JSON: ${(err as Error).message}`);
  }
}

export function matrixHash(m: FeatureMatrix): string {
  return sha256Hex(new TextEncoder().encode(canonicalJson({ columns: m.columns, X: m.X, y: m.y ?? null, split: m.split ?? null, ts: m.ts, device: m.device })));
}

export interface PrepareResult {
  name: string;
  report: FitReport;
  specHash: string;
  dataHash: string;
  matrix: FeatureMatrix;
}

/** Reads the fleet's readings, fits the pipeline (train split only) and saves the dataset. */
export async function prepareDataset(store: Store, datasets: DatasetStore, options: { spec: unknown; fleet: string; device?: string; fromMs?: number; toMs?: number; out: string }): Promise<PrepareResult> {
  const frame = await loadFrame(store, { fleet: options.fleet, device: options.device, fromMs: options.fromMs, toMs: options.toMs });
  if (frame.ts.length === 0) throw new EdgeloopError('BAD_DATA', `no readings stored for fleet '${options.fleet}'${options.device ? ` device '${options.device}'` : ''} in the given range`);
  const { fitted, matrix, report } = fitPipeline(frame, options.spec);
  const hash = specHash(options.spec);
  const dataHash = matrixHash(matrix);
  datasets.save({ name: options.out, fleet: options.fleet, specHash: hash, spec: options.spec, fitted, report, matrix, dataHash });
  return { name: options.out, report, specHash: hash, dataHash, matrix };
}

export function formatFitReport(r: FitReport): string {
  const lines = [`rows in: ${r.rowsIn} (${Object.entries(r.rowsPerSplit).map(([k, v]) => `${k} ${v}`).join(', ')}; unassigned ${r.rowsUnassigned})`];
  for (const [split, rep] of Object.entries(r.clean)) {
    const changes: string[] = [];
    for (const step of rep.steps) {
      const per = Object.entries(step.changes).map(([col, c]) => `${col} ${Object.entries(c).filter(([, n]) => (n as number) > 0).map(([k, n]) => `${k}=${n}`).join(' ')}`).filter((s) => /=/.test(s));
      changes.push(`  [${split}] step ${step.index} ${step.op}: rows ${step.rowsIn}→${step.rowsOut}${per.length ? '; ' + per.join('; ') : ''}`);
    }
    lines.push(...changes);
  }
  lines.push(`feature rows: ${Object.entries(r.featureRows).map(([k, v]) => `${k} ${v}`).join(', ')}; dropped unlabeled ${r.droppedUnlabeled}`);
  if (Object.values(r.skippedReadings).some((n) => n > 0)) lines.push(`readings skipped by windows: ${JSON.stringify(r.skippedReadings)}`);
  for (const s of r.selection) lines.push(`selection ${s.step}: kept ${s.kept.length}`);
  lines.push(`columns (${r.columns.length}): ${r.columns.join(', ')}`);
  return lines.join('\n');
}

export async function prepareCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, { spec: { type: 'string' }, fleet: { type: 'string' }, device: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' }, format: { type: 'string' } }, USAGE);
  const spec = readSpec(requireFlag(values.spec, 'spec', USAGE));
  const config = loadConfig({ file: values.config, overrides: values.db ? [{ path: ['gateway', 'db'], value: values.db }] : [] });
  const store = await SqliteStore.create({ path: dbPathOf(config) });
  try {
    const datasets = await DatasetStore.create(store.database);
    const r = await prepareDataset(store, datasets, {
      spec, fleet: requireFlag(values.fleet, 'fleet', USAGE), device: values.device, fromMs: timeFlag(values.from, 'from'), toMs: timeFlag(values.to, 'to'), out: requireFlag(values.out, 'out', USAGE),
    });
    if (values.format === 'json') console.log(JSON.stringify({ name: r.name, specHash: r.specHash, dataHash: r.dataHash, report: r.report }, null, 2));
    else console.log(`prepared dataset '${r.name}' (spec ${r.specHash.slice(0, 12)}, data ${r.dataHash.slice(0, 12)})\n${formatFitReport(r.report)}`);
  } finally {
    await store.close();
  }
}

export async function datasetsCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { format: { type: 'string' } }, USAGE);
  const config = loadConfig({ file: values.config, overrides: values.db ? [{ path: ['gateway', 'db'], value: values.db }] : [] });
  const store = await SqliteStore.create({ path: dbPathOf(config) });
  try {
    const datasets = await DatasetStore.create(store.database);
    if (sub === 'list') {
      const list = datasets.list();
      if (values.format === 'json') console.log(JSON.stringify(list, null, 2));
      else console.table(list.map((d) => ({ name: d.name, fleet: d.fleet, rows: d.rows, columns: d.columns, splits: JSON.stringify(d.splits), spec: d.specHash.slice(0, 12), created: new Date(d.createdAtMs).toISOString() })));
    } else if (sub === 'show') {
      const name = positionals[0];
      if (!name) throw new EdgeloopError('BAD_ARGUMENT', `datasets show needs a name\nusage: ${USAGE}`);
      const d = datasets.load(name);
      const out = { name: d.name, fleet: d.fleet, specHash: d.specHash, dataHash: d.dataHash, rows: d.matrix.X.length, columns: d.matrix.columns, report: d.report };
      if (values.format === 'json') console.log(JSON.stringify({ ...out, spec: d.spec, fitted: d.fitted }, null, 2));
      else console.log(`${JSON.stringify(out, null, 2)}`);
    } else throw new EdgeloopError('BAD_ARGUMENT', `unknown datasets subcommand ${JSON.stringify(sub ?? '')}\nusage: ${USAGE}`);
  } finally {
    await store.close();
  }
}
