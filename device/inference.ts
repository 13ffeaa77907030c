/**
 * The device's inference loop (issues #6, #7). For each active model it rebuilds the streaming
 * pipeline from the manifest (manifest.pipeline.spec / .fitted → src/pipeline/streaming.ts, the
 * code the gateway prepared the training data with), turns each input reading into a feature row
 * when a window completes, runs the model (device/runner.ts) and publishes
 * Prediction {ts, model, version, output, proba} batches through the durable outbox
 * (device/outbox.ts) to edgeloop/<fleet>/<device>/predictions.
 *
 *   - Shadow mode: a shadow version runs on the same reading through its own pipeline (its spec may
 *     differ) and its prediction goes out in the same batch, right after the active one, with the
 *     same ts (gateway/rollout-shadow.ts pairs them; the gateway's performance table keys predictions
 *     by version, so a label scores both).
 *   - Version change: the new version gets a fresh pipeline warmed up with the last readings, so the
 *     next reading already completes a window; the old runner is not closed while a row runs on it
 *     (model changes and readings are serialized).
 *   - Drift (#7): per active model with manifest.reference.profile, a count-window drift monitor
 *     (src/drift/monitor.ts) is updated with each feature row (mapped by name to profile.features)
 *     and the predicted class; every `drift.every` rows a DriftReport with model/version/device goes
 *     out on edgeloop/<fleet>/<device>/drift.
 *   - Telemetry and labels: readings go out as gateway telemetry (optional). With `labels`, the label
 *     column is taken out of the reading and published `labels.delayMs` later, both as a LabelBatch
 *     {ts, label} (ts = the ts of the prediction it belongs to, the gateway's join key) and as a
 *     telemetry reading of that column at the same ts, so the stored readings the gateway retrains
 *     from carry the target too (docs/device.md, "Labels").
 *   - Nothing is dropped silently: bad input items, readings the pipeline skips, run errors and
 *     outbox refusals are counted (stats(), heartbeat) and logged.
 */
import { argmax } from '../src/vector.ts';
import { EdgeloopError, errorMessage, type ErrorCode } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { deviceTopic } from '../src/topics.ts';
import type { ModelManifest } from '../src/manifest.ts';
import type { Prediction } from '../src/contracts/predictions.ts';
import type { InferenceSummary } from '../src/contracts/device.ts';
import { createStreamingPipeline, validatePipelineSpec, type FittedPipeline, type StreamingPipeline } from '../src/pipeline/index.ts';
import { createDriftMonitor, type DriftMonitor } from '../src/drift/monitor.ts';
import type { ReferenceProfile } from '../src/drift/profile.ts';
import type { DriftReport } from '../src/drift/report.ts';
import { DEVICE_DRIFT_DEFAULTS, profileValueIndices } from '../src/drift/defaults.ts';
import { Outbox, type OutboxCounters, type PublishFn } from './outbox.ts';
import type { ModelRunner } from './runner.ts';
import type { InputSource } from './input-source.ts';
import { FaultInjector, type SensorFault } from './fault.ts';

export interface LoadedModelRef {
  version: number;
  runner: ModelRunner;
  manifest: ModelManifest;
}

export interface InferenceOptions {
  fleet: string;
  device: string;
  /** The outbox file (SQLite). */
  outboxPath: string;
  /** Publishes one outbox message (the agent's MQTT client); rejects when offline. */
  publish: PublishFn;
  isConnected: () => boolean;
  input?: InputSource | null;
  /** Wait for an active model before reading the input (default true). */
  waitForModel?: boolean;
  /** Predictions (and telemetry readings) per message. */
  batchSize?: number;
  /** A partial batch leaves after this long. */
  batchMs?: number;
  publishTelemetry?: boolean;
  labels?: { column: string; delayMs: number } | null;
  faults?: readonly SensorFault[];
  drift?: { windowSize: number; every: number };
  outboxMaxMessages?: number;
  outboxMaxBytes?: number;
  /** Latency samples kept for p50/p99 (ring buffer). */
  latencySamples?: number;
  /** Recent readings replayed into a new version's pipeline (warm-up). */
  warmupReadings?: number;
  onInputDone?: (summary: InputDoneSummary) => void;
  now?: () => number;
  logger?: Logger;
}

