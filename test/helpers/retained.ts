/**
 * What a broker retains under a topic prefix, read without timing: a probe subscribes to `<prefix>#`
 * and then publishes a marker under the same filter; mosquitto queues a subscription's retained
 * messages while it handles the SUBSCRIBE, so every retained message reaches the probe before the marker.
 */
import { connectMqtt, endAsync, publishAsync } from '../../io/mqtt-client.ts';

let seq = 0;

/** The non-empty retained topics under `prefix` (which ends with '/'), relative to it, sorted. */
export async function retainedUnder(brokerUrl: string, prefix: string): Promise<string[]> {
  const probe = await connectMqtt(brokerUrl, { clientId: `retained-probe-${process.pid}-${++seq}` });
  try {
    const marker = `${prefix}probe-marker-${seq}`;
    const seen: string[] = [];
    const markerSeen = new Promise<void>((resolve) => {
      probe.on('message', (topic, payload, packet) => {
        if (topic === marker) resolve();
        else if (packet.retain && payload.length > 0) seen.push(topic.slice(prefix.length));
      });
    });
    await probe.subscribeAsync(`${prefix}#`, { qos: 1 });
    await publishAsync(probe, marker, 'end', { qos: 1 });
    await markerSeen;
    return seen.sort();
  } finally {
    await endAsync(probe, true);
  }
}
