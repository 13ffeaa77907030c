/**
 * The device agent: announces the device (retained status, last will, heartbeats), takes commands on
 * edgeloop/<fleet>/<device>/cmd and answers each on cmd/result with the command's id, and installs
 * models through the verified, resumable transfer into on-disk slots with a smoke test before any
 * switch and automatic rollback.
 *
 * Safety rules it keeps:
 *   - A model runs only after its manifest verified against the pinned key and its bytes against the
 *     manifest (transfer), and again against the manifest when loaded from disk (model store).
 *   - A version becomes active only after its smoke test passed on this device's runtime; the switch
 *     is an atomic pointer rename. A failing smoke test leaves the previous version serving.
 *   - At start every active version is loaded and smoke-tested again; a failure rolls back by itself.
 *   - Crash loop: each start is recorded in <stateDir>/boots.json; when the agent has started
 *     `crashLoop.maxBoots` times within `crashLoop.windowS` seconds since a version became active, that
 *     version is rolled back by itself (a model that crashes the runtime must not brick the device).
 *   - Downgrade refusal: an install below the highest version ever activated (persisted per model in
 *     current.json) is refused with MODEL_DOWNGRADE unless it carries a signed rollback (by a pinned
 *     key, for this device and version, newer than the last one accepted) or targets a version still
 *     kept for the local `rollback` command.
 *   - An install in progress is recorded in <stateDir>/pending.json, so after a crash or power loss the
 *     agent resumes it (only the missing chunks) and answers with the original command id.
 * Commands run one at a time in arrival order, except `status`, which is answered at once.
 */
import os from 'node:os';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgeloopError, errorMessage, isEdgeloopError } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { assertSafeName } from '../src/names.ts';
import { deviceTopic } from '../src/topics.ts';
import type { ModelManifest } from '../src/manifest.ts';
import {
  parseJsonPayload, validateCommand, COMMAND_ID_PATTERN,
  type Command, type CommandResult, type DeviceStatusOnline, type Heartbeat, type RuntimeName, type TransferStats,
} from '../src/contracts/device.ts';
import { connectMqtt, endAsync, publishAsync, type IClientOptions, type MqttClient } from '../io/mqtt-client.ts';
import { ModelStore, readJsonFile, writeFileAtomic } from './model-store.ts';
import { TransferClient, type TransferClientOptions } from './transfer-client.ts';
import { runSmokeTest } from './smoke-test.ts';
import { createRunner, type ModelRunner, type RunnerFormat } from './runner.ts';
import { checkDowngrade, type PinnedKeys } from './verify.ts';
import { InferenceEngine, type InferenceOptions } from './inference.ts';

export type RunnerFactory = (format: RunnerFormat, bytes: Uint8Array) => Promise<ModelRunner>;

export interface AgentOptions {
  brokerUrl: string;
  fleet: string;
  id: string;
  /** Where slots, partial transfers, the boot counter and the pending install live. */
  stateDir: string;
  /** The gateway's public key(s); manifests signed by anything else are refused. */
  pinned: PinnedKeys;
  tags?: string[];
  heartbeatS?: number;
  keepPrevious?: number;
  crashLoop?: { maxBoots: number; windowS: number };
  transfer?: Pick<TransferClientOptions, 'windowChunks' | 'chunkTimeoutMs' | 'maxStalledRounds' | 'manifestTimeoutMs'>;
  /** Extra mqtt.js options (username, password, TLS). */
  mqtt?: IClientOptions;
  /** Model runtime; default createRunner (onnxruntime-node, tfjs-tflite). */
  runnerFactory?: RunnerFactory;
  /**
   * Run the active models on readings (device/inference.ts): input, batching, telemetry, labels,
   * faults, drift. Absent: the agent only manages models. The outbox lives in <stateDir>/outbox.db.
   */
  inference?: AgentInferenceOptions;
  /** Which runtimes load here; default: try importing each runner module. */
  probeRuntimes?: () => Promise<RuntimeName[]>;
  now?: () => number;
  logger?: Logger;
}

export type AgentInferenceOptions = Omit<InferenceOptions, 'fleet' | 'device' | 'outboxPath' | 'publish' | 'isConnected' | 'now' | 'logger'>;

