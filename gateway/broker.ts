/**
 * The embedded MQTT broker (aedes), for a gateway started without --broker and for tests.
 * The only module that imports aedes. It listens on TCP so outside clients can publish to it.
 * aedes speaks MQTT 3.1.1; shared subscriptions and MQTT 5 need an external broker (mosquitto).
 * Its persistence is in memory: messages queued for offline persistent sessions live as long as the
 * process — run an external broker where that matters.
 *
 * Security (docs/security.md): without `auth` and `tls` it is an open broker (development, tests).
 * With `auth.users` every client must log in (password or verified client certificate) and the
 * per-identity ACL of src/acl.ts is enforced: a denied SUBSCRIBE is refused (SUBACK 0x80); a denied
 * PUBLISH is acknowledged and dropped (MQTT-3.3.5-2 allows either that or closing the connection).
 * Closing is what aedes does when authorizePublish fails, and it loops: mqtt.js reconnects and resends
 * the unacknowledged QoS 1 packet, forever (test/security-acl-loop.test.ts measured 12 reconnects in
 * 3 s). So a denied packet is re-addressed to an internal sink topic that is never forwarded and never
 * retained; the denial is logged and counted once per (identity, topic) and a device is told once on
 * its `rejected` topic (a Rejection with reason BAD_TOPIC). MQTT 5 brokers (mosquitto) answer 0x87.
 * With `tls` it listens for mqtts://; `requestCert` asks clients for a certificate signed by `ca`.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Aedes } from 'aedes';
import { EdgeloopError } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { deviceTopic } from '../src/topics.ts';
import type { Rejection } from '../src/contracts/device.ts';
import { BrokerSecurity, type CredentialEntry, type SecurityCounters } from './broker-auth.ts';

export interface EmbeddedBrokerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  logger?: Logger;
  /** Password / certificate authentication and per-identity ACLs (gateway/broker-auth.ts). */
  auth?: { users: readonly CredentialEntry[] };
  /** Listen with TLS (mqtts://). requestCert: ask for client certificates verified against `ca`. */
  tls?: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer; requestCert?: boolean };
  /** Largest MQTT packet accepted from a client; a bigger one closes its connection. */
  maxPacketBytes?: number;
}

export const EMBEDDED_BROKER_DEFAULTS = {
  /** Above the telemetry payload limit (256 KiB) and a model chunk, with room for the topic. */
  maxPacketBytes: 1024 * 1024,
  /** Topic levels: edgeloop uses at most 7. */
  maxTopicLevels: 16,
};

