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
 * Errors: {"error": CODE, "message": …} with 400 (bad argument/name), 404 (not found), 409 (wrong state).
 */
import type http from 'node:http';
import { isEdgeloopError, errorMessage } from '../src/errors.ts';
import { isSafeName } from '../src/names.ts';
import { sendJson, type HttpServer } from './http.ts';
import type { Panel } from './dashboard.ts';
import type { FleetDevice } from './fleet.ts';
import { parseRolloutRequest } from './rollout-request.ts';
import type { RolloutService } from './rollout.ts';
import type { RolloutDeviceRecord } from './rollout-store.ts';

export const ROLLOUT_PROGRESS_ENDPOINT = '/v1/rollouts/progress';

export function rolloutPanels(): Panel[] {
  return [
    { id: 'rollouts', title: 'Rollout progress (per device)', endpoint: ROLLOUT_PROGRESS_ENDPOINT, kind: 'table' },
    { id: 'fleet', title: 'Fleet (devices, health, models)', endpoint: '/v1/fleet?view=table', kind: 'table' },
  ];
}

function fail(res: http.ServerResponse, err: unknown): void {
  if (!isEdgeloopError(err)) throw err;
  const status = err.code === 'NOT_FOUND' ? 404 : err.message.startsWith('cannot ') || err.message.includes(' is running in fleet ') || err.message.includes(' is paused in fleet ') ? 409 : 400;
  sendJson(res, status, { error: err.code, message: err.message });
}

function parseBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8') || 'null');
  } catch (err) {
    return { __invalid: errorMessage(err) };
  }
}

export function deviceView(service: RolloutService, d: FleetDevice) {
  const r = service.controller.store.latestForDevice(d.fleet, d.device);
  return {
    ...d,
    rollout: r ? { id: r.rolloutId, model: r.model, version: r.version, state: r.state, mode: r.installMode, fromVersion: r.fromVersion, error: r.error } : null,
  };
}

function fleetRow(service: RolloutService, d: FleetDevice, nowMs: number) {
  const v = deviceView(service, d);
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

export function registerRolloutRoutes(server: HttpServer, service: RolloutService): void {
  const c = service.controller;
  server.route('GET', /^\/v1\/fleet$/, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const fleet = url.searchParams.get('fleet') ?? undefined;
    const tag = url.searchParams.get('tag') ?? undefined;
    for (const [k, v] of [['fleet', fleet], ['tag', tag]] as const) {
      if (v !== undefined && !isSafeName(v)) return sendJson(res, 400, { error: 'BAD_NAME', message: `${k} ${JSON.stringify(v)} is not a safe name` });
    }
    const devices = service.fleet.list({ fleet, tag });
    const now = service.now();
    if (url.searchParams.get('view') === 'table') return sendJson(res, 200, devices.map((d) => fleetRow(service, d, now)));
    sendJson(res, 200, devices.map((d) => deviceView(service, d)));
  });
  server.route('GET', /^\/v1\/fleet\/([^/]+)\/([^/]+)$/, (_req, res, [fleet, device]) => {
    try {
      const d = service.fleet.get(fleet!, device!);
      if (!d) return sendJson(res, 404, { error: 'NOT_FOUND', message: `device ${fleet}/${device} has never reported to this gateway` });
      sendJson(res, 200, deviceView(service, d));
    } catch (err) {
      fail(res, err);
    }
  });
  server.route('POST', /^\/v1\/rollouts$/, async (_req, res, _p, body) => {
    try {
      const doc = parseBody(body);
      if (doc !== null && typeof doc === 'object' && '__invalid' in doc) return sendJson(res, 400, { error: 'NOT_JSON', message: `request body is not JSON: ${String(doc.__invalid)}` });
      sendJson(res, 201, await c.create(parseRolloutRequest(doc)));
    } catch (err) {
      fail(res, err);
    }
  });
  server.route('GET', /^\/v1\/rollouts$/, (_req, res) => sendJson(res, 200, c.list()));
  server.route('GET', /^\/v1\/rollouts\/progress$/, (_req, res) => {
    const rows = c.store.list(20).filter((r) => r.state === 'running' || r.state === 'paused' || service.now() - (r.finishedAtMs ?? 0) < 3_600_000);
    sendJson(res, 200, rows.flatMap((r) => c.store.devices(r.id).map((d) => progressRow(r.id, r.model, r.version, d))));
  });
  server.route('GET', /^\/v1\/rollouts\/([^/]+)$/, (_req, res, [id]) => {
    try {
      const summary = c.summary(id!);
      sendJson(res, 200, { ...summary, devices: c.store.devices(id!), events: c.store.events(id!) });
    } catch (err) {
      fail(res, err);
    }
  });
  server.route('POST', /^\/v1\/rollouts\/([^/]+)\/(pause|resume|abort|rollback)$/, (_req, res, [id, action], body) => {
    try {
      const doc = parseBody(body) as { reason?: unknown } | null;
      const reason = doc && typeof doc.reason === 'string' && doc.reason.length > 0 ? doc.reason.slice(0, 500) : undefined;
      switch (action) {
        case 'pause':
          return sendJson(res, 200, c.pause(id!));
        case 'resume':
          return sendJson(res, 200, c.resumeRollout(id!));
        case 'abort':
          return sendJson(res, 200, c.abort(id!, reason));
        case 'rollback':
          return sendJson(res, 200, c.rollback(id!, reason));
        default:
          return sendJson(res, 404, { error: 'NOT_FOUND', message: `unknown action ${action}` });
      }
    } catch (err) {
      fail(res, err);
    }
  });
}
