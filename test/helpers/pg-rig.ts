/**
 * The real services of a scale-out test file, started once before its tests and stopped after them:
 * one PostgreSQL cluster (with a database when `database` is given) and, with `mosquitto`, one broker.
 * Call at the top level of a *.test.ts file; read the fields from inside the tests.
 */
import test from 'ava';
import { startMosquitto, type Mosquitto } from './mosquitto.ts';
import { findPostgresBin, startPostgres, type Postgres } from './postgres.ts';

export interface PgRig {
  /** PostgreSQL is installed or this is CI (where a missing one fails the file instead of skipping it). */
  readonly available: boolean;
  readonly server: Postgres | null;
  /** The `database`'s URL ('' without one or without PostgreSQL). */
  readonly dbUrl: string;
  readonly broker: Mosquitto | null;
}

export function pgRig(options: { database?: string; mosquitto?: boolean } = {}): PgRig {
  const rig = { available: findPostgresBin() !== null || Boolean(process.env.CI), server: null as Postgres | null, dbUrl: '', broker: null as Mosquitto | null };
  test.before(async () => {
    if (options.mosquitto) {
      rig.broker = await startMosquitto();
      if (!rig.broker && process.env.CI) throw new Error('mosquitto is not installed but CI must run this test (.ci/run installs it)');
    }
    rig.server = await startPostgres();
    if (rig.server && options.database) rig.dbUrl = await rig.server.createDatabase(options.database);
  });
  test.after.always(async () => {
    await rig.broker?.stop();
    await rig.server?.stop();
  });
  return rig;
}
