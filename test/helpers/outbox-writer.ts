/**
 * Child process for the SIGKILL test: enqueues messages in a loop and prints "<id> <seq>" for each
 * one enqueue() returned for (i.e. committed). Usage:
 *   node --import tsx test/helpers/outbox-writer.ts <db path> <first seq> [max messages]
 */
import { Outbox } from '../../device/outbox.ts';

const [path, firstArg, maxArg] = process.argv.slice(2);
if (!path || firstArg === undefined) {
  process.stderr.write('usage: outbox-writer.ts <db path> <first seq> [max messages]\n');
  process.exit(2);
}
const outbox = await Outbox.create({ path, maxMessages: 1_000_000, maxBytes: 1 << 30, evict: 'reject-new' });
const limit = Number(maxArg ?? Infinity);
process.stdout.write('ready\n');
for (let seq = Number(firstArg); seq < Number(firstArg) + limit; seq++) {
  const r = outbox.enqueue('edgeloop/fleet/dev/predictions', JSON.stringify({ seq, pad: 'x'.repeat(seq % 200) }), { qos: 1 });
  if (r.status !== 'queued') throw new Error(`unexpected rejection at seq ${seq}`);
  process.stdout.write(`${r.id} ${seq}\n`);
  // Yield now and then so stdout drains while the loop runs.
  if (seq % 8 === 0) await new Promise((res) => setImmediate(res));
}
outbox.close();
