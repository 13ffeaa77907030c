import test from 'ava';
import { join } from 'node:path';
import { tempDir } from './helpers/tmp.ts';
import { Outbox, topicMatches, type OutboxOptions, type Qos } from '../device/outbox.ts';
import { EdgeloopError, type ErrorCode } from '../src/errors.ts';

const dir = tempDir('edgeloop-outbox-');
let n = 0;
const fresh = (over: Partial<OutboxOptions> = {}): Promise<Outbox> =>
  Outbox.create({ path: join(dir, `q${n++}.db`), maxMessages: 1000, maxBytes: 1_000_000, evict: 'drop-oldest', ...over });
const text = (p: Uint8Array): string => Buffer.from(p).toString('utf8');

async function rejectsWith(t: import('ava').ExecutionContext, fn: () => unknown, code: ErrorCode, message: RegExp): Promise<void> {
  const err = await t.throwsAsync(async () => fn(), { instanceOf: EdgeloopError });
  t.is(err.code, code);
  t.regex(err.message, message);
}

test('peek returns the oldest messages in enqueue order; ack removes them and counts delivered', async (t) => {
  const q = await fresh({ now: () => 42 });
  for (let i = 0; i < 10; i++) q.enqueue(`dev/t${i % 3}`, `m${i}`, { qos: (i % 2) as Qos });
  q.enqueue('dev/bin', new Uint8Array([0, 255, 7]));
  const first = q.peek(4);
  t.deepEqual(first.map((m) => text(m.payload)), ['m0', 'm1', 'm2', 'm3']);
  t.deepEqual(first.map((m) => m.qos), [0, 1, 0, 1]);
  t.is(first[0]!.enqueuedMs, 42);
  t.true(first.every((m, i) => i === 0 || m.id > first[i - 1]!.id));
  t.is(q.ack(first.slice(0, 3).map((m) => m.id)), 3);
  t.is(q.ack([first[0]!.id]), 0, 'acking twice is harmless');
  t.deepEqual(q.peek(2).map((m) => text(m.payload)), ['m3', 'm4']);
  t.deepEqual([...q.peek(100).at(-1)!.payload], [0, 255, 7]);
  t.deepEqual(q.peek(2, { afterId: first[3]!.id }).map((m) => text(m.payload)), ['m4', 'm5']);
  const c = q.counters;
  t.is(c.queued, 8);
  t.is(c.delivered, 3);
  // bytes = payload + topic bytes of what is left: m3..m9 (2 + 6 each) and the binary one (3 + 7).
  t.is(c.bytes, 7 * 8 + 10);
  q.close();
});

test('drop-oldest evicts the oldest normal messages and counts them; priority topics go last', async (t) => {
  const q = await fresh({ maxMessages: 5, priorityTopics: ['dev/+/drift', 'alarm/#'] });
  q.enqueue('dev/a/drift', 'p0');
  for (let i = 0; i < 4; i++) q.enqueue('dev/a/pred', `n${i}`);
  const r = q.enqueue('dev/a/pred', 'n4');
  t.is(r.status, 'queued');
  t.true(r.status === 'queued' && r.evicted === 1);
  t.deepEqual(q.peek(10).map((m) => text(m.payload)), ['p0', 'n1', 'n2', 'n3', 'n4']);
  t.true(q.peek(1)[0]!.priority);
  for (let i = 0; i < 4; i++) q.enqueue('alarm/x/y', `p${i + 1}`);
  // The four normal messages made room for four priority ones.
  t.deepEqual(q.peek(10).map((m) => text(m.payload)), ['p0', 'p1', 'p2', 'p3', 'p4']);
  // Only priority left: a normal message is rejected rather than evicting priority…
  t.deepEqual(q.enqueue('dev/a/pred', 'n5'), { status: 'rejected', reason: 'full' });
  // …and a priority one evicts the oldest priority message.
  q.enqueue('alarm/z', 'p5');
  t.deepEqual(q.peek(10).map((m) => text(m.payload)), ['p1', 'p2', 'p3', 'p4', 'p5']);
  t.like(q.counters, { queued: 5, evicted: 6, rejected: 1, delivered: 0 });
  q.close();
});

