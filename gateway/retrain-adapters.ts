/**
 * What the retraining service needs from the rollouts and from performance tracking, as two small
 * interfaces, and their implementations on the gateway's RolloutService and the perf_predictions table
 * (gateway/performance.ts), so RetrainService depends on neither class directly.
 */
import { parseRolloutRequest, type RolloutRequest } from './rollout-request.ts';
import type { RolloutService } from './rollout.ts';

export interface RolloutView {
  id: string;
  state: string;
  reason: string | null;
  /** The current wave has settled (no device still installing), or the rollout finished. */
  settled: boolean;
  currentWave: number;
  waves: number;
  /** Devices that run the candidate. */
  active: number;
  failed: number;
}

export interface RetrainRollouts {
  create(request: RolloutRequest): Promise<RolloutView>;
  view(id: string): Promise<RolloutView>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  rollback(id: string, reason: string): Promise<void>;
}

/** Joined (prediction, label) counts of one model version, over predictions received since `sinceMs` (PerformanceTracker#labelled). */
export interface LiveMetrics {
  labelled(fleet: string, model: string, version: number, sinceMs: number): Promise<{ samples: number; correct: number }>;
}

/** RetrainRollouts on the gateway's RolloutService (its controller). */
export function rolloutsOf(service: Pick<RolloutService, 'controller'>): RetrainRollouts {
  const c = service.controller;
  const view = async (id: string): Promise<RolloutView> => {
    const s = await c.summary(id);
    return {
      id: s.id, state: s.state, reason: s.reason, settled: s.state === 'completed' || (s.currentWave >= 0 && s.waveSettledAtMs !== null),
      currentWave: s.currentWave, waves: s.waves, active: s.counts.active, failed: s.counts.failed,
    };
  };
  return {
    create: async (request) => view((await c.create(parseRolloutRequest(request))).id),
    view,
    pause: async (id) => void (await c.pause(id)),
    resume: async (id) => void (await c.resumeRollout(id)),
    rollback: async (id, reason) => void (await c.rollback(id, reason)),
  };
}
