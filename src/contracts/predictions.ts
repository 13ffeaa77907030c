/**
 * The prediction and label contracts (see src/topics.ts):
 *
 *   edgeloop/<fleet>/<device>/predictions   PredictionBatch: [{ ts, model, version, output, proba? }, …]
 *   edgeloop/<fleet>/<device>/labels        LabelBatch:      [{ ts, label }, …]
 *
 * A label is the delayed ground truth for the prediction the same device made at the same `ts`
 * (epoch ms), so the gateway can join them whichever arrives first. Pure: validators throw
 * EdgeloopError('BAD_PAYLOAD') naming the field (`predictions[3].version: …`).
 */
import { EdgeloopError } from '../errors.ts';
import { describeValue, isSafeName } from '../names.ts';

export interface Prediction {
  /** Epoch ms of the input the prediction was made on: the join key with its label. */
  ts: number;
  model: string;
  version: number;
  /** Class index (classification) or value (regression). */
  output: number;
  /** Class probabilities in class order (classification), when the model gives them. */
  proba?: number[];
}

export interface Label {
  ts: number;
  /** Class index (classification) or true value (regression). */
  label: number;
}

export type PredictionBatch = Prediction[];
export type LabelBatch = Label[];

export interface BatchLimits {
  /** Most items one message may carry. */
  maxItems: number;
  /** Timestamps before this are rejected (2000-01-01): epoch seconds sent as milliseconds. */
  minTsMs: number;
  /** Most classes a `proba` vector may have. */
  maxClasses: number;
}

export const DEFAULT_BATCH_LIMITS: Readonly<BatchLimits> = Object.freeze({
  maxItems: 10_000,
  minTsMs: Date.UTC(2000, 0, 1),
  maxClasses: 1000,
});

function bad(message: string): EdgeloopError {
  return new EdgeloopError('BAD_PAYLOAD', message);
}

/** Decodes a UTF-8 JSON payload; NOT_JSON when it is not. */
export function decodeJsonPayload(payload: Uint8Array | string): unknown {
  try {
    return JSON.parse(typeof payload === 'string' ? payload : new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (err) {
    throw new EdgeloopError('NOT_JSON', `payload is not UTF-8 JSON: ${(err as Error).message}`);
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'string' ? `string ${describeValue(v)}` : typeof v;
}

function items(doc: unknown, what: string, limits: BatchLimits): Record<string, unknown>[] {
  if (!Array.isArray(doc)) throw bad(`${what} must be a JSON array of objects, got ${typeName(doc)}`);
  if (doc.length === 0) throw bad(`${what} is an empty array`);
  if (doc.length > limits.maxItems) throw bad(`${what} has ${doc.length} items, the limit is ${limits.maxItems}`);
  return doc.map((item: unknown, i) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw bad(`${what}[${i}] must be an object, got ${typeName(item)}`);
    return item as Record<string, unknown>;
  });
}

function checkKeys(rec: Record<string, unknown>, where: string, allowed: readonly string[]): void {
  for (const key of Object.keys(rec)) {
    if (!allowed.includes(key)) throw bad(`${where} has unknown field ${describeValue(key)} (allowed: ${allowed.join(', ')})`);
  }
}

function checkTs(v: unknown, where: string, limits: BatchLimits): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(`${where}.ts must be an integer of epoch milliseconds, got ${typeName(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
  if (v < limits.minTsMs) throw bad(`${where}.ts ${v} is before ${new Date(limits.minTsMs).toISOString()} (epoch seconds sent as milliseconds?)`);
  return v;
}

function checkFinite(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${field} must be a finite number, got ${typeName(v)}`);
  return v;
}

const PREDICTION_FIELDS = ['ts', 'model', 'version', 'output', 'proba'] as const;
const LABEL_FIELDS = ['ts', 'label'] as const;

export function parsePredictionBatch(doc: unknown, limits: BatchLimits = DEFAULT_BATCH_LIMITS): PredictionBatch {
  return items(doc, 'predictions', limits).map((rec, i) => {
    const where = `predictions[${i}]`;
    checkKeys(rec, where, PREDICTION_FIELDS);
    const ts = checkTs(rec.ts, where, limits);
    if (!isSafeName(rec.model)) throw bad(`${where}.model ${describeValue(rec.model)} is not a model name: use 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit`);
    const version = rec.version;
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) throw bad(`${where}.version must be an integer ≥ 1, got ${typeName(version)}${typeof version === 'number' ? ` ${version}` : ''}`);
    const output = checkFinite(rec.output, `${where}.output`);
    const p: Prediction = { ts, model: rec.model, version, output };
    if (rec.proba !== undefined) {
      if (!Array.isArray(rec.proba) || rec.proba.length === 0 || rec.proba.length > limits.maxClasses) {
        throw bad(`${where}.proba must be an array of 1-${limits.maxClasses} probabilities, got ${typeName(rec.proba)}`);
      }
      p.proba = rec.proba.map((v: unknown, k) => {
        const x = checkFinite(v, `${where}.proba[${k}]`);
        if (x < 0 || x > 1) throw bad(`${where}.proba[${k}] must be a probability in [0, 1], got ${x}`);
        return x;
      });
    }
    return p;
  });
}

export function parseLabelBatch(doc: unknown, limits: BatchLimits = DEFAULT_BATCH_LIMITS): LabelBatch {
  return items(doc, 'labels', limits).map((rec, i) => {
    const where = `labels[${i}]`;
    checkKeys(rec, where, LABEL_FIELDS);
    return { ts: checkTs(rec.ts, where, limits), label: checkFinite(rec.label, `${where}.label`) };
  });
}
