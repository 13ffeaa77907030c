/**
 * A rollout test rig: a real aedes broker (or an external one the test runs, e.g. mosquitto), a real
 * SQLite file, the real model registry holding the ONNX fixture, a RolloutService, and real device
 * agents (device/agent.ts) connected over MQTT.
 */
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker.ts';
import { Registry } from '../gateway/registry.ts';
import { RolloutService, type RolloutServiceOptions } from '../gateway/rollout.ts';
import { sqliteSql } from '../gateway/sql.ts';
import { Agent, type AgentOptions } from '../device/agent.ts';
import type { ModelRunner } from '../device/runner.ts';
import { createRunner } from '../device/runner.ts';
import { pinKeys } from '../device/verify.ts';
import { openDatabase, type SqliteDatabase } from '../io/sqlite.ts';
import { mlpFixture } from './helpers/device-model.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';
import type { RolloutSummary } from '../gateway/rollout-controller.ts';
import { parseRolloutRequest, type RolloutRequest } from '../gateway/rollout-request.ts';

export const FLEET = 'lab';
export const MODEL = 'occ';

export interface RiggedAgent {
  id: string;
  agent: Agent;
  /** When true, this device's model outputs are perturbed, so its smoke tests fail. */
  broken: { on: boolean };
}

/** The broker the rig talks to: its own aedes, or an external broker it does not stop. */
export type RigBroker = Pick<EmbeddedBroker, 'url' | 'stop'>;

export interface RolloutRigOptions {
  /** Use this broker (e.g. mosquitto started by the test) instead of starting aedes; the test stops it. */
  brokerUrl?: string;
  /** Artifact chunk size in the registry (default 256 bytes). */
  chunkBytes?: number;
}

export class RolloutRig {
  readonly dir = tempDir('edgeloop-rollout-');
  readonly agents: RiggedAgent[] = [];
  service: RolloutService | null = null;

  private constructor(readonly broker: RigBroker, readonly db: SqliteDatabase, readonly registry: Registry) {}

  static async create(versions = 2, options: RolloutRigOptions = {}): Promise<RolloutRig> {
    const external = options.brokerUrl;
    const broker: RigBroker = external === undefined ? await startEmbeddedBroker({ port: 0 }) : { url: external, stop: async () => undefined };
    const dir = tempDir('edgeloop-rollout-db-');
    const db = openDatabase(join(dir, 'edgeloop.db'), { synchronous: 'normal' });
    const registry = await Registry.create({ database: db, keyDir: join(dir, 'keys') });
    const fx = mlpFixture();
    for (let v = 1; v <= versions; v++) {
      await registry.register({
        model: MODEL, task: 'classification', classes: ['empty', 'occupied'], createdBy: 'test', chunkBytes: options.chunkBytes ?? 256,
        artifacts: [{ format: 'onnx', variant: 'float32', bytes: fx.bytes, metrics: { test_accuracy: 0.9 },
          io: { inputs: [{ name: 'input', shape: [-1, 4], dtype: 'float32' }], outputs: [{ name: 'probabilities', shape: [-1, 2], dtype: 'float32' }] } }],
        pipeline: { spec: { v }, fitted: {} }, lineage: {}, smokeTest: fx.smoke, reference: null,
      });
    }
    return new RolloutRig(broker, db, registry);
  }

  async startService(extra: Partial<RolloutServiceOptions> = {}): Promise<RolloutService> {
    const service = await RolloutService.create({ sql: sqliteSql(this.db), brokerUrl: this.broker.url, registry: this.registry, tickMs: 50, resumeGraceMs: 300, ...extra });
    await service.start();
    this.service = service;
    return service;
  }

  async addAgents(n: number, tags: (i: number) => string[] = () => ['pi4'], transfer: AgentOptions['transfer'] = {}): Promise<RiggedAgent[]> {
    const pinned = pinKeys([this.registry.publicKey().pem]);
    const out: RiggedAgent[] = [];
    for (let i = 0; i < n; i++) {
      const id = `pi${this.agents.length + 1}`;
      const broken = { on: false };
      const agent = await Agent.create({
        brokerUrl: this.broker.url, fleet: FLEET, id, stateDir: tempDir(`edgeloop-agent-${id}-`), pinned, tags: tags(i), heartbeatS: 0.2,
        transfer: { chunkTimeoutMs: 300, manifestTimeoutMs: 1000, maxStalledRounds: 5, ...transfer },
        runnerFactory: async (format, bytes) => perturbable(await createRunner(format, bytes), broken),
      });
      await agent.start();
      const a = { id, agent, broken };
      this.agents.push(a);
      out.push(a);
    }
    await waitFor(async () => this.service !== null && (await this.service.fleet.list({ fleet: FLEET })).filter((d) => d.health === 'online').length >= this.agents.length, 10_000, 'agents in the fleet registry');
    return out;
  }

  create(request: Omit<RolloutRequest, 'model'> & { model?: string }): Promise<RolloutSummary> {
    return this.service!.controller.create(parseRolloutRequest({ model: `${MODEL}@1`, fleet: FLEET, ...request }));
  }

  async waitState(id: string, states: string[], timeoutMs = 15_000): Promise<RolloutSummary> {
    await waitFor(async () => states.includes((await this.service!.controller.summary(id)).state), timeoutMs, `rollout ${id} to reach ${states.join('|')}`);
    return this.service!.controller.summary(id);
  }

  /** The version each agent really serves, read from the agent itself. */
  async activeVersions(): Promise<Record<string, number | null>> {
    const out: Record<string, number | null> = {};
    for (const a of this.agents) out[a.id] = (await a.agent.status()).models.find((m) => m.model === MODEL)?.active ?? null;
    return out;
  }

  async close(): Promise<void> {
    for (const a of this.agents) await a.agent.stop();
    await this.service?.stop();
    await this.broker.stop();
    this.db.close();
  }
}

function perturbable(runner: ModelRunner, broken: { on: boolean }): ModelRunner {
  return {
    format: runner.format,
    run: async (input, shape) => {
      const out = await runner.run(input, shape);
      return broken.on ? out.map((t) => t.map((x) => x + 0.5)) : out;
    },
    close: () => runner.close(),
  };
}
