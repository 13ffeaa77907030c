/** Shared bits of the dashboard's JSON routes: error answers and query parameters. */
import type http from 'node:http';
import { EdgeloopError, isEdgeloopError } from '../src/errors.ts';
import { assertSafeName, type NameKind } from '../src/names.ts';
import { sendJson, type RouteHandler } from './http.ts';

/** Answers EdgeloopErrors as JSON: 404 NOT_FOUND, 400 bad argument or name; anything else is a 500 (HttpServer). */
export function guarded(handler: RouteHandler): RouteHandler {
  return async (req, res, params, body) => {
    try {
      await handler(req, res, params, body);
    } catch (err) {
      if (isEdgeloopError(err, 'NOT_FOUND')) return sendJson(res, 404, { error: err.code, message: err.message });
      if (isEdgeloopError(err, 'BAD_ARGUMENT') || isEdgeloopError(err, 'BAD_NAME')) return sendJson(res, 400, { error: err.code, message: err.message });
      throw err;
    }
  };
}

export function queryOf(req: http.IncomingMessage): URLSearchParams {
  return new URL(req.url ?? '/', 'http://x').searchParams;
}

/** An integer query parameter in min..max, `def` when absent; BAD_ARGUMENT naming the range otherwise. */
export function intParam(q: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const v = q.get(name);
  if (v === null) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new EdgeloopError('BAD_ARGUMENT', `query parameter ${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
}

/** A safe-name query parameter, undefined when absent. */
export function nameParam(q: URLSearchParams, name: NameKind): string | undefined {
  const v = q.get(name);
  return v === null ? undefined : assertSafeName(name, v);
}

/** A required safe-name query parameter. */
export function requiredName(q: URLSearchParams, name: NameKind): string {
  const v = nameParam(q, name);
  if (v === undefined) throw new EdgeloopError('BAD_ARGUMENT', `query parameter ${name} is required`);
  return v;
}

export function isoTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '' : new Date(ms).toISOString().replace('.000Z', 'Z');
}

export function round(v: number | null | undefined, digits = 4): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
