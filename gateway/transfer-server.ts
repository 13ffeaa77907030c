/**
 * Gateway side of the model transfer. For each offered model version it publishes the signed manifest
 * retained on edgeloop/<fleet>/models/<model>/<version>/manifest, and answers devices' ChunkRequests
 * (edgeloop/<fleet>/<device>/model/request) by publishing the requested chunks as raw bytes on
 * …/chunk/<n> with QoS 1.
 *
 * Bounds: at most `maxInflight` chunk publishes await their PUBACK at once; at most `maxQueuedChunks`
 * chunks wait behind them (a request beyond that is refused with a Rejection and counted — the device
 * asks again after its timeout); a chunk already queued is not queued twice, so a fleet asking for the
 * same chunk at once costs one publish. `maxChunksPerS` caps the rate for thin links.
 *
 * Push (`pushChunks`): `offer()` also publishes every chunk of the version once, **retained**, on its
 * chunk topic. A device subscribing to the version's chunk filter then gets the whole artifact from the
 * broker right after its SUBACK — the same bytes to the same subscribers as one publish burst, with no
 * request and no gateway round trip per device. Requests remain for what a device still lacks (the
 * broker lost its retained messages in a restart, dropped a queued message, a chunk failed its hash):
 * those chunks are published again, not retained. Retained chunks stay in the broker until `withdraw()`
 * clears them, which the caller does once no rollout needs the version any more.
 *
 * Coalescing (`coalesceQuietMs`): chunks go to a fleet-wide topic, so one publish serves every device
 * subscribed at that moment — but a request arriving after the chunk left the queue makes it go again,
 * to everyone. When a whole fleet asks within a few hundred milliseconds (a rollout), a queued chunk
 * waits until no new request for it came for `coalesceQuietMs` (at most `coalesceMaxWaitMs` after the
 * first), then every chunk of the burst goes out at once (up to maxInflight). Unlike a fixed rate this
 * costs one quiet period per burst instead of 1/rate per chunk.
 * Bad requests are never dropped silently: each is answered on the device's `rejected` topic and counted.
 */
import { createHash } from 'node:crypto';
import { EdgeloopError, errorMessage, isEdgeloopError } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import type { ModelManifest } from '../src/manifest.ts';
import { checkArtifact, parseManifest } from '../src/manifest-validate.ts';
import { canonicalJson } from '../src/pipeline/hash.ts';
import { assertSafeName } from '../src/names.ts';
import { chunkTopic, deviceTopic, manifestTopic, parseTopic } from '../src/topics.ts';
import { MAX_MODEL_VERSION, parseJsonPayload, validateChunkRequest, type ChunkRequest, type Rejection } from '../src/contracts/device.ts';
import { publishAsync, type MqttClient } from '../io/mqtt-client.ts';

export interface TransferServerOptions {
  client: MqttClient;
  fleet: string;
  maxInflight?: number;
  maxQueuedChunks?: number;
  /** null: as fast as the broker acknowledges. */
  maxChunksPerS?: number | null;
  /** A queued chunk waits until it was not asked for during this long (0: no waiting). */
  coalesceQuietMs?: number;
  /** …but at most this long after its first request. */
  coalesceMaxWaitMs?: number;
  /** Publish every chunk retained when a version is offered (devices then need no request). */
  pushChunks?: boolean;
  /** sha256 (hex) used to check an offered artifact; default node:crypto. */
  sha256?: (data: Uint8Array) => string;
  logger?: Logger;
  now?: () => number;
  /** Observes every valid request (metrics, tests). */
  onRequest?: (device: string, request: ChunkRequest) => void;
}

export const TRANSFER_SERVER_DEFAULTS = { maxInflight: 8, maxQueuedChunks: 4096, maxChunksPerS: null as number | null, coalesceQuietMs: 0, coalesceMaxWaitMs: 250, pushChunks: false };

