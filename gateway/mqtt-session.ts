/**
 * A durable MQTT subscriber that acknowledges a QoS 1 message only after the transaction holding it
 * has committed. The only module that imports mqtt-packet.
 *
 * Why not mqtt.js: its `handleMessage` hook defers the PUBACK, but mqtt.js also stops reading the
 * socket until that callback runs (client.js `work()`/`nextTickWork` handle one packet at a time), so
 * deferring the ack to a group commit serializes ingest to one message per transaction. Here the
 * socket keeps being read while a batch commits; the PUBACKs of a batch go out together after commit.
 *
 * Persistent session: fixed client id, clean session off (MQTT 5: clean start off and a session
 * expiry), so messages published while the gateway is down wait in the broker. Brokers bound that
 * queue (mosquitto: max_queued_messages, 1000 by default) — configure the broker; see docs/protocol.md.
 */
import net from 'node:net';
import tls from 'node:tls';
import mqttPacket from 'mqtt-packet';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';

export interface ReceivedMessage {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1 | 2;
  dup: boolean;
  receivedAtMs: number;
}

export interface DurableSubscriberOptions {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  clientId: string;
  filters: string[];
  /** Commits the batch; the PUBACKs are sent only after it resolves. A rejection retries the batch. */
  onBatch: (messages: ReceivedMessage[]) => Promise<void>;
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string;
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; rejectUnauthorized?: boolean };
  keepaliveS?: number;
  /** Last will, published by the broker if this session dies without DISCONNECT. */
  will?: { topic: string; payload: string; retain: boolean };
  /** Published (QoS 1) after every CONNACK: the "online" counterpart of the will. */
  birth?: { topic: string; payload: string; retain: boolean };
  /** Most messages committed in one transaction. */
  maxBatch?: number;
  /** Messages held uncommitted before the socket is paused (backpressure to the broker). */
  maxPending?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Delay before retrying a batch whose commit failed. */
  retryCommitMs?: number;
  logger?: Logger;
  now?: () => number;
}

export const DURABLE_SUBSCRIBER_DEFAULTS = {
  protocolVersion: 4 as 4 | 5,
  keepaliveS: 30,
  maxBatch: 2000,
  maxPending: 20_000,
  reconnectMinMs: 100,
  reconnectMaxMs: 5000,
  retryCommitMs: 1000,
};

type ResolvedOptions = Required<Omit<DurableSubscriberOptions, 'username' | 'password' | 'tls' | 'will' | 'birth'>> &
  Pick<DurableSubscriberOptions, 'username' | 'password' | 'tls' | 'will' | 'birth'>;

interface Pending {
  msg: ReceivedMessage;
  messageId: number | undefined;
  connection: number;
}

export interface SubscriberStats {
  connected: boolean;
  connections: number;
  received: number;
  committed: number;
  acked: number;
  commitFailures: number;
  pending: number;
}

export class DurableSubscriber {
  readonly #o: ResolvedOptions;
  #socket: net.Socket | null = null;
  #connection = 0;
  #connected = false;
  #stopping = false;
  #pending: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #flushScheduled = false;
  #reconnectDelayMs: number;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #pingTimer: NodeJS.Timeout | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #awaitingPong = false;
  #firstConnack: { resolve: () => void; reject: (e: Error) => void } | null = null;
  readonly #stats: SubscriberStats = { connected: false, connections: 0, received: 0, committed: 0, acked: 0, commitFailures: 0, pending: 0 };

