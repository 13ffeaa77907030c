/**
 * A gateway instance on PostgreSQL in its own process, for the fail-over test (it is SIGKILLed there).
 * argv: one JSON document { id, dbUrl, schema, brokerUrl, keyDir, fleet, retryMs, sharedGroup }.
 * Prints one JSON line `{"event":"ready","http":…,"leader":…,"pid":…}` once started.
 */
import { Gateway } from '../../gateway/gateway.ts';
import { PostgresStore } from '../../gateway/store-postgres.ts';
import { failoverGatewayOptions, type FailoverInstance } from './pg-gateway-options.ts';

const o = JSON.parse(process.argv[2]!) as FailoverInstance;
const store = await PostgresStore.create({ url: o.dbUrl, schema: o.schema, poolSize: 2 });
const gateway = new Gateway({ ...failoverGatewayOptions(o), store });
await gateway.start();
process.stdout.write(JSON.stringify({ event: 'ready', http: gateway.httpUrl, leader: gateway.isLeader, pid: process.pid }) + '\n');
process.on('SIGTERM', () => void gateway.stop().then(() => store.close()).then(() => process.exit(0)));
