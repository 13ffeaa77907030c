import test from 'ava';
import {
  parseTarget, formatTarget, matchesTarget, parseStrategy, parseAmount, parseDurationMs, parseRate, parseMode, formatMode,
  resolveAmount, orderDevices, selectAbDevices, planWaves, evaluateAbort, nextWave, deviceTransition, DEVICE_ROLLOUT_STATES,
  type DeviceRolloutEvent,
} from '../src/rollout-plan.ts';
import { isEdgeloopError } from '../src/errors.ts';

function badArg(t: import('ava').ExecutionContext, fn: () => unknown, ...fragments: string[]): void {
  const err = t.throws(fn);
  t.true(isEdgeloopError(err, 'BAD_ARGUMENT'), String(err));
  for (const f of fragments) t.true(err!.message.includes(f), `${err!.message} should include ${f}`);
}

test('targets: all, tag, device list round-trip and match', (t) => {
  t.deepEqual(parseTarget('all'), { kind: 'all' });
  t.deepEqual(parseTarget('tag:pi4'), { kind: 'tag', tag: 'pi4' });
  t.deepEqual(parseTarget('device:a,b-2'), { kind: 'devices', devices: ['a', 'b-2'] });
  for (const s of ['all', 'tag:pi4', 'device:a,b-2']) t.is(formatTarget(parseTarget(s)), s);
  const dev = { device: 'a', tags: ['pi4', 'lab'] };
  t.true(matchesTarget(parseTarget('tag:lab'), dev));
  t.false(matchesTarget(parseTarget('tag:pi5'), dev));
  t.true(matchesTarget(parseTarget('device:x,a'), dev));
  t.false(matchesTarget(parseTarget('device:x'), dev));
});

test('targets: bad forms name the target and the allowed forms', (t) => {
  badArg(t, () => parseTarget('pi4'), '"pi4"', "'all', 'tag:<tag>' or 'device:<id>[,<id>…]'");
  badArg(t, () => parseTarget('group:x'), '"group:x"', "'tag:<tag>'");
  badArg(t, () => parseTarget('tag:'), '"tag:"', 'tag ""');
  badArg(t, () => parseTarget('tag:a/b'), 'tag "a/b"');
  badArg(t, () => parseTarget('device:a,,b'), 'device ""');
  badArg(t, () => parseTarget('device:a,a'), 'names device "a" twice');
  badArg(t, () => parseTarget('ALL'), '"ALL"');
  badArg(t, () => parseTarget(42), 'target must be a string', 'got number');
});

test('strategy, amount, duration, rate, mode parsing and their errors', (t) => {
  t.is(parseStrategy('waves'), 'waves');
  badArg(t, () => parseStrategy('blue-green'), '"blue-green"', 'all-at-once, canary, waves');
  t.deepEqual(parseAmount('10%', '--canary'), { kind: 'percent', percent: 10 });
  t.deepEqual(parseAmount('3', '--wave-size'), { kind: 'count', count: 3 });
  t.deepEqual(parseAmount(5, '--wave-size'), { kind: 'count', count: 5 });
  t.deepEqual(parseAmount('0', '--canary', 0), { kind: 'count', count: 0 });
  badArg(t, () => parseAmount('0', '--wave-size'), '--wave-size "0"', 'device count in 1..1000000');
  badArg(t, () => parseAmount('150%', '--canary'), '--canary "150%"', '(0%, 100%]');
  badArg(t, () => parseAmount('-1', '--canary'), '"-1"');
  badArg(t, () => parseAmount('ten', '--canary'), '"ten"');
  t.is(parseDurationMs('30s', '--wave-interval'), 30_000);
  t.is(parseDurationMs('5m', '--timeout'), 300_000);
  t.is(parseDurationMs('250ms', '--timeout'), 250);
  t.is(parseDurationMs('1.5h', '--timeout'), 5_400_000);
  badArg(t, () => parseDurationMs('30', '--timeout'), '--timeout "30"', 'like 500ms, 30s, 5m or 1h');
  badArg(t, () => parseDurationMs('9999h', '--timeout'), 'at most 168 h');
  t.is(parseRate('20%', '--abort-failure-rate'), 0.2);
  t.is(parseRate('0.35', '--abort-failure-rate'), 0.35);
  t.is(parseRate(1, '--abort-failure-rate'), 1);
  badArg(t, () => parseRate('120%', '--abort-failure-rate'), '--abort-failure-rate "120%"', '0%..100%');
  badArg(t, () => parseRate('2', '--abort-failure-rate'), '"2"');
  t.deepEqual(parseMode('active'), { kind: 'active' });
  t.deepEqual(parseMode('shadow'), { kind: 'shadow' });
  t.deepEqual(parseMode('ab:0.2'), { kind: 'ab', fraction: 0.2 });
  t.deepEqual(parseMode('ab:25%'), { kind: 'ab', fraction: 0.25 });
  t.is(formatMode({ kind: 'ab', fraction: 0.2 }), 'ab:0.2');
  for (const bad of ['ab:0', 'ab:1', 'ab:x', 'ab', 'live']) badArg(t, () => parseMode(bad), `mode ${JSON.stringify(bad)}`, "'ab:<fraction>'");
});

