/**
 * The device contract: payloads on edgeloop/<fleet>/<device>/{status,heartbeat,cmd,cmd/result,model/request}.
 * Pure types and one runtime validator per payload. Every validator takes parsed JSON (unknown) and
 * either returns the typed value or throws EdgeloopError('BAD_PAYLOAD', …) naming the field, so a bad
 * command is answered with a reason instead of crashing an agent. See docs/device.md.
 */
import { EdgeloopError } from '../errors.ts';
import { isSafeName, describeValue } from '../names.ts';
import type { ModelFormat, ModelVariant } from '../manifest.ts';
import { canonicalJson } from '../pipeline/hash.ts';

export const MODEL_FORMATS: readonly ModelFormat[] = ['onnx', 'tflite'];
export const MODEL_VARIANTS: readonly ModelVariant[] = ['float32', 'float16', 'dynamic-int8', 'int8'];
export type RuntimeName = 'onnxruntime-node' | 'tflite';

/** Largest model version accepted from the network (topics allow 9 digits). */
export const MAX_MODEL_VERSION = 999_999_999;
/** Most chunk indices one ChunkRequest may name (bounds the gateway's work per message). */
export const MAX_CHUNKS_PER_REQUEST = 1024;
/** Correlation ids: printable ASCII, 1-128 characters. */
export const COMMAND_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

// ---------------------------------------------------------------- status and heartbeat

/** One installed model as the device reports it. */
export interface ModelSlotStatus {
  model: string;
  /** Version serving predictions (null: installed but nothing active, e.g. after the last rollback failed). */
  active: number | null;
  /** A version running alongside in shadow mode (its outputs are not used). */
  shadow: number | null;
  /** Previously active versions kept for instant rollback, most recent first. */
  previous: number[];
  /**
   * Highest version ever activated on this device (its downgrade guard, device/verify.ts). Only in the
   * retained status, and optional (older agents omit it): an install below it needs a signed rollback.
   */
  highWater?: number;
}

export interface DeviceHardware {
  arch: string;
  platform: string;
  nodeVersion: string;
  cpus: number;
  memoryBytes: number;
}

export interface DeviceStatusOnline {
  online: true;
  fleet: string;
  device: string;
  tsMs: number;
  startedAtMs: number;
  agentVersion: string;
  hardware: DeviceHardware;
  /** Model runtimes that loaded on this device. */
  runtimes: RuntimeName[];
  tags: string[];
  models: ModelSlotStatus[];
}

/** The last will, retained: the broker publishes it when the device vanishes. */
export interface DeviceStatusOffline {
  online: false;
}

export type DeviceStatus = DeviceStatusOnline | DeviceStatusOffline;

export interface Heartbeat {
  tsMs: number;
  /** Increments by one per heartbeat from agent start: a gap means lost heartbeats. */
  seq: number;
  uptimeS: number;
  /** The active version per model. */
  active: Record<string, number | null>;
  /** An install/transfer in progress, if any. */
  transfer: { model: string; version: number; receivedChunks: number; totalChunks: number } | null;
  /** The inference loop's counters (device/inference.ts), when the agent runs one. Optional: older agents omit it. */
  inference?: InferenceSummary;
}

/** Inference counters and latencies a device reports (heartbeat, status command result). */
export interface InferenceSummary {
  /** Readings taken from the input (after input rejects). */
  readingsIn: number;
  /** Input items that could not be read (bad line, bad JSON, time going backwards). */
  rejectedInputs: number;
  /** Readings the active pipeline skipped (cleaning removed them, or a sensor value was missing). */
  skippedReadings: number;
  /** Feature rows the active models ran on. */
  rowsIn: number;
  /** Predictions of active models queued for publishing (shadow predictions not counted). */
  predictionsOut: number;
  /** Rows on which a model failed. */
  runErrors: number;
  driftReports: number;
  /** Messages waiting in the durable outbox. */
  outboxQueued: number;
  /** Messages the outbox refused or evicted because it was full. */
  outboxRefused: number;
  /** Model run time and reading-to-queued-prediction time, p50/p99 over the recent rows (null: none yet). */
  runnerP50Us: number | null;
  runnerP99Us: number | null;
  endToEndP50Us: number | null;
  endToEndP99Us: number | null;
  /** The input is exhausted (csv, stdin). */
  inputDone: boolean;
}

