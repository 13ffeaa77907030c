/**
 * Runs the device agent as a real child process: `edgeloop device …` through bin/edgeloop.js once the
 * CLI routes it, otherwise this file itself as the entry point calling the same deviceCommand().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));
const MAIN = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

export interface DeviceProcess {
  child: ChildProcess;
  stderr: () => string;
}

export function cliRoutesDevice(): boolean {
  return /deviceCommand/.test(readFileSync(MAIN, 'utf8'));
}

/** Spawns the agent and resolves once it printed its device-ready line. */
export async function spawnDevice(args: string[]): Promise<DeviceProcess> {
  const argv = cliRoutesDevice() ? [BIN, 'device', ...args] : ['--import', 'tsx', SELF, ...args];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`device agent did not start in 20 s: ${err}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"device-ready"')) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`device agent exited with ${code}: ${err}`)); });
  });
  return { child, stderr: () => err };
}

if (process.argv[1] === SELF) {
  const { deviceCommand } = await import('../../cli/commands-device.ts');
  deviceCommand(process.argv.slice(2)).then(
    () => process.exit(0),
    (e: unknown) => { console.error(`edgeloop: ${e instanceof Error ? e.message : String(e)}`); process.exit(1); },
  );
}