test('amounts: percentages round up, at least one device, at most all', (t) => {
  t.is(resolveAmount({ kind: 'percent', percent: 10 }, 200), 20);
  t.is(resolveAmount({ kind: 'percent', percent: 10 }, 5), 1);
  t.is(resolveAmount({ kind: 'percent', percent: 10 }, 11), 2);
  t.is(resolveAmount({ kind: 'percent', percent: 30 }, 10), 3);
  t.is(resolveAmount({ kind: 'count', count: 50 }, 7), 7);
  t.is(resolveAmount({ kind: 'count', count: 0 }, 7), 0);
  t.is(resolveAmount({ kind: 'count', count: 3 }, 0), 0);
});

test('waves: all-at-once, canary and waves cover every device exactly once in order', (t) => {
  const ids = Array.from({ length: 23 }, (_, i) => `d${i}`);
  const ordered = orderDevices(ids, 7);
  t.deepEqual([...ordered].sort(), [...ids].sort());
  t.deepEqual(orderDevices(ids, 7), ordered, 'same seed, same order');
  t.notDeepEqual(orderDevices(ids, 8), ordered, 'another seed, another order');
  t.deepEqual(planWaves(ordered, { strategy: 'all-at-once', canary: { kind: 'percent', percent: 10 }, waveSize: { kind: 'count', count: 5 } }), [ordered]);
  const canary = planWaves(ordered, { strategy: 'canary', canary: { kind: 'percent', percent: 10 }, waveSize: { kind: 'count', count: 5 } });
  t.deepEqual(canary.map((w) => w.length), [3, 20]);
  const waves = planWaves(ordered, { strategy: 'waves', canary: { kind: 'percent', percent: 10 }, waveSize: { kind: 'count', count: 5 } });
  t.deepEqual(waves.map((w) => w.length), [3, 5, 5, 5, 5]);
  t.deepEqual(waves.flat(), ordered);
  const pct = planWaves(ordered, { strategy: 'waves', canary: { kind: 'count', count: 0 }, waveSize: { kind: 'percent', percent: 25 } });
  t.deepEqual(pct.map((w) => w.length), [6, 6, 6, 5]);
  t.deepEqual(planWaves(['only'], { strategy: 'canary', canary: { kind: 'percent', percent: 10 }, waveSize: { kind: 'count', count: 1 } }), [['only']]);
  t.deepEqual(planWaves([], { strategy: 'waves', canary: { kind: 'percent', percent: 10 }, waveSize: { kind: 'count', count: 1 } }), []);
});

