/**
 * Rig for the device inference tests: a real occupancy classifier (logistic regression on one day of
 * datatest.txt through the occupancy pipeline spec), published into a real registry (signed ONNX
 * float32, reference profile), offered by a real TransferServer over a real broker, installed on
 * in-process device agents by install commands.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { occupancyFrame as readOccupancyFrame } from './helpers/occupancy-frame.ts';
import { fitPipeline, transformPipeline } from '../src/pipeline/index.ts';
import type { FeatureMatrix, Frame } from '../src/frame.ts';
import type { ModelManifest } from '../src/manifest.ts';
import { splitsOf, trainModel } from '../models/training.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { Registry } from '../gateway/registry.ts';
import { publishModel } from '../gateway/publish.ts';
import { TransferServer } from '../gateway/transfer-server.ts';
import { connectMqtt, endAsync, type MqttClient } from '../io/mqtt-client.ts';
import { Agent, type AgentInferenceOptions } from '../device/agent.ts';
import { pinKeys } from '../device/verify.ts';
import { createRunner } from '../device/runner.ts';
import { deviceTopic } from '../src/topics.ts';
import { parsePredictionBatch, type Prediction } from '../src/contracts/predictions.ts';
import { DeviceObserver } from './helpers/device-observer.ts';
import { tempDir } from './helpers/tmp.ts';
import type { ExecutionContext } from 'ava';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker.ts';
import { DriftService } from '../gateway/drift-monitor.ts';

export const FLEET = 'lab';
export const MODEL = 'occupancy';
export const DATA = new URL('../datasets/occupancy/datatest.txt', import.meta.url);
export const TRAIN = { start: '2015-02-02T14:19:00+01:00', end: '2015-02-03T20:00:00+01:00' };

export function occupancyFrame(file: URL = DATA, device = 'b'): Frame {
  return readOccupancyFrame([[file, device]]);
}

export function occupancySpec(): unknown {
  const spec = JSON.parse(readFileSync(new URL('../src/pipeline/examples/occupancy.json', import.meta.url), 'utf8')) as { split: { ranges: unknown[] } };
  spec.split.ranges = [
    { name: 'train', ...TRAIN },
    { name: 'test1', start: TRAIN.end, end: '2015-02-04T10:44:00+01:00' },
  ];
  return spec;
}

/** The lines of datatest.txt inside the training range, as a CSV file of the same format. */
export function trainingCsv(dir: string): string {
  const text = readFileSync(DATA, 'utf8').split('\n');
  const start = Date.parse(TRAIN.start);
  const end = Date.parse(TRAIN.end);
  const frame = occupancyFrame();
  const keep = text.slice(1).filter((l) => l.trim() !== '').filter((_, i) => frame.ts[i]! >= start && frame.ts[i]! < end);
  const path = join(dir, 'train-day.txt');
  writeFileSync(path, [text[0], ...keep].join('\n') + '\n');
  return path;
}

export class InferenceRig {
  readonly dir = tempDir('edgeloop-inference-');
  readonly agents: Agent[] = [];
  readonly observers: DeviceObserver[] = [];
  manifests: ModelManifest[] = [];
  matrix!: FeatureMatrix;

  private constructor(readonly brokerUrl: string, readonly store: SqliteStore, readonly registry: Registry, readonly gw: MqttClient, readonly server: TransferServer) {}

  static async create(brokerUrl: string, versions = 1): Promise<InferenceRig> {
    const dir = tempDir('edgeloop-inference-gw-');
    const store = await SqliteStore.create({ path: join(dir, 'gw.db'), synchronous: 'normal' });
    const registry = await Registry.create({ database: store.database, keyDir: join(dir, 'keys') });
    const gw = await connectMqtt(brokerUrl, { clientId: `gw-${Math.random().toString(36).slice(2)}` });
    const server = new TransferServer({ client: gw, fleet: FLEET });
    await server.start();
    const rig = new InferenceRig(brokerUrl, store, registry, gw, server);
    const spec = occupancySpec();
    const { matrix, fitted } = fitPipeline(occupancyFrame(), spec);
    rig.matrix = matrix;
    const trained = await trainModel(splitsOf(matrix), { kind: 'logreg', task: 'classification' });
    for (let v = 1; v <= versions; v++) {
      const r = await publishModel(registry, {
        model: MODEL, trained: trained.model, classes: ['0', '1'], createdBy: 'test',
        dataset: { name: 'occ-day', spec, fitted, matrix, dataHash: 'c'.repeat(64) },
        targets: [{ format: 'onnx', variant: 'float32' }],
      }, { maxEvalRows: 200 });
      const manifest = r.manifests[0]!;
      rig.manifests.push(manifest);
      await server.offer(manifest, await registry.artifact(`${MODEL}@${v}`, 'onnx', 'float32'));
    }
    return rig;
  }

