/** The model path on the CLI: import → prepare → train (tuned) → export → models list/verify → runs. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/tmp.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/edgeloop.js', import.meta.url));

/**
 * A fresh data folder and database with the training and test1 recordings imported, and the occupancy
 * spec cut to those two ranges in dir/spec.json; `edgeloop` runs the CLI on that database.
 */
async function importedOccupancy() {
  const dir = tempDir();
  const env = { ...process.env, EDGELOOP_LOG_LEVEL: 'error', EDGELOOP_DATA_DIR: dir };
  const db = join(dir, 'cli.db');
  const edgeloop = (args: string[]) => run(process.execPath, [BIN, ...args, '--db', db], { env, maxBuffer: 16 * 1024 * 1024 });
  for (const [file, device] of [['datatraining.txt', 'a'], ['datatest.txt', 'b']]) {
    await edgeloop(['data', 'import', fileURLToPath(new URL(`../datasets/occupancy/${file}`, import.meta.url)), '--fleet', 'occ', '--device', device!, '--time-zone', 'Europe/Brussels']);
  }
  const spec = JSON.parse(readFileSync(new URL('../src/pipeline/examples/occupancy.json', import.meta.url), 'utf8')) as { split: { ranges: unknown[] } };
  spec.split.ranges = spec.split.ranges.slice(0, 2);
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  return { dir, edgeloop };
}


test('import, prepare, train with tuning, export to ONNX and TFLite, verify in the registry', async (t) => {
  const { dir, edgeloop } = await importedOccupancy();
  const prep = await edgeloop(['prepare', '--spec', join(dir, 'spec.json'), '--fleet', 'occ', '--out', 'occ']);
  t.regex(prep.stdout, /feature rows: train 8139, test1 2661/);
  const train = await edgeloop(['train', '--dataset', 'occ', '--model', 'lda', '--tune', 'grid', '--space', '{"shrinkage": {"type": "categorical", "values": [null, 0.1]}}', '--format', 'json']);
  const trained = JSON.parse(train.stdout) as { run: { id: string; status: string; trialCount: number }; metrics: { test1: { accuracy: number } } };
  t.is(trained.run.status, 'completed');
  t.is(trained.run.trialCount, 2);
  t.true(trained.metrics.test1.accuracy > 0.97);
  const exp = await edgeloop(['export', '--run', trained.run.id, '--format', 'onnx,tflite', '--variant', 'float32,int8', '--model', 'occupancy', '--promote', 'production']);
  t.regex(exp.stdout, /registered occupancy@1 \(production\)/);
  t.regex(exp.stdout, /tflite\/int8/);
  const list = await edgeloop(['models', 'list']);
  t.regex(list.stdout, /occupancy\s+classification\s+1\s+1/);
  const verify = await edgeloop(['models', 'verify', 'occupancy@production']);
  t.notRegex(verify.stdout, /FAIL|MODEL_/);
  const runs = await edgeloop(['runs', 'list']);
  t.true(runs.stdout.includes(trained.run.id));
  const bad = await t.throwsAsync(edgeloop(['export', '--run', trained.run.id, '--format', 'pmml']));
  t.regex((bad as unknown as { stderr: string }).stderr, /--format "pmml" must be one of tflite, onnx/);
});