export const INFERENCE_SUMMARY_COUNTERS = ['readingsIn', 'rejectedInputs', 'skippedReadings', 'rowsIn', 'predictionsOut', 'runErrors', 'driftReports', 'outboxQueued', 'outboxRefused'] as const;
export const INFERENCE_SUMMARY_LATENCIES = ['runnerP50Us', 'runnerP99Us', 'endToEndP50Us', 'endToEndP99Us'] as const;

// ---------------------------------------------------------------- commands

export type InstallMode = 'active' | 'shadow';

/**
 * Authorises an install below the device's high-water mark (a downgrade). ed25519 by the gateway's
 * signing key over rollbackSigningBytes({fleet, device, model, version, issuedAtMs}): bound to one
 * device and one version, and usable once (the device keeps the last issuedAtMs it accepted).
 */
export interface SignedRollback {
  issuedAtMs: number;
  /** keyId of the signing key (first 16 hex of sha256 of the raw public key), as in manifests. */
  keyId: string;
  /** The 64-byte ed25519 signature, base64. */
  signature: string;
}

/** What a SignedRollback signs. */
export interface RollbackClaim {
  fleet: string;
  device: string;
  model: string;
  version: number;
  issuedAtMs: number;
}

/** The bytes a rollback signature covers: UTF-8 of canonicalJson({fleet, device, model, version, issuedAtMs}). */
export function rollbackSigningBytes(claim: RollbackClaim): Uint8Array {
  const { fleet, device, model, version, issuedAtMs } = claim;
  return new TextEncoder().encode(canonicalJson({ fleet, device, model, version, issuedAtMs }));
}

export type Command =
  | { id: string; type: 'install'; model: string; version: number; format: ModelFormat; variant: ModelVariant; mode: InstallMode; rollback?: SignedRollback }
  | { id: string; type: 'activate'; model: string; version: number }
  /**
   * toVersion: a version kept on the device (default: the most recent previous one), or null: the version
   * before was none, so the device deactivates the model (serves nothing for it) and removes the candidate.
   */
  | { id: string; type: 'rollback'; model?: string; toVersion?: number | null }
  | { id: string; type: 'status' };

export type CommandType = Command['type'];
export const COMMAND_TYPES: readonly CommandType[] = ['install', 'activate', 'rollback', 'status'];

export type CommandResult =
  | { id: string | null; type: CommandType | null; ok: true; tsMs: number; detail: string; models: ModelSlotStatus[]; transfer?: TransferStats; inference?: InferenceSummary }
  | { id: string | null; type: CommandType | null; ok: false; tsMs: number; error: { code: string; message: string }; models: ModelSlotStatus[] };

export interface TransferStats {
  totalChunks: number;
  /** Chunks already on disk when this transfer started (a resumed transfer). */
  resumedChunks: number;
  /** Chunk indices asked for over the whole transfer (re-requests count again). */
  requestedChunks: number;
  /** Chunks that failed their sha256 and were refused. */
  tamperedChunks: number;
  bytes: number;
  durationMs: number;
  /**
   * New chunks this device received without asking for them: pushed by the gateway (retained on the
   * chunk topics) or published for another device's request. Optional: older agents omit it.
   */
  pushedChunks?: number;
}

/** Asks the gateway for chunks of a model version (device → gateway on model/request). */
export interface ChunkRequest {
  model: string;
  version: number;
  chunks: number[];
}

/** Why the gateway refused a device's message (gateway → device on `rejected`). */
export interface Rejection {
  /** The topic the refused message came in on. */
  topic: string;
  /** An ErrorCode: BAD_PAYLOAD, NOT_JSON, NOT_FOUND, … */
  reason: string;
  detail: string;
  tsMs: number;
}

// ---------------------------------------------------------------- validators

function bad(field: string, why: string): EdgeloopError {
  return new EdgeloopError('BAD_PAYLOAD', `${field} ${why}`);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(what, `must be a JSON object, got ${typeName(value)}`);
  return value as Record<string, unknown>;
}

function onlyFields(rec: Record<string, unknown>, what: string, allowed: readonly string[]): void {
  for (const key of Object.keys(rec)) {
    if (!allowed.includes(key)) throw bad(what, `has unknown field ${describeValue(key)} (allowed: ${allowed.join(', ')})`);
  }
}

function modelName(value: unknown, field: string): string {
  if (!isSafeName(value)) throw bad(field, `${describeValue(value)} is not a model name: use 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit`);
  return value;
}

