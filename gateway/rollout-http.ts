/**
 * HTTP API of the fleet registry and the rollouts (what `edgeloop fleet` and `edgeloop rollout` call):
 *
 *   GET  /v1/fleet[?fleet=F&tag=T]            devices with health, models and their latest rollout part
 *   GET  /v1/fleet/<fleet>/<device>           one device
 *   POST /v1/rollouts                         create (body: gateway/rollout-request.ts)
 *   GET  /v1/rollouts                         summaries, newest first
 *   GET  /v1/rollouts/progress                dashboard table: one row per device of live/recent rollouts
 *   GET  /v1/rollouts/<id>                    summary + devices + events
 *   POST /v1/rollouts/<id>/pause|resume|abort|rollback
 *
 * Errors: {"error": CODE, "message": …} with 400 (bad argument/name), 404 (not found), 409 (wrong state),
 * 503 NOT_LEADER (scaled-out gateways: this instance does not run the rollout controller; reads work on
 * every instance, from the shared tables).
 */
import type http from 'node:http';
import { EdgeloopError, isEdgeloopError, errorMessage } from '../src/errors.ts';
import { isSafeName } from '../src/names.ts';
import { sendJson, type HttpServer } from './http.ts';
import type { Panel } from './dashboard.ts';
import type { FleetDevice, FleetRegistry } from './fleet.ts';
import { parseRolloutRequest } from './rollout-request.ts';
import { rolloutSummaries, rolloutSummary, type RolloutController } from './rollout-controller.ts';
import type { RolloutDeviceRecord, RolloutStore } from './rollout-store.ts';

/** What the routes read, and the controller that takes writes when this instance runs it. */
export interface RolloutRoutesSource {
  fleet: FleetRegistry;
  store: RolloutStore;
  now(): number;
  /** The controller (null: another gateway instance runs it; writes answer 503 with `unavailable()`). */
  controller(): RolloutController | null;
  unavailable(): string;
}

export const ROLLOUT_PROGRESS_ENDPOINT = '/v1/rollouts/progress';

export function rolloutPanels(): Panel[] {
  return [
    { id: 'rollouts', title: 'Rollout progress (per device)', endpoint: ROLLOUT_PROGRESS_ENDPOINT, kind: 'table' },
    { id: 'fleet', title: 'Fleet (devices, health, models)', endpoint: '/v1/fleet?view=table', kind: 'table' },
  ];
}

function fail(res: http.ServerResponse, err: unknown): void {
  if (!isEdgeloopError(err)) throw err;
  const status = err.code === 'NOT_FOUND' ? 404 : err.code === 'NOT_LEADER' ? 503 : err.message.startsWith('cannot ') || err.message.includes(' is running in fleet ') || err.message.includes(' is paused in fleet ') ? 409 : 400;
  sendJson(res, status, { error: err.code, message: err.message });
}

function parseBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8') || 'null');
  } catch (err) {
    return { __invalid: errorMessage(err) };
  }
}

export async function deviceView(store: RolloutStore, d: FleetDevice) {
  const r = await store.latestForDevice(d.fleet, d.device);
  return {
    ...d,
    rollout: r ? { id: r.rolloutId, model: r.model, version: r.version, state: r.state, mode: r.installMode, fromVersion: r.fromVersion, error: r.error } : null,
  };
}

async function fleetRow(store: RolloutStore, d: FleetDevice, nowMs: number) {
  const v = await deviceView(store, d);
  return {
    fleet: d.fleet, device: d.device, health: d.health, tags: d.tags.join(','),
    models: d.models.map((m) => `${m.model}@${m.active ?? '-'}${m.shadow ? ` (shadow @${m.shadow})` : ''}${m.previous.length ? ` prev @${m.previous[0]}` : ''}`).join('; '),
    lastSeenS: Math.round((nowMs - d.lastSeenMs) / 100) / 10,
    rollout: v.rollout ? `${v.rollout.id} ${v.rollout.state}` : '',
  };
}

