/**
 * The gateway side of model rollouts, wired to MQTT: a durable session (acks after commit) follows the
 * devices' status, heartbeat, cmd/result and prediction messages into the fleet registry and the rollout
 * controller; an mqtt.js client publishes install/rollback commands and, unless the gateway provides its
 * own, runs one TransferServer per fleet that answers the devices' chunk requests.
 * `RolloutService.create()` does no I/O beyond the schema set-up; `start()` connects.
 * The state is on gateway/sql.ts: the gateway's SQLite file, or (scaled-out gateways) the shared
 * PostgreSQL, where only the elected instance runs this service (gateway/singleton-duties.ts).
 */
import { EdgeloopError, errorMessage, isEdgeloopError } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import type { ModelManifest } from '../src/manifest.ts';
import { deviceTopic, parseTopic, TOPIC_ROOT } from '../src/topics.ts';
import {
  parseJsonPayload, validateCommandResult, validateDeviceStatus, validateHeartbeat, type Command, type DeviceStatusOnline, type Rejection,
} from '../src/contracts/device.ts';
import { parsePredictionBatch } from '../src/contracts/predictions.ts';
import { connectMqtt, corkUntilIdle, endAsync, publishAsync, type MqttClient } from '../io/mqtt-client.ts';
import type { SqlDb } from './sql.ts';
import { DurableSubscriber, type ReceivedMessage } from './mqtt-session.ts';
import { TransferServer, type TransferServerOptions, type TransferServerStats } from './transfer-server.ts';
import { FleetRegistry, type FleetOptions } from './fleet.ts';
import { RolloutStore, type RolloutRecord } from './rollout-store.ts';
import { installCommand, RolloutController, type LockedController, type ModelSource } from './rollout-controller.ts';
import { ShadowPairing } from './rollout-shadow.ts';
import { registerRolloutRoutes, rolloutPanels, type RolloutRoutesSource } from './rollout-http.ts';
import type { HttpServer } from './http.ts';
import type { Panel } from './dashboard.ts';
import { mqttJsOptions, type MqttLogin } from './mqtt-login.ts';

/** Something that serves a model version's chunks to a fleet (gateway/transfer-server.ts). */
export interface ModelOffering {
  offer(manifestJson: unknown, bytes: Uint8Array): Promise<unknown>;
  /** Stops serving a version and clears what the broker retains for it (TransferServer.withdraw). */
  withdraw?(model: string, version: number, options: { chunkCount?: number }): Promise<unknown>;
}

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface RolloutServiceOptions {
  /** Where the rollouts and the fleet registry live (gateway/sql.ts). */
  sql: SqlDb;
  brokerUrl: string;
  /** Broker login of the service's clients (username/password, TLS); none for an open broker. */
  mqtt?: MqttLogin;
  /** The model registry (gateway/registry.ts); without it rollouts cannot be created. */
  registry?: ModelSource;
  /** The fleet's transfer server; default: one TransferServer per fleet on this service's own client. */
  transfer?: (fleet: string) => ModelOffering | Promise<ModelOffering>;
  /** Options for the TransferServers this service creates itself. */
  transferOptions?: Omit<TransferServerOptions, 'client' | 'fleet' | 'logger' | 'now'>;
  logger?: Logger;
  now?: () => number;
  timers?: Timers;
  gatewayId?: string;
  /**
   * Client id of the durable session that follows the devices (default `edgeloop-rollout-<gatewayId>`).
   * Scaled-out gateways share one id, so the instance elected after a fail-over takes over the session
   * and receives what the broker queued for the previous leader.
   */
  sessionClientId?: string;
  /** How often the controller steps (timeouts, waves, abort rule). */
  tickMs?: number;
  /** After start, per-device timeouts wait this long so results queued in the broker arrive first. */
  resumeGraceMs?: number;
  fleetHealth?: Pick<FleetOptions, 'staleAfterMs' | 'offlineAfterMs'>;
  newId?: () => string;
  /** Called on every rollout change (the gateway broadcasts it to dashboards). */
  onChange?: (rolloutId: string) => void;
}