function version(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_MODEL_VERSION) {
    throw bad(field, `must be an integer in 1..${MAX_MODEL_VERSION}, got ${typeof value === 'number' ? value : typeName(value)}`);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw bad(field, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${typeof value === 'string' ? describeValue(value) : typeName(value)}`);
  }
  return value as T;
}

function finite(value: unknown, field: string, min = -Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw bad(field, `must be a finite number${min > -Infinity ? ` >= ${min}` : ''}, got ${typeof value === 'number' ? value : typeName(value)}`);
  return value;
}

function commandId(value: unknown): string {
  if (typeof value !== 'string' || !COMMAND_ID_PATTERN.test(value)) {
    throw bad('command.id', `must be 1-128 printable ASCII characters without spaces, got ${typeof value === 'string' ? describeValue(value) : typeName(value)}`);
  }
  return value;
}

function signedRollback(value: unknown): SignedRollback {
  const rec = record(value, 'install command.rollback');
  onlyFields(rec, 'install command.rollback', ['issuedAtMs', 'keyId', 'signature']);
  const issuedAtMs = finite(rec.issuedAtMs, 'install command.rollback.issuedAtMs', 0);
  if (!Number.isInteger(issuedAtMs)) throw bad('install command.rollback.issuedAtMs', `must be an integer (epoch ms), got ${issuedAtMs}`);
  if (typeof rec.keyId !== 'string' || !/^[0-9a-f]{16}$/.test(rec.keyId)) {
    throw bad('install command.rollback.keyId', `must be 16 lowercase hex characters, got ${typeof rec.keyId === 'string' ? describeValue(rec.keyId) : typeName(rec.keyId)}`);
  }
  // 64 bytes in base64: 86 characters and '=='.
  if (typeof rec.signature !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(rec.signature)) {
    throw bad('install command.rollback.signature', `must be a 64-byte ed25519 signature in base64 (88 characters), got ${typeof rec.signature === 'string' ? `${rec.signature.length} characters` : typeName(rec.signature)}`);
  }
  return { issuedAtMs, keyId: rec.keyId, signature: rec.signature };
}

/** Validates a Command (parsed JSON). `mode` defaults to 'active'. */
export function validateCommand(value: unknown): Command {
  const rec = record(value, 'command');
  const id = commandId(rec.id);
  const type = oneOf(rec.type, 'command.type', COMMAND_TYPES);
  switch (type) {
    case 'install': {
      onlyFields(rec, 'install command', ['id', 'type', 'model', 'version', 'format', 'variant', 'mode', 'rollback']);
      const mode = rec.mode === undefined ? 'active' : oneOf(rec.mode, 'install command.mode', ['active', 'shadow'] as const);
      const install: Extract<Command, { type: 'install' }> = {
        id, type,
        model: modelName(rec.model, 'install command.model'),
        version: version(rec.version, 'install command.version'),
        format: oneOf(rec.format, 'install command.format', MODEL_FORMATS),
        variant: oneOf(rec.variant, 'install command.variant', MODEL_VARIANTS),
        mode,
      };
      if (rec.rollback !== undefined) install.rollback = signedRollback(rec.rollback);
      return install;
    }
    case 'activate':
      onlyFields(rec, 'activate command', ['id', 'type', 'model', 'version']);
      return { id, type, model: modelName(rec.model, 'activate command.model'), version: version(rec.version, 'activate command.version') };
    case 'rollback': {
      onlyFields(rec, 'rollback command', ['id', 'type', 'model', 'toVersion']);
      const out: Extract<Command, { type: 'rollback' }> = { id, type };
      if (rec.model !== undefined) out.model = modelName(rec.model, 'rollback command.model');
      if (rec.toVersion === null) {
        if (out.model === undefined) throw bad('rollback command.toVersion', 'null (roll back to no version) needs rollback command.model: which model to deactivate');
        out.toVersion = null;
      } else if (rec.toVersion !== undefined) out.toVersion = version(rec.toVersion, 'rollback command.toVersion');
      return out;
    }
    case 'status':
      onlyFields(rec, 'status command', ['id', 'type']);
      return { id, type };
    default:
      throw bad('command.type', `is not handled: ${String(type satisfies never)}`);
  }
}

/** Validates a ChunkRequest: indices unique non-negative integers, 1..MAX_CHUNKS_PER_REQUEST of them. */
export function validateChunkRequest(value: unknown): ChunkRequest {
  const rec = record(value, 'chunk request');
  onlyFields(rec, 'chunk request', ['model', 'version', 'chunks']);
  const model = modelName(rec.model, 'chunk request.model');
  const v = version(rec.version, 'chunk request.version');
  const chunks = rec.chunks;
  if (!Array.isArray(chunks) || chunks.length === 0 || chunks.length > MAX_CHUNKS_PER_REQUEST) {
    throw bad('chunk request.chunks', `must be an array of 1..${MAX_CHUNKS_PER_REQUEST} chunk indices, got ${Array.isArray(chunks) ? `${chunks.length} items` : typeName(chunks)}`);
  }
  const seen = new Set<number>();
  chunks.forEach((c: unknown, i) => {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > MAX_MODEL_VERSION) throw bad(`chunk request.chunks[${i}]`, `must be an integer in 0..${MAX_MODEL_VERSION}, got ${typeof c === 'number' ? c : typeName(c)}`);
    if (seen.has(c)) throw bad(`chunk request.chunks[${i}]`, `repeats chunk ${c}`);
    seen.add(c);
  });
  return { model, version: v, chunks: chunks as number[] };
}

function slot(value: unknown, where: string): ModelSlotStatus {
  const rec = record(value, where);
  const nullableVersion = (v: unknown, f: string): number | null => (v === null ? null : version(v, f));
  const previous = rec.previous;
  if (!Array.isArray(previous)) throw bad(`${where}.previous`, `must be an array of versions, got ${typeName(previous)}`);
  const out: ModelSlotStatus = {
    model: modelName(rec.model, `${where}.model`),
    active: nullableVersion(rec.active, `${where}.active`),
    shadow: nullableVersion(rec.shadow, `${where}.shadow`),
    previous: previous.map((p, i) => version(p, `${where}.previous[${i}]`)),
  };
  if (rec.highWater !== undefined) out.highWater = version(rec.highWater, `${where}.highWater`);
  return out;
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw bad(field, `must be an array of strings, got ${typeName(value)}`);
  return value as string[];
}

/** Validates a DeviceStatus (the retained status or its last will). */
export function validateDeviceStatus(value: unknown): DeviceStatus {
  const rec = record(value, 'status');
  if (rec.online === false) {
    onlyFields(rec, 'offline status', ['online']);
    return { online: false };
  }
  if (rec.online !== true) throw bad('status.online', `must be true or false, got ${typeName(rec.online)}`);
  const hw = record(rec.hardware, 'status.hardware');
  if (typeof rec.agentVersion !== 'string') throw bad('status.agentVersion', `must be a string, got ${typeName(rec.agentVersion)}`);
  for (const f of ['arch', 'platform', 'nodeVersion'] as const) {
    if (typeof hw[f] !== 'string') throw bad(`status.hardware.${f}`, `must be a string, got ${typeName(hw[f])}`);
  }
  if (!Array.isArray(rec.models)) throw bad('status.models', `must be an array, got ${typeName(rec.models)}`);
  if (!isSafeName(rec.fleet)) throw bad('status.fleet', `${describeValue(rec.fleet)} is not a fleet name`);
  if (!isSafeName(rec.device)) throw bad('status.device', `${describeValue(rec.device)} is not a device name`);
  return {
    online: true,
    fleet: rec.fleet,
    device: rec.device,
    tsMs: finite(rec.tsMs, 'status.tsMs', 0),
    startedAtMs: finite(rec.startedAtMs, 'status.startedAtMs', 0),
    agentVersion: rec.agentVersion,
    hardware: {
      arch: hw.arch as string, platform: hw.platform as string, nodeVersion: hw.nodeVersion as string,
      cpus: finite(hw.cpus, 'status.hardware.cpus', 0), memoryBytes: finite(hw.memoryBytes, 'status.hardware.memoryBytes', 0),
    },
    runtimes: stringList(rec.runtimes, 'status.runtimes').map((r, i) => oneOf(r, `status.runtimes[${i}]`, ['onnxruntime-node', 'tflite'] as const)),
    tags: stringList(rec.tags, 'status.tags'),
    models: rec.models.map((m, i) => slot(m, `status.models[${i}]`)),
  };
}

/** Validates a Heartbeat. */
export function validateHeartbeat(value: unknown): Heartbeat {
  const rec = record(value, 'heartbeat');
  onlyFields(rec, 'heartbeat', ['tsMs', 'seq', 'uptimeS', 'active', 'transfer', 'inference']);
  const seq = finite(rec.seq, 'heartbeat.seq', 0);
  if (!Number.isInteger(seq)) throw bad('heartbeat.seq', `must be an integer, got ${seq}`);
  const active = record(rec.active, 'heartbeat.active');
  const activeOut: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(active)) activeOut[modelName(k, 'heartbeat.active key')] = v === null ? null : version(v, `heartbeat.active.${k}`);
  let transfer: Heartbeat['transfer'] = null;
  if (rec.transfer !== null) {
    const t = record(rec.transfer, 'heartbeat.transfer');
    transfer = {
      model: modelName(t.model, 'heartbeat.transfer.model'),
      version: version(t.version, 'heartbeat.transfer.version'),
      receivedChunks: finite(t.receivedChunks, 'heartbeat.transfer.receivedChunks', 0),
      totalChunks: finite(t.totalChunks, 'heartbeat.transfer.totalChunks', 0),
    };
  }
  const hb: Heartbeat = { tsMs: finite(rec.tsMs, 'heartbeat.tsMs', 0), seq, uptimeS: finite(rec.uptimeS, 'heartbeat.uptimeS', 0), active: activeOut, transfer };
  if (rec.inference !== undefined) hb.inference = validateInferenceSummary(rec.inference, 'heartbeat.inference');
  return hb;
}

/** Validates an InferenceSummary (heartbeat.inference, command result.inference). */
export function validateInferenceSummary(value: unknown, where: string): InferenceSummary {
  const rec = record(value, where);
  onlyFields(rec, where, [...INFERENCE_SUMMARY_COUNTERS, ...INFERENCE_SUMMARY_LATENCIES, 'inputDone']);
  if (typeof rec.inputDone !== 'boolean') throw bad(`${where}.inputDone`, `must be true or false, got ${typeName(rec.inputDone)}`);
  const out = { inputDone: rec.inputDone } as InferenceSummary;
  for (const k of INFERENCE_SUMMARY_COUNTERS) out[k] = finite(rec[k], `${where}.${k}`, 0);
  for (const k of INFERENCE_SUMMARY_LATENCIES) out[k] = rec[k] === null ? null : finite(rec[k], `${where}.${k}`, 0);
  return out;
}

/** Validates a CommandResult. */
export function validateCommandResult(value: unknown): CommandResult {
  const rec = record(value, 'command result');
  const id = rec.id === null ? null : commandId(rec.id);
  const type = rec.type === null ? null : oneOf(rec.type, 'command result.type', COMMAND_TYPES);
  const tsMs = finite(rec.tsMs, 'command result.tsMs', 0);
  if (!Array.isArray(rec.models)) throw bad('command result.models', `must be an array, got ${typeName(rec.models)}`);
  const models = rec.models.map((m, i) => slot(m, `command result.models[${i}]`));
  if (rec.ok === true) {
    if (typeof rec.detail !== 'string') throw bad('command result.detail', `must be a string, got ${typeName(rec.detail)}`);
    const out: Extract<CommandResult, { ok: true }> = { id, type, ok: true, tsMs, detail: rec.detail, models };
    if (rec.transfer !== undefined) {
      const t = record(rec.transfer, 'command result.transfer');
      const n = (f: keyof TransferStats): number => finite(t[f], `command result.transfer.${f}`, 0);
      out.transfer = { totalChunks: n('totalChunks'), resumedChunks: n('resumedChunks'), requestedChunks: n('requestedChunks'), tamperedChunks: n('tamperedChunks'), bytes: n('bytes'), durationMs: n('durationMs') };
      if (t.pushedChunks !== undefined) out.transfer.pushedChunks = n('pushedChunks');
    }
    if (rec.inference !== undefined) out.inference = validateInferenceSummary(rec.inference, 'command result.inference');
    return out;
  }
  if (rec.ok !== false) throw bad('command result.ok', `must be true or false, got ${typeName(rec.ok)}`);
  const err = record(rec.error, 'command result.error');
  if (typeof err.code !== 'string' || typeof err.message !== 'string') throw bad('command result.error', 'must be {"code": string, "message": string}');
  return { id, type, ok: false, tsMs, error: { code: err.code, message: err.message }, models };
}

/** Parses UTF-8 JSON from the network; NOT_JSON with the parser's reason otherwise. */
/** One decoder for every payload: building a TextDecoder costs more than decoding a typical message. */
const UTF8_STRICT = new TextDecoder('utf-8', { fatal: true });

export function parseJsonPayload(payload: Uint8Array | string, what: string): unknown {
  try {
    return JSON.parse(typeof payload === 'string' ? payload : UTF8_STRICT.decode(payload));
  } catch (err) {
    throw new EdgeloopError('NOT_JSON', `${what} is not UTF-8 JSON: ${(err as Error).message}`);
  }
}
