/**
 * The model registry a CLI command works on: the SQLite file of `--db`, or — a postgres:// URL — the
 * registry scaled-out gateways share in PostgreSQL (docs/scaling.md). Registering there signs with the
 * key in `keyDir`, which must be the gateways' key (gateway.keyDir / EDGELOOP_GATEWAY_KEY_DIR).
 */
import type { Logger } from '../src/log.ts';
import { Registry } from '../gateway/registry.ts';
import { postgresSql } from '../gateway/sql.ts';
import { isPostgresUrl } from '../gateway/store-factory.ts';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';

export async function openRegistry(dbUrlOrPath: string, options: { keyDir: string; synchronous?: 'full' | 'normal'; logger?: Logger }): Promise<{ registry: Registry; close(): Promise<void> }> {
  if (isPostgresUrl(dbUrlOrPath)) {
    const store = await PostgresStore.create({ url: dbUrlOrPath, poolSize: 2, logger: options.logger });
    try {
      return { registry: await Registry.create({ sql: postgresSql(store.pool), keyDir: options.keyDir, logger: options.logger }), close: () => store.close() };
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  const store = await SqliteStore.create({ path: dbUrlOrPath, synchronous: options.synchronous });
  try {
    return { registry: await Registry.create({ database: store.database, keyDir: options.keyDir, logger: options.logger }), close: () => store.close() };
  } catch (err) {
    await store.close();
    throw err;
  }
}
