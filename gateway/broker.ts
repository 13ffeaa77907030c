/**
 * The embedded MQTT broker (aedes), for a gateway started without --broker and for tests.
 * The only module that imports aedes. It listens on TCP so outside clients can publish to it.
 * aedes speaks MQTT 3.1.1; shared subscriptions and MQTT 5 need an external broker (mosquitto).
 * Its persistence is in memory: messages queued for offline persistent sessions live as long as the
 * process — run an external broker where that matters.
 */
import net from 'node:net';
import { Aedes } from 'aedes';
import { EdgeloopError } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';

export interface EmbeddedBrokerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  logger?: Logger;
}

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  readonly connectedClients: number;
  stop(): Promise<void>;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? '127.0.0.1';
  const aedes = await Aedes.createBroker({ id: 'edgeloop-embedded' });
  const onClientError = (client: { id: string }, err: Error): void => logger.debug(`client ${client.id} error: ${err.message}`);
  aedes.on('clientError', onClientError);
  const server = net.createServer(aedes.handle);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new EdgeloopError('BAD_CONFIG', `embedded broker cannot listen on ${host}:${options.port ?? 0}: ${err.message}`, { cause: err })));
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const url = `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info(`embedded broker listening on ${url}`);
  let stopped = false;
  return {
    url,
    port,
    get connectedClients() {
      return aedes.connectedClients;
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
