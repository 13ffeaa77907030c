/**
 * Rollout planning, pure: which devices a rollout targets, in which waves, in which order, when the
 * next wave may start, when the rollout must abort, and which per-device state changes are legal.
 * The gateway's rollout controller (gateway/rollout.ts) persists and drives what this file decides,
 * so every decision here is unit-testable without a broker or a database. See docs/rollouts.md.
 */
import { EdgeloopError } from './errors.ts';
import { describeValue, isSafeName } from './names.ts';
import { createRandom, shuffleInPlace } from './random.ts';

export type Target = { kind: 'all' } | { kind: 'tag'; tag: string } | { kind: 'devices'; devices: string[] };
export type Strategy = 'all-at-once' | 'canary' | 'waves';
export const STRATEGIES: readonly Strategy[] = ['all-at-once', 'canary', 'waves'];
/** A wave or canary size: a number of devices or a percentage of the targets. */
export type Amount = { kind: 'count'; count: number } | { kind: 'percent'; percent: number };
/** active: the candidate replaces the model; shadow: it runs beside it; ab: a fraction of targets get it active. */
export type RolloutMode = { kind: 'active' } | { kind: 'shadow' } | { kind: 'ab'; fraction: number };

export interface RolloutPlan {
  target: Target;
  strategy: Strategy;
  canary: Amount;
  waveSize: Amount;
  /** Soak time after a wave has settled (every device active or failed) before the next one starts. */
  waveIntervalMs: number;
  /** Abort when failed / finished devices is above this fraction (0..1). */
  abortFailureRate: number;
  /** Per device: from the install command to its verdict. Past it the device counts as failed (TIMEOUT). */
  timeoutMs: number;
  mode: RolloutMode;
  /** Devices that must have finished (active or failed) before the failure rate is judged. */
  minFinished: number;
  /**
   * Installs below a version a target device already ran are allowed and carry a signed rollback
   * (issue #10). Without it such a rollout is refused when it is created. Absent: false.
   */
  allowDowngrade?: boolean;
}

const PLAN_DEFAULTS: Omit<RolloutPlan, 'target'> = {
  strategy: 'canary',
  canary: { kind: 'percent', percent: 10 },
  waveSize: { kind: 'percent', percent: 25 },
  waveIntervalMs: 30_000,
  abortFailureRate: 0.2,
  timeoutMs: 5 * 60_000,
  mode: { kind: 'active' },
  minFinished: 1,
};
export const ROLLOUT_PLAN_DEFAULTS: Readonly<Omit<RolloutPlan, 'target'>> = Object.freeze(PLAN_DEFAULTS);

const TARGET_FORMS = "'all', 'tag:<tag>' or 'device:<id>[,<id>…]'";

function badArg(message: string): EdgeloopError {
  return new EdgeloopError('BAD_ARGUMENT', message);
}

/** Parses `all`, `tag:pi4`, `device:a,b`. BAD_ARGUMENT names the target and the allowed forms. */
export function parseTarget(text: unknown): Target {
  if (typeof text !== 'string') throw badArg(`target must be a string (${TARGET_FORMS}), got ${text === null ? 'null' : typeof text}`);
  if (text === 'all') return { kind: 'all' };
  const colon = text.indexOf(':');
  const kind = colon < 0 ? '' : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  if (kind === 'tag') {
    if (!isSafeName(rest)) throw badArg(`target ${describeValue(text)}: tag ${describeValue(rest)} must be 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit`);
    return { kind: 'tag', tag: rest };
  }
  if (kind === 'device') {
    const ids = rest.split(',');
    const badId = ids.find((d) => !isSafeName(d));
    if (badId !== undefined) throw badArg(`target ${describeValue(text)}: device ${describeValue(badId)} is not a device name (1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit)`);
    const dup = ids.find((d, i) => ids.indexOf(d) !== i);
    if (dup !== undefined) throw badArg(`target ${describeValue(text)} names device ${describeValue(dup)} twice`);
    return { kind: 'devices', devices: ids };
  }
  throw badArg(`target ${describeValue(text)} is not understood: use ${TARGET_FORMS}`);
}

export function formatTarget(target: Target): string {
  switch (target.kind) {
    case 'all':
      return 'all';
    case 'tag':
      return `tag:${target.tag}`;
    case 'devices':
      return `device:${target.devices.join(',')}`;
    default:
      return String(target satisfies never);
  }
}

export function matchesTarget(target: Target, device: { device: string; tags: readonly string[] }): boolean {
  switch (target.kind) {
    case 'all':
      return true;
    case 'tag':
      return device.tags.includes(target.tag);
    case 'devices':
      return target.devices.includes(device.device);
    default:
      return target satisfies never;
  }
}

