/**
 * What the retraining service needs from the rollouts and from performance tracking, as two small
 * interfaces, and their implementations on the gateway's RolloutService and the perf_predictions table
 * (gateway/performance.ts), so RetrainService depends on neither class directly.
 */
import type { SqliteDatabase } from '../io/sqlite.ts';
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
  view(id: string): RolloutView;
  pause(id: string): void;
  resume(id: string): void;
  rollback(id: string, reason: string): void;
}

/** Joined (prediction, label) counts of one model version, over predictions received since `sinceMs`. */
export interface LiveMetrics {
  labelled(fleet: string, model: string, version: number, sinceMs: number): { samples: number; correct: number };
}

/** RetrainRollouts on the gateway's RolloutService (its controller). */
export function rolloutsOf(service: Pick<RolloutService, 'controller'>): RetrainRollouts {
  const c = service.controller;
  const view = (id: string): RolloutView => {
    const s = c.summary(id);
    return {
      id: s.id, state: s.state, reason: s.reason, settled: s.state === 'completed' || (s.currentWave >= 0 && s.waveSettledAtMs !== null),
      currentWave: s.currentWave, waves: s.waves, active: s.counts.active, failed: s.counts.failed,
    };
  };
  return {
    create: async (request) => view((await c.create(parseRolloutRequest(request))).id),
    view,
    pause: (id) => void c.pause(id),
    resume: (id) => void c.resumeRollout(id),
    rollback: (id, reason) => void c.rollback(id, reason),
  };
}

/** LiveMetrics read from performance tracking's joined predictions (same SQLite file). */
export function liveMetricsOf(database: SqliteDatabase): LiveMetrics {
  return {
    labelled(fleet, model, version, sinceMs) {
      // The table exists once the drift service opened it; without it there are no labels yet.
      const exists = database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'perf_predictions'").get();
      if (!exists) return { samples: 0, correct: 0 };
      const row = database.prepare(
        'SELECT count(*) AS samples, coalesce(sum(output = label), 0) AS correct FROM perf_predictions WHERE fleet = ? AND model = ? AND version = ? AND label IS NOT NULL AND received_at >= ?',
      ).get(fleet, model, version, sinceMs) as { samples: number; correct: number };
      return row;
    },
  };
}
