/**
 * Child process of bench/rollout.ts: hosts `count` simulated device agents, one MQTT connection each.
 * They speak the device contract (retained status with a last will, heartbeats, install commands
 * answered on cmd/result) and fetch the model through the real transfer protocol (device/transfer-client.ts:
 * signed manifest and pushed chunks in one subscribe, requests for what is missing, per-chunk sha256,
 * whole-artifact check). They do not load a runtime:
 * the bench measures distribution, not inference.
 *
 * argv: brokerUrl fleet firstIndex count floorChunks stateRoot; env BENCH_PUBKEY_PEM.
 * Floor rounds publish on bench/floor/<round>/<chunk>; {"floorDone": round} once every device here holds all of a round's chunks.
 * stdout: one JSON line per event ({"ready"}, {"floorDone"}, {"cpuMs"}, {"error"}); stdin: a line ('cpu' or 'profile') asks for cpuMs, EOF stops.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { createInterface } from 'node:readline';
import { connectMqtt, publishAsync, endAsync, type MqttClient } from '../io/mqtt-client.ts';
import { deviceTopic } from '../src/topics.ts';
import { validateCommand, type CommandResult, type DeviceStatusOnline, type ModelSlotStatus } from '../src/contracts/device.ts';
import { TransferClient } from '../device/transfer-client.ts';
import { pinKeys } from '../device/verify.ts';

const [brokerUrl, fleet, firstArg, countArg, floorArg, stateRoot] = process.argv.slice(2) as [string, string, string, string, string, string];
const first = Number(firstArg);
const count = Number(countArg);
const floorChunks = Number(floorArg);
const pinned = pinKeys([process.env.BENCH_PUBKEY_PEM ?? '']);
const emit = (doc: object): void => { process.stdout.write(JSON.stringify(doc) + "\n"); };

interface Sim {
  id: string;
  client: MqttClient;
  models: ModelSlotStatus[];
  /** Floor chunk topics received (each round's are distinct). */
  floorSeen: Set<string>;
  /** Per round, how many of its chunks this device holds. */
  floorCounts: Map<string, number>;
  startedAtMs: number;
}

function status(s: Sim): DeviceStatusOnline {
  return {
    online: true, fleet, device: s.id, tsMs: Date.now(), startedAtMs: s.startedAtMs, agentVersion: 'bench-sim', runtimes: ['onnxruntime-node'], tags: ['bench'],
    models: s.models, hardware: { arch: 'arm64', platform: 'linux', nodeVersion: process.versions.node, cpus: 4, memoryBytes: 4 * 2 ** 30 },
  };
}

/** Per floor round: chunks received by all devices here, and devices that hold the whole round. */
const floorRounds = new Map<string, { devices: number }>();

