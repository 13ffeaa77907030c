/**
 * Runs a retraining fit (computeCandidate) on a worker thread, so the gateway's event loop — broker,
 * ingest, HTTP API, rollouts — keeps serving while it trains: measured in `npm start`, a fit held the
 * event loop for 3.5 s. One worker per job; its error comes back as the same EdgeloopError code.
 */
import { Worker } from 'node:worker_threads';
import { EdgeloopError, type ErrorCode } from '../src/errors.ts';
import type { CandidateInput, ComputedCandidate } from './retrain-recipe.ts';
import type { WorkerReply } from './retrain-worker.ts';

const BOOT = new URL('./retrain-worker-boot.mjs', import.meta.url);

export function computeInWorker(input: CandidateInput, signal?: AbortSignal): Promise<ComputedCandidate> {
  return new Promise<ComputedCandidate>((resolve, reject) => {
    signal?.throwIfAborted();
    const worker = new Worker(BOOT);
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    const onAbort = (): void => finish(() => reject(new EdgeloopError('ABORTED', 'retraining fit aborted')));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (reply: WorkerReply) => finish(() => {
      if (reply.ok) resolve(reply.candidate);
      else reject(reply.code ? new EdgeloopError(reply.code as ErrorCode, reply.message) : new Error(reply.message));
    }));
    worker.once('error', (err) => finish(() => reject(new EdgeloopError('INTERNAL', `retraining worker failed: ${err.message}`, { cause: err }))));
    worker.once('exit', (code) => finish(() => reject(new EdgeloopError('INTERNAL', `retraining worker exited with code ${code} before answering`))));
    worker.postMessage(input);
  });
}
