/**
 * Device side of the model transfer: subscribe to the version's chunk topics and its retained manifest
 * at once, verify the manifest's signature against the pinned gateway key, take the chunks the gateway
 * pushed, and request only what is still missing.
 *
 *   - Chunks arrive as raw bytes on edgeloop/<fleet>/models/<model>/<version>/chunk/<n>. A gateway that
 *     pushes (gateway/transfer-server.ts `pushChunks`) keeps them retained there, so they come with the
 *     SUBACK, in the same round trip as the manifest. Chunks arriving before the manifest is verified are
 *     held in memory (bounded by `maxBufferedBytes`) and verified once it is.
 *   - A chunk still missing when none has arrived for `pushWaitMs` is requested, in windows
 *     (`windowChunks` indices per ChunkRequest on model/request).
 *   - Each chunk is checked against the manifest's chunk sha256 as it arrives; a bad one (tampered,
 *     truncated) is refused, counted, and asked for again. Chunks requested by other devices of the
 *     fleet are accepted too when this device still needs them (they are verified the same way).
 *   - Good chunks are written under <stateDir>/transfers/<model>/<version>/chunks/ once the transfer
 *     has lasted `persistAfterMs` (or requests started, or it stops), so a disconnect or a restart
 *     resumes with the missing chunks only; a push that completes sooner writes no chunk files. Chunk
 *     files are not fsynced: a chunk torn by a power cut fails its hash on resume and is fetched again.
 *   - The whole artifact is checked (size and sha256) before it is handed over. Nothing partial or
 *     unverified ever leaves this module.
 * Requests that go unanswered for `chunkTimeoutMs` are re-sent; after `maxStalledRounds` rounds without
 * a single new chunk the transfer fails with TIMEOUT (and stays resumable).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgeloopError, isEdgeloopError, errorMessage } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { assertSafeName } from '../src/names.ts';
import type { ModelManifest } from '../src/manifest.ts';
import { canonicalJson } from '../src/pipeline/hash.ts';
import { chunkTopic, deviceTopic, manifestTopic } from '../src/topics.ts';
import type { ChunkRequest, TransferStats } from '../src/contracts/device.ts';
import { parseJsonPayload } from '../src/contracts/device.ts';
import { corkUntilIdle, publishAsync, type MqttClient } from '../io/mqtt-client.ts';
import { ArtifactAssembler, verifyManifest, type PinnedKeys } from './verify.ts';
import { assertVersion, readJsonFile, writeFileAtomic } from './model-store.ts';

export interface TransferClientOptions {
  client: MqttClient;
  fleet: string;
  device: string;
  /** The agent's state folder; partial transfers live under <stateDir>/transfers. */
  stateDir: string;
  /** The gateway public key(s) pinned at provisioning. */
  pinned: PinnedKeys;
  /** Chunk indices per request (and most chunks outstanding at once). */
  windowChunks?: number;
  /** A requested chunk not received after this long is requested again. */
  chunkTimeoutMs?: number;
  /** Rounds of chunkTimeoutMs without any new chunk before giving up with TIMEOUT. */
  maxStalledRounds?: number;
  /** How long to wait for the retained manifest. */
  manifestTimeoutMs?: number;
  /** Before the first request, wait this long after the last pushed chunk arrived (0: request at once). */
  pushWaitMs?: number;
  /** Chunks held in memory before the manifest is verified, at most this many bytes (more are dropped and requested later). */
  maxBufferedBytes?: number;
  /** Verified chunks are written to disk for resuming once the transfer has run this long (or requests started). */
  persistAfterMs?: number;
  logger?: Logger;
  now?: () => number;
  /** Called after each new chunk (for heartbeats and progress lines). */
  onProgress?: (p: { model: string; version: number; receivedChunks: number; totalChunks: number }) => void;
}

export const TRANSFER_CLIENT_DEFAULTS = { windowChunks: 16, chunkTimeoutMs: 2000, maxStalledRounds: 10, manifestTimeoutMs: 10_000, pushWaitMs: 1000, maxBufferedBytes: 32 * 1024 * 1024, persistAfterMs: 500 };