export interface TransferServerStats {
  requests: number;
  chunksRequested: number;
  chunksPublished: number;
  /** Requested chunks already waiting in the queue (one publish served several askers). */
  chunksCoalesced: number;
  /** Chunks published retained by offer() (pushChunks), each once per offer. */
  chunksPushed: number;
  /** Retained chunk and manifest topics cleared by withdraw() (empty retained publishes). */
  retainedCleared: number;
  rejected: number;
  publishErrors: number;
  /** Most chunk publishes awaiting their PUBACK at once (never above maxInflight). */
  peakInflight: number;
}

interface Offer {
  manifest: ModelManifest;
  bytes: Uint8Array;
}

interface Job {
  model: string;
  version: number;
  index: number;
  firstAskMs: number;
  lastAskMs: number;
  /** A push (offer) rather than an answer to a request: published retained, never waits for coalescing. */
  push: boolean;
}

/** Most chunks a version may have (chunk indices in topics have at most 9 digits). */
const MAX_CHUNKS = 1_000_000_000;

const key = (model: string, version: number): string => `${model}@${version}`;

export interface WithdrawOptions {
  /**
   * How many chunk topics the version has (its manifest's artifact.chunkSha256.length), for a server
   * that does not hold the offer — restarted since, or never offered it — but whose fleet may still
   * retain pushed chunks. Not needed when this server offered the version (or withdrew it before).
   */
  chunkCount?: number;
}

export interface WithdrawResult {
  /** Retained topics cleared: the chunk topics (with pushChunks or chunkCount) and the manifest topic. */
  clearedTopics: number;
  /** The version was offered by this server until this call (false: a repeated or after-restart withdraw). */
  wasOffered: boolean;
}

export class TransferServer {
  private readonly client: MqttClient;
  private readonly fleet: string;
  private readonly maxInflight: number;
  private readonly maxQueued: number;
  private readonly minIntervalMs: number;
  private readonly quietMs: number;
  private readonly maxWaitMs: number;
  private coalesceTimer: NodeJS.Timeout | null = null;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly onRequestHook?: (device: string, request: ChunkRequest) => void;
  private readonly offers = new Map<string, Offer>();
  private readonly queue: Job[] = [];
  private readonly queued = new Map<string, Job>();
  private inflight = 0;
  private lastPublishMs = -Infinity;
  private pacingTimer: NodeJS.Timeout | null = null;
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private readonly push: boolean;
  private readonly sha256: (data: Uint8Array) => string;
  private readonly counters: TransferServerStats = { requests: 0, chunksRequested: 0, chunksPublished: 0, chunksCoalesced: 0, chunksPushed: 0, retainedCleared: 0, rejected: 0, publishErrors: 0, peakInflight: 0 };
  /** Chunk counts of versions withdrawn by this server: a repeated withdraw clears the same topics again. */
  private readonly withdrawnChunks = new Map<string, number>();
  private readonly onMessage = (topic: string, payload: Buffer): void => {
    this.handle(topic, payload);
  };

  constructor(options: TransferServerOptions) {
    const d = TRANSFER_SERVER_DEFAULTS;
    this.client = options.client;
    this.fleet = options.fleet;
    this.maxInflight = options.maxInflight ?? d.maxInflight;
    this.maxQueued = options.maxQueuedChunks ?? d.maxQueuedChunks;
    const rate = options.maxChunksPerS ?? d.maxChunksPerS;
    if (!Number.isInteger(this.maxInflight) || this.maxInflight < 1 || this.maxInflight > 1000) throw new EdgeloopError('BAD_ARGUMENT', `maxInflight must be an integer in 1..1000, got ${this.maxInflight}`);
    if (!Number.isInteger(this.maxQueued) || this.maxQueued < 1) throw new EdgeloopError('BAD_ARGUMENT', `maxQueuedChunks must be a positive integer, got ${this.maxQueued}`);
    if (rate !== null && !(rate > 0 && Number.isFinite(rate))) throw new EdgeloopError('BAD_ARGUMENT', `maxChunksPerS must be a positive number or null, got ${rate}`);
    this.minIntervalMs = rate === null ? 0 : 1000 / rate;
    this.quietMs = options.coalesceQuietMs ?? d.coalesceQuietMs;
    this.maxWaitMs = options.coalesceMaxWaitMs ?? d.coalesceMaxWaitMs;
    if (!(Number.isFinite(this.quietMs) && this.quietMs >= 0 && this.quietMs <= 60_000)) throw new EdgeloopError('BAD_ARGUMENT', `coalesceQuietMs must be a number in 0..60000, got ${this.quietMs}`);
    if (!(Number.isFinite(this.maxWaitMs) && this.maxWaitMs >= this.quietMs && this.maxWaitMs <= 60_000)) throw new EdgeloopError('BAD_ARGUMENT', `coalesceMaxWaitMs must be a number in coalesceQuietMs..60000, got ${this.maxWaitMs}`);
    this.logger = (options.logger ?? silentLogger).child('transfer-server');
    this.now = options.now ?? Date.now;
    this.onRequestHook = options.onRequest;
    this.push = options.pushChunks ?? d.pushChunks;
    this.sha256 = options.sha256 ?? ((data) => createHash('sha256').update(data).digest('hex'));
  }