test('train --tune bayes prints the evaluation report and a progress bar; runs show repeats it; --resume continues the search; runs compare shows test1', async (t) => {
  const { dir, edgeloop } = await importedOccupancy();
  await edgeloop(['prepare', '--spec', join(dir, 'spec.json'), '--fleet', 'occ', '--out', 'occ']);
  const space = JSON.stringify({ C: { type: 'log-float', min: 0.001, max: 100 } });
  const bayes = ['train', '--dataset', 'occ', '--model', 'logreg', '--tune', 'bayes', '--space', space, '--seed', '3'];

  const first = await edgeloop([...bayes, '--trials', '6']);
  const id1 = /^run (\S+): logistic-regression on occ/m.exec(first.stdout)?.[1];
  t.truthy(id1, first.stdout);
  t.regex(first.stderr, /tune logreg \(bayes\) 50% \(3\/6\)[^]*tune logreg \(bayes\) 100% \(6\/6\)/);
  t.regex(first.stdout, /^tuning \(bayes\): 6 trials, best 3-fold cv score 0\.9\d{3} at trial \d: \{"C":/m);
  // The report: metrics per split, confusion, calibration, learning curve, importance, diagnosis in words.
  t.regex(first.stdout, /Evaluation \(classification, main metric accuracy\)/);
  t.regex(first.stdout, /^\s+train\s+test1$/m);
  t.regex(first.stdout, /^\s+rows\s+8139\s+2661$/m);
  t.regex(first.stdout, /^\s+accuracy\s+0\.9\d{3}\s+0\.9\d{3}$/m);
  t.regex(first.stdout, /confusion \(test1; rows true, columns predicted\)/);
  t.regex(first.stdout, /calibration \(P\(class 1\), 10 bins; mean predicted → observed rate, rows\)\n\s+test1\s+0\.0\d→0\.\d\d \(\d+\)/);
  t.regex(first.stdout, /learning curve \(test1\)/);
  t.regex(first.stdout, /permutation importance \(test1, 5 repeats, drop in accuracy\)\n\s+Light__\w+\s+0\.\d{4} ± /);
  t.regex(first.stdout, /Diagnosis\n\s+(no sign of over- or underfitting|overfitting|underfitting): train accuracy 0\.\d{3} vs test 'test1' 0\.\d{3}/);

  const shown = await edgeloop(['runs', 'show', id1!]);
  const reportOf = (s: string) => s.slice(s.indexOf('Evaluation ('), s.indexOf('\n\n6 trials:') > 0 ? s.indexOf('\n\n6 trials:') : undefined).trim();
  t.is(reportOf(shown.stdout), first.stdout.slice(first.stdout.indexOf('Evaluation (')).trim(), 'runs show prints the stored report');
  t.regex(shown.stdout, /6 trials:/);

  // Resume to 9 trials = an uninterrupted 9-trial search (same seed): the GP is refitted on the copied trials.
  const resumed = JSON.parse((await edgeloop([...bayes, '--trials', '9', '--resume', id1!, '--format', 'json', '--report', 'none'])).stdout) as { run: { id: string; trialCount: number } };
  const straight = JSON.parse((await edgeloop([...bayes, '--trials', '9', '--format', 'json', '--report', 'none'])).stdout) as { run: { id: string; trialCount: number } };
  t.is(resumed.run.trialCount, 9);
  const trialsOf = async (id: string) => (JSON.parse((await edgeloop(['runs', 'show', id, '--format', 'json'])).stdout) as { trials: { params: { C: number } }[] }).trials.map((x) => x.params.C);
  const [a, b, c] = await Promise.all([trialsOf(id1!), trialsOf(resumed.run.id), trialsOf(straight.run.id)]);
  t.deepEqual(b.slice(0, 6), a);
  t.deepEqual(b, c);

  const compare = await edgeloop(['runs', 'compare', id1!, resumed.run.id]);
  t.regex(compare.stdout, /^test1\.accuracy\s+0\.9\d{3}\s+0\.9\d{3}$/m);
  t.notRegex(compare.stdout, /test\.test1_/);
  const list = await edgeloop(['runs', 'list']);
  t.regex(list.stdout, /test1=0\.9\d{3}/);

  // TPE through the same command: 10 random trials, then the Parzen densities propose the rest.
  const tpe = await edgeloop(['train', '--dataset', 'occ', '--model', 'logreg', '--tune', 'tpe', '--space', space, '--seed', '3', '--trials', '12', '--report', 'none']);
  t.regex(tpe.stdout, /^tuning \(tpe\): 12 trials, best 3-fold cv score 0\.9\d{3} at trial \d+: \{"C":/m);
  const badTune = await t.throwsAsync(edgeloop([...bayes.slice(0, 5), '--tune', 'anneal', '--space', space]));
  t.regex((badTune as unknown as { stderr: string }).stderr, /--tune "anneal" must be one of grid, random, bayes, tpe/);
  const badResume = await t.throwsAsync(edgeloop(['train', '--dataset', 'occ', '--model', 'lda', '--tune', 'bayes', '--space', '{"shrinkage": {"type": "float", "min": 0, "max": 1}}', '--resume', id1!]));
  t.regex((badResume as unknown as { stderr: string }).stderr, new RegExp(`--resume ${id1}: that run trained logreg on occ, not lda on occ`));
  const badBudget = await t.throwsAsync(edgeloop([...bayes, '--time-budget-s', '0']));
  t.regex((badBudget as unknown as { stderr: string }).stderr, /--time-budget-s "0" must be a number of seconds in \(0, 604800\]/);
});
