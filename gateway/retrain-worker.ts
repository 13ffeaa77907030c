/**
 * Worker-thread side of a retraining job (gateway/retrain-worker-client.ts starts it through
 * retrain-worker-boot.mjs): one job in — the candidate's fit (computeCandidate) or the accepted
 * candidate's artifacts (prepareVersion: export, runtime evaluation, smoke test, drift profile) — one
 * result or error out, then exit.
 */
import { parentPort } from 'node:worker_threads';
import { errorMessage, isEdgeloopError } from '../src/errors.ts';
import { loadNative, type NativeModel } from '../models/training.ts';
import { computeCandidate, type CandidateInput } from './retrain-recipe.ts';
import { prepareVersion, type PreparedVersion, type PublishRequest } from './publish.ts';
import type { Task } from './registry-types.ts';

/** prepareVersion's request with the trained model as its native document (a worker cannot receive the object). */
export type VersionJob = Omit<PublishRequest, 'trained'> & { native: NativeModel; task: Task; maxEvalRows?: number };

export type WorkerJob = { kind: 'candidate'; input: CandidateInput } | { kind: 'version'; input: VersionJob };

export type WorkerReply =
  | { ok: true; kind: 'candidate'; candidate: Awaited<ReturnType<typeof computeCandidate>> }
  | { ok: true; kind: 'version'; prepared: PreparedVersion }
  | { ok: false; code: string | null; message: string };

async function run(job: WorkerJob): Promise<WorkerReply> {
  if (job.kind === 'candidate') return { ok: true, kind: 'candidate', candidate: await computeCandidate(job.input) };
  const { native, task, maxEvalRows, ...request } = job.input;
  const prepared = await prepareVersion({ ...request, trained: await loadNative(native, task) }, { maxEvalRows });
  return { ok: true, kind: 'version', prepared };
}

const port = parentPort;
if (port) {
  port.once('message', (job: WorkerJob) => {
    run(job).then(
      (reply) => {
        // The artifact files move to the gateway's thread instead of being copied.
        const transfer = reply.ok && reply.kind === 'version' ? reply.prepared.input.artifacts.map((a) => a.bytes.buffer as ArrayBuffer) : [];
        port.postMessage(reply, transfer);
      },
      (err: unknown) => port.postMessage({ ok: false, code: isEdgeloopError(err) ? err.code : null, message: errorMessage(err) } satisfies WorkerReply),
    );
  });
}
