/**
 * Starts a real mosquitto broker on a free loopback port with a config that never drops QoS 1
 * messages for slow or offline persistent subscribers (max_queued_messages 0 = unlimited).
 * Returns null when mosquitto is not installed (CI installs it; .ci/run fails if it is missing there).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.ts';
import { freePort, waitForPort } from './ports.ts';

export function findMosquitto(): string | null {
  for (const p of ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto']) {
    try {
      execFileSync(p, ['-h'], { stdio: 'ignore' });
    } catch (err) {
      // `mosquitto -h` exits 3 after printing help; only a missing binary is ENOENT.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
    }
    return p;
  }
  return null;
}

export interface Mosquitto {
  url: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startMosquitto(): Promise<Mosquitto | null> {
  const bin = findMosquitto();
  if (!bin) return null;
  const port = await freePort();
  const dir = tempDir('edgeloop-mosquitto-');
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'max_queued_messages 0',
    'max_inflight_messages 0',
    'max_packet_size 1048576',
    '',
  ].join('\n'));
  const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  await waitForPort(port, child, 5000, 'mosquitto', () => err);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    child,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