export const AGENT_DEFAULTS = {
  heartbeatS: 30,
  keepPrevious: 2,
  crashLoop: { maxBoots: 3, windowS: 300 },
};

const OFFLINE = JSON.stringify({ online: false });

/** Tries to load each runtime's wrapper module (which loads the runtime package itself). */
export async function probeRuntimes(): Promise<RuntimeName[]> {
  const out: RuntimeName[] = [];
  try {
    await import('./runner-onnx.ts');
    out.push('onnxruntime-node');
  } catch {
    // onnxruntime-node has no build for this platform or is not installed.
  }
  try {
    await import('./runner-tflite.ts');
    out.push('tflite');
  } catch {
    // tfjs-tflite missing.
  }
  return out;
}

interface LoadedModel {
  version: number;
  runner: ModelRunner;
  manifest: ModelManifest;
}

export class Agent {
  private readonly o: AgentOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly store: ModelStore;
  private readonly agentVersion: string;
  private readonly heartbeatS: number;
  private readonly crashLoop: { maxBoots: number; windowS: number };
  private readonly runnerFactory: RunnerFactory;
  private client: MqttClient | null = null;
  private transfer: TransferClient | null = null;
  private runtimes: RuntimeName[] = [];
  private startedAtMs = 0;
  private seq = 0;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private queue: Promise<void> = Promise.resolve();
  private abort = new AbortController();
  private progress: Heartbeat['transfer'] = null;
  private readonly active = new Map<string, LoadedModel>();
  private readonly shadow = new Map<string, LoadedModel>();
  private running = false;
  private engine: InferenceEngine | null = null;
  private readonly onMessage = (topic: string, payload: Buffer): void => {
    if (topic === this.topic('cmd')) this.onCommand(payload);
  };
  private readonly onConnect = (): void => {
    this.engine?.kick(); // the outbox waited for this connection
    // After a reconnect the broker may have published our last will: say we are back.
    this.publishStatus().catch((err: unknown) => this.logger.warn(`cannot publish status: ${errorMessage(err)}`));
  };

  private constructor(o: AgentOptions, store: ModelStore, agentVersion: string) {
    this.o = o;
    this.logger = (o.logger ?? silentLogger).child(`agent:${o.id}`);
    this.now = o.now ?? Date.now;
    this.store = store;
    this.agentVersion = agentVersion;
    this.heartbeatS = o.heartbeatS ?? AGENT_DEFAULTS.heartbeatS;
    this.crashLoop = o.crashLoop ?? AGENT_DEFAULTS.crashLoop;
    this.runnerFactory = o.runnerFactory ?? ((format, bytes) => createRunner(format, bytes, { logger: this.logger }));
  }

