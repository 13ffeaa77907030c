/** Training orchestration on the real occupancy data, prepared by the pipeline from the CSV files. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fitPipeline } from '../src/pipeline/index.ts';
import { splitsOf, trainModel, loadNative, resolveKind } from '../models/training.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { occupancyFrame } from './helpers/occupancy-frame.ts';

const spec = JSON.parse(readFileSync(new URL('../src/pipeline/examples/occupancy.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const { matrix } = fitPipeline(occupancyFrame([['datatraining.txt', 'a'], ['datatest.txt', 'b'], ['datatest2.txt', 'c']]), spec);
const data = splitsOf(matrix);

test('splitsOf separates train and the named test splits', (t) => {
  t.deepEqual(Object.keys(data.tests).sort(), ['test1', 'test2']);
  t.true(data.train.X.length > 8000);
  t.is(data.train.X[0]!.length, matrix.columns.length);
});

test('LDA on the prepared occupancy features: metrics per split, IR, native save and reload', async (t) => {
  const r = await trainModel(data, { kind: 'lda', task: 'classification' });
  t.log(JSON.stringify(r.metrics));
  t.true(r.metrics.test1!.accuracy! > 0.97);
  t.true(r.metrics.test2!.accuracy! > 0.99);
  t.true(r.metrics.test1!.roc_auc! > 0.98);
  t.is(r.confusion.test2!.flat().reduce((a, b) => a + b, 0), data.tests.test2!.y.length);
  t.is(r.model.toIR().body.kind, 'linear');
  const back = await loadNative(r.model.toJSON(), 'classification');
  t.deepEqual(back.predict(data.tests.test1!.X.slice(0, 50)), r.model.predict(data.tests.test1!.X.slice(0, 50)));
});

test('random search tunes a tree and reports every trial', async (t) => {
  const trials: number[] = [];
  const r = await trainModel(data, {
    kind: 'tree', task: 'classification', seed: 3,
    tune: { strategy: 'random', space: { maxDepth: { type: 'int', min: 2, max: 8 } }, maxTrials: 4 },
    onTrial: (tr) => trials.push(tr.index),
  });
  t.is(r.trials.length, 4);
  t.is(trials.length, 4);
  t.true(typeof r.params.maxDepth === 'number');
});

test('bad model kind is a BAD_ARGUMENT naming the choices', (t) => {
  const err = t.throws(() => resolveKind('xgboost'));
  t.true(isEdgeloopError(err, 'BAD_ARGUMENT'));
  t.regex(err!.message, /must be one of mlp, rf,/);
});