export const INFERENCE_DEFAULTS = {
  waitForModel: true,
  batchSize: 50,
  batchMs: 1000,
  publishTelemetry: false,
  /** One day of one reading a minute (diurnal data needs a day), a report every 4 h: src/drift/defaults.ts. */
  drift: { windowSize: DEVICE_DRIFT_DEFAULTS.windowSize, every: DEVICE_DRIFT_DEFAULTS.reportEvery },
  outboxMaxMessages: 100_000,
  outboxMaxBytes: 256 * 1024 * 1024,
  latencySamples: 1024,
  warmupReadings: 256,
  /** Recent input rejects kept for stats(). */
  keepRejects: 20,
  /** Label values kept waiting for their prediction's ts. */
  maxLabelsByTs: 65_536,
} as const;

export interface InputDoneSummary {
  input: string;
  readings: number;
  rejected: number;
  skipped: number;
  rows: number;
  predictions: number;
  shadowPredictions: number;
  faulted: number;
}

export interface SlotStats {
  model: string;
  role: 'active' | 'shadow';
  version: number;
  columns: number;
  rows: number;
  predictions: number;
  skippedReadings: number;
  driftReports: number;
  /** Why this version cannot run on readings (bad pipeline, io mismatch), or null. */
  error: string | null;
}

export interface InferenceStats extends InferenceSummary {
  input: string | null;
  shadowPredictionsOut: number;
  readingsWithoutModel: number;
  faultedReadings: number;
  telemetryOut: number;
  labelsOut: number;
  labelsPending: number;
  outbox: OutboxCounters;
  models: SlotStats[];
  recentRejects: { index: number; code: ErrorCode; reason: string; raw: string }[];
}

/** What one reading produced (the HTTP endpoint returns it). */
export interface ReadingResult {
  accepted: boolean;
  reason?: string;
  predictions: Prediction[];
}

