/**
 * Training runs and trials in the gateway's database — its SQLite file and the PostgreSQL that scaled-out
 * gateways share, through the same tests: lifecycle, resume, list, compare, code version, bad calls.
 * PostgreSQL is skipped (visibly) only when not installed and not in CI.
 */
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { postgresSql } from '../gateway/sql.ts';
import { RunStore, detectCodeVersion, defaultRunId } from '../gateway/runs.ts';
import { pgRig } from './helpers/pg-rig.ts';
import { tempDir } from './helpers/tmp.ts';

const rig = pgRig({ database: 'runs' });
let schemas = 0;

interface Opened { runs: RunStore; close: () => Promise<void>; reopen: () => Promise<Opened> }

/** A database of each kind; `reopen` gives a second store on the same data (a restarted gateway). */
const backends: { name: string; open: () => Promise<Opened> }[] = [
  {
    name: 'sqlite',
    open: async () => {
      const path = join(tempDir(), 'edgeloop.db');
      const at = async (): Promise<Opened> => {
        const store = await SqliteStore.create({ path });
        return { runs: await runStore({ database: store.database }), close: () => store.close(), reopen: at };
      };
      return at();
    },
  },
];
if (rig.available) {
  backends.push({
    name: 'postgres',
    open: async () => {
      const schema = `runs${++schemas}`;
      const at = async (): Promise<Opened> => {
        const store = await PostgresStore.create({ url: rig.dbUrl, schema, poolSize: 2 });
        return { runs: await runStore({ sql: postgresSql(store.pool) }), close: () => store.close(), reopen: at };
      };
      return at();
    },
  });
} else {
  test('runs on postgres: PostgreSQL not installed, skipped', (t) => t.pass());
}

function runStore(db: Parameters<typeof RunStore.create>[0]): Promise<RunStore> {
  let clock = 1_700_000_000_000;
  let n = 0;
  return RunStore.create({ ...db, now: () => (clock += 1000), newId: () => `run-${++n}`, codeVersion: 'abc123' });
}