  get stats(): TransferServerStats {
    return { ...this.counters };
  }

  /** Subscribes to the fleet's chunk requests; pushes offered before start() go out now. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.client.on('message', this.onMessage);
    await this.client.subscribeAsync(deviceTopic('modelRequest', this.fleet, '+'), { qos: 1 });
    this.pump();
  }

  /** Stops answering, drops queued chunks, waits for in-flight publishes. Offers stay published. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.client.off('message', this.onMessage);
    if (this.pacingTimer) clearTimeout(this.pacingTimer);
    this.pacingTimer = null;
    if (this.coalesceTimer) clearTimeout(this.coalesceTimer);
    this.coalesceTimer = null;
    this.queue.length = 0;
    this.queued.clear();
    await this.client.unsubscribeAsync(deviceTopic('modelRequest', this.fleet, '+')).catch(() => undefined);
    await this.idle();
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.inflight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Offers a signed model version: checks the artifact against the manifest (a gateway must never serve
   * bytes its own manifest disowns), then publishes the manifest retained and, with `pushChunks`, queues
   * every chunk to be published retained (once per offer; paced and bounded like answers to requests).
   * Resolves when the manifest is published; the push goes on in the background (see idle()).
   */
  async offer(manifestJson: unknown, bytes: Uint8Array): Promise<ModelManifest> {
    const manifest = parseManifest(manifestJson);
    if (manifest.signature === undefined) throw new EdgeloopError('MODEL_SIGNATURE', `manifest ${manifest.model}@${manifest.version} is not signed; sign it before offering it to devices`);
    checkArtifact(manifest.artifact, bytes, this.sha256);
    const k = key(manifest.model, manifest.version);
    this.offers.set(k, { manifest, bytes });
    this.withdrawnChunks.delete(k);
    // Canonical JSON (sorted keys, the signature among them): what a device parses is then already in the
    // order its signature check encodes, which it does without re-sorting (src/pipeline/hash.ts).
    await publishAsync(this.client, manifestTopic(this.fleet, manifest.model, manifest.version), canonicalJson(manifest), { qos: 1, retain: true });
    const n = manifest.artifact.chunkSha256.length;
    this.logger.info(`offering ${manifest.model} v${manifest.version}: ${bytes.length} bytes in ${n} chunks${this.push ? ', pushed retained' : ''}`);
    if (this.push) {
      for (let index = 0; index < n; index++) {
        const waiting = this.queued.get(`${k}#${index}`);
        if (waiting) {
          waiting.push = true; // one publish, retained, serves the request too
          waiting.firstAskMs = -Infinity;
          continue;
        }
        const job: Job = { model: manifest.model, version: manifest.version, index, firstAskMs: -Infinity, lastAskMs: -Infinity, push: true };
        this.queued.set(`${k}#${index}`, job);
        this.queue.push(job);
      }
      this.pump();
    }
    return manifest;
  }