export function parseStrategy(text: unknown): Strategy {
  if (typeof text !== 'string' || !(STRATEGIES as readonly string[]).includes(text)) {
    throw badArg(`strategy ${describeValue(text)} must be one of ${STRATEGIES.join(', ')}`);
  }
  return text as Strategy;
}

/** `10%` (0 < p <= 100) or a device count `3` (integer >= minCount). */
export function parseAmount(text: unknown, what: string, minCount = 1): Amount {
  const s = typeof text === 'number' ? String(text) : text;
  if (typeof s === 'string') {
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
    if (pct) {
      const percent = Number(pct[1]);
      if (percent > 0 && percent <= 100) return { kind: 'percent', percent };
      if (percent === 0 && minCount === 0) return { kind: 'count', count: 0 };
    } else if (/^\d+$/.test(s) && Number(s) >= minCount && Number(s) <= 1_000_000) {
      return { kind: 'count', count: Number(s) };
    }
  }
  throw badArg(`${what} ${describeValue(typeof text === 'number' ? String(text) : text)} must be a percentage in (0%, 100%] like 10% or a device count in ${minCount}..1000000`);
}

export function formatAmount(a: Amount): string {
  return a.kind === 'percent' ? `${a.percent}%` : String(a.count);
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `30s`, `5m`, `1h` → milliseconds (a unit is required: a bare number is ambiguous). */
export function parseDurationMs(text: unknown, what: string, maxMs = 7 * 24 * 3_600_000): number {
  const m = typeof text === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text) : null;
  const ms = m ? Math.round(Number(m[1]) * DURATION_UNITS_MS[m[2]!]!) : NaN;
  if (!(ms >= 0 && ms <= maxMs)) throw badArg(`${what} ${describeValue(typeof text === 'number' ? String(text) : text)} must be a duration like 500ms, 30s, 5m or 1h (at most ${maxMs / 3_600_000} h)`);
  return ms;
}

/** `20%` or `0.2` → 0.2 (a fraction in 0..1). */
export function parseRate(text: unknown, what: string): number {
  const s = typeof text === 'number' ? String(text) : text;
  let v = NaN;
  if (typeof s === 'string') {
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
    if (pct) v = Number(pct[1]) / 100;
    else if (/^(0(\.\d+)?|1(\.0+)?)$/.test(s)) v = Number(s);
  }
  if (!(v >= 0 && v <= 1)) throw badArg(`${what} ${describeValue(s)} must be a percentage in 0%..100% like 20% or a fraction in 0..1`);
  return v;
}

/** `active`, `shadow`, `ab:0.2` or `ab:20%` (0 < fraction < 1). */
export function parseMode(text: unknown): RolloutMode {
  if (text === 'active') return { kind: 'active' };
  if (text === 'shadow') return { kind: 'shadow' };
  if (typeof text === 'string' && text.startsWith('ab:')) {
    let fraction = NaN;
    try {
      fraction = parseRate(text.slice(3), 'mode');
    } catch {
      // reported below with the whole text
    }
    if (fraction > 0 && fraction < 1) return { kind: 'ab', fraction };
  }
  throw badArg(`mode ${describeValue(text)} must be 'active', 'shadow' or 'ab:<fraction>' with a fraction strictly between 0 and 1 (ab:0.2 or ab:20%)`);
}

export function formatMode(mode: RolloutMode): string {
  switch (mode.kind) {
    case 'active':
    case 'shadow':
      return mode.kind;
    case 'ab':
      return `ab:${mode.fraction}`;
    default:
      return String(mode satisfies never);
  }
}

/** Devices an amount stands for among `total` targets: percentages round up, at least 1, at most total. */
export function resolveAmount(amount: Amount, total: number): number {
  if (total <= 0) return 0;
  const n = amount.kind === 'count' ? amount.count : Math.ceil((total * amount.percent) / 100 - 1e-9);
  return Math.min(total, Math.max(amount.kind === 'count' && amount.count === 0 ? 0 : 1, n));
}

/** A deterministic order of the devices: sorted, then shuffled by `seed` (so the canary is not always the first name). */
export function orderDevices(devices: readonly string[], seed: number): string[] {
  return shuffleInPlace([...devices].sort(), createRandom(seed));
}

/**
 * The A/B arm: round(fraction × n) devices (at least 1) out of the ordered targets get the candidate;
 * the rest keep their model and are not touched by the rollout.
 */
export function selectAbDevices(ordered: readonly string[], fraction: number): string[] {
  if (ordered.length === 0) return [];
  const n = Math.min(ordered.length, Math.max(1, Math.round(fraction * ordered.length)));
  return ordered.slice(0, n);
}