export interface TransferResult {
  manifest: ModelManifest;
  bytes: Uint8Array;
  stats: TransferStats;
}

/** Per MQTT client: its TransferClients' UNSUBSCRIBEs still in flight (the entry goes once they are acknowledged). */
const unsubscribing = new WeakMap<MqttClient, Promise<unknown>>();

/** The chunk topic filter of one model version: the chunkTopic builder with a '+' for the index. */
function chunkFilter(fleet: string, model: string, version: number): string {
  const one = chunkTopic(fleet, model, version, 0);
  return `${one.slice(0, one.lastIndexOf('/') + 1)}+`;
}

/** A chunk index in a topic, as parseTopic accepts it. */
const CHUNK_INDEX = /^(0|[1-9][0-9]{0,8})$/;

function abortError(what: string): EdgeloopError {
  return new EdgeloopError('ABORTED', `${what} was aborted`);
}

export class TransferClient {
  private readonly o: Required<Omit<TransferClientOptions, 'onProgress' | 'logger' | 'now'>> & Pick<TransferClientOptions, 'onProgress'>;
  private readonly logger: Logger;
  private readonly now: () => number;
  /** Transfer folders of downloads by this client that found none on disk and wrote none (see discard). */
  readonly #leftNothing = new Set<string>();

  constructor(options: TransferClientOptions) {
    const d = TRANSFER_CLIENT_DEFAULTS;
    this.o = {
      ...options,
      windowChunks: options.windowChunks ?? d.windowChunks,
      chunkTimeoutMs: options.chunkTimeoutMs ?? d.chunkTimeoutMs,
      maxStalledRounds: options.maxStalledRounds ?? d.maxStalledRounds,
      manifestTimeoutMs: options.manifestTimeoutMs ?? d.manifestTimeoutMs,
      pushWaitMs: options.pushWaitMs ?? d.pushWaitMs,
      maxBufferedBytes: options.maxBufferedBytes ?? d.maxBufferedBytes,
      persistAfterMs: options.persistAfterMs ?? d.persistAfterMs,
    };
    for (const [k, min, max] of [['windowChunks', 1, 1024], ['chunkTimeoutMs', 10, 600_000], ['maxStalledRounds', 1, 10_000], ['manifestTimeoutMs', 10, 600_000], ['pushWaitMs', 0, 600_000], ['maxBufferedBytes', 0, 2 ** 31], ['persistAfterMs', 0, 600_000]] as const) {
      const v = this.o[k];
      if (!Number.isInteger(v) || v < min || v > max) throw new EdgeloopError('BAD_ARGUMENT', `${k} must be an integer in ${min}..${max}, got ${v}`);
    }
    this.logger = (options.logger ?? silentLogger).child('transfer');
    this.now = options.now ?? Date.now;
  }

