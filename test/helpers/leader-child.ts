/**
 * A leader-election candidate in its own process, for the fail-over test (it is SIGKILLed there).
 * argv: <postgres url> <key> <retryMs>. Prints one JSON line per event: ready, elected, demoted.
 */
import { LeaderElector } from '../../gateway/leader.ts';

const [url, key, retryMs] = process.argv.slice(2);
const say = (doc: object) => process.stdout.write(JSON.stringify(doc) + '\n');
const elector = await LeaderElector.create({
  url: url!,
  key: key!,
  retryMs: Number(retryMs),
  onElected: () => { say({ event: 'elected', pid: process.pid }); },
  onDemoted: (reason) => { say({ event: 'demoted', reason }); },
});
await elector.start();
say({ event: 'ready', leader: elector.isLeader });
process.on('SIGTERM', () => void elector.stop().then(() => process.exit(0)));