test('maxBytes bounds the total size; a message larger than maxBytes alone is PAYLOAD_TOO_LARGE', async (t) => {
  const q = await fresh({ maxBytes: 100 });
  for (let i = 0; i < 5; i++) q.enqueue('t', 'x'.repeat(29)); // 30 bytes each with the topic
  t.is(q.counters.queued, 3);
  t.is(q.counters.bytes, 90);
  t.is(q.counters.evicted, 2);
  await rejectsWith(t, () => q.enqueue('t', 'x'.repeat(100)), 'PAYLOAD_TOO_LARGE', /message on 't' is 101 bytes, more than the outbox maxBytes 100/);
  t.is(q.counters.rejected, 1);
  t.is(q.counters.queued, 3, 'a refused message evicts nothing');
  q.close();
});

test('reject-new keeps the old messages; a priority message may still evict normal ones', async (t) => {
  const q = await fresh({ maxMessages: 3, evict: 'reject-new', priorityTopics: ['drift'] });
  for (let i = 0; i < 3; i++) t.is(q.enqueue('pred', `n${i}`).status, 'queued');
  t.deepEqual(q.enqueue('pred', 'n3'), { status: 'rejected', reason: 'full' });
  t.is(q.enqueue('drift', 'd0').status, 'queued');
  t.deepEqual(q.peek(5).map((m) => text(m.payload)), ['n1', 'n2', 'd0']);
  q.enqueue('drift', 'd1');
  q.enqueue('drift', 'd2');
  t.deepEqual(q.enqueue('drift', 'd3'), { status: 'rejected', reason: 'full' }, 'reject-new never evicts priority messages');
  t.like(q.counters, { queued: 3, evicted: 3, rejected: 2 });
  q.close();
});

test('reopening after close keeps messages, order, ids and lifetime counters', async (t) => {
  const path = join(dir, 'reopen.db');
  const a = await Outbox.create({ path, maxMessages: 3, maxBytes: 10_000, evict: 'drop-oldest' });
  for (let i = 0; i < 5; i++) a.enqueue('t', `m${i}`);
  a.ack([a.peek(1)[0]!.id]);
  const before = a.peek(10);
  const counters = a.counters;
  a.close();
  const b = await Outbox.create({ path, maxMessages: 3, maxBytes: 10_000, evict: 'drop-oldest' });
  t.deepEqual(b.peek(10), before);
  t.deepEqual(b.counters, counters);
  t.like(counters, { queued: 2, evicted: 2, delivered: 1 });
  // Ids keep growing after a restart, even though the newest rows were deleted (AUTOINCREMENT).
  b.ack(before.map((m) => m.id));
  const r = b.enqueue('t', 'after');
  t.true(r.status === 'queued' && r.id > before.at(-1)!.id);
  b.close();
  await rejectsWith(t, () => b.enqueue('t', 'x'), 'STORE', /outbox is closed/);
});

test('flush sends in order with bounded in-flight, acks after resolve, stops at the first failure', async (t) => {
  const q = await fresh();
  for (let i = 0; i < 50; i++) q.enqueue('t', `${i}`);
  const sent: number[] = [];
  let inFlight = 0;
  let maxSeen = 0;
  const r1 = await q.flush(async (_topic, payload) => {
    const i = Number(text(payload));
    sent.push(i);
    inFlight++;
    maxSeen = Math.max(maxSeen, inFlight);
    await new Promise((res) => setTimeout(res, (i * 7) % 5)); // resolve out of order
    inFlight--;
    if (i === 30) throw new Error('connection lost');
  }, { maxInFlight: 4 });
  t.is(maxSeen, 4);
  t.deepEqual(sent.slice(0, 31), Array.from({ length: 31 }, (_, i) => i));
  t.true(sent.length <= 34, 'nothing is dispatched after the failure was seen beyond the window');
  t.is(r1.delivered, 30);
  t.is(r1.error?.message, 'connection lost');
  t.is(text(q.peek(1)[0]!.payload), '30', 'the failed message is first in line');
  const again: number[] = [];
  const r2 = await q.flush(async (_t, p) => { again.push(Number(text(p))); });
  t.deepEqual(again, Array.from({ length: 20 }, (_, i) => 30 + i));
  t.deepEqual(r2, { delivered: 20, remaining: 0 });
  t.is(q.counters.delivered, 50);
  q.close();
});

