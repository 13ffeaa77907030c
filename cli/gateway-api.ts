/**
 * The CLI side of the running gateway's HTTP API (`edgeloop fleet|rollout|retrain`): where the
 * gateway is (--gateway, else the configured gateway.httpHost:httpPort), the API token that write
 * requests carry (--token-file, else gateway.httpTokenFile), and one call that turns the gateway's
 * JSON errors back into EdgeloopErrors with their codes.
 */
import { readFileSync } from 'node:fs';
import { EdgeloopError, type ErrorCode } from '../src/errors.ts';
import { loadConfig } from './config.ts';

export interface GatewayApi {
  base: string;
  token: string | null;
}

/** Flags every gateway-API command accepts. */
export const GATEWAY_API_FLAGS = { gateway: { type: 'string' }, 'token-file': { type: 'string' } } as const;

const PASSED_CODES: readonly string[] = ['BAD_ARGUMENT', 'BAD_NAME', 'NOT_FOUND', 'NOT_JSON', 'BAD_CONFIG', 'BAD_PAYLOAD', 'BAD_DATA', 'TIMEOUT', 'ABORTED', 'STORE', 'MODEL_SIGNATURE', 'UNAUTHORIZED'];

/** Reads an API token file: its first line, trimmed; an empty or unreadable file is BAD_CONFIG. */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new EdgeloopError('BAD_CONFIG', `cannot read the API token file ${path}: ${(err as Error).message}`);
  }
  const token = text.split('\n')[0]!.trim();
  if (token.length < 16) throw new EdgeloopError('BAD_CONFIG', `the API token in ${path} must be at least 16 characters on its first line (e.g. openssl rand -hex 32 > ${path})`);
  return token;
}

export function gatewayApi(values: { gateway?: string; config?: string; 'token-file'?: string }): GatewayApi {
  const config = values.gateway === undefined || values['token-file'] === undefined ? loadConfig({ file: values.config }) : null;
  let base: string;
  if (values.gateway !== undefined) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(values.gateway)) throw new EdgeloopError('BAD_ARGUMENT', `--gateway ${JSON.stringify(values.gateway)} must look like http://host:port`);
    base = values.gateway.replace(/\/$/, '');
  } else {
    const g = config!.gateway;
    const host = g.httpHost === '0.0.0.0' || g.httpHost === '::' ? '127.0.0.1' : g.httpHost;
    base = `http://${host.includes(':') ? `[${host}]` : host}:${g.httpPort}`;
  }
  const tokenFile = values['token-file'] ?? config?.gateway.httpTokenFile;
  return { base, token: tokenFile === undefined ? null : readTokenFile(tokenFile) };
}

/** One request to the gateway API; `hint` is added to the cannot-reach message. */
export async function callGateway(api: GatewayApi, method: 'GET' | 'POST', path: string, body?: unknown, hint = "is 'edgeloop gateway' running? use --gateway URL"): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (api.token !== null) headers.authorization = `Bearer ${api.token}`;
  let res: Response;
  try {
    res = await fetch(api.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
    throw new EdgeloopError('BAD_CONFIG', `cannot reach the gateway at ${api.base}: ${cause} (${hint})`);
  }
  const text = await res.text();
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new EdgeloopError('BAD_PAYLOAD', `gateway answered ${res.status} with a non-JSON body: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const e = doc as { error?: string; message?: string };
    const code = (PASSED_CODES.includes(e.error ?? '') ? e.error : 'BAD_ARGUMENT') as ErrorCode;
    throw new EdgeloopError(code, e.message ?? `gateway answered ${res.status}`);
  }
  return doc;
}

/** A plain text table: column names, a rule, one line per row ('-' for null/undefined). */
export function formatTable(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd();
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}