  /**
   * Withdraws model@version from this fleet, for when no rollout needs it any more (every rollout of it
   * in the fleet is completed, aborted or rolled back): forgets the offer, so requests for it are refused
   * with NOT_FOUND; drops its chunks still queued; and clears what the broker retains for it — every
   * pushed chunk first, then the manifest — with empty retained publishes (QoS 1). Resolves when the
   * broker has acknowledged every clear.
   *
   * Idempotent: a second call clears the same topics again. A server that does not hold the offer (it
   * was restarted since) clears the manifest, and the chunks when given `chunkCount`. All clears are
   * written at once, in order, before anything offered later: a withdraw followed by offer() of the same
   * version (a new rollout) leaves the new push in place. Devices ignore the empty messages.
   */
  async withdraw(model: string, version: number, options: WithdrawOptions = {}): Promise<WithdrawResult> {
    assertSafeName('model', model);
    if (!Number.isInteger(version) || version < 1 || version > MAX_MODEL_VERSION) throw new EdgeloopError('BAD_ARGUMENT', `withdraw ${model}: version must be an integer in 1..${MAX_MODEL_VERSION}, got ${version}`);
    const given = options.chunkCount;
    if (given !== undefined && !(Number.isInteger(given) && given >= 0 && given <= MAX_CHUNKS)) {
      throw new EdgeloopError('BAD_ARGUMENT', `withdraw ${model}@${version}: chunkCount must be an integer in 0..${MAX_CHUNKS} (the manifest's artifact.chunkSha256.length), got ${given}`);
    }
    const k = key(model, version);
    const offer = this.offers.get(k);
    const offered = offer?.manifest.artifact.chunkSha256.length;
    // Retained chunks exist when this server pushed them; a caller's chunkCount says they may exist anyway
    // (pushed before a restart, or another artifact of the version): the larger count is cleared.
    const known = offered !== undefined ? (this.push ? offered : 0) : this.withdrawnChunks.get(k) ?? 0;
    const chunks = Math.max(given ?? 0, known);
    this.offers.delete(k);
    this.withdrawnChunks.set(k, chunks);
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const job = this.queue[i]!;
      if (job.model === model && job.version === version) {
        this.queue.splice(i, 1);
        this.queued.delete(`${k}#${job.index}`);
      }
    }
    if (this.inflight === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
    // Chunk publishes already dequeued were written to the socket before these clears, so the broker
    // applies them first; nothing of this version is published after the manifest is cleared.
    const clears: Promise<void>[] = [];
    for (let i = 0; i < chunks; i++) clears.push(publishAsync(this.client, chunkTopic(this.fleet, model, version, i), '', { qos: 1, retain: true }));
    clears.push(publishAsync(this.client, manifestTopic(this.fleet, model, version), '', { qos: 1, retain: true }));
    await Promise.all(clears);
    this.counters.retainedCleared += clears.length;
    this.logger.info(`withdrew ${model} v${version}: cleared ${chunks} retained chunk${chunks === 1 ? '' : 's'} and the manifest${offer ? '' : ' (it was not offered by this server)'}`);
    return { clearedTopics: clears.length, wasOffered: offer !== undefined };
  }

  private handle(topic: string, payload: Buffer): void {
    let device: string;
    try {
      const parsed = parseTopic(topic);
      if (parsed.kind !== 'modelRequest' || parsed.fleet !== this.fleet) return;
      device = parsed.device;
    } catch {
      return; // not ours (the subscription filter only admits request topics)
    }
    let req: ChunkRequest;
    try {
      req = validateChunkRequest(parseJsonPayload(payload, `chunk request on ${topic}`));
    } catch (err) {
      this.reject(device, topic, isEdgeloopError(err) ? err.code : 'BAD_PAYLOAD', errorMessage(err));
      return;
    }
    const offer = this.offers.get(key(req.model, req.version));
    if (!offer) {
      this.reject(device, topic, 'NOT_FOUND', `model ${req.model} version ${req.version} is not offered by this gateway`);
      return;
    }
    const n = offer.manifest.artifact.chunkSha256.length;
    const outside = req.chunks.find((c) => c >= n);
    if (outside !== undefined) {
      this.reject(device, topic, 'BAD_PAYLOAD', `chunk request.chunks: index ${outside} is outside 0..${n - 1} of ${req.model} v${req.version}`);
      return;
    }
    const fresh = req.chunks.filter((c) => !this.queued.has(`${key(req.model, req.version)}#${c}`));
    if (this.queue.length + fresh.length > this.maxQueued) {
      this.reject(device, topic, 'TIMEOUT', `transfer queue is full (${this.queue.length} of ${this.maxQueued} chunks waiting); ask again later`);
      return;
    }
    this.counters.requests++;
    this.counters.chunksRequested += req.chunks.length;
    this.counters.chunksCoalesced += req.chunks.length - fresh.length;
    this.onRequestHook?.(device, req);
    const now = this.now();
    for (const index of req.chunks) {
      const k = `${key(req.model, req.version)}#${index}`;
      const waiting = this.queued.get(k);
      if (waiting) {
        waiting.lastAskMs = now;
        continue;
      }
      const job: Job = { model: req.model, version: req.version, index, firstAskMs: now, lastAskMs: now, push: false };
      this.queued.set(k, job);
      this.queue.push(job);
    }
    this.pump();
  }