/**
 * Splits ordered devices into waves. all-at-once: one wave. canary: the canary, then everyone else.
 * waves: the canary (unless its size is 0), then waves of `waveSize` (of the total targets).
 */
export function planWaves(ordered: readonly string[], plan: Pick<RolloutPlan, 'strategy' | 'canary' | 'waveSize'>): string[][] {
  const total = ordered.length;
  if (total === 0) return [];
  switch (plan.strategy) {
    case 'all-at-once':
      return [[...ordered]];
    case 'canary': {
      const c = Math.max(1, resolveAmount(plan.canary, total));
      return c >= total ? [[...ordered]] : [ordered.slice(0, c), ordered.slice(c)];
    }
    case 'waves': {
      const c = resolveAmount(plan.canary, total);
      const size = Math.max(1, resolveAmount(plan.waveSize, total));
      const waves = c > 0 ? [ordered.slice(0, c)] : [];
      for (let i = c; i < total; i += size) waves.push(ordered.slice(i, i + size));
      return waves;
    }
    default:
      return plan.strategy satisfies never;
  }
}

export interface OutcomeCounts {
  /** Devices that reached active. */
  succeeded: number;
  /** Devices that failed (an install error, a failed smoke test, a timeout). */
  failed: number;
}

export type AbortVerdict = { abort: false; failureRate: number } | { abort: true; failureRate: number; reason: string };

/** The failure rate over the devices attempted so far (finished ones); abort above the threshold. */
export function evaluateAbort(counts: OutcomeCounts, rule: Pick<RolloutPlan, 'abortFailureRate' | 'minFinished'>): AbortVerdict {
  const finished = counts.succeeded + counts.failed;
  const failureRate = finished === 0 ? 0 : counts.failed / finished;
  if (finished >= rule.minFinished && failureRate > rule.abortFailureRate) {
    const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
    return { abort: true, failureRate, reason: `failure rate ${pct(failureRate)} (${counts.failed} of ${finished} devices attempted) is above the abort threshold ${pct(rule.abortFailureRate)}` };
  }
  return { abort: false, failureRate };
}

export type WaveDecision = { kind: 'wait'; untilMs: number | null } | { kind: 'start'; wave: number } | { kind: 'complete' };

/**
 * When the next wave may start: the current wave must have settled (no device still installing),
 * then `waveIntervalMs` of soak time must pass. `current` is -1 before the first wave.
 */
export function nextWave(state: { current: number; waves: number; settledAtMs: number | null; nowMs: number }, waveIntervalMs: number): WaveDecision {
  if (state.current < 0) return state.waves > 0 ? { kind: 'start', wave: 0 } : { kind: 'complete' };
  if (state.settledAtMs === null) return { kind: 'wait', untilMs: null };
  if (state.current + 1 >= state.waves) return { kind: 'complete' };
  const due = state.settledAtMs + waveIntervalMs;
  return state.nowMs >= due ? { kind: 'start', wave: state.current + 1 } : { kind: 'wait', untilMs: due };
}

// ---------------------------------------------------------------- per-device state machine

export type DeviceRolloutState = 'pending' | 'transferring' | 'verifying' | 'active' | 'failed' | 'rolled-back';
export const DEVICE_ROLLOUT_STATES: readonly DeviceRolloutState[] = ['pending', 'transferring', 'verifying', 'active', 'failed', 'rolled-back'];
export type DeviceRolloutEvent = 'dispatch' | 'transfer-complete' | 'install-ok' | 'install-failed' | 'timeout' | 'rollback-ok';

/** The next state, or null when the event does not apply in this state (a late or repeated message). */
export function deviceTransition(state: DeviceRolloutState, event: DeviceRolloutEvent): DeviceRolloutState | null {
  switch (event) {
    case 'dispatch':
      return state === 'pending' ? 'transferring' : null;
    case 'transfer-complete':
      return state === 'transferring' ? 'verifying' : null;
    case 'install-ok':
      return state === 'transferring' || state === 'verifying' ? 'active' : null;
    case 'install-failed':
    case 'timeout':
      return state === 'transferring' || state === 'verifying' ? 'failed' : null;
    case 'rollback-ok':
      // A failed device is rolled back only when it turned out to run the candidate after all (a result
      // that arrived after its timeout).
      return state === 'active' || state === 'failed' ? 'rolled-back' : null;
    default:
      return event satisfies never;
  }
}

export function isInFlight(state: DeviceRolloutState): boolean {
  return state === 'transferring' || state === 'verifying';
}

export type RolloutState = 'running' | 'paused' | 'completed' | 'aborted' | 'rolled-back';
export const ROLLOUT_STATES: readonly RolloutState[] = ['running', 'paused', 'completed', 'aborted', 'rolled-back'];
