/**
 * Runs a retraining job's CPU-bound steps on a worker thread — the fit (computeCandidate) and the
 * accepted candidate's artifacts (prepareVersion) — so the gateway's event loop (broker, ingest, HTTP
 * API, rollouts) keeps serving: measured in `npm start`, a fit held the event loop for 3.5 s and the
 * export with its runtime evaluation for about 1.9 s. One worker per step; its error comes back as the
 * same EdgeloopError code.
 */
import { Worker } from 'node:worker_threads';
import { EdgeloopError, type ErrorCode } from '../src/errors.ts';
import type { CandidateInput, ComputedCandidate } from './retrain-recipe.ts';
import type { PreparedVersion } from './publish.ts';
import type { VersionJob, WorkerJob, WorkerReply } from './retrain-worker.ts';

const BOOT = new URL('./retrain-worker-boot.mjs', import.meta.url);

function runInWorker(job: WorkerJob, signal?: AbortSignal): Promise<WorkerReply & { ok: true }> {
  return new Promise((resolve, reject) => {
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
    const onAbort = (): void => finish(() => reject(new EdgeloopError('ABORTED', `retraining ${job.kind} step aborted`)));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (reply: WorkerReply) => finish(() => {
      if (reply.ok) resolve(reply);
      else reject(reply.code ? new EdgeloopError(reply.code as ErrorCode, reply.message) : new Error(reply.message));
    }));
    worker.once('error', (err) => finish(() => reject(new EdgeloopError('INTERNAL', `retraining worker failed: ${err.message}`, { cause: err }))));
    worker.once('exit', (code) => finish(() => reject(new EdgeloopError('INTERNAL', `retraining worker exited with code ${code} before answering`))));
    worker.postMessage(job);
  });
}

export async function computeInWorker(input: CandidateInput, signal?: AbortSignal): Promise<ComputedCandidate> {
  const reply = await runInWorker({ kind: 'candidate', input }, signal);
  if (reply.kind !== 'candidate') throw new EdgeloopError('INTERNAL', `retraining worker answered a ${reply.kind} step to a candidate step`);
  return reply.candidate;
}

export async function prepareVersionInWorker(input: VersionJob, signal?: AbortSignal): Promise<PreparedVersion> {
  const reply = await runInWorker({ kind: 'version', input }, signal);
  if (reply.kind !== 'version') throw new EdgeloopError('INTERNAL', `retraining worker answered a ${reply.kind} step to a version step`);
  return reply.prepared;
}