  private reject(device: string, topic: string, reason: string, detail: string): void {
    this.counters.rejected++;
    this.logger.warn(`rejected message on ${topic}: ${detail}`);
    const rejection: Rejection = { topic, reason, detail, tsMs: this.now() };
    publishAsync(this.client, deviceTopic('rejected', this.fleet, device), JSON.stringify(rejection), { qos: 0 }).catch((err: unknown) => {
      this.logger.warn(`cannot publish rejection to ${device}: ${errorMessage(err)}`);
    });
  }

  /** When a queued job may go (coalescing); -Infinity when coalescing is off or for a push. */
  private dueMs(job: Job): number {
    return this.quietMs > 0 && !job.push ? Math.min(job.firstAskMs + this.maxWaitMs, job.lastAskMs + this.quietMs) : -Infinity;
  }

  private pump(): void {
    while (this.running && this.inflight < this.maxInflight && this.queue.length > 0) {
      let pick = 0;
      if (this.quietMs > 0) {
        const now = this.now();
        pick = this.queue.findIndex((j) => this.dueMs(j) <= now);
        if (pick < 0) {
          const next = Math.min(...this.queue.map((j) => this.dueMs(j)));
          if (this.coalesceTimer) clearTimeout(this.coalesceTimer);
          this.coalesceTimer = setTimeout(() => {
            this.coalesceTimer = null;
            this.pump();
          }, Math.max(1, next - now));
          return;
        }
      }
      if (this.minIntervalMs > 0) {
        const wait = this.lastPublishMs + this.minIntervalMs - this.now();
        if (wait > 0) {
          this.pacingTimer ??= setTimeout(() => {
            this.pacingTimer = null;
            this.pump();
          }, wait);
          return;
        }
        this.lastPublishMs = this.now();
      }
      const job = this.queue.splice(pick, 1)[0]!;
      this.queued.delete(`${key(job.model, job.version)}#${job.index}`);
      const offer = this.offers.get(key(job.model, job.version));
      if (!offer) continue; // withdrawn meanwhile
      const spec = offer.manifest.artifact;
      const start = job.index * spec.chunkBytes;
      const chunk = offer.bytes.subarray(start, Math.min(start + spec.chunkBytes, spec.bytes));
      this.inflight++;
      this.counters.peakInflight = Math.max(this.counters.peakInflight, this.inflight);
      publishAsync(this.client, chunkTopic(this.fleet, job.model, job.version, job.index), chunk, { qos: 1, retain: job.push })
        .then(() => {
          this.counters.chunksPublished++;
          if (job.push) this.counters.chunksPushed++;
        })
        .catch((err: unknown) => {
          // The device re-requests what it does not get; count and log.
          this.counters.publishErrors++;
          this.logger.warn(`publishing chunk ${job.index} of ${job.model} v${job.version} failed: ${errorMessage(err)}`);
        })
        .finally(() => {
          this.inflight--;
          this.pump();
          if (this.inflight === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
    }
    if (this.inflight === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}
