/** Runs `edgeloop gateway` as a real child process and waits for its ready line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

export interface GatewayProcess {
  child: ChildProcess;
  ready: { broker: string; http: string | null; db: string; pid: number };
  stderr: () => string;
}

export async function spawnGateway(args: string[], env: NodeJS.ProcessEnv = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [BIN, 'gateway', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const ready = await new Promise<GatewayProcess['ready']>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 20 s: ${err}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"gateway-ready"'));
      if (line) { clearTimeout(timer); resolve(JSON.parse(line)); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`gateway exited with ${code}: ${err}`)); });
  });
  return { child, ready, stderr: () => err };
}

export function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
