/**
 * node --import tsx bench/rollout.ts — time for a rollout to bring N devices to active, against the
 * transfer floor measured in the same run.
 *
 * N simulated device agents (bench/rollout-devices.ts, BENCH_PROCS child processes, one MQTT connection
 * per device) speak the device contract and fetch a ≈100 KB signed model through the real transfer
 * protocol. The gateway side is the real thing: registry, RolloutService (durable session, SQLite
 * state machine, TransferServer). Broker: mosquitto when installed, else aedes in its own process.
 *   floor:   the same artifact bytes, in the same chunks, published once each (QoS 1) to the same N
 *            connections; time until every device holds every chunk.
 *   rollout: `rollout create --strategy all-at-once` until the service reports it completed with every
 *            device active (timed after the service's resume grace).
 * The transfer server pushes the chunks once, retained (RolloutService default): a device gets manifest
 * and chunks in one subscribe and requests nothing unless something is missing.
 * Rounds: floor then rollout, BENCH_ROUNDS times (5), each round with a new version (new bytes) on the
 * same connected devices. Every round prints its own figures; one round is at the mercy of a noisy
 * machine, so the last line takes the median rollout time over the median floor time.
 * Last line: `rollout: <n> devices in <s> s, floor <s> s, ratio <r>`.
 * Knobs (env): BENCH_DEVICES (200; or --devices N), BENCH_PROCS (2; or --procs N), BENCH_ROUNDS (5; or --rounds N), BENCH_MODEL_BYTES, BENCH_CHUNK_BYTES,
 * BENCH_CHUNKS_PER_S (transfer pacing, 0 = unpaced), BENCH_COALESCE_MS (TransferServer coalesceQuietMs),
 * BENCH_TRACE=1 (per-device timeline on stderr, epoch ms), BENCH_LOG=1 (rollout service log on stderr), BENCH_CHILD_ARGS (e.g. --cpu-prof for the device processes),
 * BENCH_ROLLOUT_PROFILE=dir (CPU profiles of the gateway and device processes during the last round's rollout only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectMqtt, endAsync, publishAsync } from '../io/mqtt-client.ts';
import { openDatabase } from '../io/sqlite.ts';
import { Registry } from '../gateway/registry.ts';
import { RolloutService, ROLLOUT_SERVICE_DEFAULTS } from '../gateway/rollout.ts';
import { sqliteSql } from '../gateway/sql.ts';
import { parseRolloutRequest } from '../gateway/rollout-request.ts';
import { createRandom } from '../src/random.ts';
import { createLogger } from '../src/log.ts';
import { canonicalJson } from '../src/pipeline/hash.ts';
import { ArtifactAssembler, pinKeys, verifyManifest } from '../device/verify.ts';
import { startMosquitto } from '../test/helpers/mosquitto.ts';

/** `--devices N` / `--procs N` on the command line (npm run bench:rollout -- --devices 1000), else the env knobs. */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const N = Number(flag('devices') ?? process.env.BENCH_DEVICES ?? 200);
const PROCS = Number(flag('procs') ?? process.env.BENCH_PROCS ?? 2);
/** Rounds of floor then rollout (a new version each round); the last line reports medians. */
const ROUNDS = Number(flag('rounds') ?? process.env.BENCH_ROUNDS ?? 5);
if (![N, PROCS, ROUNDS].every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`--devices, --procs and --rounds must be positive integers, got ${N}, ${PROCS} and ${ROUNDS}`);
const MODEL_BYTES = Number(process.env.BENCH_MODEL_BYTES ?? 100_000);
const CHUNK_BYTES = Number(process.env.BENCH_CHUNK_BYTES ?? 16 * 1024);
/** Transfer pacing; unset: the RolloutService default; 0: unpaced. */
const CHUNKS_PER_S = process.env.BENCH_CHUNKS_PER_S === undefined ? undefined : Number(process.env.BENCH_CHUNKS_PER_S) || null;
/** Transfer coalescing quiet time (TransferServer coalesceQuietMs); unset: the RolloutService default. */
const COALESCE_MS = process.env.BENCH_COALESCE_MS === undefined ? undefined : Number(process.env.BENCH_COALESCE_MS);
const FLEET = 'bench';
const here = fileURLToPath(new URL('.', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-rollout-'));
// Real devices each have their own flash; N simulated devices share one disk and one libuv thread pool
// per process, so their transfer state goes to tmpfs when there is one (BENCH_DEVICE_DIR overrides).
const deviceRoot = mkdtempSync(join(process.env.BENCH_DEVICE_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir()), 'edgeloop-bench-devices-'));

/** CPU seconds a process has used so far (Linux /proc; null elsewhere). */
function procCpuS(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ 100)
  } catch {
    return null;
  }
}

const cpuSince = (now: number | null, before: number | null): string => (now === null || before === null ? 'n/a' : `${(now - before).toFixed(1)} s`);

