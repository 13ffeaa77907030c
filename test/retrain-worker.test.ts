/** The retraining fit on a worker thread: errors come back with their code and message; an abort ends it. */
import test from 'ava';
import { isEdgeloopError } from '../src/errors.ts';
import { computeCandidate, type CandidateInput } from '../gateway/retrain-recipe.ts';
import { computeInWorker } from '../gateway/retrain-worker-client.ts';

const badInput = (): CandidateInput => ({
  frame: { ts: [1, 2], device: ['d', 'd'], num: { x: [1, 2] }, cat: {} },
  candidateSpec: { version: 1, input: { sensors: [] } },
  windowFromMs: 0, holdoutFromMs: 1, toMs: 3,
  current: { spec: {}, fitted: {} as CandidateInput['current']['fitted'], native: { family: 'classical', model: {} as never } },
  train: { kind: 'logreg', task: 'classification', params: {}, seed: 1 },
});

test('an error in the worker comes back as the same EdgeloopError (code and message) as in process', async (t) => {
  const inProcess = await computeCandidate(badInput()).catch((e: unknown) => e);
  const inWorker = await computeInWorker(badInput()).catch((e: unknown) => e);
  t.true(isEdgeloopError(inProcess), String(inProcess));
  t.true(isEdgeloopError(inWorker), String(inWorker));
  t.is((inWorker as Error & { code: string }).code, (inProcess as Error & { code: string }).code);
  t.is((inWorker as Error).message, (inProcess as Error).message);
});

test('an aborted fit rejects with ABORTED and stops the worker', async (t) => {
  const controller = new AbortController();
  const pending = computeInWorker(badInput(), controller.signal);
  controller.abort();
  const err = await pending.catch((e: unknown) => e);
  t.true(isEdgeloopError(err, 'ABORTED'), String(err));
  const already = await computeInWorker(badInput(), controller.signal).catch((e: unknown) => e);
  t.truthy(already, 'an already aborted signal refuses to start');
});