class LatencyRing {
  readonly #buf: Float64Array;
  #n = 0;
  #next = 0;
  constructor(cap: number) {
    this.#buf = new Float64Array(cap);
  }
  push(v: number): void {
    this.#buf[this.#next] = v;
    this.#next = (this.#next + 1) % this.#buf.length;
    if (this.#n < this.#buf.length) this.#n++;
  }
  /** Nearest-rank percentile of the kept samples; null when empty. */
  percentile(q: number): number | null {
    if (this.#n === 0) return null;
    const s = this.#buf.slice(0, this.#n).sort();
    return Math.round(s[Math.min(this.#n - 1, Math.max(0, Math.ceil(q * this.#n) - 1))]! * 10) / 10;
  }
}

interface Slot {
  model: string;
  role: 'active' | 'shadow';
  loaded: LoadedModelRef;
  pipeline: StreamingPipeline | null;
  windowType: string;
  lastAcceptedTs: number | null;
  error: string | null;
  drift: { monitor: DriftMonitor; index: number[]; since: number } | null;
  stats: SlotStats;
}

export class InferenceEngine {
  readonly #o: InferenceOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #outbox: Outbox;
  readonly #batchSize: number;
  readonly #batchMs: number;
  readonly #drift: { windowSize: number; every: number };
  readonly #slots = new Map<string, { active: Slot | null; shadow: Slot | null }>();
  readonly #runnerUs: LatencyRing;
  readonly #e2eUs: LatencyRing;
  readonly #recent: { ts: number; values: Record<string, number> }[] = [];
  readonly #labelByTs = new Map<number, number>();
  #pendingLabels: { dueMs: number; ts: number; label: number; raw: number }[] = [];
  #predictions: Prediction[] = [];
  #telemetry: { ts: number; values: Record<string, number> }[] = [];
  #batchStartMs: number | null = null;
  #chain: Promise<unknown> = Promise.resolve();
  #flushing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #abort = new AbortController();
  #inputLoop: Promise<void> | null = null;
  #modelWaiters: (() => void)[] = [];
  #lastTs: number | null = null;
  #running = false;
  readonly #c = {
    readingsIn: 0, rejectedInputs: 0, skippedReadings: 0, rowsIn: 0, predictionsOut: 0, shadowPredictionsOut: 0, runErrors: 0,
    readingsWithoutModel: 0, telemetryOut: 0, labelsOut: 0, driftReports: 0, outboxRefused: 0, faulted: 0,
  };
  #inputDone = false;
  readonly #rejects: InferenceStats['recentRejects'] = [];
  #faults: FaultInjector | null = null;

  private constructor(o: InferenceOptions, outbox: Outbox) {
    this.#o = o;
    this.#log = (o.logger ?? silentLogger).child('inference');
    this.#now = o.now ?? Date.now;
    this.#outbox = outbox;
    this.#batchSize = o.batchSize ?? INFERENCE_DEFAULTS.batchSize;
    this.#batchMs = o.batchMs ?? INFERENCE_DEFAULTS.batchMs;
    this.#drift = o.drift ?? INFERENCE_DEFAULTS.drift;
    this.#runnerUs = new LatencyRing(o.latencySamples ?? INFERENCE_DEFAULTS.latencySamples);
    this.#e2eUs = new LatencyRing(o.latencySamples ?? INFERENCE_DEFAULTS.latencySamples);
  }

  /** Validates the options (BAD_CONFIG lists every problem) and opens the outbox. */
  static async create(options: InferenceOptions): Promise<InferenceEngine> {
    const problems: string[] = [];
    const int = (v: number | undefined, name: string, min: number, max: number): void => {
      if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) problems.push(`${name} must be an integer in ${min}..${max}, got ${v}`);
    };
    int(options.batchSize, 'batchSize', 1, 10_000);
    int(options.batchMs, 'batchMs', 1, 3_600_000);
    int(options.drift?.windowSize, 'drift.windowSize', 1, 1_000_000);
    int(options.drift?.every, 'drift.every', 1, 1_000_000);
    int(options.outboxMaxMessages, 'outboxMaxMessages', 1, 100_000_000);
    int(options.latencySamples, 'latencySamples', 1, 1_000_000);
    int(options.warmupReadings, 'warmupReadings', 0, 100_000);
    if (options.labels) {
      if (typeof options.labels.column !== 'string' || options.labels.column === '') problems.push(`labels.column must be a column name, got ${JSON.stringify(options.labels.column)}`);
      int(options.labels.delayMs, 'labels.delayMs', 0, 30 * 24 * 3_600_000);
    }
    let faults: FaultInjector | null = null;
    try {
      faults = new FaultInjector(options.faults ?? [], options.input?.total ?? null);
    } catch (err) {
      problems.push(errorMessage(err));
    }
    if (problems.length > 0) throw new EdgeloopError('BAD_CONFIG', `inference options are invalid: ${problems.join('; ')}`);
    const outbox = await Outbox.create({
      path: options.outboxPath,
      maxMessages: options.outboxMaxMessages ?? INFERENCE_DEFAULTS.outboxMaxMessages,
      maxBytes: options.outboxMaxBytes ?? INFERENCE_DEFAULTS.outboxMaxBytes,
      evict: 'drop-oldest',
      // Drift reports and labels are few and matter most: evicted last.
      priorityTopics: [deviceTopic('drift', options.fleet, options.device), deviceTopic('labels', options.fleet, options.device)],
      now: options.now,
      logger: options.logger,
    });
    const engine = new InferenceEngine(options, outbox);
    engine.#faults = faults;
    return engine;
  }

  /** Starts the batch timer and the input loop (if an input was given). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#abort = new AbortController();
    this.#timer = setInterval(() => this.#tick(), Math.max(20, Math.min(250, this.#batchMs / 2)));
    const input = this.#o.input;
    if (input) {
      this.#inputLoop = this.#runInput(input).catch((err: unknown) => {
        this.#log.error(`input ${input.name} failed: ${errorMessage(err)}`);
      });
    }
    this.kick();
  }

  /** Stops the input, finishes the reading in progress, queues what is buffered and tries a last send. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#abort.abort();
    for (const w of this.#modelWaiters.splice(0)) w();
    await this.#inputLoop;
    await this.#o.input?.close?.();
    await this.#serial(async () => undefined);
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#flushBuffers();
    // Labels are ground truth: queue them now rather than lose them (they go out when next connected).
    this.#queueLabels(Infinity);
    await this.#flushing;
    if (this.#o.isConnected()) await this.#outbox.flush(this.#o.publish, { publishTimeoutMs: 2000 }).catch(() => undefined);
    this.#slots.clear();
    this.#outbox.close();
  }

  /** Sends what the outbox holds when connected (the agent calls it on every (re)connect). */
  kick(): void {
    if (this.#flushing || !this.#o.isConnected() || this.#outbox.counters.queued === 0) return;
    this.#flushing = (async () => {
      try {
        while (this.#running && this.#o.isConnected() && this.#outbox.counters.queued > 0) {
          const r = await this.#outbox.flush(this.#o.publish, { maxInFlight: 8, publishTimeoutMs: 10_000 });
          if (r.error) break;
        }
      } catch (err) {
        this.#log.warn(`outbox flush failed: ${errorMessage(err)}`);
      } finally {
        this.#flushing = null;
      }
    })();
  }

  /**
   * The agent's hook: the versions of `model` now active and in shadow (null: none). Waits until no
   * reading is running, so the caller may close the runners it replaced afterwards.
   */
  setModel(model: string, active: LoadedModelRef | null, shadow: LoadedModelRef | null): Promise<void> {
    return this.#serial(async () => {
      const cur = this.#slots.get(model) ?? { active: null, shadow: null };
      const next = {
        active: active ? (cur.active?.loaded.runner === active.runner && cur.active.loaded.version === active.version ? cur.active : this.#buildSlot(model, 'active', active)) : null,
        // A shadow of the active version is the same model: run it once.
        shadow: shadow && shadow.version !== active?.version ? (cur.shadow?.loaded.runner === shadow.runner && cur.shadow.loaded.version === shadow.version ? cur.shadow : this.#buildSlot(model, 'shadow', shadow)) : null,
      };
      if (next.active === null && next.shadow === null) this.#slots.delete(model);
      else this.#slots.set(model, next);
      if (next.active) for (const w of this.#modelWaiters.splice(0)) w();
    });
  }

  /** Pushes one reading through every active (and shadow) model; what it produced. */
  pushReading(ts: number, values: Record<string, number>): Promise<ReadingResult> {
    const receivedNs = process.hrtime.bigint();
    return this.#serial(() => this.#process(ts, values, receivedNs));
  }

  /** Runs the active version of `model` (default: the only one) on an already computed feature row. */
  predictFeatures(features: readonly number[], model?: string): Promise<Prediction> {
    return this.#serial(async () => {
      const slot = this.#activeSlot(model);
      const width = this.#inputWidth(slot.loaded.manifest);
      if (!Array.isArray(features) || features.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
        throw new EdgeloopError('BAD_ARGUMENT', 'features must be an array of finite numbers');
      }
      if (width !== null && features.length !== width) throw new EdgeloopError('BAD_ARGUMENT', `features must have ${width} values (${slot.model} v${slot.loaded.version} input), got ${features.length}`);
      return this.#run(slot, Float32Array.from(features), this.#now());
    });
  }

  /** The models that run, for the HTTP endpoint's errors. */
  activeModels(): { model: string; version: number }[] {
    return [...this.#slots.values()].flatMap((s) => (s.active ? [{ model: s.active.model, version: s.active.loaded.version }] : []));
  }

  summary(): InferenceSummary {
    return {
      readingsIn: this.#c.readingsIn,
      rejectedInputs: this.#c.rejectedInputs,
      skippedReadings: this.#c.skippedReadings,
      rowsIn: this.#c.rowsIn,
      predictionsOut: this.#c.predictionsOut,
      runErrors: this.#c.runErrors,
      driftReports: this.#c.driftReports,
      outboxQueued: this.#outbox.counters.queued,
      outboxRefused: this.#c.outboxRefused + this.#outbox.counters.evicted,
      runnerP50Us: this.#runnerUs.percentile(0.5),
      runnerP99Us: this.#runnerUs.percentile(0.99),
      endToEndP50Us: this.#e2eUs.percentile(0.5),
      endToEndP99Us: this.#e2eUs.percentile(0.99),
      inputDone: this.#inputDone,
    };
  }

  stats(): InferenceStats {
    const models: SlotStats[] = [];
    for (const s of this.#slots.values()) {
      for (const slot of [s.active, s.shadow]) if (slot) models.push({ ...slot.stats, skippedReadings: slot.pipeline?.skippedReadings ?? 0 });
    }
    return {
      ...this.summary(),
      input: this.#o.input?.name ?? null,
      shadowPredictionsOut: this.#c.shadowPredictionsOut,
      readingsWithoutModel: this.#c.readingsWithoutModel,
      faultedReadings: this.#faults?.applied ?? 0,
      telemetryOut: this.#c.telemetryOut,
      labelsOut: this.#c.labelsOut,
      labelsPending: this.#pendingLabels.length,
      outbox: this.#outbox.counters,
      models,
      recentRejects: [...this.#rejects],
    };
  }

  // ------------------------------------------------------------------ internals

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  #activeSlot(model: string | undefined): Slot {
    const actives = [...this.#slots.values()].flatMap((s) => (s.active ? [s.active] : []));
    if (model !== undefined) {
      const s = this.#slots.get(model)?.active;
      if (!s) throw new EdgeloopError('NOT_FOUND', `model ${JSON.stringify(model)} is not active on this device (active: ${actives.map((a) => a.model).join(', ') || 'none'})`);
      return s;
    }
    if (actives.length !== 1) throw new EdgeloopError(actives.length === 0 ? 'NOT_FOUND' : 'BAD_ARGUMENT', actives.length === 0 ? 'no model is active on this device' : `several models are active (${actives.map((a) => a.model).join(', ')}): name one with "model"`);
    return actives[0]!;
  }

  #inputWidth(m: ModelManifest): number | null {
    const shape = m.io.inputs[0]?.shape;
    const last = shape?.at(-1);
    return last !== undefined && last > 0 ? last : null;
  }

  #buildSlot(model: string, role: 'active' | 'shadow', loaded: LoadedModelRef): Slot {
    const m = loaded.manifest;
    const slot: Slot = {
      model, role, loaded, pipeline: null, windowType: 'none', lastAcceptedTs: null, error: null, drift: null,
      stats: { model, role, version: loaded.version, columns: 0, rows: 0, predictions: 0, skippedReadings: 0, driftReports: 0, error: null },
    };
    try {
      const spec = validatePipelineSpec(m.pipeline.spec);
      const pipeline = createStreamingPipeline(m.pipeline.spec, m.pipeline.fitted as FittedPipeline);
      const width = this.#inputWidth(m);
      if (width !== null && pipeline.columns.length !== width) {
        throw new EdgeloopError('BAD_SPEC', `the pipeline gives ${pipeline.columns.length} features but the model input (${m.io.inputs[0]!.name}) takes ${width}`);
      }
      slot.pipeline = pipeline;
      slot.windowType = spec.features.window.type;
      slot.stats.columns = pipeline.columns.length;
    } catch (err) {
      slot.error = `${model} v${loaded.version} cannot run on readings: ${errorMessage(err)}`;
      slot.stats.error = slot.error;
      this.#log.warn(slot.error);
      return slot;
    }
    const profile = m.reference?.profile as ReferenceProfile | undefined;
    if (role === 'active' && profile && Array.isArray(profile.features) && profile.features.length > 0) {
      try {
        const index = profileValueIndices(profile, slot.pipeline.columns);
        slot.drift = { monitor: createDriftMonitor(profile, { windowSize: this.#drift.windowSize, now: this.#now }), index, since: 0 };
      } catch (err) {
        this.#log.warn(`${model} v${loaded.version}: no device-side drift monitoring: ${errorMessage(err)}`);
      }
    }
    // Warm-up: the recent readings fill the new pipeline's windows; their rows are not predicted again.
    for (const r of this.#recent) {
      try {
        const before = slot.pipeline.skippedReadings;
        slot.pipeline.push({ ts: r.ts, device: this.#o.device, values: r.values });
        if (slot.pipeline.skippedReadings === before) slot.lastAcceptedTs = r.ts;
      } catch {
        // a reading this spec refuses: the live path reports it
      }
    }
    this.#log.info(`${model} v${loaded.version} runs on readings (${role}, ${slot.pipeline.columns.length} features, warmed up with ${this.#recent.length} reading(s)${slot.drift ? `, drift window ${this.#drift.windowSize} every ${this.#drift.every}` : ''})`);
    return slot;
  }

  #reject(index: number, code: ErrorCode, reason: string, raw: string): void {
    this.#c.rejectedInputs++;
    this.#rejects.push({ index, code, reason, raw });
    if (this.#rejects.length > INFERENCE_DEFAULTS.keepRejects) this.#rejects.shift();
    const n = this.#c.rejectedInputs;
    if (n <= 10 || n % 100 === 0) this.#log.warn(`input item ${index} rejected (${code}, ${n} so far): ${reason}`);
  }

  async #process(ts: number, input: Record<string, number>, receivedNs: bigint): Promise<ReadingResult> {
    if (this.#lastTs !== null && ts < this.#lastTs) {
      const reason = `reading at ${new Date(ts).toISOString()} is older than the previous one (${new Date(this.#lastTs).toISOString()}): time must not go backwards`;
      this.#reject(this.#c.readingsIn + this.#c.rejectedInputs, 'BAD_TIMESTAMP', reason, JSON.stringify({ ts, values: input }).slice(0, 200));
      return { accepted: false, reason, predictions: [] };
    }
    this.#lastTs = ts;
    this.#c.readingsIn++;
    let values = input;
    const labelCol = this.#o.labels?.column;
    if (labelCol !== undefined && Object.hasOwn(input, labelCol)) {
      values = { ...input };
      const raw = values[labelCol]!;
      delete values[labelCol];
      this.#labelByTs.set(ts, raw);
      if (this.#labelByTs.size > INFERENCE_DEFAULTS.maxLabelsByTs) this.#labelByTs.delete(this.#labelByTs.keys().next().value!);
    }
    if (this.#o.publishTelemetry ?? INFERENCE_DEFAULTS.publishTelemetry) {
      this.#telemetry.push({ ts, values });
      this.#batchStartMs ??= this.#now();
    }
    this.#recent.push({ ts, values });
    if (this.#recent.length > (this.#o.warmupReadings ?? INFERENCE_DEFAULTS.warmupReadings)) this.#recent.shift();
    const predictions: Prediction[] = [];
    let anyActive = false;
    for (const s of this.#slots.values()) {
      for (const slot of [s.active, s.shadow]) {
        if (!slot || !slot.pipeline) continue;
        if (slot.role === 'active') anyActive = true;
        const p = await this.#pushSlot(slot, ts, values);
        if (p) predictions.push(p);
      }
    }
    if (!anyActive) this.#c.readingsWithoutModel++;
    if (predictions.length > 0) {
      this.#predictions.push(...predictions);
      this.#batchStartMs ??= this.#now();
      this.#e2eUs.push(Number(process.hrtime.bigint() - receivedNs) / 1000);
    }
    if (this.#predictions.length >= this.#batchSize || this.#telemetry.length >= this.#batchSize) this.#flushBuffers();
    return { accepted: true, predictions };
  }

  async #pushSlot(slot: Slot, ts: number, values: Record<string, number>): Promise<Prediction | null> {
    const pipeline = slot.pipeline!;
    const before = pipeline.skippedReadings;
    let row: number[] | null;
    try {
      row = pipeline.push({ ts, device: this.#o.device, values });
    } catch (err) {
      this.#runError(slot, err);
      return null;
    }
    const accepted = pipeline.skippedReadings === before;
    if (!accepted && slot.role === 'active') this.#c.skippedReadings++;
    // A tumbling-time window is closed by the first reading of the next bucket: its row belongs to
    // the reading before (the pipeline's batch transform stamps it with the window's last reading).
    const rowTs = slot.windowType === 'tumbling-time' ? slot.lastAcceptedTs : ts;
    if (accepted) slot.lastAcceptedTs = ts;
    if (!row || rowTs === null) return null;
    return this.#rowPrediction(slot, row, rowTs);
  }

  async #rowPrediction(slot: Slot, row: number[], rowTs: number): Promise<Prediction | null> {
    slot.stats.rows++;
    if (slot.role === 'active') this.#c.rowsIn++;
    let p: Prediction;
    try {
      p = await this.#run(slot, Float32Array.from(row), rowTs);
    } catch (err) {
      this.#runError(slot, err);
      return null;
    }
    slot.stats.predictions++;
    if (slot.role === 'active') {
      this.#c.predictionsOut++;
      this.#afterActive(slot, row, p);
    } else {
      this.#c.shadowPredictionsOut++;
    }
    return p;
  }

  #runError(slot: Slot, err: unknown): void {
    this.#c.runErrors++;
    const n = this.#c.runErrors;
    if (n <= 10 || n % 100 === 0) this.#log.warn(`${slot.model} v${slot.loaded.version} (${slot.role}) failed on a reading (${n} so far): ${errorMessage(err)}`);
  }

  async #run(slot: Slot, input: Float32Array, ts: number): Promise<Prediction> {
    const m = slot.loaded.manifest;
    const t0 = process.hrtime.bigint();
    const out = await slot.loaded.runner.run(input, [1, input.length]);
    this.#runnerUs.push(Number(process.hrtime.bigint() - t0) / 1000);
    const first = out[0];
    if (!first || first.length === 0) throw new EdgeloopError('RUNTIME', `${slot.model} v${slot.loaded.version} gave no output`);
    const p: Prediction = { ts, model: slot.model, version: slot.loaded.version, output: 0 };
    if (m.task === 'classification') {
      let proba = Array.from(first);
      if (proba.length === 1) proba = [1 - proba[0]!, proba[0]!];
      p.output = argmax(proba);
      // Probabilities only when they are ones (a logit output would be refused by the contract).
      if (proba.every((x) => x >= -1e-6 && x <= 1 + 1e-6)) p.proba = proba.map((x) => Math.min(1, Math.max(0, x)));
    } else {
      p.output = first[0]!;
    }
    if (!Number.isFinite(p.output)) throw new EdgeloopError('RUNTIME', `${slot.model} v${slot.loaded.version} output is not finite (${p.output})`);
    return p;
  }

  #afterActive(slot: Slot, row: number[], p: Prediction): void {
    const labels = this.#o.labels;
    if (labels) {
      const raw = this.#labelByTs.get(p.ts);
      if (raw !== undefined) {
        const label = this.#labelIndex(slot.loaded.manifest, raw);
        if (label === null) this.#log.debug(() => `label ${raw} at ${p.ts} is not a class of ${slot.model}`);
        else this.#pendingLabels.push({ dueMs: this.#now() + labels.delayMs, ts: p.ts, label, raw });
      }
    }
    const d = slot.drift;
    if (!d) return;
    d.monitor.update(d.index.map((j) => row[j]), { tsMs: p.ts, prediction: p.output });
    if (++d.since >= this.#drift.every) {
      d.since = 0;
      const report: DriftReport = { ...d.monitor.report({ nowMs: this.#now() }), model: slot.model, modelVersion: slot.loaded.version, device: this.#o.device };
      // The predictions that name the model go first, so the gateway knows what the device runs.
      this.#flushBuffers();
      if (this.#enqueue(deviceTopic('drift', this.#o.fleet, this.#o.device), JSON.stringify(report))) {
        this.#c.driftReports++;
        slot.stats.driftReports++;
      }
    }
  }

  /** Class index of a raw label value (classification), or the value (regression); null when unknown. */
  #labelIndex(m: ModelManifest, raw: number): number | null {
    if (m.task !== 'classification') return raw;
    if (!m.classes) return Number.isInteger(raw) && raw >= 0 ? raw : null;
    const i = m.classes.indexOf(String(raw));
    return i >= 0 ? i : null;
  }

  #enqueue(topic: string, payload: string): boolean {
    try {
      const r = this.#outbox.enqueue(topic, payload, { qos: 1 });
      if (r.status === 'rejected') {
        this.#c.outboxRefused++;
        this.#log.warn(() => `outbox full: a message on ${topic} was refused (${this.#c.outboxRefused} so far)`);
        return false;
      }
      this.kick();
      return true;
    } catch (err) {
      this.#c.outboxRefused++;
      this.#log.error(`cannot queue a message on ${topic}: ${errorMessage(err)}`);
      return false;
    }
  }

  #flushBuffers(): void {
    const { fleet, device } = this.#o;
    this.#batchStartMs = null;
    while (this.#predictions.length > 0) {
      const batch = this.#predictions.splice(0, 10_000);
      this.#enqueue(deviceTopic('predictions', fleet, device), JSON.stringify(batch));
    }
    while (this.#telemetry.length > 0) {
      const batch = this.#telemetry.splice(0, 1000);
      if (this.#enqueue(deviceTopic('telemetry', fleet, device), JSON.stringify(batch))) this.#c.telemetryOut += batch.length;
    }
  }

  #queueLabels(nowMs: number): void {
    const labels = this.#o.labels;
    if (!labels || this.#pendingLabels.length === 0) return;
    const due = this.#pendingLabels.filter((l) => l.dueMs <= nowMs);
    if (due.length === 0) return;
    this.#pendingLabels = this.#pendingLabels.filter((l) => l.dueMs > nowMs);
    const { fleet, device } = this.#o;
    for (let i = 0; i < due.length; i += 5000) {
      const part = due.slice(i, i + 5000);
      if (this.#enqueue(deviceTopic('labels', fleet, device), JSON.stringify(part.map((l) => ({ ts: l.ts, label: l.label }))))) this.#c.labelsOut += part.length;
      if (this.#o.publishTelemetry ?? INFERENCE_DEFAULTS.publishTelemetry) {
        this.#enqueue(deviceTopic('telemetry', fleet, device), JSON.stringify(part.map((l) => ({ ts: l.ts, values: { [labels.column]: l.raw } }))));
      }
    }
  }

  #tick(): void {
    if (this.#batchStartMs !== null && this.#now() - this.#batchStartMs >= this.#batchMs) {
      // Not while a reading runs: a batch must not split a reading's active/shadow pair.
      void this.#serial(async () => this.#flushBuffers());
    }
    void this.#serial(async () => this.#queueLabels(this.#now()));
    if (this.#outbox.counters.queued > 0) this.kick();
  }

  async #runInput(input: InputSource): Promise<void> {
    const signal = this.#abort.signal;
    if ((this.#o.waitForModel ?? INFERENCE_DEFAULTS.waitForModel) && this.activeModels().length === 0) {
      this.#log.info(`input ${input.name} waits for an active model`);
      await new Promise<void>((resolve) => this.#modelWaiters.push(resolve));
      if (signal.aborted) return;
    }
    this.#log.info(`reading input ${input.name}${input.total !== null ? ` (${input.total} items)` : ''}`);
    for await (const item of input.items(signal)) {
      if (item.kind === 'reject') {
        this.#reject(item.index, item.code, item.reason, item.raw);
        continue;
      }
      const values = this.#faults ? this.#faults.apply(item.index, item.ts, item.values) : item.values;
      await this.pushReading(item.ts, values);
    }
    if (signal.aborted) return;
    // End of input: rows of windows still open (tumbling-time buckets), then everything buffered.
    await this.#serial(async () => {
      for (const s of this.#slots.values()) {
        for (const slot of [s.active, s.shadow]) {
          if (!slot?.pipeline) continue;
          for (const r of slot.pipeline.flush()) {
            const p = await this.#rowPrediction(slot, r.row, r.ts);
            if (p) this.#predictions.push(p);
          }
        }
      }
      this.#flushBuffers();
    });
    this.#inputDone = true;
    const summary: InputDoneSummary = {
      input: input.name, readings: this.#c.readingsIn, rejected: this.#c.rejectedInputs, skipped: this.#c.skippedReadings, rows: this.#c.rowsIn,
      predictions: this.#c.predictionsOut, shadowPredictions: this.#c.shadowPredictionsOut, faulted: this.#faults?.applied ?? 0,
    };
    this.#log.info(`input ${input.name} done: ${summary.readings} readings, ${summary.rejected} rejected, ${summary.skipped} skipped, ${summary.rows} rows, ${summary.predictions} predictions; the agent keeps running`);
    this.#o.onInputDone?.(summary);
  }
}

