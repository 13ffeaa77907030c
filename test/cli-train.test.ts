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

test('import, prepare, train with tuning, export to ONNX and TFLite, verify in the registry', async (t) => {
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
