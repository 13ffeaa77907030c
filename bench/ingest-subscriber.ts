/**
 * The subscriber side of bench/ingest.ts, run as its own process: either the real gateway ingest
 * (validate + SQLite commit + ack) or a subscriber that acks and discards (the ceiling).
 * Prints one JSON line when `expect` messages have been committed.
 */
import { join } from 'node:path';
import { DurableSubscriber } from '../gateway/mqtt-session.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { Ingestor } from '../gateway/ingest.ts';
import { gatewayFilters } from '../src/topics.ts';

const [mode, url, expectText, dir] = process.argv.slice(2);
const expect = Number(expectText);
const store = mode === 'durable' ? await SqliteStore.create({ path: join(dir!, 'bench.db'), synchronous: 'full' }) : null;
const ingestor = store ? new Ingestor(store) : null;
let committed = 0;
let first = 0;
const sub = new DurableSubscriber({
  url: url!,
  clientId: `bench-${mode}`,
  filters: gatewayFilters('bench'),
  onBatch: async (msgs) => {
    if (first === 0) first = Date.now();
    if (ingestor) await ingestor.ingest(msgs.map((m) => ({ topic: m.topic, payload: m.payload, receivedAtMs: m.receivedAtMs, transport: 'mqtt', source: 'bench' })));
    committed += msgs.length;
    if (committed >= expect) {
      const stored = store ? await store.countReadings({ fleet: 'bench' }) : null;
      process.stdout.write(JSON.stringify({ committed, first, last: Date.now(), stored }) + '\n');
    }
  },
});
await sub.start();
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
process.on('SIGTERM', () => void sub.stop().then(() => store?.close()).then(() => process.exit(0)));
