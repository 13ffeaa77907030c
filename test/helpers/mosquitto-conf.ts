/**
 * Starts mosquitto with a caller-given configuration (ACL, password file, persistence, TLS) on a
 * fixed or free loopback port, and can stop it with SIGTERM (persistence saved) or SIGKILL.
 * Null when mosquitto is not installed. The plain test broker is test/helpers/mosquitto.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findMosquitto } from './mosquitto.ts';
import { tempDir } from './tmp.ts';
import { freePort, waitForPort } from './ports.ts';

export { freePort };

export interface ConfiguredMosquitto {
  port: number;
  url: string;
  child: ChildProcess;
  stderr: () => string;
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

export async function startConfiguredMosquitto(lines: string[], port?: number, dir = tempDir('edgeloop-mosq-')): Promise<ConfiguredMosquitto | null> {
  const bin = findMosquitto();
  if (!bin) return null;
  const p = port ?? (await freePort());
  const conf = join(dir, 'mosquitto.conf');
  // Started as root, mosquitto switches to user 'mosquitto', which cannot read our 0600 files in 0700 temp dirs.
  const asRoot = process.getuid?.() === 0 ? ['user root'] : [];
  writeFileSync(conf, [`listener ${p} 127.0.0.1`, ...asRoot, ...lines, ''].join('\n'));
  const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  await waitForPort(p, child, 10_000, 'mosquitto', () => err);
  return {
    port: p,
    url: `mqtt://127.0.0.1:${p}`,
    child,
    stderr: () => err,
    stop: (signal = 'SIGTERM') => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    }),
  };
}
