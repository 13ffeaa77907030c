/**
 * The gateway side an in-process device agent talks to in the agent tests: a real aedes broker, a
 * TransferServer on its own connection, a DeviceObserver of the device's topics; every agent started
 * through `start` and everything else is stopped at teardown.
 */
import { startEmbeddedBroker, type EmbeddedBroker } from '../../gateway/broker.ts';
import { TransferServer } from '../../gateway/transfer-server.ts';
import { Agent, type AgentOptions } from '../../device/agent.ts';
import { connectMqtt, endAsync, type MqttClient } from '../../io/mqtt-client.ts';
import { DeviceObserver } from './device-observer.ts';

export interface AgentRig {
  broker: EmbeddedBroker;
  gw: MqttClient;
  server: TransferServer;
  obs: DeviceObserver;
  /** Creates and starts an agent (stopped at teardown). */
  start(options: AgentOptions): Promise<Agent>;
}

export async function agentRig(t: { teardown(fn: () => unknown): void }, fleet: string, device: string): Promise<AgentRig> {
  const broker = await startEmbeddedBroker({ port: 0 });
  const gw = await connectMqtt(broker.url, { clientId: 'gw' });
  const server = new TransferServer({ client: gw, fleet });
  await server.start();
  const obs = await DeviceObserver.connect(broker.url, fleet, device);
  const agents: Agent[] = [];
  t.teardown(async () => {
    for (const a of agents) await a.stop();
    await obs.close();
    await server.stop();
    await endAsync(gw, true);
    await broker.stop();
  });
  return {
    broker, gw, server, obs,
    async start(options) {
      const a = await Agent.create(options);
      agents.push(a);
      await a.start();
      return a;
    },
  };
}