export const ROLLOUT_SERVICE_DEFAULTS = {
  gatewayId: 'gw1',
  tickMs: 250,
  resumeGraceMs: 2000,
  /**
   * The transfer servers this service runs push every chunk of an offered version once, retained
   * (TransferServer `pushChunks`): a device gets the artifact from the broker when it subscribes, with
   * no request. Requests remain for what the push did not deliver (a broker that lost its retained
   * messages); a fleet asking at once is coalesced (`transferCoalesceQuietMs`, up to
   * `transferCoalesceMaxWaitMs`) so each chunk goes out once per burst rather than once per requester.
   * No rate cap by default (`transferOptions.maxChunksPerS` sets one for thin links; it paces the push too).
   */
  transferPushChunks: true,
  transferChunksPerS: null as number | null,
  transferCoalesceQuietMs: 100,
  transferCoalesceMaxWaitMs: 500,
};

export interface RolloutServiceStats {
  messages: number;
  rejected: number;
  commandsSent: number;
  /** Install commands sent again (also counted in commandsSent): the device announced itself mid-install. */
  commandsResent: number;
  /** Versions withdrawn from a fleet's transfer server after their last rollout finished. */
  withdrawn: number;
}

/**
 * mqtt.js leaves Nagle's algorithm on: two small packets in a row (a PUBACK then a PUBLISH) wait for the
 * peer's delayed ACK, ~40 ms on Linux, which dominated command and chunk latency in bench/rollout.ts.
 */
function noDelay(client: MqttClient | null): void {
  const stream = client?.stream as { setNoDelay?: (on: boolean) => void } | undefined;
  stream?.setNoDelay?.(true);
}

const defaultTimers: Timers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

export class RolloutService {
  readonly fleet: FleetRegistry;
  readonly controller: RolloutController;
  readonly #o: RolloutServiceOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #timers: Timers;
  readonly #shadow = new ShadowPairing();
  readonly #transfers = new Map<string, Promise<ModelOffering>>();
  readonly #ownTransfers: { fleet: string; stats: TransferServerStats; stop(): Promise<void> }[] = [];
  readonly #stats: RolloutServiceStats = { messages: 0, rejected: 0, commandsSent: 0, commandsResent: 0, withdrawn: 0 };
  /** Per fleet/device: the status tsMs a resend was last decided on (a retained replay is not a new announcement). */
  readonly #resentFor = new Map<string, number>();
  #client: MqttClient | null = null;
  #subscriber: DurableSubscriber | null = null;
  #timer: unknown = null;
  /** A timer tick still running (a slow database): the next one is skipped rather than queued. */
  #ticking = false;

  private constructor(options: RolloutServiceOptions, fleet: FleetRegistry, store: RolloutStore) {
    this.#o = options;
    this.#log = (options.logger ?? silentLogger).child('rollouts');
    this.#now = options.now ?? Date.now;
    this.#timers = options.timers ?? defaultTimers;
    this.fleet = fleet;
    this.controller = new RolloutController({
      store,
      fleet,
      models: options.registry ?? null,
      send: (f, d, c) => this.#sendCommand(f, d, c),
      offer: (f, m, b) => this.#offer(f, m, b),
      logger: options.logger,
      now: this.#now,
      newId: options.newId,
      onChange: options.onChange,
      onFinished: (r) => {
        this.#withdraw(r).catch((err: unknown) => this.#log.warn(`cannot withdraw ${r.model}@${r.version} from fleet ${r.fleet}: ${errorMessage(err)}`));
      },
    });
  }