async function startSim(i: number): Promise<Sim> {
  const id = `sim${String(i).padStart(5, '0')}`;
  const client = await connectMqtt(brokerUrl, {
    clientId: `bench-${id}`, clean: true, reconnectPeriod: 1000,
    will: { topic: deviceTopic('status', fleet, id), payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
  });
  // As in gateway/rollout.ts: without TCP_NODELAY every request/ack pair waits ~40 ms for a delayed ACK.
  const noDelay = () => (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  noDelay();
  client.on('connect', noDelay);
  const s: Sim = { id, client, models: [], floorSeen: new Set(), floorCounts: new Map(), startedAtMs: Date.now() };
  let firstChunkAt = 0;
  let cmdAt = 0;
  const chunkTimes: number[] = [];
  const transfer = new TransferClient({ client, fleet, device: id, stateDir: join(stateRoot, id), pinned, chunkTimeoutMs: 3000,
    onProgress: (p) => { if (p.receivedChunks === 1) firstChunkAt = performance.now(); chunkTimes.push(Math.round(performance.now() - cmdAt)); }, maxStalledRounds: 20, manifestTimeoutMs: 30_000 });
  const cmdTopic = deviceTopic('cmd', fleet, id);
  // Commands run one at a time, in order; one arriving while none runs starts in the message handler
  // itself, so its transfer's SUBSCRIBE shares a socket write with the command's PUBACK.
  let queue: Promise<void> | null = null;
  const enqueue = (run: () => Promise<void>): void => {
    const next: Promise<void> = (queue ? queue.then(run) : run()).catch((err: unknown) => { emit({ error: `${id}: ${(err as Error).message}` }); }).finally(() => {
      if (queue === next) queue = null;
    });
    queue = next;
  };
  client.on('message', (topic, payload) => {
    if (topic.startsWith('bench/floor/')) {
      if (!s.floorSeen.has(topic)) {
        s.floorSeen.add(topic);
        const round = topic.slice('bench/floor/'.length, topic.lastIndexOf('/'));
        const mine = (s.floorCounts.get(round) ?? 0) + 1;
        s.floorCounts.set(round, mine);
        if (mine === floorChunks) {
          const r = floorRounds.get(round) ?? { devices: 0 };
          floorRounds.set(round, r);
          if (++r.devices === count) emit({ floorDone: Number(round) });
        }
      }
      return;
    }
    if (topic !== cmdTopic) return;
    enqueue(async (): Promise<void> => {
      const cmd = validateCommand(JSON.parse(payload.toString()));
      let result: CommandResult;
      try {
        if (cmd.type !== 'install') throw new Error(`bench device handles install only, got ${cmd.type}`);
        const tCmd = performance.now();
        cmdAt = tCmd;
        const { stats } = await transfer.download(cmd.model, cmd.version);
        if (process.env.BENCH_TRACE) emit({ trace: { id, cmdAtEpochMs: Date.now() - Math.round(performance.now() - tCmd), firstChunkMs: Math.round(firstChunkAt - tCmd), downloadMs: Math.round(performance.now() - tCmd), requested: stats.requestedChunks, chunkTimes } });
        await transfer.discard(cmd.model, cmd.version);
        const before = s.models.find((m) => m.model === cmd.model);
        s.models = [...s.models.filter((m) => m.model !== cmd.model), { model: cmd.model, active: cmd.version, shadow: null, previous: before?.active ? [before.active] : [] }];
        result = { id: cmd.id, type: cmd.type, ok: true, tsMs: Date.now(), detail: `installed ${cmd.model} v${cmd.version}`, models: s.models, transfer: stats };
      } catch (err) {
        result = { id: cmd.id, type: cmd.type, ok: false, tsMs: Date.now(), error: { code: 'RUNTIME', message: (err as Error).message }, models: s.models };
      }
      // Status and result together, as the agent sends them: one socket write (with the transfer's UNSUBSCRIBE), in order.
      await Promise.all([
        publishAsync(client, deviceTopic('status', fleet, id), JSON.stringify(status(s)), { qos: 1, retain: true }),
        publishAsync(client, deviceTopic('cmdResult', fleet, id), JSON.stringify(result), { qos: 1 }),
      ]);
      if (process.env.BENCH_TRACE) emit({ trace: { id, resultAtEpochMs: Date.now() } });
    });
  });
  await client.subscribeAsync([cmdTopic, 'bench/floor/#'], { qos: 1 });
  await publishAsync(client, deviceTopic('status', fleet, id), JSON.stringify(status(s)), { qos: 1, retain: true });
  return s;
}

const sims: Sim[] = [];
// Connect in small batches: a thousand simultaneous CONNECTs is a broker benchmark, not this one.
for (let i = 0; i < count; i += 50) {
  sims.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, k) => startSim(first + i + k)))));
}
const heartbeat = setInterval(() => {
  for (const s of sims) {
    s.client.publish(deviceTopic('heartbeat', fleet, s.id), JSON.stringify({ tsMs: Date.now(), seq: 0, uptimeS: 0, active: {}, transfer: null }), { qos: 0 });
  }
}, 10_000);
emit({ ready: true });
// Any line on stdin asks for this process's CPU time so far (the parent accounts the floor and the rollout).
// BENCH_ROLLOUT_PROFILE=dir: a 'profile' line also starts a CPU profile of this process, the next one
// stops it (the parent brackets one round's rollout), written to dir/rollout-devices-<first>.cpuprofile.
const profileDir = process.env.BENCH_ROLLOUT_PROFILE;
let session: Session | null = null;
createInterface({ input: process.stdin }).on('line', (line) => {
  const u = process.cpuUsage();
  if (line !== 'profile') {
    // 'cpu': the CPU time only.
  } else if (profileDir && !session) {
    session = new Session();
    session.connect();
    session.post('Profiler.enable', () => session!.post('Profiler.start'));
  } else if (profileDir && session) {
    const done = session;
    session = null;
    done.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(profileDir, `rollout-devices-${first}.cpuprofile`), JSON.stringify(res.profile));
    });
  }
  emit({ cpuMs: (u.user + u.system) / 1000 });
});
process.stdin.on('end', () => {
  clearInterval(heartbeat);
  void Promise.all(sims.map((s) => endAsync(s.client, true))).then(() => process.exit(0));
});