async function startBroker(): Promise<{ url: string; name: string; pid: number | undefined; stop: () => Promise<void> }> {
  const mosq = await startMosquitto();
  if (mosq) return { url: mosq.url, name: 'mosquitto', pid: mosq.child.pid, stop: () => mosq.stop() };
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', `
    const { startEmbeddedBroker } = await import(${JSON.stringify(join(here, '../gateway/broker.ts'))});
    const b = await startEmbeddedBroker({ port: 0 });
    console.log(b.url);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return { url, name: 'aedes', pid: child.pid, stop: async () => { child.kill('SIGKILL'); } };
}

/** cpuMs(phase): the process's CPU time so far; 'profile' also starts (then stops) its profile under BENCH_ROLLOUT_PROFILE. */
interface DeviceProc { child: ChildProcess; ready: Promise<void>; floorDone: (round: number) => Promise<void>; cpuMs: (phase?: 'cpu' | 'profile') => Promise<number> }

function startDevices(url: string, first: number, count: number, floorChunks: number, pem: string): DeviceProc {
  // BENCH_CHILD_ARGS: extra node flags for the device processes (e.g. --cpu-prof to see where device CPU goes).
  const extra = process.env.BENCH_CHILD_ARGS ? process.env.BENCH_CHILD_ARGS.split(' ') : [];
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', join(here, 'rollout-devices.ts'), url, FLEET, String(first), String(count), String(floorChunks), deviceRoot], {
    stdio: ['pipe', 'pipe', 'inherit'], env: { UV_THREADPOOL_SIZE: '16', ...process.env, BENCH_PUBKEY_PEM: pem },
  });
  let onReady!: () => void;
  const floorRounds = new Map<number, { done: Promise<void>; resolve: () => void }>();
  const floorRound = (round: number) => {
    let r = floorRounds.get(round);
    if (!r) {
      let resolve!: () => void;
      const done = new Promise<void>((res) => (resolve = res));
      floorRounds.set(round, (r = { done, resolve }));
    }
    return r;
  };
  let onCpu: ((ms: number) => void) | null = null;
  const ready = new Promise<void>((r) => (onReady = r));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const doc = JSON.parse(line) as { ready?: boolean; floorDone?: number; error?: string; trace?: unknown; cpuMs?: number };
    if (doc.cpuMs !== undefined) onCpu?.(doc.cpuMs);
    if (doc.trace) console.error(JSON.stringify(doc.trace));
    if (doc.ready) onReady();
    else if (doc.floorDone !== undefined) floorRound(doc.floorDone).resolve();
    else if (doc.error) console.error(`device error: ${doc.error}`);
  });
  const cpuMs = (phase: 'cpu' | 'profile' = 'cpu') => new Promise<number>((resolve) => {
    onCpu = resolve;
    child.stdin!.write(`${phase}\n`);
  });
  return { child, ready, floorDone: (round) => floorRound(round).done, cpuMs };
}

/** BENCH_ROLLOUT_PROFILE=dir: a CPU profile of the gateway process during the rollout (dir/rollout-gateway.cpuprofile). */
async function startProfile(): Promise<{ stop: () => Promise<void> } | null> {
  const dir = process.env.BENCH_ROLLOUT_PROFILE;
  if (!dir) return null;
  const session = new Session();
  session.connect();
  await new Promise<void>((r) => session.post('Profiler.enable', () => session.post('Profiler.start', () => r())));
  return {
    stop: () => new Promise<void>((r) => session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, 'rollout-gateway.cpuprofile'), JSON.stringify(res.profile));
      session.disconnect();
      r();
    })),
  };
}

/**
 * What every device must spend on a model whatever the protocol around it, timed alone on one core:
 * the manifest parsed, validated and its signature verified, every chunk checked against its sha256 and
 * the whole artifact against its own (device/verify.ts, as device/transfer-client.ts runs them).
 * The floor does none of it, so it bounds how close the rollout can get to the floor on shared cores.
 */
async function requiredChecksMs(registry: Registry, ref: string): Promise<number> {
  const manifest = await registry.manifest(ref, 'onnx', 'float32');
  const bytes = await registry.artifact(ref, 'onnx', 'float32');
  const text = canonicalJson(manifest);
  const pinned = pinKeys([registry.publicKey().pem]);
  const { chunkBytes } = manifest.artifact;
  const chunks = manifest.artifact.chunkSha256.map((_, i) => Buffer.from(bytes.subarray(i * chunkBytes, Math.min(bytes.length, (i + 1) * chunkBytes))));
  const once = (): void => {
    const m = verifyManifest(JSON.parse(text), pinned);
    const asm = new ArtifactAssembler(m);
    chunks.forEach((c, i) => asm.add(i, c));
    asm.finish();
  };
  for (let i = 0; i < 50; i++) once();
  const runs = 300;
  const t = performance.now();
  for (let i = 0; i < runs; i++) once();
  return (performance.now() - t) / runs;
}