/** Where denied publishes are re-addressed: never forwarded (authorizeForward), never retained. */
export const DENIED_SINK_TOPIC = '$edgeloop/denied';

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  readonly connectedClients: number;
  /** Authentication and ACL counters; null when the broker is open. */
  readonly security: SecurityCounters | null;
  stop(): Promise<void>;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? '127.0.0.1';
  const maxPacketBytes = options.maxPacketBytes ?? EMBEDDED_BROKER_DEFAULTS.maxPacketBytes;
  if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 1024) throw new EdgeloopError('BAD_ARGUMENT', `'maxPacketBytes' must be an integer >= 1024, got ${maxPacketBytes}`);
  if (options.tls?.requestCert && !options.tls.ca) throw new EdgeloopError('BAD_ARGUMENT', "'tls.requestCert' needs 'tls.ca', the CA that signs client certificates");
  const security = options.auth || options.tls?.requestCert
    ? new BrokerSecurity({ users: options.auth?.users, certificates: options.tls?.requestCert ?? false, logger: logger.child('auth') })
    : null;
  if (options.auth && !options.tls) logger.warn('broker passwords travel in clear text without TLS: use tls outside a trusted network');
  const aedes = await Aedes.createBroker({
    id: 'edgeloop-embedded',
    maxTopicLevels: EMBEDDED_BROKER_DEFAULTS.maxTopicLevels,
    ...(security
      ? {
          authenticate: (client, username, password, done) => {
            security.authenticate(client, username, password).then(
              (err) => (err ? done(err, false) : done(null, true)),
              (err: unknown) => done(Object.assign(new Error(String(err)), { returnCode: 3 as const }), false),
            );
          },
          authorizePublish: (client, packet, done) => {
            const denial = security.authorizePublish(client, packet.topic);
            if (denial === null) return done(null);
            // Acknowledge and drop (see the header): aedes sends the PUBACK/PUBREC, then routes the
            // emptied packet to the sink, which nobody receives and which is not retained.
            const topic = packet.topic;
            packet.topic = DENIED_SINK_TOPIC;
            packet.retain = false;
            packet.payload = Buffer.alloc(0);
            if (denial.first && denial.identity?.role === 'device') {
              const { fleet, device } = denial.identity;
              const notice: Rejection = { topic, reason: 'BAD_TOPIC', detail: `publish denied by the broker ACL: ${denial.reason}; it was acknowledged and dropped`, tsMs: Date.now() };
              aedes.publish({ cmd: 'publish', topic: deviceTopic('rejected', fleet, device), payload: Buffer.from(JSON.stringify(notice)), qos: 0, retain: false, dup: false }, (err) => {
                if (err) logger.debug(`cannot send the ACL notice to ${fleet}/${device}: ${err.message}`);
              });
            }
            done(null);
          },
          authorizeForward: (_client, packet) => (packet.topic === DENIED_SINK_TOPIC ? null : packet),
          authorizeSubscribe: (client, sub, done) => {
            // null subscription = refused (SUBACK 0x80); the connection stays up.
            done(null, security.authorizeSubscribe(client, sub.topic) === null ? sub : null);
          },
        }
      : {}),
  });
  const onClientError = (client: { id: string }, err: Error): void => logger.debug(`client ${client.id} error: ${err.message}`);
  aedes.on('clientError', onClientError);
  const sockets = new Set<net.Socket>();
  const onSocket = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    // Bound what one client can make us buffer: mqtt-packet would wait for any announced length (256 MB).
    const guard = packetSizeGuard(maxPacketBytes);
    s.on('data', (chunk: Buffer) => {
      const verdict = guard(chunk);
      if (verdict === null) return;
      logger.warn(`closing the connection of a client that sent ${verdict}`);
      s.destroy();
    });
  };
  const server = options.tls
    ? tls.createServer({ key: options.tls.key, cert: options.tls.cert, ca: options.tls.ca, requestCert: options.tls.requestCert ?? false, rejectUnauthorized: false }, aedes.handle)
    : net.createServer(aedes.handle);
  server.on(options.tls ? 'secureConnection' : 'connection', onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new EdgeloopError('BAD_CONFIG', `embedded broker cannot listen on ${host}:${options.port ?? 0}: ${err.message}`, { cause: err })));
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const url = `${options.tls ? 'mqtts' : 'mqtt'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info(`embedded broker listening on ${url}`);
  let stopped = false;
  return {
    url,
    port,
    get connectedClients() {
      return aedes.connectedClients;
    },
    get security() {
      return security?.counters ?? null;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      aedes.off('clientError', onClientError);
    },
  };
}

/**
 * Follows MQTT framing (fixed header byte, variable-length "remaining length", body) over the raw
 * byte stream and reports the first packet announced larger than `maxBytes` (or a malformed length)
 * before its body is buffered. Returns null while everything is within bounds.
 */
export function packetSizeGuard(maxBytes: number): (chunk: Uint8Array) => string | null {
  let skip = 0; // body bytes of the current packet still to pass
  let state: 'type' | 'length' = 'type';
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++]!;
      if (state === 'type') {
        state = 'length';
        length = 0;
        multiplier = 1;
        lengthBytes = 0;
        continue;
      }
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      lengthBytes++;
      if (byte & 0x80) {
        if (lengthBytes >= 4) return 'a malformed packet length';
        continue;
      }
      if (length + 1 + lengthBytes > maxBytes) return `a ${length}-byte packet (limit ${maxBytes})`;
      skip = length;
      state = 'type';
    }
    return null;
  };
}