  /** UNSUBSCRIBEs sent on this client and not yet acknowledged (see #unsubscribeLater); undefined when none. */
  get #unsubscribed(): Promise<unknown> | undefined {
    return unsubscribing.get(this.o.client);
  }

  /**
   * Unsubscribes without waiting for the UNSUBACK (a round trip per install saved), but the next
   * download or manifest fetch on the same MQTT client — by any TransferClient — waits for it: aedes
   * handles the packets of one read concurrently, so an UNSUBSCRIBE still in flight can undo a
   * following SUBSCRIBE of the same topic (a retry, a resumed transfer).
   */
  #unsubscribeLater(topic: string | string[]): void {
    const client = this.o.client;
    const previous = this.#unsubscribed;
    const now = client.unsubscribeAsync(topic).catch(() => undefined);
    const all: Promise<unknown> = Promise.all([previous, now]).then(() => {
      if (unsubscribing.get(client) === all) unsubscribing.delete(client);
    });
    unsubscribing.set(client, all);
  }

  transferDir(model: string, version: number): string {
    return join(this.o.stateDir, 'transfers', assertSafeName('model', model), String(assertVersion(version)));
  }

  /** Waits for the retained manifest of model@version and verifies its signature (MODEL_SIGNATURE, BAD_PAYLOAD). */
  async fetchManifest(model: string, version: number, signal?: AbortSignal): Promise<ModelManifest> {
    assertSafeName('model', model);
    assertVersion(version);
    const unsubscribing = this.#unsubscribed;
    if (unsubscribing) await unsubscribing;
    const topic = manifestTopic(this.o.fleet, model, version);
    try {
      return await this.#receiveManifest(model, version, topic, () => this.o.client.subscribeAsync(topic, { qos: 1 }), signal);
    } finally {
      this.#unsubscribeLater(topic);
    }
  }

  /** Listens on the manifest topic, calls `subscribe`, and verifies the first non-empty manifest that arrives. */
  async #receiveManifest(model: string, version: number, topic: string, subscribe: () => Promise<unknown>, signal?: AbortSignal): Promise<ModelManifest> {
    const client = this.o.client;
    let onMessage: ((t: string, payload: Buffer) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const raw = new Promise<Buffer>((resolve, reject) => {
      onMessage = (t, payload) => {
        if (t !== topic || payload.length === 0) return;
        corkUntilIdle(client); // its PUBACK shares a write with those of the chunks read with it
        resolve(payload);
      };
      client.on('message', onMessage);
      timer = setTimeout(() => reject(new EdgeloopError('TIMEOUT', `no manifest for ${model} v${version} on ${topic} within ${this.o.manifestTimeoutMs} ms (is it published?)`)), this.o.manifestTimeoutMs);
      onAbort = () => reject(abortError(`fetching the manifest of ${model} v${version}`));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await subscribe();
      const payload = await raw;
      const manifest = verifyManifest(parseJsonPayload(payload, `manifest on ${topic}`), this.o.pinned);
      if (manifest.model !== model || manifest.version !== version) {
        throw new EdgeloopError('MODEL_SIGNATURE', `manifest on ${topic} describes ${manifest.model} v${manifest.version}, not ${model} v${version}`);
      }
      return manifest;
    } finally {
      if (onMessage) client.off('message', onMessage);
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Chunk indices already on disk (verified) for a transfer, or [] when none is in progress. */
  async receivedChunks(model: string, version: number): Promise<number[]> {
    const dir = this.transferDir(model, version);
    const manifest = (await readJsonFile(join(dir, 'manifest.json'))) as ModelManifest | undefined;
    if (!manifest) return [];
    const asm = new ArtifactAssembler(manifest);
    await this.loadChunks(dir, manifest, asm);
    const missing = new Set(asm.missing());
    return Array.from({ length: asm.chunkCount }, (_, i) => i).filter((i) => !missing.has(i));
  }

  /** Deletes a transfer's partial state (after staging, or to start over). */
  async discard(model: string, version: number): Promise<void> {
    const dir = this.transferDir(model, version);
    // A download that found nothing on disk and wrote nothing (a push that completed) left nothing to delete.
    if (this.#leftNothing.delete(dir)) return;
    if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
  }

  /**
   * Fetches and verifies model@version, resuming from chunks on disk. Returns only a complete artifact
   * whose size and sha256 match the signed manifest.
   */
  async download(model: string, version: number, signal?: AbortSignal): Promise<TransferResult> {
    // Without an UNSUBSCRIBE to wait for, the SUBSCRIBE below goes out in the caller's tick: an install
    // started from the command's message handler shares one socket write with the command's PUBACK.
    const unsubscribing = this.#unsubscribed;
    if (unsubscribing) await unsubscribing;
    const started = this.now();
    // Collect chunks from before the subscription: pushed (retained) chunks come right after the SUBACK,
    // in the same round trip as the manifest, and are verified once the manifest is.
    const filter = chunkFilter(this.o.fleet, assertSafeName('model', model), assertVersion(version));
    const topic = manifestTopic(this.o.fleet, model, version);
    const inbox = new ChunkInbox(filter, this.o.maxBufferedBytes, () => corkUntilIdle(this.o.client));
    this.o.client.on('message', inbox.onMessage);
    try {
      // One SUBSCRIBE for both: the retained manifest and the retained chunks come back together.
      const manifest = await this.#receiveManifest(model, version, topic, () => this.o.client.subscribeAsync([filter, topic], { qos: 1 }), signal);
      return await this.downloadVerified(manifest, started, inbox, signal);
    } finally {
      this.o.client.off('message', inbox.onMessage);
      this.#unsubscribeLater([filter, topic]);
    }
  }

  private async downloadVerified(manifest: ModelManifest, started: number, inbox: ChunkInbox, signal?: AbortSignal): Promise<TransferResult> {
    const { model, version } = manifest;
    const dir = this.transferDir(model, version);
    this.#leftNothing.delete(dir);
    // Usually nothing is on disk (a push completes before anything is written): one stat, not the
    // reads of an absent manifest and chunk folder.
    const partial = existsSync(dir);
    // A transfer on disk for a different artifact (the version was re-registered) is useless.
    const onDisk = partial ? ((await readJsonFile(join(dir, 'manifest.json'))) as ModelManifest | undefined) : undefined;
    const sameOnDisk = onDisk !== undefined && canonicalJson(onDisk) === canonicalJson(manifest);
    if (onDisk && !sameOnDisk) {
      this.logger.warn(`partial transfer of ${model} v${version} was for another manifest; starting over`);
      await rm(dir, { recursive: true, force: true });
    }
    // The transfer is written to disk (manifest.json, then chunk files) only once it lasts: see pull().
    const store = new PartialStore(dir, sameOnDisk ? null : manifest);

    const asm = new ArtifactAssembler(manifest);
    if (partial) await this.loadChunks(dir, manifest, asm);
    const stats: TransferStats = { totalChunks: asm.chunkCount, resumedChunks: asm.receivedChunks, requestedChunks: 0, tamperedChunks: 0, bytes: manifest.artifact.bytes, durationMs: 0, pushedChunks: 0 };
    if (stats.resumedChunks > 0) this.logger.info(() => `resuming ${model} v${version}: ${stats.resumedChunks}/${stats.totalChunks} chunks on disk`);

    await this.pull(manifest, asm, store, stats, inbox, signal);
    // finish() checks size and whole-file sha256 against the signed manifest (once, node:crypto).
    const bytes = asm.finish();
    if (!partial && !store.wrote) this.#leftNothing.add(dir);
    if (inbox.dropped > 0) this.logger.warn(`${model} v${version}: ${inbox.dropped} chunks arrived while ${this.o.maxBufferedBytes} bytes were already waiting for the manifest; they were dropped and fetched again`);
    stats.durationMs = this.now() - started;
    this.logger.info(() => `downloaded ${model} v${version}: ${bytes.length} bytes, ${stats.pushedChunks} chunks pushed, ${stats.requestedChunks} requested, ${stats.tamperedChunks} refused`);
    return { manifest, bytes, stats };
  }

  private async loadChunks(dir: string, manifest: ModelManifest, asm: ArtifactAssembler): Promise<void> {
    const chunkDir = join(dir, 'chunks');
    let names: string[];
    try {
      names = await readdir(chunkDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) {
      const m = /^(0|[1-9][0-9]{0,8})\.bin$/.exec(name);
      if (!m) continue;
      const index = Number(m[1]);
      try {
        asm.add(index, await readFile(join(chunkDir, name)));
      } catch (err) {
        // Torn or foreign file: drop it, the chunk will be requested again.
        this.logger.warn(`chunk file ${name} of ${manifest.model} v${manifest.version} is not valid (${errorMessage(err)}); fetching it again`);
        await rm(join(chunkDir, name), { force: true });
      }
    }
  }

  /**
   * Takes chunks from the inbox (pushed, or asked for by this or another device) until none is missing.
   * Requests start when no new chunk came for pushWaitMs; after that, requests unanswered for
   * chunkTimeoutMs are sent again, and maxStalledRounds rounds without a new chunk end in TIMEOUT.
   *
   * Persistence: verified chunks are written to disk (so a restart resumes) once the transfer has run
   * for persistAfterMs, from the first request on, and when it stops (aborted, stalled). A push that
   * delivers the whole artifact within persistAfterMs writes nothing here: a crash in that window costs
   * one more push, not the device's flash writes for every chunk of every install.
   */
  private async pull(manifest: ModelManifest, asm: ArtifactAssembler, store: PartialStore, stats: TransferStats, inbox: ChunkInbox, signal?: AbortSignal): Promise<void> {
    const { client, fleet, device } = this.o;
    const { model, version } = manifest;
    const onAbort = (): void => inbox.wake?.();
    signal?.addEventListener('abort', onAbort);
    const inflight = new Map<number, number>(); // chunk index → when it was requested
    const requested = new Set<number>(); // indices this device asked for at least once
    const persistFromMs = this.now() + this.o.persistAfterMs;
    try {
      let stalled = 0;
      let lastProgressMs = this.now();
      let requesting = this.o.pushWaitMs === 0;
      while (asm.missing().length > 0) {
        if (signal?.aborted) {
          await store.flush();
          throw abortError(`transfer of ${model} v${version}`);
        }
        if (!requesting && inbox.pending === 0 && this.now() - lastProgressMs >= this.o.pushWaitMs) {
          requesting = true;
          if (stats.pushedChunks! > 0 || stats.resumedChunks > 0) this.logger.info(`${model} v${version}: ${asm.missing().length} of ${asm.chunkCount} chunks still missing after the push; requesting them`);
        }
        // Ask for the next window of chunks that are neither here nor on their way.
        const free = this.o.windowChunks - inflight.size;
        if (requesting && free > 0 && inbox.pending === 0) {
          const ask = asm.missing().filter((i) => !inflight.has(i)).slice(0, free);
          if (ask.length > 0) {
            const req: ChunkRequest = { model, version, chunks: ask };
            const t = this.now();
            for (const i of ask) {
              inflight.set(i, t);
              requested.add(i);
            }
            stats.requestedChunks += ask.length;
            await publishAsync(client, deviceTopic('modelRequest', fleet, device), JSON.stringify(req), { qos: 1 });
          }
        }
        if (inbox.pending === 0) {
          const waitMs = requesting ? this.o.chunkTimeoutMs : Math.max(1, this.o.pushWaitMs - (this.now() - lastProgressMs));
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, waitMs);
            inbox.wake = () => { clearTimeout(timer); resolve(); };
          });
          inbox.wake = undefined;
        }
        let progressed = false;
        for (const { index, payload } of inbox.take()) {
          if (signal?.aborted) break; // the rest is dropped: pushed again or requested on resume
          let fresh: boolean;
          try {
            // Verifies the chunk's length and sha256 (once: a chunk already held is not hashed again).
            fresh = asm.add(index, payload);
          } catch (err) {
            if (!isEdgeloopError(err, 'MODEL_CHECKSUM') && !isEdgeloopError(err, 'MODEL_CORRUPT') && !isEdgeloopError(err, 'BAD_ARGUMENT')) throw err;
            stats.tamperedChunks++;
            inflight.delete(index); // ask again at once
            this.logger.warn(`refused chunk ${index} of ${model} v${version}: ${errorMessage(err)}`);
            continue;
          }
          inflight.delete(index);
          if (!fresh) continue; // a retransmission (or another device's request) of a chunk we have
          if (!requested.has(index)) stats.pushedChunks!++;
          store.add(index, payload);
          progressed = true;
          this.o.onProgress?.({ model, version, receivedChunks: asm.receivedChunks, totalChunks: asm.chunkCount });
        }
        const now = this.now();
        if (asm.missing().length > 0 && (requesting || now >= persistFromMs)) await store.flush();
        if (progressed) {
          stalled = 0;
          lastProgressMs = now;
        } else if (requesting && now - lastProgressMs >= this.o.chunkTimeoutMs) {
          stalled++;
          lastProgressMs = now;
          if (stalled >= this.o.maxStalledRounds) {
            await store.flush();
            throw new EdgeloopError('TIMEOUT', `transfer of ${model} v${version} stalled: no new chunk in ${stalled} rounds of ${this.o.chunkTimeoutMs} ms (${asm.receivedChunks}/${asm.chunkCount} chunks on disk; it resumes from there)`);
          }
        }
        // Requests unanswered for chunkTimeoutMs are sent again (a lost request or a dropped chunk).
        for (const [i, t] of inflight) if (now - t >= this.o.chunkTimeoutMs) inflight.delete(i);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/**
 * The on-disk state of a transfer in progress: manifest.json (written once, atomically) and one file per
 * verified chunk (tmp + rename, not fsynced: a chunk torn by a power cut fails its hash on resume and is
 * fetched again). Chunks are kept in memory until flush(); the manifest is serialised only then (a
 * pushed transfer usually finishes without writing anything, and real manifests carry ~200 KB of
 * drift reference profile).
 */
class PartialStore {
  readonly #dir: string;
  #manifest: ModelManifest | null;
  #unsaved = new Map<number, Uint8Array>();
  /** Something was written (the folder exists). */
  wrote = false;

  /** manifest: null when the manifest on disk is already this transfer's. */
  constructor(dir: string, manifest: ModelManifest | null) {
    this.#dir = dir;
    this.#manifest = manifest;
  }

  add(index: number, chunk: Uint8Array): void {
    this.#unsaved.set(index, chunk);
  }

  async flush(): Promise<void> {
    if (this.#unsaved.size === 0) return;
    const chunkDir = join(this.#dir, 'chunks');
    this.wrote = true;
    await mkdir(chunkDir, { recursive: true });
    if (this.#manifest !== null) {
      await writeFileAtomic(this.#dir, 'manifest.json', JSON.stringify(this.#manifest));
      this.#manifest = null;
    }
    const chunks = [...this.#unsaved];
    this.#unsaved.clear();
    for (const [index, chunk] of chunks) {
      const tmp = join(chunkDir, `${index}.bin.tmp`);
      await writeFile(tmp, chunk);
      await rename(tmp, join(chunkDir, `${index}.bin`));
    }
  }
}

/**
 * Chunks of one model version as they arrive on its chunk filter, from before the subscription on.
 * Bounded: beyond maxBytes a chunk is dropped (and counted); the transfer requests it later. Empty
 * payloads (a retained chunk being cleared) are not chunks and are ignored.
 */
class ChunkInbox {
  /** edgeloop/<fleet>/models/<model>/<version>/chunk/ : what is left of a matching topic is the index. */
  readonly #prefix: string;
  readonly #maxBytes: number;
  readonly #onChunk: () => void;
  #arrivals: { index: number; payload: Buffer }[] = [];
  #bytes = 0;
  dropped = 0;
  wake: (() => void) | undefined;

  /**
   * filter: the version's chunk filter (chunkFilter), built from the validated fleet, model and version.
   * onChunk: called on every chunk message, before mqtt.js acknowledges it.
   */
  constructor(filter: string, maxBytes: number, onChunk: () => void) {
    this.#prefix = filter.slice(0, -1);
    this.#maxBytes = maxBytes;
    this.#onChunk = onChunk;
  }

  readonly onMessage = (topic: string, payload: Buffer): void => {
    if (payload.length === 0 || !topic.startsWith(this.#prefix)) return;
    // Fleet, model and version are the prefix's; only the index is left to parse (as parseTopic does).
    const index = topic.slice(this.#prefix.length);
    if (!CHUNK_INDEX.test(index)) return;
    // The retained chunks come in a burst: their PUBACKs leave together, not one syscall each.
    this.#onChunk();
    if (this.#bytes + payload.length > this.#maxBytes) {
      this.dropped++;
      return;
    }
    this.#arrivals.push({ index: Number(index), payload });
    this.#bytes += payload.length;
    this.wake?.();
  };

  get pending(): number {
    return this.#arrivals.length;
  }

  take(): { index: number; payload: Buffer }[] {
    const out = this.#arrivals;
    this.#arrivals = [];
    this.#bytes = 0;
    return out;
  }

}
