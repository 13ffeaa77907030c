/** The options of one gateway instance in the fail-over test (test/scale-failover.test.ts), shared by the in-process and the child instances. */
import type { GatewayOptions } from '../../gateway/gateway.ts';

export interface FailoverInstance {
  id: string;
  dbUrl: string;
  schema: string;
  brokerUrl: string;
  keyDir: string;
  fleet: string;
  retryMs: number;
  sharedGroup: string;
  /** Drift and performance monitoring on (a duty of the leader); off by default. */
  drift?: boolean;
}

export const DAY_MS = 24 * 3600_000;

export function failoverGatewayOptions(o: FailoverInstance): Omit<GatewayOptions, 'store'> {
  return {
    id: o.id, brokerUrl: o.brokerUrl, dbPath: 'unused', http: { host: '127.0.0.1', port: 0 }, drift: o.drift ? {} : false, sharedGroup: o.sharedGroup, protocolVersion: 5,
    keyDir: o.keyDir, fleet: o.fleet, leader: { retryMs: o.retryMs },
    // approve mode: a job waits for the operator, so it is open when the leader dies; minGain 1: the candidate is always rejected (no rollout needed).
    retrain: { defaultFleet: o.fleet, tickMs: 50, policy: { mode: 'approve', minGain: 1, recentWindowMs: 6 * DAY_MS } },
  };
}
