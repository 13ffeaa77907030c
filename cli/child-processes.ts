/**
 * Child `edgeloop` processes (device agents in the demo): spawned with the same Node and CLI entry,
 * their JSON event lines parsed from stdout, their stderr kept (bounded) for error messages, and all of
 * them stopped together — SIGTERM first, SIGKILL after a grace period — including when the parent
 * exits on an error or a signal, so no orphan keeps a broker connection or a state file open.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EdgeloopError } from '../src/errors.ts';

const BIN = fileURLToPath(new URL('../bin/edgeloop.js', import.meta.url));
const STDERR_KEEP_CHARS = 16_384;

export interface ChildEvent {
  event: string;
  [key: string]: unknown;
}

export interface ManagedChild {
  readonly name: string;
  readonly child: ChildProcess;
  /** Events printed so far (JSON lines with an `event` field). */
  readonly events: ChildEvent[];
  /** The last STDERR_KEEP_CHARS characters of stderr. */
  stderr(): string;
  /** Resolves with the first event named `event` (past or future) matching `where`. */
  waitFor(event: string, timeoutMs: number, where?: (e: ChildEvent) => boolean): Promise<ChildEvent>;
  readonly exited: boolean;
}

export interface ChildGroupOptions {
  /** Extra environment for every child. */
  env?: NodeJS.ProcessEnv;
  /** Called with every event line of every child. */
  onEvent?: (name: string, e: ChildEvent) => void;
  /** Called when a child exits before stop() (code or signal). */
  onExit?: (name: string, code: number | null, signal: NodeJS.Signals | null) => void;
  graceMs?: number;
}

export class ChildGroup {
  readonly #o: ChildGroupOptions;
  readonly #children: ManagedChild[] = [];
  #stopping = false;
  readonly #onParentExit = (): void => {
    for (const c of this.#children) if (!c.exited) c.child.kill('SIGKILL');
  };

  constructor(options: ChildGroupOptions = {}) {
    this.#o = options;
    process.on('exit', this.#onParentExit);
  }

  get children(): readonly ManagedChild[] {
    return this.#children;
  }

  /** Starts `edgeloop <args>` and resolves once it printed the `readyEvent` line. */
  async spawn(name: string, args: string[], readyEvent: string, readyTimeoutMs = 60_000): Promise<ManagedChild> {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.#o.env } });
    const events: ChildEvent[] = [];
    const waiters = new Set<{ event: string; where?: (e: ChildEvent) => boolean; resolve: (e: ChildEvent) => void }>();
    let err = '';
    let exited = false;
    let buffered = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        let e: ChildEvent;
        try {
          e = JSON.parse(line) as ChildEvent;
        } catch {
          continue;
        }
        if (typeof e.event !== 'string') continue;
        events.push(e);
        this.#o.onEvent?.(name, e);
        for (const w of waiters) {
          if (w.event === e.event && (!w.where || w.where(e))) {
            waiters.delete(w);
            w.resolve(e);
          }
        }
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      err = (err + chunk).slice(-STDERR_KEEP_CHARS);
    });
    const exitedPromise = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
      exited = true;
      if (!this.#stopping) this.#o.onExit?.(name, code, signal);
      resolve();
    }));
    const managed: ManagedChild = {
      name,
      child,
      events,
      stderr: () => err,
      get exited() {
        return exited;
      },
      waitFor: (event, timeoutMs, where) => {
        const past = events.find((e) => e.event === event && (!where || where(e)));
        if (past) return Promise.resolve(past);
        return new Promise<ChildEvent>((resolve, reject) => {
          const w = {
            event, where, resolve: (e: ChildEvent) => {
              clearTimeout(timer);
              resolve(e);
            },
          };
          const timer = setTimeout(() => {
            waiters.delete(w);
            reject(new EdgeloopError('TIMEOUT', `${name}: no '${event}' event within ${timeoutMs} ms${exited ? ' (process exited)' : ''}; stderr: ${err.slice(-2000)}`));
          }, timeoutMs);
          waiters.add(w);
          void exitedPromise.then(() => {
            if (!waiters.has(w)) return;
            waiters.delete(w);
            clearTimeout(timer);
            reject(new EdgeloopError('ABORTED', `${name} exited before its '${event}' event; stderr: ${err.slice(-2000)}`));
          });
        });
      },
    };
    this.#children.push(managed);
    await managed.waitFor(readyEvent, readyTimeoutMs);
    return managed;
  }

  /** SIGTERM every child, SIGKILL the ones still running after the grace period; resolves when all exited. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const graceMs = this.#o.graceMs ?? 5000;
    await Promise.all(this.#children.map(async (c) => {
      if (c.exited) return;
      const done = new Promise<void>((resolve) => c.child.once('exit', () => resolve()));
      c.child.kill('SIGTERM');
      const timer = setTimeout(() => c.child.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(timer);
    }));
    process.off('exit', this.#onParentExit);
  }
}