  async agent(id: string, inference: AgentInferenceOptions | undefined, stateDir = tempDir(`edgeloop-dev-${id}-`)): Promise<Agent> {
    const agent = await Agent.create({
      brokerUrl: this.brokerUrl, fleet: FLEET, id, stateDir, pinned: pinKeys([this.registry.publicKey().pem]), heartbeatS: 0.2,
      transfer: { chunkTimeoutMs: 500, manifestTimeoutMs: 2000, maxStalledRounds: 5 }, inference,
    });
    await agent.start();
    this.agents.push(agent);
    return agent;
  }

  async observer(id: string): Promise<DeviceObserver> {
    const o = await DeviceObserver.connect(this.brokerUrl, FLEET, id);
    this.observers.push(o);
    return o;
  }

  /** Installs `version` on device `id` (active or shadow) and checks the command succeeded. */
  async install(obs: DeviceObserver, version: number, mode: 'active' | 'shadow' = 'active'): Promise<void> {
    const r = await obs.command({ type: 'install', model: MODEL, version, format: 'onnx', variant: 'float32', mode }, 30_000);
    if (!r.ok) throw new Error(`install v${version} failed: ${r.error.message}`);
  }

  /** The gateway-side batch prediction: transformPipeline on the same readings, the same artifact in onnxruntime. */
  async batchPredictions(frame: Frame, version = 1): Promise<Map<number, { output: number; proba: number[] }>> {
    const m = this.manifests[version - 1]!;
    const X = transformPipeline(frame, m.pipeline.spec, m.pipeline.fitted as never);
    const runner = await createRunner('onnx', await this.registry.artifact(`${MODEL}@${version}`, 'onnx', 'float32'));
    const out = new Map<number, { output: number; proba: number[] }>();
    try {
      for (let i = 0; i < X.X.length; i++) {
        const [p] = await runner.run(Float32Array.from(X.X[i]!), [1, X.X[i]!.length]);
        const proba = Array.from(p!);
        out.set(X.ts[i]!, { output: proba[1]! > proba[0]! ? 1 : 0, proba });
      }
    } finally {
      await runner.close();
    }
    return out;
  }

  async close(): Promise<void> {
    for (const a of this.agents) await a.stop();
    for (const o of this.observers) await o.close();
    await this.server.stop();
    await endAsync(this.gw, true);
    await this.store.close();
  }
}

/** Collects the prediction batches a device publishes, in arrival order. */
export async function collectPredictions(brokerUrl: string, device: string): Promise<{ predictions: Prediction[]; batches: number; close(): Promise<void> }> {
  const client = await connectMqtt(brokerUrl, { clientId: `watch-${device}-${Math.random().toString(36).slice(2)}` });
  const out = { predictions: [] as Prediction[], batches: 0, close: () => endAsync(client, true) };
  client.on('message', (_t, payload) => {
    out.batches++;
    out.predictions.push(...parsePredictionBatch(JSON.parse(payload.toString('utf8'))));
  });
  await client.subscribeAsync(deviceTopic('predictions', FLEET, device), { qos: 1 });
  return out;
}

/**
 * A broker, an InferenceRig with one model version, and a DriftService on the rig's database that
 * knows that version's profile, plus a watching client; all stopped by the test's teardown.
 */
export async function rigWithDriftService(t: ExecutionContext, clientId: string): Promise<{ broker: EmbeddedBroker; rig: InferenceRig; service: DriftService; watch: MqttClient }> {
  const broker = await startEmbeddedBroker({ port: 0 });
  const rig = await InferenceRig.create(broker.url, 1);
  const service = await DriftService.create({ database: rig.store.database, brokerUrl: broker.url, fleet: FLEET, clientId, alertPublisher: null });
  await service.start();
  t.teardown(async () => {
    await rig.close();
    await service.stop();
    await broker.stop();
  });
  await service.registerManifest(rig.manifests[0]!);
  const watch = await connectMqtt(broker.url, { clientId: `${clientId}-watch` });
  t.teardown(() => endAsync(watch, true));
  return { broker, rig, service, watch };
}
