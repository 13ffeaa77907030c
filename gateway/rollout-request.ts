/**
 * The body of POST /v1/rollouts (and what `edgeloop rollout create` sends): strings as typed on the
 * command line, validated here into a RolloutPlan. Every problem is listed in one BAD_ARGUMENT.
 */
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import { describeValue, isSafeName } from '../src/names.ts';
import type { ModelFormat, ModelVariant } from '../src/manifest.ts';
import { MODEL_FORMATS, MODEL_VARIANTS } from '../src/contracts/device.ts';
import {
  parseAmount, parseDurationMs, parseMode, parseRate, parseStrategy, parseTarget, ROLLOUT_PLAN_DEFAULTS, type RolloutPlan,
} from '../src/rollout-plan.ts';

export interface RolloutRequest {
  /** NAME@VERSION or NAME@alias (or NAME: the latest version). */
  model: string;
  target: string;
  fleet?: string;
  strategy?: string;
  canary?: string | number;
  waveSize?: string | number;
  waveInterval?: string;
  abortFailureRate?: string | number;
  timeout?: string;
  mode?: string;
  format?: string;
  variant?: string;
  /** Allow rolling devices back to a version older than one they already ran (signed rollbacks). */
  allowDowngrade?: boolean;
  /** Orders the devices (which ones are the canary); default derived from the rollout id. */
  seed?: number;
  /**
   * Devices to put last in the rollout order (after every other target): never the canary while
   * others can be. For devices known to misbehave (a sensor fault alert) whose results would judge
   * the model by their fault. They still get the version in a later wave.
   */
  defer?: string[];
  createdBy?: string;
}

export interface ParsedRolloutRequest {
  ref: string;
  fleet: string | null;
  format: ModelFormat;
  variant: ModelVariant;
  plan: RolloutPlan;
  seed: number | null;
  /** Devices ordered last (RolloutRequest.defer), deduplicated. */
  defer: string[];
  createdBy: string;
}

const FIELDS = ['model', 'target', 'fleet', 'strategy', 'canary', 'waveSize', 'waveInterval', 'abortFailureRate', 'timeout', 'mode', 'format', 'variant', 'allowDowngrade', 'seed', 'defer', 'createdBy'];

export function parseRolloutRequest(body: unknown): ParsedRolloutRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new EdgeloopError('BAD_ARGUMENT', 'rollout request must be a JSON object');
  const rec = body as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(rec)) if (!FIELDS.includes(key)) problems.push(`unknown field ${describeValue(key)} (allowed: ${FIELDS.join(', ')})`);
  const attempt = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (err) {
      problems.push(errorMessage(err));
      return fallback;
    }
  };
  const d = ROLLOUT_PLAN_DEFAULTS;
  let ref = '';
  if (typeof rec.model !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(@[A-Za-z0-9][A-Za-z0-9_-]{0,63})?$/.test(rec.model)) {
    problems.push(`model ${describeValue(rec.model)} must be NAME@VERSION, NAME@alias or NAME`);
  } else ref = rec.model;
  const target = rec.target === undefined ? (problems.push("target is required: 'all', 'tag:<tag>' or 'device:<id>[,<id>…]'"), null) : attempt(() => parseTarget(rec.target), null);
  let fleet: string | null = null;
  if (rec.fleet !== undefined) {
    if (isSafeName(rec.fleet)) fleet = rec.fleet;
    else problems.push(`fleet ${describeValue(rec.fleet)} is not a fleet name`);
  }
  const strategy = rec.strategy === undefined ? d.strategy : attempt(() => parseStrategy(rec.strategy), d.strategy);
  // For the waves strategy an explicit canary of 0 means "no canary wave".
  const canary = rec.canary === undefined ? d.canary : attempt(() => parseAmount(rec.canary, 'canary', strategy === 'waves' ? 0 : 1), d.canary);
  const waveSize = rec.waveSize === undefined ? d.waveSize : attempt(() => parseAmount(rec.waveSize, 'wave size'), d.waveSize);
  const waveIntervalMs = rec.waveInterval === undefined ? d.waveIntervalMs : attempt(() => parseDurationMs(rec.waveInterval, 'wave interval'), d.waveIntervalMs);
  const abortFailureRate = rec.abortFailureRate === undefined ? d.abortFailureRate : attempt(() => parseRate(rec.abortFailureRate, 'abort failure rate'), d.abortFailureRate);
  const timeoutMs = rec.timeout === undefined ? d.timeoutMs : attempt(() => parseDurationMs(rec.timeout, 'timeout'), d.timeoutMs);
  if (timeoutMs < 100) problems.push(`timeout must be at least 100ms, got ${timeoutMs} ms`);
  const mode = rec.mode === undefined ? d.mode : attempt(() => parseMode(rec.mode), d.mode);
  const format = (rec.format ?? 'onnx') as ModelFormat;
  if (!MODEL_FORMATS.includes(format)) problems.push(`format ${describeValue(rec.format)} must be one of ${MODEL_FORMATS.join(', ')}`);
  const variant = (rec.variant ?? 'float32') as ModelVariant;
  if (!MODEL_VARIANTS.includes(variant)) problems.push(`variant ${describeValue(rec.variant)} must be one of ${MODEL_VARIANTS.join(', ')}`);
  let seed: number | null = null;
  if (rec.seed !== undefined) {
    if (typeof rec.seed === 'number' && Number.isInteger(rec.seed) && rec.seed >= 0 && rec.seed <= 0xffffffff) seed = rec.seed;
    else problems.push(`seed must be an integer in 0..4294967295, got ${describeValue(String(rec.seed))}`);
  }
  let defer: string[] = [];
  if (rec.defer !== undefined) {
    if (Array.isArray(rec.defer) && rec.defer.length <= 10_000 && rec.defer.every((d) => isSafeName(d))) defer = [...new Set(rec.defer as string[])];
    else problems.push(`defer must be an array of device names, got ${describeValue(Array.isArray(rec.defer) ? rec.defer.find((d) => !isSafeName(d)) : rec.defer)}`);
  }
  if (rec.allowDowngrade !== undefined && typeof rec.allowDowngrade !== 'boolean') problems.push(`allowDowngrade must be true or false, got ${describeValue(rec.allowDowngrade)}`);
  const createdBy = typeof rec.createdBy === 'string' && rec.createdBy.length > 0 ? rec.createdBy.slice(0, 128) : 'api';
  if (problems.length > 0 || target === null) {
    throw new EdgeloopError('BAD_ARGUMENT', `invalid rollout request (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
  }
  const plan: RolloutPlan = { target, strategy, canary, waveSize, waveIntervalMs, abortFailureRate, timeoutMs, mode, minFinished: d.minFinished };
  if (rec.allowDowngrade === true) plan.allowDowngrade = true;
  return { ref, fleet, format, variant, seed, defer, createdBy, plan };
}