  static async create(options: RolloutServiceOptions): Promise<RolloutService> {
    if (!/^(mqtts?|tcp):\/\//.test(options.brokerUrl)) throw new EdgeloopError('BAD_ARGUMENT', `brokerUrl ${JSON.stringify(options.brokerUrl)} must start with mqtt:// or mqtts://`);
    const fleet = await FleetRegistry.create({ sql: options.sql, now: options.now, ...options.fleetHealth });
    return new RolloutService(options, fleet, await RolloutStore.create(options.sql));
  }

  get stats(): RolloutServiceStats {
    return { ...this.#stats };
  }

  /** Counters of the transfer servers this service runs itself (none when the gateway passes `transfer`). */
  get transferStats(): Record<string, TransferServerStats> {
    return Object.fromEntries(this.#ownTransfers.map((t) => [t.fleet, t.stats]));
  }

  /** The service's clock (injected in tests). */
  now(): number {
    return this.#now();
  }

  async start(): Promise<void> {
    if (this.#subscriber) return;
    const id = this.#o.gatewayId ?? ROLLOUT_SERVICE_DEFAULTS.gatewayId;
    try {
      this.#client = await connectMqtt(this.#o.brokerUrl, { ...mqttJsOptions(this.#o.mqtt), clientId: `edgeloop-rollout-cmd-${id}-${process.pid}-${Math.floor(this.#now() % 1e6)}` });
      noDelay(this.#client);
      this.#client.on('connect', () => noDelay(this.#client));
      const any = `${TOPIC_ROOT}/+/+`;
      this.#subscriber = new DurableSubscriber({
        url: this.#o.brokerUrl,
        clientId: this.#o.sessionClientId ?? `edgeloop-rollout-${id}`,
        filters: [`${any}/status`, `${any}/heartbeat`, `${any}/cmd/result`, `${any}/predictions`],
        onBatch: async (messages) => this.#onBatch(messages),
        username: this.#o.mqtt?.username,
        password: this.#o.mqtt?.password,
        protocolVersion: this.#o.mqtt?.protocolVersion,
        tls: this.#o.mqtt?.tls,
        logger: this.#log.child('session'),
        now: this.#now,
      });
      await this.#subscriber.start();
      await this.controller.resume(this.#o.resumeGraceMs ?? ROLLOUT_SERVICE_DEFAULTS.resumeGraceMs);
      this.#timer = this.#timers.setInterval(() => this.#tick(), this.#o.tickMs ?? ROLLOUT_SERVICE_DEFAULTS.tickMs);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) this.#timers.clearInterval(this.#timer);
    this.#timer = null;
    await this.#subscriber?.stop();
    this.#subscriber = null;
    for (const t of this.#ownTransfers.splice(0)) await t.stop();
    this.#transfers.clear();
    if (this.#client) await endAsync(this.#client);
    this.#client = null;
  }

  #tick(): void {
    if (this.#ticking) return;
    this.#ticking = true;
    this.controller.tick()
      .catch((err: unknown) => this.#log.error(`rollout tick failed: ${errorMessage(err)}`))
      .finally(() => { this.#ticking = false; });
  }

  registerRoutes(http: HttpServer): void {
    registerRolloutRoutes(http, this.routesSource());
  }

  /** The HTTP routes' view of this service (its controller always takes writes). */
  routesSource(): RolloutRoutesSource {
    return { fleet: this.fleet, store: this.controller.store, now: () => this.#now(), controller: () => this.controller, unavailable: () => 'the rollout service is stopped' };
  }

  dashboardPanels(): Panel[] {
    return rolloutPanels();
  }

  async #sendCommand(fleet: string, device: string, command: Command): Promise<void> {
    if (!this.#client) throw new EdgeloopError('ABORTED', 'rollout service is stopped');
    // A wave's commands leave in one socket write, not one each.
    corkUntilIdle(this.#client);
    await publishAsync(this.#client, deviceTopic('cmd', fleet, device), JSON.stringify(command), { qos: 1 });
    this.#stats.commandsSent++;
  }

  async #offer(fleet: string, manifest: ModelManifest, bytes: Uint8Array): Promise<void> {
    let offering = this.#transfers.get(fleet);
    if (!offering) {
      offering = this.#transferFor(fleet);
      this.#transfers.set(fleet, offering);
      offering.catch(() => this.#transfers.delete(fleet));
    }
    await (await offering).offer(manifest, bytes);
  }

  /**
   * Once no live rollout of the fleet needs the finished rollout's version, its pushed chunks and
   * manifest are cleared from the broker (they would stay retained for ever) and requests for it are
   * refused. A later rollout of the same version offers it again. The chunk count comes from the
   * registry, so a gateway restarted since the offer clears the chunks too.
   */
  async #withdraw(r: RolloutRecord): Promise<void> {
    const live = await this.controller.store.live();
    if (live.some((x) => x.fleet === r.fleet && x.model === r.model && x.version === r.version)) return;
    let offering = this.#transfers.get(r.fleet);
    if (!offering && !this.#o.transfer) {
      offering = this.#transferFor(r.fleet);
      this.#transfers.set(r.fleet, offering);
      offering.catch(() => this.#transfers.delete(r.fleet));
    }
    const server = await offering;
    if (!server?.withdraw) return;
    const manifest = await this.#o.registry?.manifest(`${r.model}@${r.version}`, r.format, r.variant).catch(() => null);
    await server.withdraw(r.model, r.version, { chunkCount: manifest?.artifact.chunkSha256.length });
    this.#stats.withdrawn++;
    this.#log.info(`rollout ${r.id} ${r.state}: withdrew ${r.model}@${r.version} from fleet ${r.fleet} (retained chunks cleared)`);
  }

  async #transferFor(fleet: string): Promise<ModelOffering> {
    if (this.#o.transfer) return this.#o.transfer(fleet);
    if (!this.#client) throw new EdgeloopError('ABORTED', 'rollout service is stopped');
    const d = ROLLOUT_SERVICE_DEFAULTS;
    const server = new TransferServer({
      pushChunks: d.transferPushChunks, maxChunksPerS: d.transferChunksPerS, coalesceQuietMs: d.transferCoalesceQuietMs, 
      coalesceMaxWaitMs: Math.max(d.transferCoalesceMaxWaitMs, this.#o.transferOptions?.coalesceQuietMs ?? 0),
      ...this.#o.transferOptions, client: this.#client, fleet, logger: this.#log, now: this.#now,
    });
    await server.start();
    this.#ownTransfers.push({ fleet, get stats() { return server.stats; }, stop: () => server.stop() });
    return server;
  }

  /**
   * Everything of a batch is applied in one transaction, under the controller's lock (no step runs
   * half-way through it); the session acks after it commits.
   */
  async #onBatch(messages: ReceivedMessage[]): Promise<void> {
    const rejections: { fleet: string; device: string; rejection: Rejection }[] = [];
    await this.controller.exclusive(async (locked) => {
      await this.#o.sql.transaction(async () => {
        for (const m of messages) {
          this.#stats.messages++;
          const r = await this.#apply(m, locked);
          if (r) rejections.push(r);
        }
      });
      await locked.tick();
    });
    for (const { fleet, device, rejection } of rejections) {
      this.#stats.rejected++;
      this.#log.warn(`rejected ${rejection.topic}: ${rejection.reason}: ${rejection.detail}`);
      if (this.#client) {
        publishAsync(this.#client, deviceTopic('rejected', fleet, device), JSON.stringify(rejection), { qos: 0 })
          .catch((err: unknown) => this.#log.warn(`cannot publish rejection: ${errorMessage(err)}`));
      }
    }
  }

  async #apply(m: ReceivedMessage, locked: LockedController): Promise<{ fleet: string; device: string; rejection: Rejection } | null> {
    let topic;
    try {
      topic = parseTopic(m.topic);
    } catch (err) {
      this.#stats.rejected++;
      this.#log.warn(`ignored message on unusable topic ${JSON.stringify(m.topic)}: ${errorMessage(err)}`);
      return null;
    }
    if (!('device' in topic)) return null;
    const { fleet, device } = topic;
    try {
      switch (topic.kind) {
        case 'status': {
          // An empty retained payload clears the status (a decommissioned device): nothing to apply.
          if (m.payload.length === 0) return null;
          const status = validateDeviceStatus(parseJsonPayload(m.payload, 'status'));
          await this.fleet.applyStatus(fleet, device, status, m.receivedAtMs);
          if (status.online) await this.#resendInstall(fleet, device, status);
          return null;
        }
        case 'heartbeat': {
          const hb = validateHeartbeat(parseJsonPayload(m.payload, 'heartbeat'));
          await this.fleet.applyHeartbeat(fleet, device, hb, m.receivedAtMs);
          await locked.onHeartbeat(fleet, device, hb);
          return null;
        }
        case 'cmdResult':
          await locked.onCommandResult(fleet, device, validateCommandResult(parseJsonPayload(m.payload, 'command result')));
          return null;
        case 'predictions':
          await this.#onPredictions(fleet, device, parsePredictionBatch(parseJsonPayload(m.payload, 'predictions')));
          return null;
        default:
          return null;
      }
    } catch (err) {
      if (!isEdgeloopError(err)) throw err; // a database failure: the batch is retried, nothing acked
      return { fleet, device, rejection: { topic: m.topic, reason: err.code, detail: err.message, tsMs: this.#now() } };
    }
  }

  /**
   * A device publishes its status when it starts and after every reconnect. The agent's MQTT session is
   * clean, so an install command published while it had no subscription (the broker restarted, or the
   * device was away) reached nobody, and a device killed after activating but before answering never
   * answers. Either way the install would only end at its timeout, counted as a failure
   * (test/fault-rollout.test.ts). So when a device announces itself while its install is in flight, the
   * command is sent again with the same id: the agent's install is idempotent (a version already on disk
   * is not transferred again) and the controller ignores a second result.
   * Skipped when the status already shows the version installed and the agent did not restart since the
   * command went out: that is the status an agent publishes right before its result.
   */
  async #resendInstall(fleet: string, device: string, status: DeviceStatusOnline): Promise<void> {
    const key = `${fleet}/${device}`;
    if ((this.#resentFor.get(key) ?? -Infinity) >= status.tsMs) return;
    let resent = false;
    // Usually none: the in-flight index holds only installs under way, not the device's whole history.
    for (const d of await this.controller.store.inFlightForDevice(fleet, device)) {
      if (d.commandId === null || d.dispatchedAtMs === null || status.tsMs < d.dispatchedAtMs) continue;
      // Decided on the device row first (it carries the rollout's model and version): the status an agent
      // publishes right before its result, the common case, costs no read of the rollout.
      const slot = status.models.find((m) => m.model === d.model);
      // A downgrade's install carries a signed rollback, accepted once (a replay is refused): not resent.
      if (slot && [slot.active, slot.highWater ?? null, ...slot.previous].some((v) => v !== null && v > d.version)) continue;
      const installed = d.installMode === 'shadow' ? slot?.shadow === d.version : slot?.active === d.version;
      if (installed && status.startedAtMs < d.dispatchedAtMs) continue;
      const r = await this.controller.store.mustGet(d.rolloutId);
      if (r.state !== 'running' && r.state !== 'paused') continue;
      resent = true;
      const command = installCommand(r, d.commandId, d.installMode);
      this.#log.info(`${fleet}/${device} announced itself while installing ${r.model}@${r.version}: sending ${d.commandId} again`);
      this.#stats.commandsResent++;
      this.#sendCommand(fleet, device, command).catch((err: unknown) => this.#log.warn(`cannot resend ${d.commandId} to ${fleet}/${device}: ${errorMessage(err)}`));
    }
    if (resent) this.#resentFor.set(key, status.tsMs);
  }

  async #onPredictions(fleet: string, device: string, batch: ReturnType<typeof parsePredictionBatch>): Promise<void> {
    const latest = await this.controller.store.latestForDevice(fleet, device);
    if (!latest || latest.installMode !== 'shadow' || latest.state !== 'active') return;
    const pairs = this.#shadow.add(`${latest.rolloutId}|${device}`, batch, latest.model, latest.fromVersion, latest.version);
    if (pairs.total > 0) await this.controller.addShadowAgreement(latest.rolloutId, device, pairs.agree, pairs.total);
  }
}