  /** Validates the options and opens the model store; connects nothing (see start()). */
  static async create(options: AgentOptions): Promise<Agent> {
    assertSafeName('fleet', options.fleet);
    assertSafeName('device', options.id);
    if (typeof options.brokerUrl !== 'string' || !/^(mqtts?|wss?|tcp):\/\//.test(options.brokerUrl)) {
      throw new EdgeloopError('BAD_ARGUMENT', `brokerUrl must be an mqtt://, mqtts://, ws:// or wss:// URL, got ${JSON.stringify(options.brokerUrl)}`);
    }
    const hb = options.heartbeatS ?? AGENT_DEFAULTS.heartbeatS;
    if (!(hb > 0 && hb <= 86_400)) throw new EdgeloopError('BAD_ARGUMENT', `heartbeatS must be in (0, 86400], got ${hb}`);
    const cl = options.crashLoop ?? AGENT_DEFAULTS.crashLoop;
    if (!Number.isInteger(cl.maxBoots) || cl.maxBoots < 1 || !(cl.windowS > 0)) {
      throw new EdgeloopError('BAD_ARGUMENT', `crashLoop must be {maxBoots: integer >= 1, windowS: > 0}, got ${JSON.stringify(cl)}`);
    }
    for (const tag of options.tags ?? []) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(tag)) throw new EdgeloopError('BAD_ARGUMENT', `tag ${JSON.stringify(tag)} must be 1-64 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit`);
    }
    const store = await ModelStore.open({ dir: options.stateDir, keepPrevious: options.keepPrevious, now: options.now, logger: options.logger });
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    return new Agent(options, store, pkg.version);
  }

  private topic(kind: 'status' | 'heartbeat' | 'cmd' | 'cmdResult'): string {
    return deviceTopic(kind, this.o.fleet, this.o.id);
  }

  /** The inference loop, when the agent was created with `inference` options (after start()). */
  get inference(): InferenceEngine | null {
    return this.engine;
  }

  /** The runner serving `model`, if one is active and loaded. */
  runner(model: string): ModelRunner | undefined {
    return this.active.get(model)?.runner;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.startedAtMs = this.now();
    this.runtimes = await (this.o.probeRuntimes ?? probeRuntimes)();
    const autoRollbacks = await this.checkCrashLoop();
    const client = await connectMqtt(this.o.brokerUrl, {
      clientId: `edgeloop-${this.o.fleet}-${this.o.id}`,
      clean: true,
      ...this.o.mqtt,
      will: { topic: this.topic('status'), payload: Buffer.from(OFFLINE), qos: 1, retain: true },
    });
    this.client = client;
    this.transfer = new TransferClient({
      client, fleet: this.o.fleet, device: this.o.id, stateDir: this.o.stateDir, pinned: this.o.pinned, logger: this.logger, now: this.now,
      ...this.o.transfer,
      onProgress: (p) => { this.progress = p; },
    });
    client.on('message', this.onMessage);
    client.on('connect', this.onConnect);
    if (this.o.inference) {
      this.engine = await InferenceEngine.create({
        ...this.o.inference,
        fleet: this.o.fleet, device: this.o.id, outboxPath: join(this.o.stateDir, 'outbox.db'), now: this.now, logger: this.logger,
        publish: (topic, payload, qos) => (client.connected ? publishAsync(client, topic, payload, { qos }) : Promise.reject(new EdgeloopError('TIMEOUT', 'not connected to the broker'))),
        isConnected: () => client.connected,
      });
    }
    autoRollbacks.push(...(await this.loadActiveModels()));
    await client.subscribeAsync(this.topic('cmd'), { qos: 1 });
    await this.publishStatus();
    for (const detail of autoRollbacks) await this.publishResult({ id: null, type: 'rollback', ok: true, tsMs: this.now(), detail, models: await this.store.status() });
    this.engine?.start();
    this.heartbeatTimer = setInterval(() => {
      this.publishHeartbeat().catch((err: unknown) => this.logger.debug(`heartbeat not sent: ${errorMessage(err)}`));
    }, this.heartbeatS * 1000);
    const pending = (await readJsonFile(this.pendingPath())) as unknown;
    if (pending !== undefined) {
      try {
        const cmd = validateCommand(pending);
        this.logger.info(`resuming ${cmd.type} ${cmd.id} interrupted by a restart`);
        this.enqueue(cmd);
      } catch (err) {
        this.logger.warn(`dropping unreadable pending command: ${errorMessage(err)}`);
        await rm(this.pendingPath(), { force: true });
      }
    }
    this.logger.info(`started (${this.runtimes.join(', ') || 'no runtime'}), ${this.active.size} model(s) active`);
  }

  /** Stops heartbeats and command handling, aborts a transfer (it stays resumable), says offline, disconnects. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.abort.abort();
    await this.queue;
    await this.engine?.stop();
    this.engine = null;
    const client = this.client;
    if (client) {
      client.off('message', this.onMessage);
      client.off('connect', this.onConnect);
      await publishAsync(client, this.topic('status'), OFFLINE, { qos: 1, retain: true }).catch(() => undefined);
      await endAsync(client);
    }
    this.client = null;
    for (const m of [...this.active.values(), ...this.shadow.values()]) await m.runner.close();
    this.active.clear();
    this.shadow.clear();
  }

  /** What the retained status says. */
  async status(): Promise<DeviceStatusOnline> {
    return {
      online: true,
      fleet: this.o.fleet,
      device: this.o.id,
      tsMs: this.now(),
      startedAtMs: this.startedAtMs,
      agentVersion: this.agentVersion,
      hardware: { arch: process.arch, platform: process.platform, nodeVersion: process.versions.node, cpus: os.availableParallelism(), memoryBytes: os.totalmem() },
      runtimes: this.runtimes,
      tags: this.o.tags ?? [],
      // With the high-water marks: the gateway needs them to tell a downgrade (gateway/rollout-controller.ts).
      models: await this.store.status({ highWater: true }),
    };
  }

  private pendingPath(): string {
    return join(this.o.stateDir, 'pending.json');
  }

  private async publishStatus(): Promise<void> {
    if (!this.client) return;
    await publishAsync(this.client, this.topic('status'), JSON.stringify(await this.status()), { qos: 1, retain: true });
  }

  private async publishHeartbeat(): Promise<void> {
    if (!this.client) return;
    const active: Record<string, number | null> = {};
    for (const s of await this.store.status()) active[s.model] = s.active;
    const hb: Heartbeat = { tsMs: this.now(), seq: this.seq++, uptimeS: Math.round((this.now() - this.startedAtMs) / 1000), active, transfer: this.progress };
    if (this.engine) hb.inference = this.engine.summary();
    await publishAsync(this.client, this.topic('heartbeat'), JSON.stringify(hb), { qos: 0 });
  }

  /**
   * The retained status, then the result, sent together: one socket write and one round trip instead
   * of two (the broker keeps their order). Throws when the result could not be published; a status that
   * could not be is logged (the result went out, so the command must not be answered a second time).
   */
  private async publishStatusAndResult(status: DeviceStatusOnline, result: CommandResult): Promise<void> {
    if (!this.client) return;
    const [sent, answered] = await Promise.allSettled([
      publishAsync(this.client, this.topic('status'), JSON.stringify(status), { qos: 1, retain: true }),
      this.publishResult(result),
    ]);
    if (answered.status === 'rejected') throw answered.reason;
    if (sent.status === 'rejected') this.logger.warn(`cannot publish status: ${errorMessage(sent.reason)}`);
  }

  private async publishResult(result: CommandResult): Promise<void> {
    if (!this.client) return;
    await publishAsync(this.client, this.topic('cmdResult'), JSON.stringify(result), { qos: 1 });
  }

  private onCommand(payload: Buffer): void {
    let cmd: Command;
    try {
      cmd = validateCommand(parseJsonPayload(payload, 'command'));
    } catch (err) {
      // Answer with whatever id we can read, so the sender can correlate the refusal.
      let id: string | null = null;
      try {
        const raw = JSON.parse(payload.toString('utf8')) as { id?: unknown };
        if (typeof raw?.id === 'string' && COMMAND_ID_PATTERN.test(raw.id)) id = raw.id;
      } catch {
        // not JSON: no id
      }
      this.logger.warn(`refused command: ${errorMessage(err)}`);
      void this.answerError(id, null, err);
      return;
    }
    if (cmd.type === 'status') {
      void this.execute(cmd);
      return;
    }
    this.enqueue(cmd);
  }

  private enqueue(cmd: Command): void {
    this.queue = this.queue.then(() => (this.running ? this.execute(cmd) : undefined));
  }

  private async answerError(id: string | null, type: Command['type'] | null, err: unknown): Promise<void> {
    const code = isEdgeloopError(err) ? err.code : 'RUNTIME';
    const result: CommandResult = { id, type, ok: false, tsMs: this.now(), error: { code, message: errorMessage(err) }, models: await this.store.status().catch(() => []) };
    await this.publishResult(result).catch((e: unknown) => this.logger.warn(`cannot publish result: ${errorMessage(e)}`));
  }

  /** Runs one command and publishes its result; never throws. */
  private async execute(cmd: Command): Promise<void> {
    try {
      let detail: string;
      let transfer: TransferStats | undefined;
      switch (cmd.type) {
        case 'status':
          detail = 'status published';
          break;
        case 'install':
          ({ detail, transfer } = await this.install(cmd));
          break;
        case 'activate':
          detail = await this.activate(cmd.model, cmd.version);
          break;
        case 'rollback':
          detail = await this.rollback(cmd.model, cmd.toVersion, 'requested');
          break;
        default: {
          const unknown: never = cmd;
          throw new EdgeloopError('BAD_PAYLOAD', `command.type is not handled: ${JSON.stringify(unknown)}`);
        }
      }
      // One read of the model slots for both reports (results carry no high-water marks).
      const status = await this.status();
      const result: CommandResult = { id: cmd.id, type: cmd.type, ok: true, tsMs: this.now(), detail, models: status.models.map(({ highWater: _, ...slot }) => slot) };
      if (transfer) result.transfer = transfer;
      if (cmd.type === 'status' && this.engine) result.inference = this.engine.summary();
      await this.publishStatusAndResult(status, result);
    } catch (err) {
      if (isEdgeloopError(err, 'ABORTED')) return; // stopping; the pending install resumes at next start
      this.logger.warn(`${cmd.type} ${cmd.id} failed: ${errorMessage(err)}`);
      if (cmd.type === 'install') await rm(this.pendingPath(), { force: true });
      await this.publishStatus().catch(() => undefined);
      await this.answerError(cmd.id, cmd.type, err);
    }
  }

  private async install(cmd: Extract<Command, { type: 'install' }>): Promise<{ detail: string; transfer: TransferStats }> {
    const runtime: RuntimeName = cmd.format === 'onnx' ? 'onnxruntime-node' : 'tflite';
    if (!this.runtimes.includes(runtime)) throw new EdgeloopError('MODEL_UNSUPPORTED', `install ${cmd.model} v${cmd.version}: this device has no ${runtime} runtime (available: ${this.runtimes.join(', ') || 'none'})`);
    // Downgrade guard (before any transfer): below the highest version ever activated here only with a
    // signed rollback, or to a version still kept for the local rollback command.
    const kept = await this.store.pointer(cmd.model);
    const how = checkDowngrade({
      fleet: this.o.fleet, device: this.o.id, model: cmd.model, version: cmd.version, rollback: cmd.rollback,
      guard: await this.store.downgradeGuard(cmd.model), kept: [kept.active, ...kept.previous].filter((v): v is number => v !== null), nowMs: this.now(), pinned: this.o.pinned,
    });
    if (how === 'signed-rollback') this.logger.warn(`install ${cmd.id}: signed rollback of ${cmd.model} to v${cmd.version} (issued at ${cmd.rollback!.issuedAtMs}) accepted`);
    const transfer = this.transfer!;
    let stats: TransferStats;
    // The verified artifact the smoke test runs: read from the slot (and hashed) once, or the transfer's bytes.
    let artifact: { manifest: ModelManifest; bytes: Uint8Array };
    if ((await this.store.versions(cmd.model)).includes(cmd.version)) {
      // Already on disk (kept for rollback, or the shadow): no transfer; load() re-verifies the bytes.
      artifact = await this.store.load(cmd.model, cmd.version);
      this.checkVariant(cmd, artifact.manifest);
      const chunks = artifact.manifest.artifact.chunkSha256.length;
      stats = { totalChunks: chunks, resumedChunks: chunks, requestedChunks: 0, tamperedChunks: 0, bytes: artifact.bytes.length, durationMs: 0 };
    } else {
      await writeFileAtomic(this.o.stateDir, 'pending.json', JSON.stringify(cmd));
      let result;
      try {
        result = await transfer.download(cmd.model, cmd.version, this.abort.signal);
      } finally {
        this.progress = null;
      }
      stats = result.stats;
      try {
        this.checkVariant(cmd, result.manifest);
      } catch (err) {
        await transfer.discard(cmd.model, cmd.version);
        throw err;
      }
      // The transfer hashed these bytes while receiving them; staging writes them without hashing again.
      await this.store.stage(result.manifest, result.bytes);
      await transfer.discard(cmd.model, cmd.version);
      artifact = { manifest: result.manifest, bytes: result.bytes };
    }
    const loaded = await this.loadAndTest(cmd.model, cmd.version, artifact).catch(async (err: unknown) => {
      await this.store.discard(cmd.model, cmd.version);
      const serving = (await this.store.pointer(cmd.model)).active;
      throw new EdgeloopError(isEdgeloopError(err) ? err.code : 'SMOKE_TEST', `${errorMessage(err)}; v${cmd.version} not activated, ${serving === null ? 'no version' : `v${serving}`} stays active`, { cause: err });
    });
    await rm(this.pendingPath(), { force: true });
    if (cmd.mode === 'shadow') {
      await this.store.setShadow(cmd.model, cmd.version, { rollbackIssuedAtMs: cmd.rollback?.issuedAtMs });
      await this.swap(this.shadow, cmd.model, loaded);
      return { detail: `installed ${cmd.model} v${cmd.version} in shadow mode (smoke test passed)`, transfer: stats };
    }
    const before = (await this.store.pointer(cmd.model)).active;
    // Raises the high-water mark and records the rollback's issue time in the same atomic write.
    await this.store.activate(cmd.model, cmd.version, { rollbackIssuedAtMs: cmd.rollback?.issuedAtMs });
    await this.swap(this.active, cmd.model, loaded);
    if (this.shadow.get(cmd.model)?.version === cmd.version) await this.swap(this.shadow, cmd.model, null);
    return { detail: `installed and activated ${cmd.model} v${cmd.version}${before === null ? '' : ` (previous v${before} kept for rollback)`}`, transfer: stats };
  }

  private checkVariant(cmd: Extract<Command, { type: 'install' }>, manifest: ModelManifest): void {
    const got = `${manifest.artifact.format}/${manifest.artifact.variant}`;
    if (got !== `${cmd.format}/${cmd.variant}`) {
      throw new EdgeloopError('BAD_PAYLOAD', `install command asks for ${cmd.model} v${cmd.version} as ${cmd.format}/${cmd.variant}, but its signed manifest is ${got}`);
    }
  }

  private async activate(model: string, version: number): Promise<string> {
    const loaded = await this.loadAndTest(model, version);
    const before = (await this.store.pointer(model)).active;
    await this.store.activate(model, version);
    if (this.shadow.get(model)?.version === version) this.shadow.delete(model); // the same runner now serves
    await this.swap(this.active, model, loaded);
    return `activated ${model} v${version}${before === null || before === version ? '' : ` (was v${before})`}`;
  }

  private async rollback(modelArg: string | undefined, toVersion: number | null | undefined, why: string): Promise<string> {
    if (toVersion === null) return this.deactivate(modelArg!, why);
    let model = modelArg;
    if (model === undefined) {
      const models = (await this.store.status()).filter((s) => s.active !== null);
      if (models.length !== 1) throw new EdgeloopError('BAD_PAYLOAD', `rollback command.model is required when the device has ${models.length} active models (${models.map((m) => m.model).join(', ') || 'none'})`);
      model = models[0].model;
    }
    const from = (await this.store.pointer(model)).active;
    const p = await this.store.rollback(model, toVersion);
    const to = p.active!;
    try {
      await this.swap(this.active, model, await this.loadAndTest(model, to));
    } catch (err) {
      // The kept version does not pass either: serve nothing rather than a model known to be wrong.
      await this.swap(this.active, model, null);
      throw new EdgeloopError(isEdgeloopError(err) ? err.code : 'SMOKE_TEST', `rolled back ${model} to v${to}, but it fails too: ${errorMessage(err)}`, { cause: err });
    }
    return `rolled back ${model} from v${from ?? 'none'} to v${to} (${why})`;
  }

  /**
   * Rollback to no version (command toVersion: null): the rollout that installed the active version was
   * this device's first for the model, so going back means serving nothing for it. The candidate's
   * runner stops, its slot is deleted; the status then shows the model with no active version.
   */
  private async deactivate(model: string, why: string): Promise<string> {
    const from = (await this.store.pointer(model)).active;
    if (from === null) return `rolled back ${model} to no version: none was active (${why})`;
    await this.store.deactivate(model);
    await this.swap(this.active, model, null);
    return `rolled back ${model} from v${from} to no version: it had none before, no model is active now (${why})`;
  }

  /**
   * Loads a slot in the runtime and runs the smoke test. `artifact`: the slot's verified manifest and
   * bytes when already in memory (an install); without it load() reads and re-verifies them.
   */
  private async loadAndTest(model: string, version: number, artifact?: { manifest: ModelManifest; bytes: Uint8Array }): Promise<LoadedModel> {
    const { manifest, bytes } = artifact ?? await this.store.load(model, version);
    const runner = await this.runnerFactory(manifest.artifact.format, bytes);
    try {
      const outcome = await runSmokeTest(manifest, runner);
      this.logger.info(`${model} v${version} passed its smoke test (${outcome.rows} rows, max |error| ${outcome.maxAbsError.toPrecision(3)})`);
    } catch (err) {
      await runner.close();
      throw err;
    }
    return { version, runner, manifest };
  }

  private async swap(map: Map<string, LoadedModel>, model: string, next: LoadedModel | null): Promise<void> {
    const old = map.get(model);
    if (next) map.set(model, next);
    else map.delete(model);
    // The inference loop switches first (waiting for a row in progress), so no row runs on a closed runner.
    await this.engine?.setModel(model, this.active.get(model) ?? null, this.shadow.get(model) ?? null);
    if (old && old !== next && old.runner !== next?.runner) await old.runner.close();
  }

  /** Loads every active (and shadow) version; an active one failing its checks is rolled back. */
  private async loadActiveModels(): Promise<string[]> {
    const reports: string[] = [];
    for (const s of await this.store.status()) {
      if (s.active !== null) {
        try {
          await this.swap(this.active, s.model, await this.loadAndTest(s.model, s.active));
        } catch (err) {
          const reason = `v${s.active} failed at start: ${errorMessage(err)}`;
          this.logger.error(`${s.model}: ${reason}`);
          reports.push(await this.autoRollback(s.model, reason));
        }
      }
      if (s.shadow !== null) {
        try {
          await this.swap(this.shadow, s.model, await this.loadAndTest(s.model, s.shadow));
        } catch (err) {
          this.logger.warn(`${s.model}: shadow v${s.shadow} failed at start (${errorMessage(err)}); shadow cleared`);
          await this.store.setShadow(s.model, null);
        }
      }
    }
    return reports;
  }

  private async autoRollback(model: string, reason: string): Promise<string> {
    try {
      return (await this.rollback(model, undefined, reason)).replace(/^rolled back /, 'automatic rollback of ');
    } catch (err) {
      return `automatic rollback of ${model} failed (${reason}): ${errorMessage(err)}`;
    }
  }

  /**
   * Records this start and rolls back every version activated within the crash-loop window that has
   * seen maxBoots starts since. Runs before anything is loaded: the suspect model never runs again.
   */
  private async checkCrashLoop(): Promise<string[]> {
    const path = join(this.o.stateDir, 'boots.json');
    const now = this.now();
    const windowMs = this.crashLoop.windowS * 1000;
    const raw = (await readJsonFile(path).catch(() => undefined)) as { bootsMs?: unknown } | undefined;
    const previous = Array.isArray(raw?.bootsMs) ? raw.bootsMs.filter((t): t is number => typeof t === 'number' && now - t < windowMs && t <= now) : [];
    const boots = [...previous, now];
    const reports: string[] = [];
    for (const s of await this.store.status()) {
      const p = await this.store.pointer(s.model);
      if (p.active === null || p.activatedAtMs === null || p.previous.length === 0) continue;
      const since = boots.filter((t) => t > p.activatedAtMs!).length;
      if (now - p.activatedAtMs < windowMs && since >= this.crashLoop.maxBoots) {
        const reason = `crash loop: the agent started ${since} times within ${this.crashLoop.windowS} s of activating v${p.active}`;
        this.logger.error(`${s.model}: ${reason}`);
        try {
          const back = await this.store.rollback(s.model);
          reports.push(`automatic rollback of ${s.model} from v${p.active} to v${back.active} (${reason})`);
        } catch (err) {
          reports.push(`automatic rollback of ${s.model} failed (${reason}): ${errorMessage(err)}`);
        }
      }
    }
    await writeFileAtomic(this.o.stateDir, 'boots.json', JSON.stringify({ bootsMs: boots }));
    return reports;
  }
}
