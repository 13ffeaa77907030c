/**
 * Starts a throwaway PostgreSQL cluster on a free loopback port: `initdb` into a temp dir (as the
 * `postgres` OS user when running as root, because PostgreSQL refuses to run as root), `pg_ctl start`
 * with the socket in that dir, trust auth on 127.0.0.1 only. Stopped (immediate) and removed when the
 * process exits, or earlier with `stop()`.
 *
 * Returns null when PostgreSQL is not installed; throws when `process.env.CI` is set and it is missing
 * (CI must run these tests: .ci/run installs the Debian `postgresql` package).
 */
import { execFileSync, execFile } from 'node:child_process';
import { chownSync, existsSync, readdirSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

const execFileAsync = promisify(execFile);

/** The bin dir of the newest installed PostgreSQL ($PG_BIN wins), or null. */
export function findPostgresBin(): string | null {
  const candidates: string[] = [];
  if (process.env.PG_BIN) candidates.push(process.env.PG_BIN);
  for (const root of ['/usr/lib/postgresql', '/usr/local/lib/postgresql']) {
    if (!existsSync(root)) continue;
    const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(root, v, 'bin')));
  }
  candidates.push('/usr/local/pgsql/bin');
  return candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) ?? null;
}

export interface Postgres {
  port: number;
  /** URL of the `postgres` maintenance database. */
  url: string;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Runs SQL through psql against `database` and returns its unaligned output. */
  psql(database: string, sql: string): Promise<string>;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /**
   * fsync on (a commit is on disk when it returns, as in production). Tests leave it off: they check
   * commit ordering, not power loss, and the machine is shared; benchmarks turn it on.
   */
  durable?: boolean;
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<Postgres | null> {
  const bin = findPostgresBin();
  if (!bin) {
    if (process.env.CI) throw new Error('PostgreSQL is not installed but CI must run this test (.ci/run installs the postgresql package)');
    return null;
  }
  const isRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-pg-'));
  const data = join(dir, 'data');
  const asOwner = (cmd: string, args: string[]): [string, string[]] => (isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  let started = false;
  const stopSync = () => {
    if (started) {
      started = false;
      try {
        const [cmd, args] = asOwner(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
        execFileSync(cmd, args, { stdio: 'ignore' });
      } catch {
        // Already gone.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopSync);
  try {
    const [initCmd, initArgs] = asOwner(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    await execFileAsync(initCmd, initArgs);
    const settings = [
      `-k ${dir}`, `-p ${port}`, '-c listen_addresses=127.0.0.1', '-c max_connections=100', '-c shared_buffers=64MB',
      ...(options.durable ? [] : ['-c fsync=off', '-c full_page_writes=off']),
    ].join(' ');
    const [ctlCmd, ctlArgs] = asOwner(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', settings, 'start']);
    started = true;
    await execFileAsync(ctlCmd, ctlArgs);
  } catch (err) {
    stopSync();
    process.off('exit', stopSync);
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}`);
  }
  const urlOf = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const psql = async (database: string, sql: string): Promise<string> => {
    const { stdout } = await execFileAsync(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql]);
    return stdout.trim();
  };
  return {
    port,
    url: urlOf('postgres'),
    async createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`database name ${JSON.stringify(name)} must match [a-z_][a-z0-9_]*`);
      await psql('postgres', `CREATE DATABASE ${name}`);
      return urlOf(name);
    },
    psql,
    async stop() {
      stopSync();
      process.off('exit', stopSync);
    },
  };
}