test('A/B arm: round(fraction × n), at least one', (t) => {
  const ids = Array.from({ length: 10 }, (_, i) => `d${i}`);
  t.deepEqual(selectAbDevices(ids, 0.2), ['d0', 'd1']);
  t.is(selectAbDevices(ids.slice(0, 3), 0.1).length, 1);
  t.is(selectAbDevices([], 0.5).length, 0);
});

test('abort: failure rate over finished devices, strictly above the threshold', (t) => {
  const rule = { abortFailureRate: 0.2, minFinished: 1 };
  t.deepEqual(evaluateAbort({ succeeded: 0, failed: 0 }, rule), { abort: false, failureRate: 0 });
  t.false(evaluateAbort({ succeeded: 4, failed: 1 }, rule).abort, '20% is not above 20%');
  const v = evaluateAbort({ succeeded: 3, failed: 1 }, rule);
  t.true(v.abort);
  t.is(v.failureRate, 0.25);
  t.is(v.abort && v.reason, 'failure rate 25% (1 of 4 devices attempted) is above the abort threshold 20%');
  t.false(evaluateAbort({ succeeded: 0, failed: 1 }, { abortFailureRate: 0.2, minFinished: 2 }).abort, 'too few finished to judge');
  t.true(evaluateAbort({ succeeded: 99, failed: 1 }, { abortFailureRate: 0, minFinished: 1 }).abort, 'threshold 0: any failure aborts');
  t.false(evaluateAbort({ succeeded: 0, failed: 9 }, { abortFailureRate: 1, minFinished: 1 }).abort, 'threshold 100%: never');
});

test('next wave: settles, soaks, then starts; completes after the last', (t) => {
  t.deepEqual(nextWave({ current: -1, waves: 3, settledAtMs: null, nowMs: 0 }, 1000), { kind: 'start', wave: 0 });
  t.deepEqual(nextWave({ current: -1, waves: 0, settledAtMs: null, nowMs: 0 }, 1000), { kind: 'complete' });
  t.deepEqual(nextWave({ current: 0, waves: 3, settledAtMs: null, nowMs: 5000 }, 1000), { kind: 'wait', untilMs: null });
  t.deepEqual(nextWave({ current: 0, waves: 3, settledAtMs: 5000, nowMs: 5999 }, 1000), { kind: 'wait', untilMs: 6000 });
  t.deepEqual(nextWave({ current: 0, waves: 3, settledAtMs: 5000, nowMs: 6000 }, 1000), { kind: 'start', wave: 1 });
  t.deepEqual(nextWave({ current: 2, waves: 3, settledAtMs: 9000, nowMs: 9000 }, 1000), { kind: 'complete' });
});

test('device state machine: legal paths and ignored late events', (t) => {
  t.is(deviceTransition('pending', 'dispatch'), 'transferring');
  t.is(deviceTransition('transferring', 'transfer-complete'), 'verifying');
  t.is(deviceTransition('verifying', 'install-ok'), 'active');
  t.is(deviceTransition('transferring', 'install-ok'), 'active');
  t.is(deviceTransition('verifying', 'install-failed'), 'failed');
  t.is(deviceTransition('transferring', 'timeout'), 'failed');
  t.is(deviceTransition('active', 'rollback-ok'), 'rolled-back');
  // Terminal states ignore everything except a confirmed rollback.
  const events: DeviceRolloutEvent[] = ['dispatch', 'transfer-complete', 'install-ok', 'install-failed', 'timeout', 'rollback-ok'];
  for (const e of events) {
    if (e !== 'rollback-ok') t.is(deviceTransition('failed', e), null, `failed + ${e}`);
    t.is(deviceTransition('rolled-back', e), null, `rolled-back + ${e}`);
  }
  t.is(deviceTransition('failed', 'rollback-ok'), 'rolled-back', 'a timed-out device that installed late is rolled back');
  t.is(deviceTransition('active', 'install-failed'), null, 'a late failure does not undo active');
  t.is(deviceTransition('pending', 'install-ok'), null, 'a result for an install never sent is ignored');
  t.is(DEVICE_ROLLOUT_STATES.length, 6);
});