for (const backend of backends) {
const open = backend.open;
const name = (what: string): string => `${backend.name}: ${what}`;

test(name('a run goes running → completed with metrics; trials are kept for resuming'), async (t) => {
  const { runs, close: closeStore } = await open();
  const started = await runs.start({ modelKind: 'random-forest', params: { nTrees: 50, maxDepth: null }, dataset: 'occ-v1', datasetHash: 'd'.repeat(64), specHash: 's'.repeat(64) });
  t.like(started, { id: 'run-1', status: 'running', codeVersion: 'abc123', metrics: {}, durationMs: null, finishedAtMs: null, trialCount: 0, dataset: 'occ-v1' });
  await runs.addTrial('run-1', { trial: 0, params: { maxDepth: 4 }, metrics: { val_accuracy: 0.95 }, durationMs: 120.5 });
  await runs.addTrial('run-1', { trial: 2, params: { maxDepth: 8 }, metrics: { val_accuracy: 0.97 }, score: 0.97, durationMs: 200 });
  await runs.addTrial('run-1', { trial: 1, params: { maxDepth: 6 }, metrics: { val_accuracy: 0.96 }, durationMs: 150 });
  const trials = await runs.trials('run-1');
  t.deepEqual(trials.map((x) => [x.trial, x.params.maxDepth, x.metrics.val_accuracy, x.score]), [[0, 4, 0.95, undefined], [1, 6, 0.96, undefined], [2, 8, 0.97, 0.97]]);
  await t.throwsAsync(runs.addTrial('run-1', { trial: 1, params: {}, metrics: {}, durationMs: 1 }), { code: 'BAD_ARGUMENT', message: 'trial 1 of run run-1 is already recorded' });
  const done = await runs.finish('run-1', { metrics: { train: { accuracy: 1 }, val: { accuracy: 0.97 }, test: { accuracy: 0.975, f1: 0.96 } }, durationMs: 5400 });
  t.like(done, { status: 'completed', durationMs: 5400, trialCount: 3, error: null });
  t.deepEqual(done.metrics.test, { accuracy: 0.975, f1: 0.96 });
  t.true(done.finishedAtMs! > done.createdAtMs);
  await t.throwsAsync(runs.finish('run-1', { metrics: {}, durationMs: 1 }), { code: 'BAD_ARGUMENT', message: 'run run-1 is completed, not running' });
  const shown = await runs.show('run-1');
  t.is(shown.trials.length, 3);
  t.deepEqual(shown.params, { nTrees: 50, maxDepth: null });
  await closeStore();
});

test(name('runs survive a restart; a failed run keeps its reason'), async (t) => {
  const a = await open();
  await a.runs.start({ modelKind: 'mlp', id: 'r-a' });
  await a.runs.addTrial('r-a', { trial: 0, params: { lr: 0.01 }, metrics: { loss: 0.3 }, durationMs: 10 });
  await a.close();
  const b = await a.reopen();
  t.is((await b.runs.trials('r-a')).length, 1, 'an interrupted search finds its finished trials');
  const failed = await b.runs.fail('r-a', { error: 'out of memory', durationMs: 99 });
  t.like(failed, { status: 'failed', error: 'out of memory', durationMs: 99 });
  await t.throwsAsync(b.runs.fail('r-a', { error: 'again' }), { code: 'BAD_ARGUMENT', message: 'run r-a is failed, not running' });
  await b.close();
});

test(name('list is newest first and filters; record() stores a finished run in one call'), async (t) => {
  const { runs, close: closeStore } = await open();
  await runs.record({ modelKind: 'logistic', params: { C: 1 }, dataset: 'a', metrics: { test: { accuracy: 0.9 } }, durationMs: 10 });
  await runs.record({ modelKind: 'logistic', params: { C: 10 }, dataset: 'b', metrics: { test: { accuracy: 0.92 } }, durationMs: 12 });
  await runs.start({ modelKind: 'svc', dataset: 'a' });
  t.deepEqual((await runs.list()).map((r) => r.id), ['run-3', 'run-2', 'run-1']);
  t.deepEqual((await runs.list({ modelKind: 'logistic' })).map((r) => r.id), ['run-2', 'run-1']);
  t.deepEqual((await runs.list({ dataset: 'a' })).map((r) => r.id), ['run-3', 'run-1']);
  t.deepEqual((await runs.list({ status: 'running' })).map((r) => r.id), ['run-3']);
  t.deepEqual((await runs.list({ limit: 1 })).map((r) => r.id), ['run-3']);
  t.is((await runs.show('run-1')).status, 'completed');
  await closeStore();
});

test(name('compare lays metrics and params side by side, null where a run lacks one'), async (t) => {
  const { runs, close: closeStore } = await open();
  await runs.record({ modelKind: 'logistic', params: { C: 1, penalty: 'l2' }, metrics: { val: { accuracy: 0.9 }, test: { accuracy: 0.91 } }, durationMs: 10 });
  await runs.record({ modelKind: 'random-forest', params: { nTrees: 100 }, metrics: { test: { accuracy: 0.95, f1: 0.94 } }, durationMs: 30 });
  const c = await runs.compare(['run-2', 'run-1']);
  t.deepEqual(c.runs.map((r) => [r.id, r.modelKind, r.durationMs]), [['run-2', 'random-forest', 30], ['run-1', 'logistic', 10]]);
  t.deepEqual(c.splits, ['val', 'test']);
  t.deepEqual(c.metrics, [
    { name: 'val.accuracy', split: 'val', metric: 'accuracy', values: [null, 0.9] },
    { name: 'test.accuracy', split: 'test', metric: 'accuracy', values: [0.95, 0.91] },
    { name: 'test.f1', split: 'test', metric: 'f1', values: [0.94, null] },
  ]);
  t.deepEqual(c.params, [
    { name: 'C', values: [null, '1'] },
    { name: 'nTrees', values: ['100', null] },
    { name: 'penalty', values: [null, '"l2"'] },
  ]);
  await t.throwsAsync(runs.compare(['run-1']), { code: 'BAD_ARGUMENT', message: 'compare needs at least 2 run ids, got 1' });
  await t.throwsAsync(runs.compare(['run-1', 'nope']), { code: 'NOT_FOUND', message: 'run "nope" not found' });
  await closeStore();
});

test(name('bad calls fail with BAD_ARGUMENT / NOT_FOUND naming the argument'), async (t) => {
  const { runs, close: closeStore } = await open();
  await runs.start({ modelKind: 'mlp', id: 'r1' });
  const cases: [() => Promise<unknown>, string, string | RegExp][] = [
    [() => runs.start({ modelKind: 'mlp', id: 'r1' }), 'BAD_ARGUMENT', 'run r1 already exists'],
    [() => runs.start({ modelKind: 'mlp', id: '../x' }), 'BAD_ARGUMENT', /run id "\.\.\/x" must be 1-128 characters/],
    [() => runs.start({ modelKind: '' }), 'BAD_ARGUMENT', 'modelKind "" must be 1-64 characters of A-Z a-z 0-9 _ -'],
    [() => runs.start({ modelKind: 'mlp', params: [] as unknown as Record<string, unknown> }), 'BAD_ARGUMENT', 'params must be an object, got an array'],
    [() => runs.start({ modelKind: 'mlp', params: { lr: Number.POSITIVE_INFINITY } }), 'BAD_ARGUMENT', /params must be plain JSON: canonicalJson: numbers must be finite/],
    [() => runs.start({ modelKind: 'mlp', dataset: '' }), 'BAD_ARGUMENT', 'dataset must be a string of 1-256 characters'],
    [() => runs.finish('r1', { metrics: { 'hold out': { a: 1 } }, durationMs: 1 }), 'BAD_ARGUMENT', 'metrics.hold out: a split name must be 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit'],
    [() => runs.finish('r1', { metrics: {}, durationMs: 1, report: [] as unknown as Record<string, unknown> }), 'BAD_ARGUMENT', 'report must be an object, got an array'],
    [() => runs.finish('r1', { metrics: { test: { acc: Number.NaN } }, durationMs: 1 }), 'BAD_ARGUMENT', 'metrics.test.acc must be a finite number, got NaN'],
    [() => runs.finish('r1', { metrics: {}, durationMs: -1 }), 'BAD_ARGUMENT', 'durationMs must be a finite number of milliseconds >= 0, got -1'],
    [() => runs.finish('nope', { metrics: {}, durationMs: 1 }), 'NOT_FOUND', 'run nope not found'],
    [() => runs.fail('r1', { error: '' }), 'BAD_ARGUMENT', 'fail: error must be a non-empty string saying why the run failed'],
    [() => runs.addTrial('nope', { trial: 0, params: {}, metrics: {}, durationMs: 1 }), 'NOT_FOUND', 'run nope not found'],
    [() => runs.addTrial('r1', { trial: -1, params: {}, metrics: {}, durationMs: 1 }), 'BAD_ARGUMENT', 'trial number must be an integer >= 0, got -1'],
    [() => runs.addTrial('r1', { trial: 0, params: {}, metrics: { a: 'x' as unknown as number }, durationMs: 1 }), 'BAD_ARGUMENT', 'trial metrics.a must be a finite number, got string'],
    [() => runs.addTrial('r1', { trial: 0, params: {}, metrics: {}, durationMs: 1, score: Number.NaN }), 'BAD_ARGUMENT', 'trial score must be a finite number, got NaN'],
    [() => runs.trials('nope'), 'NOT_FOUND', 'run "nope" not found'],
    [() => runs.show('nope'), 'NOT_FOUND', 'run "nope" not found'],
    [() => runs.list({ status: 'done' as 'failed' }), 'BAD_ARGUMENT', 'status must be one of running, completed, failed, got "done"'],
    [() => runs.list({ limit: 0 }), 'BAD_ARGUMENT', 'limit must be an integer in 1..100000, got 0'],
  ];
  for (const [call, code, message] of cases) await t.throwsAsync(call(), { code, message });
  t.is((await runs.list()).length, 1, 'nothing half-written');
  t.is((await runs.show('r1')).status, 'running');
  await closeStore();
});

test(name('named splits: test1/test2 are first-class, ordered train, val, test, then by name; a report is kept'), async (t) => {
  const { runs, close: closeStore } = await open();
  await runs.record({ modelKind: 'lda', metrics: { test2: { accuracy: 0.993 }, train: { accuracy: 0.99 }, test1: { accuracy: 0.979, f1_macro: 0.97 } }, durationMs: 5, report: { task: 'classification', diagnosis: { verdict: 'good-fit', text: ['fine'] } } });
  await runs.record({ modelKind: 'logistic-regression', metrics: { train: { accuracy: 0.98 }, val: { accuracy: 0.97 }, test1: { accuracy: 0.978 } }, durationMs: 6 });
  const one = await runs.show('run-1');
  t.deepEqual(one.metrics.test1, { accuracy: 0.979, f1_macro: 0.97 });
  t.deepEqual(one.report, { task: 'classification', diagnosis: { verdict: 'good-fit', text: ['fine'] } });
  t.is((await runs.show('run-2')).report, null);
  const c = await runs.compare(['run-1', 'run-2']);
  t.deepEqual(c.splits, ['train', 'val', 'test1', 'test2']);
  t.deepEqual(c.metrics.map((m) => [m.name, ...m.values]), [
    ['train.accuracy', 0.99, 0.98], ['val.accuracy', null, 0.97], ['test1.accuracy', 0.979, 0.978], ['test1.f1_macro', 0.97, null], ['test2.accuracy', 0.993, null],
  ]);
  await closeStore();
});

}

