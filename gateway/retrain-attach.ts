/**
 * Wires a RetrainService into a started Gateway from the outside: its SQLite database, store, registry,
 * rollouts (rolloutsOf), the drift service's alerts and /metrics source, and the HTTP routes (routes may
 * be added to a running HttpServer). The caller stops the service before the gateway.
 */
import { EdgeloopError } from '../src/errors.ts';
import type { Logger } from '../src/log.ts';
import type { Gateway } from './gateway.ts';
import { SqliteStore } from './store-sqlite.ts';
import { RetrainService, rolloutsOf, type RetrainServiceOptions } from './retrain.ts';

export type AttachRetrainOptions = Pick<RetrainServiceOptions, 'policy' | 'schedule' | 'defaultFleet' | 'now' | 'tickMs' | 'timers' | 'newId' | 'evaluations' | 'runs'> & { logger?: Logger };

export async function attachRetraining(gateway: Pick<Gateway, 'store' | 'registry' | 'rollouts' | 'drift' | 'http'>, options: AttachRetrainOptions = {}): Promise<RetrainService> {
  const store = gateway.store;
  if (!(store instanceof SqliteStore)) throw new EdgeloopError('BAD_CONFIG', 'retraining needs the gateway on a SQLite store (the registry and rollouts live there)');
  if (!gateway.registry || !gateway.rollouts) throw new EdgeloopError('BAD_CONFIG', 'retraining needs the gateway with its registry and rollouts on (gateway option rollouts must not be false)');
  const service = await RetrainService.create({
    ...options, database: store.database, store, registry: gateway.registry, rollouts: rolloutsOf(gateway.rollouts), alerts: gateway.drift?.alerts ?? null, live: gateway.drift?.performance,
  });
  gateway.drift?.setMetricsSources({ retrain: () => service.metricsSnapshot() });
  if (gateway.http) service.registerRoutes(gateway.http);
  await service.start();
  return service;
}