  constructor(options: DurableSubscriberOptions) {
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.#o = { ...DURABLE_SUBSCRIBER_DEFAULTS, logger: silentLogger, now: Date.now, ...defined } as ResolvedOptions;
    if (options.filters.length === 0) throw new EdgeloopError('BAD_ARGUMENT', "'filters' must name at least one topic filter");
    const url = new URL(options.url);
    if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:' && url.protocol !== 'tcp:') {
      throw new EdgeloopError('BAD_ARGUMENT', `broker url ${JSON.stringify(options.url)} must start with mqtt:// or mqtts://`);
    }
    this.#reconnectDelayMs = this.#o.reconnectMinMs;
  }

  get stats(): SubscriberStats {
    return { ...this.#stats, connected: this.#connected, pending: this.#pending.length };
  }

  /** Connects; resolves at the first CONNACK (or rejects if the broker refuses the first connection). */
  start(): Promise<void> {
    this.#stopping = false;
    return new Promise((resolve, reject) => {
      this.#firstConnack = { resolve, reject };
      this.#connect();
    });
  }

  /** Commits and acknowledges what is pending, disconnects, and removes every timer and listener. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const t of [this.#reconnectTimer, this.#pingTimer, this.#retryTimer]) if (t) clearTimeout(t);
    this.#reconnectTimer = this.#pingTimer = this.#retryTimer = null;
    while (this.#flushing) await this.#flushing;
    if (this.#pending.length > 0) await this.#flush().catch(() => undefined);
    const socket = this.#socket;
    if (socket && !socket.destroyed) {
      this.#send({ cmd: 'disconnect' });
      await new Promise<void>((resolve) => {
        socket.end(() => resolve());
        setTimeout(resolve, 500).unref();
      });
      socket.destroy();
    }
    this.#socket = null;
    this.#connected = false;
  }

  #connect(): void {
    const url = new URL(this.#o.url);
    const secure = url.protocol === 'mqtts:';
    const port = Number(url.port || (secure ? 8883 : 1883));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const connection = ++this.#connection;
    const socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ...this.#o.tls })
      : net.connect({ host, port });
    socket.setNoDelay(true);
    this.#socket = socket;
    const parser = mqttPacket.parser({ protocolVersion: this.#o.protocolVersion });
    parser.on('packet', (packet: Packet) => this.#onPacket(packet, connection));
    parser.on('error', (err: Error) => {
      this.#o.logger.error(`protocol error from broker: ${err.message}`);
      socket.destroy();
    });
    socket.on(secure ? 'secureConnect' : 'connect', () => {
      const props = this.#o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0xffffffff } } : {};
      this.#send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: this.#o.protocolVersion,
        clean: false,
        clientId: this.#o.clientId,
        keepalive: this.#o.keepaliveS,
        username: this.#o.username,
        password: this.#o.password === undefined ? undefined : Buffer.from(this.#o.password),
        will: this.#o.will ? { topic: this.#o.will.topic, payload: Buffer.from(this.#o.will.payload), qos: 1, retain: this.#o.will.retain } : undefined,
        ...props,
      });
    });
    socket.on('data', (buf: Buffer) => parser.parse(buf));
    socket.on('error', (err) => this.#o.logger.warn(`broker connection error: ${err.message}`));
    socket.on('close', () => {
      if (this.#socket === socket) this.#onClose();
    });
  }

  #onClose(): void {
    const wasConnected = this.#connected;
    this.#connected = false;
    this.#socket = null;
    if (this.#pingTimer) clearTimeout(this.#pingTimer);
    this.#pingTimer = null;
    if (this.#stopping) return;
    if (wasConnected) this.#o.logger.warn('disconnected from broker; unacknowledged messages will be redelivered');
    const delay = this.#reconnectDelayMs;
    this.#reconnectDelayMs = Math.min(this.#o.reconnectMaxMs, this.#reconnectDelayMs * 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#connect();
    }, delay);
  }

  #send(packet: Packet | Record<string, unknown>): void {
    const socket = this.#socket;
    if (!socket || socket.destroyed) return;
    socket.write(mqttPacket.generate(packet as Packet, { protocolVersion: this.#o.protocolVersion }));
  }

  #onPacket(packet: Packet, connection: number): void {
    if (connection !== this.#connection) return;
    switch (packet.cmd) {
      case 'connack': {
        const code = packet.returnCode ?? packet.reasonCode ?? 0;
        if (code !== 0) {
          const err = new EdgeloopError('BAD_CONFIG', `broker ${this.#o.url} refused the connection (code ${code})`);
          this.#o.logger.error(err.message);
          if (this.#firstConnack) {
            this.#firstConnack.reject(err);
            this.#firstConnack = null;
            this.#stopping = true;
          }
          this.#socket?.destroy();
          return;
        }
        this.#connected = true;
        this.#stats.connections++;
        this.#reconnectDelayMs = this.#o.reconnectMinMs;
        this.#o.logger.info(`connected to ${this.#o.url} as ${this.#o.clientId} (session present: ${packet.sessionPresent})`);
        // Subscribing again is harmless when the session is present, and needed when the broker lost it.
        this.#send({ cmd: 'subscribe', messageId: 1, subscriptions: this.#o.filters.map((topic) => ({ topic, qos: 1 })) });
        if (this.#o.birth) {
          // Message id 2 is reserved for the birth message; its PUBACK needs no handling.
          this.#send({ cmd: 'publish', topic: this.#o.birth.topic, payload: Buffer.from(this.#o.birth.payload), qos: 1, retain: this.#o.birth.retain, dup: false, messageId: 2 });
        }
        this.#schedulePing();
        this.#firstConnack?.resolve();
        this.#firstConnack = null;
        // Messages committed on an earlier connection could not be acked there; the broker resends them.
        return;
      }
      case 'suback': {
        const refused = (packet.granted as number[]).map((g, i) => [g, this.#o.filters[i]] as const).filter(([g]) => g >= 0x80);
        for (const [, filter] of refused) this.#o.logger.error(`broker refused subscription ${filter}`);
        return;
      }
      case 'publish':
        this.#onPublish(packet, connection);
        return;
      case 'pingresp':
        this.#awaitingPong = false;
        return;
      case 'disconnect':
        this.#o.logger.warn(`broker sent DISCONNECT (reason ${packet.reasonCode ?? 'none'})`);
        this.#socket?.destroy();
        return;
      default:
        return;
    }
  }

  #onPublish(packet: IPublishPacket, connection: number): void {
    this.#stats.received++;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    this.#pending.push({
      msg: { topic: packet.topic, payload, qos: packet.qos, dup: packet.dup, receivedAtMs: this.#o.now() },
      messageId: packet.messageId,
      connection,
    });
    if (packet.qos === 2) {
      // We subscribe with QoS 1, so a conforming broker never sends QoS 2; answer PUBREC anyway after commit.
      this.#o.logger.warn(`unexpected QoS 2 message on ${packet.topic}`);
    }
    if (this.#pending.length >= this.#o.maxPending) this.#socket?.pause();
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#flushing || this.#retryTimer) return;
    this.#flushScheduled = true;
    // setImmediate lets the socket deliver everything already buffered first: that is the group commit.
    setImmediate(() => {
      this.#flushScheduled = false;
      if (!this.#flushing) this.#flushing = this.#flush().finally(() => { this.#flushing = null; });
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.slice(0, this.#o.maxBatch);
      try {
        await this.#o.onBatch(batch.map((p) => p.msg));
      } catch (err) {
        this.#stats.commitFailures++;
        this.#o.logger.error(`commit of ${batch.length} messages failed, not acknowledging them; retrying in ${this.#o.retryCommitMs} ms: ${errorMessage(err)}`);
        this.#socket?.pause();
        if (!this.#stopping) {
          this.#retryTimer = setTimeout(() => {
            this.#retryTimer = null;
            this.#scheduleFlush();
          }, this.#o.retryCommitMs);
        }
        return;
      }
      this.#pending.splice(0, batch.length);
      this.#stats.committed += batch.length;
      for (const p of batch) {
        if (p.connection !== this.#connection || !this.#connected || p.messageId === undefined) continue;
        if (p.msg.qos === 1) this.#send({ cmd: 'puback', messageId: p.messageId, ...(this.#o.protocolVersion === 5 ? { reasonCode: 0 } : {}) });
        else if (p.msg.qos === 2) this.#send({ cmd: 'pubrec', messageId: p.messageId });
        this.#stats.acked++;
      }
      if (this.#pending.length < this.#o.maxPending / 2 && this.#socket?.isPaused()) this.#socket.resume();
      // Yield so the socket can fill the next batch.
      await new Promise<void>((r) => setImmediate(r));
    }
    if (this.#socket?.isPaused()) this.#socket.resume();
  }

  #schedulePing(): void {
    if (this.#pingTimer) clearTimeout(this.#pingTimer);
    const intervalMs = Math.max(1000, (this.#o.keepaliveS * 1000) / 2);
    this.#pingTimer = setTimeout(() => {
      this.#pingTimer = null;
      if (!this.#connected) return;
      if (this.#awaitingPong) {
        this.#o.logger.warn('no PINGRESP from broker; reconnecting');
        this.#socket?.destroy();
        return;
      }
      this.#awaitingPong = true;
      this.#send({ cmd: 'pingreq' });
      this.#schedulePing();
    }, intervalMs);
  }
}