test('code version: the git commit of the work tree, else the package version', (t) => {
  const repo = tempDir();
  writeFileSync(join(repo, 'package.json'), JSON.stringify({ name: 'x', version: '9.8.7' }));
  mkdirSync(join(repo, 'sub'));
  t.is(detectCodeVersion(join(repo, 'sub')), '9.8.7');
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd: repo, stdio: 'pipe' }).toString().trim();
  git('init', '-q');
  git('add', 'package.json');
  git('commit', '-q', '-m', 'x');
  const head = git('rev-parse', 'HEAD');
  t.is(detectCodeVersion(join(repo, 'sub')), head);
  git('pack-refs', '--all');
  t.is(detectCodeVersion(repo), head, 'packed refs');
  t.regex(defaultRunId(Date.UTC(2024, 0, 31, 14, 25, 1)), /^run-20240131-142501-[0-9a-f]{6}$/);
});

test('runs stored before named splits (test1/test2 folded into test, no report column) read back unfolded', async (t) => {
  const path = join(tempDir(), 'old.db');
  const store = await SqliteStore.create({ path });
  // The table as the earlier schema created it, with a run the earlier CLI wrote.
  store.database.exec(`CREATE TABLE training_runs (
    id TEXT PRIMARY KEY, model_kind TEXT NOT NULL, params TEXT NOT NULL, dataset TEXT, dataset_hash TEXT, spec_hash TEXT,
    metrics TEXT NOT NULL, duration_ms REAL, code_version TEXT NOT NULL, status TEXT NOT NULL, error TEXT,
    created_at INTEGER NOT NULL, finished_at INTEGER)`);
  store.database.prepare("INSERT INTO training_runs VALUES ('old-1', 'lda', '{}', 'occ', NULL, NULL, ?, 10, 'abc', 'completed', NULL, 1, 2)")
    .run(JSON.stringify({ train: { accuracy: 0.99 }, test: { test1_accuracy: 0.979, test1_f1_macro: 0.97, test2_accuracy: 0.993, my_split_roc_auc: 0.99, brier: 0.02 } }));
  const runs = await RunStore.create({ database: store.database, codeVersion: 'x', newId: () => 'new-1' });
  const old = await runs.show('old-1');
  t.deepEqual(old.metrics, { train: { accuracy: 0.99 }, test: { brier: 0.02 }, my_split: { roc_auc: 0.99 }, test1: { accuracy: 0.979, f1_macro: 0.97 }, test2: { accuracy: 0.993 } });
  t.is(old.report, null);
  await runs.record({ modelKind: 'lda', metrics: { test1: { accuracy: 0.98 } }, durationMs: 1, report: { task: 'classification' } });
  const c = await runs.compare(['old-1', 'new-1']);
  t.deepEqual(c.metrics.find((m) => m.name === 'test1.accuracy')!.values, [0.979, 0.98]);
  t.deepEqual((await runs.show('new-1')).report, { task: 'classification' });
  await store.close();
});
