/**
 * The gateway's HTTP server: telemetry for devices that speak HTTP rather than MQTT
 * (POST /v1/telemetry/<fleet>/<device>, same JSON, same validation, same store and quarantine),
 * health and ingest counters. Routes are added by other gateway parts through `route()`.
 */
import http from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';

export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse, params: string[], body: Buffer) => Promise<void> | void;

interface Route {
  method: string;
  pattern: RegExp;
  handler: RouteHandler;
}

export interface HttpServerOptions {
  host?: string;
  port: number;
  /** Largest accepted request body. */
  maxBodyBytes?: number;
  /**
   * API token: every request that is not GET/HEAD must carry `Authorization: Bearer <token>`
   * (401 UNAUTHORIZED otherwise). Reads (the dashboard, status) stay open unless `protectReads`.
   * Null: no token.
   */
  token?: string | null;
  /**
   * Reads need the token too (everything but GET /healthz): as a Bearer header (the CLI, Prometheus'
   * `authorization`), or as the HttpOnly cookie a browser gets by opening any page once with
   * `?token=<token>` (the dashboard's own requests and its event stream then carry it). Writes still
   * need the header: a cookie alone never authorises one. Needs `token`.
   */
  protectReads?: boolean;
  logger?: Logger;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
const TOKEN_COOKIE = 'edgeloop_token';

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export class HttpServer {
  readonly #routes: Route[] = [];
  readonly #server: http.Server;
  readonly #o: Required<HttpServerOptions>;
  readonly #tokenDigest: Buffer | null;
  #port = 0;
  #unauthorized = 0;

  constructor(options: HttpServerOptions) {
    this.#o = { host: '127.0.0.1', maxBodyBytes: 1024 * 1024, logger: silentLogger, token: null, protectReads: false, ...options };
    if (this.#o.protectReads && this.#o.token === null) throw new EdgeloopError('BAD_CONFIG', 'protectReads needs an API token (gateway.httpTokenFile): without one every read would be refused');
    this.#tokenDigest = this.#o.token === null ? null : digest(this.#o.token);
    this.#server = http.createServer((req, res) => void this.#handle(req, res));
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://${this.#o.host.includes(':') ? `[${this.#o.host}]` : this.#o.host}:${this.#port}`;
  }

  route(method: string, pattern: RegExp, handler: RouteHandler): void {
    this.#routes.push({ method, pattern, handler });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', (err) => reject(new EdgeloopError('BAD_CONFIG', `HTTP server cannot listen on ${this.#o.host}:${this.#o.port}: ${err.message}`, { cause: err })));
      this.#server.listen(this.#o.port, this.#o.host, () => resolve());
    });
    this.#port = (this.#server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    if (!this.#server.listening) return;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname;
      const read = req.method === 'GET' || req.method === 'HEAD';
      // Protected reads are checked before routing: an anonymous client learns nothing, not even which paths exist.
      if (this.#o.protectReads && read && path !== '/healthz') {
        const offered = url.searchParams.get('token');
        if (offered !== null) {
          // A browser's way in: the token once in the address, then a cookie; the address loses it.
          if (!this.#matches(offered)) return this.#refuse(req, res, path);
          url.searchParams.delete('token');
          res.writeHead(303, {
            location: url.pathname + url.search,
            'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(offered)}; HttpOnly; SameSite=Strict; Path=/`,
            'cache-control': 'no-store',
          });
          res.end();
          return;
        }
        if (!this.#authorized(req) && !this.#cookieAuthorized(req)) return this.#refuse(req, res, path);
      }
      const candidates = this.#routes.filter((r) => r.pattern.test(path));
      if (candidates.length === 0) return sendJson(res, 404, { error: 'NOT_FOUND', message: `no route for ${path}` });
      const route = candidates.find((r) => r.method === req.method);
      if (!route) return sendJson(res, 405, { error: 'METHOD_NOT_ALLOWED', message: `${req.method} not allowed on ${path}` });
      if (this.#tokenDigest !== null && !read && !this.#authorized(req)) {
        this.#unauthorized++;
        this.#o.logger.warn(`refused ${req.method} ${path} from ${req.socket.remoteAddress ?? '?'}: no valid API token`);
        req.resume();
        return sendJson(res, 401, { error: 'UNAUTHORIZED', message: `${req.method} ${path} needs the gateway's API token (Authorization: Bearer …; the CLI reads it from --token-file or gateway.httpTokenFile)` });
      }
      const body = await this.#readBody(req);
      if (body === null) {
        return sendJson(res, 413, { error: 'PAYLOAD_TOO_LARGE', message: `request body is larger than ${this.#o.maxBodyBytes} bytes` });
      }
      const params = (route.pattern.exec(path) ?? []).slice(1).map((p) => decodeURIComponent(p));
      await route.handler(req, res, params, body);
    } catch (err) {
      this.#o.logger.error(`HTTP ${req.method} ${req.url} failed: ${errorMessage(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'INTERNAL', message: errorMessage(err) });
      else res.destroy();
    }
  }

  /** Requests refused for a missing or wrong token (writes; reads too with protectReads). */
  get unauthorized(): number {
    return this.#unauthorized;
  }

  #authorized(req: http.IncomingMessage): boolean {
    const m = /^Bearer\s+(\S+)$/.exec(req.headers.authorization ?? '');
    return m !== null && this.#matches(m[1]!);
  }

  #cookieAuthorized(req: http.IncomingMessage): boolean {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === TOKEN_COOKIE) {
        try {
          return this.#matches(decodeURIComponent(part.slice(eq + 1).trim()));
        } catch {
          return false;
        }
      }
    }
    return false;
  }

  /** Equal-length digests: the comparison time tells nothing about the token. */
  #matches(candidate: string): boolean {
    return timingSafeEqual(digest(candidate), this.#tokenDigest!);
  }

  #refuse(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
    this.#unauthorized++;
    this.#o.logger.warn(`refused ${req.method} ${path} from ${req.socket.remoteAddress ?? '?'}: no valid API token (reads are protected)`);
    req.resume();
    sendJson(res, 401, { error: 'UNAUTHORIZED', message: `${req.method} ${path} needs the gateway's API token: Authorization: Bearer … (the CLI reads it from --token-file or gateway.httpTokenFile), or in a browser open ${path}?token=… once` });
  }

  #readBody(req: http.IncomingMessage): Promise<Buffer | null> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > this.#o.maxBodyBytes) tooLarge = true;
        else chunks.push(c);
      });
      req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }
}
