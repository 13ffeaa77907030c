/** The dashboard's change feed: events only for panels whose fingerprint changed; failures logged, not fatal. */
import test from 'ava';
import { ChangeFeed, type ChangeFeedTimers } from '../gateway/dashboard-live.ts';
import type { Logger } from '../src/log.ts';

function recorder() {
  const sent: [string, unknown][] = [];
  return { sent, dashboard: { broadcast: (event: string, data: unknown) => void sent.push([event, data]) } };
}

function manualTimers(): ChangeFeedTimers & { fire(): void; active: number } {
  const fns = new Map<number, () => void>();
  let id = 0;
  return {
    setInterval: (fn) => {
      fns.set(++id, fn);
      return id;
    },
    clearInterval: (h) => void fns.delete(h as number),
    fire: () => fns.forEach((fn) => fn()),
    get active() {
      return fns.size;
    },
  };
}

test('broadcasts a panel event only when its fingerprint changes, starting from the first one taken', async (t) => {
  const { sent, dashboard } = recorder();
  let drift = 1;
  let models = ['a', 1];
  const feed = new ChangeFeed({ dashboard, now: () => 42, timers: manualTimers(), probes: [{ event: 'drift', probe: () => drift }, { event: 'models', probe: async () => models }] });
  await feed.start();
  t.deepEqual(sent, [], 'the first round only takes fingerprints');
  t.deepEqual(await feed.tick(), []);
  drift = 2;
  t.deepEqual(await feed.tick(), ['drift']);
  models = ['a', 2];
  drift = 2;
  t.deepEqual(await feed.tick(), ['models']);
  t.deepEqual(sent, [['drift', { changedAtMs: 42 }], ['models', { changedAtMs: 42 }]]);
  await feed.stop();
});

test('a failing probe is logged and skipped; the others still report; stop clears the timer', async (t) => {
  const { sent, dashboard } = recorder();
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (m) => void warnings.push(typeof m === 'function' ? m() : m), error() {}, child: () => logger };
  const timers = manualTimers();
  let alerts = 0;
  let fail = false;
  const feed = new ChangeFeed({ dashboard, logger, timers, probes: [
    { event: 'broken', probe: () => { if (fail) throw new Error('database is locked'); return 1; } },
    { event: 'alerts', probe: () => alerts },
  ] });
  await feed.start();
  t.is(timers.active, 1);
  fail = true;
  alerts = 1;
  t.deepEqual(await feed.tick(), ['alerts']);
  t.deepEqual(warnings, ['dashboard probe broken failed: database is locked']);
  t.deepEqual(sent.map(([e]) => e), ['alerts']);
  await feed.stop();
  t.is(timers.active, 0);
});

test('rounds do not overlap: a tick during a slow round joins it', async (t) => {
  const { dashboard } = recorder();
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const feed = new ChangeFeed({ dashboard, timers: manualTimers(), probes: [{ event: 'slow', probe: async () => { calls++; await gate; return calls; } }] });
  const a = feed.tick();
  const b = feed.tick();
  t.is(a, b);
  release();
  await a;
  t.is(calls, 1);
});

test('no probing while no page is connected to the event stream', async (t) => {
  const sent: string[] = [];
  let clientCount = 0;
  let calls = 0;
  let value = 1;
  const dashboard = { broadcast: (e: string) => void sent.push(e), get clientCount() { return clientCount; } };
  const feed = new ChangeFeed({ dashboard, timers: manualTimers(), probes: [{ event: 'drift', probe: () => { calls++; return value; } }] });
  await feed.start();
  value = 2;
  t.deepEqual(await feed.tick(), []);
  t.is(calls, 0);
  clientCount = 1;
  await feed.tick();
  value = 3;
  t.deepEqual(await feed.tick(), ['drift']);
  t.is(calls, 2);
  t.deepEqual(sent, ['drift']);
});