async function main(): Promise<void> {
  const broker = await startBroker();
  const db = openDatabase(join(dir, 'edgeloop.db'), { synchronous: 'full' });
  const registry = await Registry.create({ database: db, keyDir: join(dir, 'keys') });
  const rnd = createRandom(1);
  const chunks = Math.ceil(MODEL_BYTES / CHUNK_BYTES);
  /** Registers bench@<round> with its own random bytes (every round transfers a new version). */
  const registerVersion = async (): Promise<Uint8Array> => {
    const bytes = Uint8Array.from({ length: MODEL_BYTES }, () => rnd.int(256));
    await registry.register({
      model: 'bench', task: 'classification', createdBy: 'bench', chunkBytes: CHUNK_BYTES,
      artifacts: [{ format: 'onnx', variant: 'float32', bytes, metrics: {}, io: { inputs: [{ name: 'x', shape: [-1, 4], dtype: 'float32' }], outputs: [{ name: 'y', shape: [-1, 2], dtype: 'float32' }] } }],
      pipeline: { spec: {}, fitted: {} }, lineage: {}, smokeTest: { inputs: [[0, 0, 0, 0]], expected: [[0.5, 0.5]], tolerance: { abs: 1, rel: 0 } }, reference: null,
    });
    return bytes;
  };
  // The rollout's end is taken when it happens (onChange), not by polling, as the floor's is.
  let watched: { id: string | null; done: () => void } | null = null;
  const onChange = (id: string): void => {
    const w = watched;
    if (w && id === w.id) void service.controller.store.state(id).then((state) => { if (state !== 'running') w.done(); });
  };
  const service = await RolloutService.create({ sql: sqliteSql(db), brokerUrl: broker.url, registry, tickMs: 100, onChange, ...(process.env.BENCH_LOG ? { logger: createLogger({ level: 'debug', sink: (l) => process.stderr.write(l + '\n') }) } : {}), transferOptions: {
    ...(CHUNKS_PER_S === undefined ? {} : { maxChunksPerS: CHUNKS_PER_S }),
    ...(COALESCE_MS === undefined ? {} : { coalesceQuietMs: COALESCE_MS }),
  } });
  await service.start();
  // A new wave waits ROLLOUT_SERVICE_DEFAULTS.resumeGraceMs after start (devices reconnecting after a
  // gateway restart); the rollout below must not be timed through that wait.
  const graceOverMs = performance.now() + ROLLOUT_SERVICE_DEFAULTS.resumeGraceMs;

  const per = Math.ceil(N / PROCS);
  const procs: DeviceProc[] = [];
  for (let p = 0; p * per < N; p++) procs.push(startDevices(broker.url, p * per, Math.min(per, N - p * per), chunks, registry.publicKey().pem));
  const t0 = performance.now();
  await Promise.all(procs.map((p) => p.ready));
  console.error(`${N} simulated devices connected in ${((performance.now() - t0) / 1000).toFixed(1)} s (${PROCS} processes, broker ${broker.name}); model ${MODEL_BYTES} bytes in ${chunks} chunks; ${ROUNDS} rounds`);
  const pub = await connectMqtt(broker.url, { clientId: 'bench-floor' });
  const floors: number[] = [];
  const rollouts: number[] = [];
  let failed: string | null = null;

  for (let round = 1; round <= ROUNDS && failed === null; round++) {
    const bytes = await registerVersion();
    // Floor: this round's chunks, published once each to the same N subscribers.
    const brokerFloorBefore = procCpuS(broker.pid);
    const devFloorBefore = await Promise.all(procs.map((p) => p.cpuMs()));
    const floorStart = performance.now();
    await Promise.all(Array.from({ length: chunks }, (_, i) => publishAsync(pub, `bench/floor/${round}/${i}`, bytes.subarray(i * CHUNK_BYTES, Math.min(MODEL_BYTES, (i + 1) * CHUNK_BYTES)), { qos: 1 })));
    await Promise.all(procs.map((p) => p.floorDone(round)));
    const floorS = (performance.now() - floorStart) / 1000;
    const brokerFloorS = cpuSince(procCpuS(broker.pid), brokerFloorBefore);
    const devFloorS = (await Promise.all(procs.map((p) => p.cpuMs()))).reduce((a, c, i) => a + c - devFloorBefore[i]!, 0) / 1000;
    console.error(`round ${round} floor: ${chunks} chunks to ${N} subscribers in ${floorS.toFixed(2)} s (CPU: simulated devices ${devFloorS.toFixed(1)} s, broker ${brokerFloorS})`);

    // Rollout of bench@<round>: wait until the fleet registry sees every device, then roll out to all at once.
    while ((await service.fleet.list({ fleet: FLEET })).filter((d) => d.health === 'online').length < N || performance.now() < graceOverMs) await new Promise((r) => setTimeout(r, 100));
    // The profiled round (BENCH_ROLLOUT_PROFILE) is the last: code warmed up as on a gateway that has run a while.
    const profiled = round === ROUNDS && process.env.BENCH_ROLLOUT_PROFILE !== undefined;
    const cpuBefore = await Promise.all(procs.map((p) => p.cpuMs(profiled ? 'profile' : 'cpu')));
    const profile = profiled ? await startProfile() : null;
    const gwCpuBefore = process.cpuUsage();
    const brokerBefore = procCpuS(broker.pid);
    const start = performance.now();
    if (process.env.BENCH_TRACE) console.error(JSON.stringify({ round, rolloutStartEpochMs: Date.now() }));
    const finished = new Promise<void>((done) => { watched = { id: null, done }; });
    const created = await service.controller.create(parseRolloutRequest({ model: `bench@${round}`, fleet: FLEET, target: 'all', strategy: 'all-at-once', timeout: '5m', abortFailureRate: '0%' }));
    watched!.id = created.id;
    onChange(created.id);
    const progress = setInterval(() => {
      void service.controller.summary(created.id).then((s) => {
        console.error(`  ${((performance.now() - start) / 1000).toFixed(1)} s: ${s.counts.active} active, ${s.counts.transferring} transferring, ${s.counts.failed} failed`);
      });
    }, 5000);
    await finished;
    const rolloutS = (performance.now() - start) / 1000;
    await profile?.stop();
    clearInterval(progress);
    const summary = await service.controller.summary(created.id);
    if (process.env.BENCH_TRACE) console.error(JSON.stringify({ round, rolloutEndEpochMs: Date.now() }));
    const gwCpu = process.cpuUsage(gwCpuBefore);
    const brokerS = cpuSince(procCpuS(broker.pid), brokerBefore);
    const cpuAfter = await Promise.all(procs.map((p) => p.cpuMs(profiled ? 'profile' : 'cpu')));
    const devCpuS = cpuAfter.reduce((a, c, i) => a + c - cpuBefore[i]!, 0) / 1000;
    console.error(`round ${round} rollout ${summary.state}: ${summary.counts.active} active, ${summary.counts.failed} failed in ${rolloutS.toFixed(2)} s, ratio ${(rolloutS / floorS).toFixed(2)}; CPU: simulated devices ${devCpuS.toFixed(1)} s (${((devCpuS * 1000) / N).toFixed(1)} ms per device), gateway process ${((gwCpu.user + gwCpu.system) / 1e6).toFixed(1)} s, broker ${brokerS}; ${availableParallelism()} cores`);
    if (summary.state !== 'completed' || summary.counts.active !== N) failed = `round ${round}: ${summary.state}: ${summary.reason}`;
    floors.push(floorS);
    rollouts.push(rolloutS);
  }
  await endAsync(pub);
  const stats = service.stats;
  console.error(`${stats.messages} device messages, ${stats.commandsSent} commands; transfer server: ${JSON.stringify(service.transferStats[FLEET])}`);

  for (const p of procs) p.child.stdin!.end();
  await Promise.all(procs.map((p) => new Promise((r) => p.child.once('exit', r))));
  // Timed once the devices are gone, on a quiet core.
  const checks = failed === null ? await requiredChecksMs(registry, `bench@${ROUNDS}`) : null;
  if (checks !== null) console.error(`required per-device checks alone (manifest validation and ed25519 signature, per-chunk and whole-file sha256), one core: ${checks.toFixed(3)} ms per device, ${((checks * N) / 1000).toFixed(2)} s of CPU for ${N} devices`);
  await service.stop();
  db.close();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(deviceRoot, { recursive: true, force: true });
  if (failed !== null) {
    console.error(`rollout did not bring every device to active (${failed})`);
    process.exitCode = 1;
    return;
  }
  // One round is at the mercy of a noisy machine (2 cores shared by broker, gateway and devices): the
  // last line takes the median rollout time over the median floor.
  const median = (xs: number[]): number => { const b = [...xs].sort((x, y) => x - y); const m = b.length >> 1; return b.length % 2 ? b[m]! : (b[m - 1]! + b[m]!) / 2; };
  const rolloutS = median(rollouts);
  const floorS = median(floors);
  console.error(`ratio per round: ${rollouts.map((r, i) => (r / floors[i]!).toFixed(2)).join(', ')}; last line: median rollout over median floor (${ROUNDS} rounds)`);
  console.log(`rollout: ${N} devices in ${rolloutS.toFixed(2)} s, floor ${floorS.toFixed(2)} s, ratio ${(rolloutS / floorS).toFixed(2)}`);
}

await main();
