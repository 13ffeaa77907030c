/**
 * One gateway ingest instance for bench/scale.ts, in its own process: durable subscriber in a shared
 * group → validate → commit to the store (PostgreSQL or SQLite) → PUBACK.
 * argv: <db url or path> <schema> <broker url> <fleet> <group> <id>.
 * Prints {"ready":true}, then {"committed":n,"t":ms} after every committed batch.
 */
import { DurableSubscriber } from '../gateway/mqtt-session.ts';
import { Ingestor } from '../gateway/ingest.ts';
import { openStore } from '../gateway/store-factory.ts';
import { gatewayFilters } from '../src/topics.ts';

const [db, schema, url, fleet, group, id] = process.argv.slice(2);
const store = await openStore(db!, { synchronous: 'full', postgres: { schema: schema!, poolSize: 2 } });
const ingestor = new Ingestor(store);
let committed = 0;
const sub = new DurableSubscriber({
  url: url!,
  clientId: `bench-scale-${id}`,
  protocolVersion: 5,
  filters: gatewayFilters(fleet!, group),
  onBatch: async (msgs) => {
    await ingestor.ingest(msgs.map((m) => ({ topic: m.topic, payload: m.payload, receivedAtMs: m.receivedAtMs, transport: 'mqtt', source: 'bench' })));
    committed += msgs.length;
    process.stdout.write(JSON.stringify({ committed, t: Date.now() }) + '\n');
  },
});
await sub.start();
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
process.on('SIGTERM', () => void sub.stop().then(() => store.close()).then(() => process.exit(0)));
