/** Loopback ports for the throwaway servers the tests start (mosquitto, PostgreSQL). */
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A port free on 127.0.0.1 right now (the OS picks it; a small race with other processes remains). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * Resolves once 127.0.0.1:`port` accepts a TCP connection; throws `<what> did not start: <stderr>`
 * when `child` exits first or `timeoutMs` passes.
 */
export async function waitForPort(port: number, child: ChildProcess, timeoutMs: number, what: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${what} did not start: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