test('flush: timeouts and synchronous throws count as failures; one flush at a time', async (t) => {
  const q = await fresh();
  q.enqueue('t', 'a');
  q.enqueue('t', 'b');
  const r = await q.flush(() => new Promise<void>(() => {}), { publishTimeoutMs: 50 });
  t.is(r.delivered, 0);
  t.true(r.error instanceof EdgeloopError && r.error.code === 'TIMEOUT');
  t.regex(r.error!.message, /publish of outbox message \d+ on 't' not acknowledged within 50 ms/);
  const r2 = await q.flush(() => { throw new Error('offline'); });
  t.is(r2.error?.message, 'offline');
  t.is(q.counters.queued, 2);
  let release!: () => void;
  const slow = q.flush(() => new Promise<void>((res) => { release = res; }), { maxInFlight: 1 });
  await rejectsWith(t, () => q.flush(async () => {}), 'BAD_ARGUMENT', /flush\(\) is already running/);
  await new Promise((res) => setTimeout(res, 5));
  release();
  await new Promise((res) => setTimeout(res, 5));
  release();
  t.deepEqual(await slow, { delivered: 2, remaining: 0 });
  q.close();
});

test('bad options and calls are refused with codes and messages', async (t) => {
  const err = await t.throwsAsync(Outbox.create({ path: '', maxMessages: 0, maxBytes: 1.5, evict: 'lifo' as never, priorityTopics: ['a/#/b', 'x+'] }), { instanceOf: EdgeloopError });
  t.is(err.code, 'BAD_CONFIG');
  for (const re of [/path must be a non-empty string, got ""/, /maxMessages must be an integer ≥ 1, got 0/, /maxBytes must be an integer ≥ 1, got 1.5/,
    /evict must be 'drop-oldest' or 'reject-new', got "lifo"/, /priorityTopics entry "a\/#\/b" is not a valid MQTT topic filter/, /"x\+" is not a valid/]) {
    t.regex(err.message, re);
  }
  const q = await fresh();
  await rejectsWith(t, () => q.enqueue('a/+/b', 'x'), 'BAD_ARGUMENT', /topic must be a non-empty MQTT topic without \+, # or NUL, got "a\/\+\/b"/);
  await rejectsWith(t, () => q.enqueue('', 'x'), 'BAD_ARGUMENT', /topic must be a non-empty MQTT topic/);
  await rejectsWith(t, () => q.enqueue('t', 'x', { qos: 3 as Qos }), 'BAD_ARGUMENT', /qos must be 0, 1 or 2, got 3/);
  await rejectsWith(t, () => q.enqueue('t', 5 as unknown as string), 'BAD_ARGUMENT', /payload must be a Uint8Array or a string, got number/);
  await rejectsWith(t, () => q.peek(0), 'BAD_ARGUMENT', /n must be an integer ≥ 1, got 0/);
  await rejectsWith(t, () => q.ack([1, -2]), 'BAD_ARGUMENT', /ids\[1\] must be an integer ≥ 1, got -2/);
  await rejectsWith(t, () => q.flush(async () => {}, { maxInFlight: 0 }), 'BAD_ARGUMENT', /maxInFlight must be an integer in \[1, 65535\], got 0/);
  await rejectsWith(t, () => q.flush(async () => {}, { publishTimeoutMs: 0 }), 'BAD_ARGUMENT', /publishTimeoutMs must be > 0, got 0/);
  q.close();
});

test('topicMatches follows MQTT filter rules', (t) => {
  t.true(topicMatches('a/+/c', 'a/b/c'));
  t.false(topicMatches('a/+/c', 'a/b/c/d'));
  t.true(topicMatches('a/#', 'a'));
  t.true(topicMatches('a/#', 'a/b/c'));
  t.false(topicMatches('a/b', 'a/b/c'));
  t.true(topicMatches('#', 'x/y'));
});
