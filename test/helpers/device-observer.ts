/** The gateway's view of one device in tests: sends commands, collects status, heartbeats and results. */
import { connectMqtt, endAsync, publishAsync, type MqttClient } from '../../io/mqtt-client.ts';
import { deviceTopic } from '../../src/topics.ts';
import { validateCommandResult, validateDeviceStatus, validateHeartbeat, type CommandResult, type DeviceStatus, type Heartbeat } from '../../src/contracts/device.ts';
import { waitFor } from './tmp.ts';

export class DeviceObserver {
  readonly statuses: DeviceStatus[] = [];
  readonly heartbeats: Heartbeat[] = [];
  readonly results: CommandResult[] = [];
  private seq = 0;

  private constructor(readonly client: MqttClient, readonly fleet: string, readonly device: string) {}

  static async connect(url: string, fleet: string, device: string): Promise<DeviceObserver> {
    const client = await connectMqtt(url, { clientId: `observer-${device}-${Math.floor(performance.now())}` });
    const o = new DeviceObserver(client, fleet, device);
    client.on('message', (topic, payload) => {
      if (payload.length === 0) return;
      const doc: unknown = JSON.parse(payload.toString());
      // Every payload the agent sends must pass its contract's validator.
      if (topic === deviceTopic('status', fleet, device)) o.statuses.push(validateDeviceStatus(doc));
      else if (topic === deviceTopic('heartbeat', fleet, device)) o.heartbeats.push(validateHeartbeat(doc));
      else if (topic === deviceTopic('cmdResult', fleet, device)) o.results.push(validateCommandResult(doc));
    });
    await client.subscribeAsync([deviceTopic('status', fleet, device), deviceTopic('heartbeat', fleet, device), deviceTopic('cmdResult', fleet, device)], { qos: 1 });
    return o;
  }

  get lastStatus(): DeviceStatus | undefined {
    return this.statuses[this.statuses.length - 1];
  }

  async sendRaw(payload: string): Promise<void> {
    await publishAsync(this.client, deviceTopic('cmd', this.fleet, this.device), payload, { qos: 1 });
  }

  /** Sends a command with a fresh id and waits for its result. */
  async command(cmd: Record<string, unknown>, timeoutMs = 15_000): Promise<CommandResult> {
    const id = `c${++this.seq}-${Date.now()}`;
    await this.sendRaw(JSON.stringify({ id, ...cmd }));
    return this.result(id, timeoutMs);
  }

  async result(id: string | null, timeoutMs = 15_000, predicate: (r: CommandResult) => boolean = () => true): Promise<CommandResult> {
    let found: CommandResult | undefined;
    await waitFor(() => (found = this.results.find((r) => r.id === id && predicate(r))) !== undefined, timeoutMs, `result of command ${id}`);
    return found!;
  }

  async close(): Promise<void> {
    await endAsync(this.client, true);
  }
}
