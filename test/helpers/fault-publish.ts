/**
 * Shared pieces of the fault tests: a QoS 1 publisher of numbered readings (value = sequence number,
 * ts = base + seq s) with a bounded in-flight window, the tally of what reached the store, and a TCP
 * proxy that plays the network between a device and its broker (cut() drops every connection and
 * refuses new ones until heal()).
 */
import net from 'node:net';
import type { MqttClient } from '../../io/mqtt-client.ts';
import type { Store } from '../../gateway/store.ts';

export const BASE_TS = Date.UTC(2024, 0, 1);

export interface PublishRun {
  sent: () => number;
  acked: Set<number>;
  errors: string[];
  done: Promise<void>;
}

/** Publishes N readings on `topic`; `beforeEach(i)` may pause (await) to time a fault. */
export function publishReadings(client: MqttClient, topic: string, n: number, options: { window?: number; beforeEach?: (i: number) => Promise<void> | void } = {}): PublishRun {
  const acked = new Set<number>();
  const errors: string[] = [];
  let sent = 0;
  let inFlight = 0;
  const window = options.window ?? 50;
  const done = (async () => {
    while (sent < n) {
      if (inFlight >= window) { await new Promise((r) => setTimeout(r, 2)); continue; }
      const i = sent;
      await options.beforeEach?.(i);
      sent++;
      inFlight++;
      client.publish(topic, JSON.stringify({ ts: BASE_TS + i * 1000, values: { seq: i } }), { qos: 1 }, (err) => {
        inFlight--;
        if (err) errors.push(err.message);
        else acked.add(i);
      });
      if (i % 25 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  })();
  return { sent: () => sent, acked, errors, done };
}

export interface Tally {
  sent: number;
  acknowledged: number;
  stored: number;
  lost: number;
  wrongValues: number;
}

/** Readings of one device keyed by sequence; a stored row per (device, sensor, ts) by construction. */
export async function tally(store: Store, fleet: string, device: string, sent: number, acked: Set<number>): Promise<Tally & { lostIds: number[] }> {
  const stored = new Set<number>();
  let wrongValues = 0;
  for await (const r of store.readings({ fleet, device })) {
    const i = (r.ts - BASE_TS) / 1000;
    if (r.value !== i) wrongValues++;
    stored.add(i);
  }
  const lostIds = [...acked].filter((i) => !stored.has(i));
  return { sent, acknowledged: acked.size, stored: stored.size, lost: lostIds.length, wrongValues, lostIds };
}

export const line = (t: Tally) => `sent ${t.sent} / acknowledged ${t.acknowledged} / stored ${t.stored} / lost ${t.lost}`;

export interface NetworkProxy {
  port: number;
  url: string;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<NetworkProxy> {
  const sockets = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((inbound) => {
    if (down) { inbound.destroy(); return; }
    const outbound = net.connect(targetPort, '127.0.0.1');
    sockets.add(inbound);
    sockets.add(outbound);
    const drop = () => { inbound.destroy(); outbound.destroy(); sockets.delete(inbound); sockets.delete(outbound); };
    inbound.on('error', drop);
    outbound.on('error', drop);
    inbound.on('close', drop);
    outbound.on('close', drop);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    heal() {
      down = false;
    },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
