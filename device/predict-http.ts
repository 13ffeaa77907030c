/**
 * Optional local HTTP endpoint of the device agent (`edgeloop device --http-port N`), node:http,
 * bound to 127.0.0.1 unless told otherwise:
 *
 *   POST /predict {"features": [...], "model"?: name}   runs the active model on a feature row
 *        → 200 {"prediction": {ts, model, version, output, proba?}}
 *   POST /predict {"ts": ms|ISO, "values": {sensor: number}}   pushes a reading through the
 *        pipeline like any input reading (it is published too) → 200 {"accepted", "predictions": [...]}
 *        (empty until a window completes)
 *   GET  /stats   the inference stats (counters, latencies, outbox, models)
 *
 * Errors are JSON {"error": code, "message"}: 400 for a bad request, 404 for an unknown path or
 * model, 503 when no model is active, 413 for a body over 64 KiB.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EdgeloopError, errorMessage, isEdgeloopError } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import type { InferenceEngine } from './inference.ts';
import { parseJsonReadings } from './input-source.ts';

export interface PredictHttpOptions {
  engine: InferenceEngine;
  port: number;
  /** Default 127.0.0.1: the endpoint is for processes on the device itself. */
  host?: string;
  maxBodyBytes?: number;
  logger?: Logger;
  now?: () => number;
}

export const PREDICT_HTTP_DEFAULTS = { host: '127.0.0.1', maxBodyBytes: 64 * 1024 };

export class PredictHttp {
  readonly #o: PredictHttpOptions;
  readonly #log: Logger;
  #server: http.Server | null = null;

  private constructor(o: PredictHttpOptions) {
    this.#o = o;
    this.#log = (o.logger ?? silentLogger).child('http');
  }

  static async create(options: PredictHttpOptions): Promise<PredictHttp> {
    if (!(Number.isInteger(options.port) && options.port >= 0 && options.port <= 65_535)) throw new EdgeloopError('BAD_ARGUMENT', `http port must be an integer in 0..65535, got ${options.port}`);
    await Promise.resolve();
    return new PredictHttp(options);
  }

  get url(): string {
    const a = this.#server?.address() as AddressInfo | null | undefined;
    if (!a) throw new EdgeloopError('BAD_ARGUMENT', 'the HTTP endpoint is not started');
    return `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => this.#fail(res, err));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new EdgeloopError('BAD_CONFIG', `cannot listen on ${this.#o.host ?? PREDICT_HTTP_DEFAULTS.host}:${this.#o.port}: ${err.message}`, { cause: err })));
      server.listen(this.#o.port, this.#o.host ?? PREDICT_HTTP_DEFAULTS.host, () => resolve());
    });
    this.#server = server;
    this.#log.info(`listening on ${this.url} (POST /predict, GET /stats)`);
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #send(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  #fail(res: http.ServerResponse, err: unknown): void {
    const code = isEdgeloopError(err) ? err.code : 'RUNTIME';
    const status = code === 'PAYLOAD_TOO_LARGE' ? 413 : code === 'NOT_FOUND' ? (/no model is active/.test(errorMessage(err)) ? 503 : 404)
      : ['BAD_ARGUMENT', 'BAD_PAYLOAD', 'NOT_JSON', 'BAD_TIMESTAMP', 'BAD_VALUE', 'BAD_NAME'].includes(code) ? 400 : 500;
    if (status === 500) this.#log.warn(`request failed: ${errorMessage(err)}`);
    if (!res.headersSent) this.#send(res, status, { error: code, message: errorMessage(err) });
    else res.end();
  }

  async #body(req: http.IncomingMessage): Promise<unknown> {
    const max = this.#o.maxBodyBytes ?? PREDICT_HTTP_DEFAULTS.maxBodyBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > max) throw new EdgeloopError('PAYLOAD_TOO_LARGE', `request body is over ${max} bytes`);
      chunks.push(chunk as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      throw new EdgeloopError('NOT_JSON', `request body is not JSON: ${(err as Error).message}`);
    }
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://device').pathname;
    const engine = this.#o.engine;
    if (path === '/stats') {
      if (req.method !== 'GET') throw new EdgeloopError('BAD_ARGUMENT', `${req.method} /stats: use GET`);
      return this.#send(res, 200, engine.stats());
    }
    if (path !== '/predict') throw new EdgeloopError('NOT_FOUND', `no route ${req.method} ${path} (POST /predict, GET /stats)`);
    if (req.method !== 'POST') throw new EdgeloopError('BAD_ARGUMENT', `${req.method} /predict: use POST with {"features": [...]} or {"ts", "values"}`);
    const body = await this.#body(req);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new EdgeloopError('BAD_PAYLOAD', 'body must be a JSON object: {"features": [...]} or {"ts": …, "values": {…}}');
    const rec = body as Record<string, unknown>;
    if (engine.activeModels().length === 0) throw new EdgeloopError('NOT_FOUND', 'no model is active on this device');
    if (rec.features !== undefined) {
      if (rec.model !== undefined && typeof rec.model !== 'string') throw new EdgeloopError('BAD_PAYLOAD', 'model must be a model name');
      const prediction = await engine.predictFeatures(rec.features as number[], rec.model as string | undefined);
      return this.#send(res, 200, { prediction });
    }
    if (rec.values !== undefined) {
      const parsed = parseJsonReadings(JSON.stringify({ ts: rec.ts, values: rec.values }), (this.#o.now ?? Date.now)());
      if (!parsed.ok) throw new EdgeloopError(parsed.code, parsed.reason);
      const reading = parsed.readings[0]!;
      const r = await engine.pushReading(reading.ts, reading.values);
      if (!r.accepted) throw new EdgeloopError('BAD_TIMESTAMP', r.reason ?? 'reading refused');
      return this.#send(res, 200, { accepted: true, windowCompleted: r.predictions.length > 0, predictions: r.predictions });
    }
    throw new EdgeloopError('BAD_PAYLOAD', 'body must have "features" (a feature row) or "ts" and "values" (a reading)');
  }
}
