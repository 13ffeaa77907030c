/** The gateway instances of the fail-over tests (test/scale-failover.test.ts, test/scale-rollouts.test.ts): their options, shared by the in-process and the child instances, and the child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
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

/** Starts a gateway instance in its own process (test/helpers/pg-gateway-child.ts); resolves once it is ready. */
export async function spawnFailoverInstance(o: FailoverInstance): Promise<{ proc: ChildProcess; http: string; leader: boolean }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./pg-gateway-child.ts', import.meta.url)), JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise<{ http: string; leader: boolean }>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`gateway ${o.id} exited with ${code}`)));
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      const doc = JSON.parse(l) as { event: string; http: string; leader: boolean };
      if (doc.event === 'ready') resolve(doc);
    });
  });
  return { proc, ...ready };
}

/** One JSON call to a gateway's HTTP API. */
export async function callJson<T = Record<string, unknown>>(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; doc: T }> {
  const res = await fetch(base + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, doc: (await res.json()) as T };
}
