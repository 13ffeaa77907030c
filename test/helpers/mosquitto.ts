/**
 * Starts a real mosquitto broker on a free loopback port with a config that never drops QoS 1
 * messages for slow or offline persistent subscribers (max_queued_messages 0 = unlimited).
 * Returns null when mosquitto is not installed (CI installs it; .ci/run fails if it is missing there).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { tempDir } from './tmp.ts';

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

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
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
  const deadline = Date.now() + 5000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`mosquitto did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
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
