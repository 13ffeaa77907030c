/**
 * An in-process aedes broker for outbox tests that records, in arrival order, the payloads it
 * accepted on a topic prefix, and can be stopped abruptly (client sockets destroyed) and restarted
 * on the same port.
 */
import net from 'node:net';
import { Aedes } from 'aedes';

export interface RecordingBroker {
  readonly port: number;
  readonly url: string;
  /** Payloads (utf8) of publishes accepted under `prefix`, in arrival order. */
  readonly received: string[];
  stop(): Promise<void>;
}

export async function startRecordingBroker(prefix: string, port = 0, onPublish?: (payload: string, count: number) => void): Promise<RecordingBroker> {
  const aedes = await Aedes.createBroker();
  const received: string[] = [];
  aedes.on('publish', (packet, client) => {
    if (!client || !packet.topic.startsWith(prefix)) return;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload.toString('utf8') : String(packet.payload);
    received.push(payload);
    onPublish?.(payload, received.length);
  });
  const server = net.createServer(aedes.handle);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as net.AddressInfo).port;
  let stopped = false;
  return {
    port: actual,
    url: `mqtt://127.0.0.1:${actual}`,
    received,
    async stop() {
      if (stopped) return;
      stopped = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}