function progressRow(rolloutId: string, model: string, version: number, d: RolloutDeviceRecord) {
  return {
    rollout: rolloutId, device: d.device, wave: d.wave + 1, state: d.state, mode: d.installMode,
    change: `${model}@${d.fromVersion ?? '-'} → @${version}`,
    chunks: d.totalChunks ? `${d.receivedChunks ?? 0}/${d.totalChunks}` : '',
    error: d.error ? `${d.error.code}: ${d.error.message}`.slice(0, 160) : (d.rollbackError ?? ''),
    rollback: d.rollbackCommandId ? (d.state === 'rolled-back' ? 'done' : d.rollbackError ? 'failed' : 'sent') : '',
  };
}

export function registerRolloutRoutes(server: HttpServer, source: RolloutRoutesSource): void {
  const { store, fleet: registry } = source;
  const controller = (): RolloutController => {
    const c = source.controller();
    if (!c) throw new EdgeloopError('NOT_LEADER', source.unavailable());
    return c;
  };
  server.route('GET', /^\/v1\/fleet$/, async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const fleet = url.searchParams.get('fleet') ?? undefined;
    const tag = url.searchParams.get('tag') ?? undefined;
    for (const [k, v] of [['fleet', fleet], ['tag', tag]] as const) {
      if (v !== undefined && !isSafeName(v)) return sendJson(res, 400, { error: 'BAD_NAME', message: `${k} ${JSON.stringify(v)} is not a safe name` });
    }
    const devices = await registry.list({ fleet, tag });
    const now = source.now();
    if (url.searchParams.get('view') === 'table') return sendJson(res, 200, await Promise.all(devices.map((d) => fleetRow(store, d, now))));
    sendJson(res, 200, await Promise.all(devices.map((d) => deviceView(store, d))));
  });
  server.route('GET', /^\/v1\/fleet\/([^/]+)\/([^/]+)$/, async (_req, res, [fleet, device]) => {
    try {
      const d = await registry.get(fleet!, device!);
      if (!d) return sendJson(res, 404, { error: 'NOT_FOUND', message: `device ${fleet}/${device} has never reported to this gateway` });
      sendJson(res, 200, await deviceView(store, d));
    } catch (err) {
      fail(res, err);
    }
  });
  server.route('POST', /^\/v1\/rollouts$/, async (_req, res, _p, body) => {
    try {
      const doc = parseBody(body);
      if (doc !== null && typeof doc === 'object' && '__invalid' in doc) return sendJson(res, 400, { error: 'NOT_JSON', message: `request body is not JSON: ${String(doc.__invalid)}` });
      sendJson(res, 201, await controller().create(parseRolloutRequest(doc)));
    } catch (err) {
      fail(res, err);
    }
  });
  server.route('GET', /^\/v1\/rollouts$/, async (_req, res) => sendJson(res, 200, await rolloutSummaries(store)));
  server.route('GET', /^\/v1\/rollouts\/progress$/, async (_req, res) => {
    const rows = (await store.list(20)).filter((r) => r.state === 'running' || r.state === 'paused' || source.now() - (r.finishedAtMs ?? 0) < 3_600_000);
    const out = [];
    for (const r of rows) out.push(...(await store.devices(r.id)).map((d) => progressRow(r.id, r.model, r.version, d)));
    sendJson(res, 200, out);
  });
  server.route('GET', /^\/v1\/rollouts\/([^/]+)$/, async (_req, res, [id]) => {
    try {
      const summary = await rolloutSummary(store, id!);
      sendJson(res, 200, { ...summary, devices: await store.devices(id!), events: await store.events(id!) });
    } catch (err) {
      fail(res, err);
    }
  });
  server.route('POST', /^\/v1\/rollouts\/([^/]+)\/(pause|resume|abort|rollback)$/, async (_req, res, [id, action], body) => {
    try {
      const doc = parseBody(body) as { reason?: unknown } | null;
      const reason = doc && typeof doc.reason === 'string' && doc.reason.length > 0 ? doc.reason.slice(0, 500) : undefined;
      const c = controller();
      switch (action) {
        case 'pause':
          return sendJson(res, 200, await c.pause(id!));
        case 'resume':
          return sendJson(res, 200, await c.resumeRollout(id!));
        case 'abort':
          return sendJson(res, 200, await c.abort(id!, reason));
        case 'rollback':
          return sendJson(res, 200, await c.rollback(id!, reason));
        default:
          return sendJson(res, 404, { error: 'NOT_FOUND', message: `unknown action ${action}` });
      }
    } catch (err) {
      fail(res, err);
    }
  });
}
