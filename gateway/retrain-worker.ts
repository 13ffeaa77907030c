/**
 * Worker-thread side of a retraining fit (gateway/retrain-worker-client.ts starts it through
 * retrain-worker-boot.mjs): one CandidateInput in, one ComputedCandidate or error out, then exit.
 */
import { parentPort } from 'node:worker_threads';
import { errorMessage, isEdgeloopError } from '../src/errors.ts';
import { computeCandidate, type CandidateInput } from './retrain-recipe.ts';

export type WorkerReply = { ok: true; candidate: Awaited<ReturnType<typeof computeCandidate>> } | { ok: false; code: string | null; message: string };

const port = parentPort;
if (port) {
  port.once('message', (input: CandidateInput) => {
    computeCandidate(input).then(
      (candidate) => port.postMessage({ ok: true, candidate } satisfies WorkerReply),
      (err: unknown) => port.postMessage({ ok: false, code: isEdgeloopError(err) ? err.code : null, message: errorMessage(err) } satisfies WorkerReply),
    );
  });
}
