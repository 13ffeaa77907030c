/** Registry and parameter validation: every bad call names the param and its allowed range. */
import test from 'ava';
import { createModel, fromJSON, MODEL_KINDS } from '../models/registry.ts';
import { isEdgeloopError, type ErrorCode } from '../src/errors.ts';

const bad: [string, () => unknown, ErrorCode, RegExp][] = [
  ['unknown kind', () => createModel('xgboost'), 'BAD_ARGUMENT', /^kind must be one of linear-regression, .*; got 'xgboost'$/],
  ['unknown param', () => createModel('ridge', { alpah: 1 } as never), 'BAD_ARGUMENT', /^ridge: unknown param 'alpah'; allowed: alpha$/],
  ['negative alpha', () => createModel('ridge', { alpha: -1 }), 'BAD_ARGUMENT', /^ridge: param 'alpha' must be a number in \[0, 1000000000000\], got -1$/],
  ['C = 0', () => createModel('logistic-regression', { C: 0 }), 'BAD_ARGUMENT', /param 'C' must be a number in \(0, 1000000000000\], got 0/],
  ['penalty', () => createModel('logistic-regression', { penalty: 'elasticnet' as never }), 'BAD_ARGUMENT', /param 'penalty' must be one of 'l2', 'l1', 'none', got "elasticnet"/],
  ['non-integer trees', () => createModel('random-forest-classifier', { nEstimators: 2.5 }), 'BAD_ARGUMENT', /param 'nEstimators' must be an integer in \[1, 10000\], got 2.5/],
  ['maxDepth 0', () => createModel('decision-tree-classifier', { maxDepth: 0 }), 'BAD_ARGUMENT', /param 'maxDepth' must be an integer in \[1, 1000\] or null, got 0/],
  ['bootstrap type', () => createModel('random-forest-regressor', { bootstrap: 'yes' as never }), 'BAD_ARGUMENT', /param 'bootstrap' must be true or false/],
  ['voting member is a regressor', () => createModel('voting-classifier', { estimators: [{ kind: 'ridge' }] }), 'BAD_ARGUMENT', /voting-classifier: members must be classifiers, got ridge \(regression\)/],
  ['predict before fit', () => createModel('lda').predict([[1]]), 'BAD_ARGUMENT', /^lda is not fitted: call fit\(X, y\) first$/],
  ['ragged X', () => createModel('lda').fit([[1, 2], [3]], [0, 1]), 'BAD_ARGUMENT', /X\[1\] must have 2 columns like X\[0\], got 1/],
  ['NaN in X', () => createModel('ridge').fit([[1], [Number.NaN]], [0, 1]), 'BAD_ARGUMENT', /X\[1\]\[0\] must be a finite number, got NaN/],
  ['y length', () => createModel('ridge').fit([[1], [2]], [0]), 'BAD_ARGUMENT', /y must have one value per row of X \(2\), got 1/],
  ['one class', () => createModel('logistic-regression').fit([[1], [2]], [1, 1]), 'BAD_ARGUMENT', /y must contain at least 2 distinct classes, got 1/],
  ['wrong width at predict', () => createModel('ridge').fit([[1, 2], [2, 1], [3, 3]], [1, 2, 3]).predict([[1]]), 'BAD_ARGUMENT', /X must have 2 columns \(as at fit time\), got 1/],
  ['kmeans k > n', () => createModel('kmeans', { nClusters: 5 }).fit([[1], [2]]), 'BAD_ARGUMENT', /param 'nClusters' must be at most the number of rows \(2\), got 5/],
  ['corrupt JSON', () => fromJSON({ format: 'other', version: 1, kind: 'lda', params: {}, state: {} } as never), 'MODEL_CORRUPT', /format 'edgeloop-model' and version 1/],
  ['clusterer IR', () => createModel('kmeans', { nClusters: 2 }).fit([[1], [2], [9]]).toIR(), 'MODEL_UNSUPPORTED', /^kmeans has no IR form/],
];
for (const [name, call, code, message] of bad) {
  test(`bad call: ${name} → ${code}`, (t) => {
    const err = t.throws(call);
    t.true(isEdgeloopError(err, code), String(err));
    t.regex(err!.message, message);
  });
}

test('every kind constructs with defaults and exposes its params', (t) => {
  for (const kind of MODEL_KINDS) t.is(createModel(kind).kind, kind);
  t.is((createModel('random-forest-classifier').params as { maxFeatures: string }).maxFeatures, 'sqrt');
});
