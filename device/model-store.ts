/**
 * On-disk model slots of a device:
 *
 *   <dir>/models/<name>/<version>/model.<onnx|tflite>   the verified artifact
 *   <dir>/models/<name>/<version>/manifest.json         its signed manifest
 *   <dir>/models/<name>/current.json                    which version is active, shadow, and kept for rollback
 *
 * A slot appears only complete: it is written into a temporary folder, fsynced and renamed. The pointer
 * (current.json) switches atomically: write current.json.tmp, fsync, rename, fsync the folder, so a power
 * cut leaves either the old or the new pointer, never a torn one. Reading a slot re-checks the artifact's
 * size and sha256 against its manifest: a file damaged on disk is refused (MODEL_CHECKSUM), not run.
 * Names and versions are validated before they touch a path (they come from the network).
 *
 * current.json also holds the downgrade guard (DowngradeGuard): the highest version ever activated
 * and the issue time of the last signed rollback accepted. They are written in the same atomic
 * rename as the activation they belong to, so a power cut cannot leave a version active with a lower
 * high-water mark (see the install path of device/agent.ts).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgeloopError } from '../src/errors.ts';
import { assertSafeName } from '../src/names.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import type { ModelManifest } from '../src/manifest.ts';
import { MAX_MODEL_VERSION, type ModelSlotStatus } from '../src/contracts/device.ts';
import { verifiedSha256 } from './verify.ts';

export interface ModelPointer {
  active: number | null;
  shadow: number | null;
  /** Previously active versions, most recent first, at most keepPrevious of them. */
  previous: number[];
  /** When `active` last changed (epoch ms), for the crash-loop guard. */
  activatedAtMs: number | null;
}

/** Anti-downgrade state of one model, persisted in current.json next to its pointer. */
export interface DowngradeGuard {
  /** Highest version ever activated on this device (null: none yet). */
  highWater: number | null;
  /** issuedAtMs of the last signed rollback accepted (null: none); a rollback not newer is a replay. */
  rollbackIssuedAtMs: number | null;
}

export interface ModelStoreOptions {
  /** The agent's state folder; models live under <dir>/models. */
  dir: string;
  /** How many previously active versions stay on disk for instant rollback. */
  keepPrevious?: number;
  now?: () => number;
  logger?: Logger;
}

export const MODEL_STORE_DEFAULTS = { keepPrevious: 2 };

const EMPTY_POINTER: ModelPointer = { active: null, shadow: null, previous: [], activatedAtMs: null };

export function assertVersion(value: unknown, what = 'model version'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_MODEL_VERSION) {
    throw new EdgeloopError('BAD_NAME', `${what} must be an integer in 1..${MAX_MODEL_VERSION}, got ${typeof value === 'number' ? value : typeof value}`);
  }
  return value;
}

export function sha256OfBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes a file so that a crash leaves the old or the new content: tmp + fsync + rename + fsync(dir). */
export async function writeFileAtomic(dir: string, name: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  await syncDir(dir);
}

export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EdgeloopError('BAD_FILE', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new EdgeloopError('BAD_FILE', `${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function parseGuard(value: unknown, p: ModelPointer): DowngradeGuard {
  const rec = (value ?? {}) as Partial<DowngradeGuard>;
  const okVersion = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
  // Pointers written before the guard existed: every version they name was activated once.
  const derived = [p.active, ...p.previous].filter((v): v is number => v !== null);
  const highWater = okVersion(rec.highWater) ? rec.highWater : derived.length > 0 ? Math.max(...derived) : null;
  const issued = typeof rec.rollbackIssuedAtMs === 'number' && Number.isFinite(rec.rollbackIssuedAtMs) ? rec.rollbackIssuedAtMs : null;
  return { highWater, rollbackIssuedAtMs: issued };
}

function parsePointer(value: unknown, path: string): ModelPointer {
  if (value === undefined) return { ...EMPTY_POINTER, previous: [] };
  const rec = value as Partial<ModelPointer> | null;
  const okVersion = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isInteger(v) && v >= 1);
  if (!rec || typeof rec !== 'object' || !okVersion(rec.active) || !okVersion(rec.shadow) || !Array.isArray(rec.previous) || !rec.previous.every((v) => okVersion(v) && v !== null)) {
    throw new EdgeloopError('BAD_FILE', `${path} is not a model pointer {active, shadow, previous[], activatedAtMs}`);
  }
  return { active: rec.active ?? null, shadow: rec.shadow ?? null, previous: rec.previous.slice(), activatedAtMs: typeof rec.activatedAtMs === 'number' ? rec.activatedAtMs : null };
}

export class ModelStore {
  readonly root: string;
  readonly keepPrevious: number;
  private readonly now: () => number;
  private readonly logger: Logger;

  private constructor(options: ModelStoreOptions, root: string) {
    this.root = root;
    this.keepPrevious = options.keepPrevious ?? MODEL_STORE_DEFAULTS.keepPrevious;
    this.now = options.now ?? Date.now;
    this.logger = (options.logger ?? silentLogger).child('model-store');
  }

  static async open(options: ModelStoreOptions): Promise<ModelStore> {
    const keep = options.keepPrevious ?? MODEL_STORE_DEFAULTS.keepPrevious;
    if (!Number.isInteger(keep) || keep < 0 || keep > 100) throw new EdgeloopError('BAD_ARGUMENT', `keepPrevious must be an integer in 0..100, got ${keep}`);
    const root = join(options.dir, 'models');
    await mkdir(root, { recursive: true });
    return new ModelStore(options, root);
  }

  private modelDir(name: string): string {
    return join(this.root, assertSafeName('model', name));
  }

  private slotDir(name: string, version: number): string {
    return join(this.modelDir(name), String(assertVersion(version)));
  }

  /** Names of the models with at least one slot or a pointer. */
  async models(): Promise<string[]> {
    const entries = await readdir(this.root, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(e.name)).map((e) => e.name).sort();
  }

  /** Installed (complete) versions of a model, ascending. */
  async versions(name: string): Promise<number[]> {
    let entries;
    try {
      entries = await readdir(this.modelDir(name), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return entries.filter((e) => e.isDirectory() && /^[1-9][0-9]{0,8}$/.test(e.name)).map((e) => Number(e.name)).sort((a, b) => a - b);
  }

  async pointer(name: string): Promise<ModelPointer> {
    return (await this.readState(name)).pointer;
  }

  /** The model's downgrade guard (high-water mark, last accepted signed rollback). */
  async downgradeGuard(name: string): Promise<DowngradeGuard> {
    return (await this.readState(name)).guard;
  }

  private async readState(name: string): Promise<{ pointer: ModelPointer; guard: DowngradeGuard }> {
    const path = join(this.modelDir(name), 'current.json');
    const raw = await readJsonFile(path);
    const pointer = parsePointer(raw, path);
    return { pointer, guard: parseGuard(raw, pointer) };
  }

  /** Slots per model; `highWater: true` adds each model's high-water mark (the retained status carries it). */
  async status(options: { highWater?: boolean } = {}): Promise<ModelSlotStatus[]> {
    const out: ModelSlotStatus[] = [];
    for (const model of await this.models()) {
      const { pointer: p, guard } = await this.readState(model);
      const slot: ModelSlotStatus = { model, active: p.active, shadow: p.shadow, previous: p.previous };
      if (options.highWater && guard.highWater !== null) slot.highWater = guard.highWater;
      out.push(slot);
    }
    return out;
  }

  /**
   * Writes a verified artifact and its manifest into slot <name>/<version>. The bytes must match the
   * manifest's size and sha256 (the transfer already checked; this is the last gate before disk).
   */
  async stage(manifest: ModelManifest, bytes: Uint8Array): Promise<void> {
    const name = assertSafeName('model', manifest.model);
    const version = assertVersion(manifest.version);
    checkArtifact(manifest, bytes, `staging ${name} v${version}`);
    const dir = this.slotDir(name, version);
    if ((await this.versions(name)).includes(version)) {
      // Same version already installed: keep it if intact, replace it if damaged.
      try {
        await this.load(name, version);
        return;
      } catch {
        this.logger.warn(`slot ${name}/${version} is damaged; replacing it`);
        await rm(dir, { recursive: true, force: true });
      }
    }
    const tmp = `${dir}.staging`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await writeFileAtomic(tmp, artifactFileName(manifest), bytes);
    await writeFileAtomic(tmp, 'manifest.json', JSON.stringify(manifest));
    await rename(tmp, dir);
    await syncDir(this.modelDir(name));
    this.logger.info(`staged ${name} v${version} (${bytes.length} bytes)`);
  }

  /** Reads a slot, re-verifying the artifact against its manifest. */
  async load(name: string, version: number): Promise<{ manifest: ModelManifest; bytes: Uint8Array }> {
    const dir = this.slotDir(name, version);
    const manifest = (await readJsonFile(join(dir, 'manifest.json'))) as ModelManifest | undefined;
    if (!manifest) throw new EdgeloopError('NOT_FOUND', `model ${name} version ${version} is not installed on this device`);
    if (manifest.model !== name || manifest.version !== version) throw new EdgeloopError('BAD_FILE', `slot ${name}/${version} holds the manifest of ${manifest.model} v${manifest.version}`);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(dir, artifactFileName(manifest)));
    } catch (err) {
      throw new EdgeloopError('MODEL_CORRUPT', `slot ${name}/${version} has no artifact: ${(err as Error).message}`, { cause: err });
    }
    checkArtifact(manifest, bytes, `slot ${name}/${version}`);
    return { manifest, bytes };
  }

  /** Writes pointer and guard in one atomic replace; the guard is re-read when not given. */
  private async writePointer(name: string, p: ModelPointer, guard?: DowngradeGuard): Promise<void> {
    const dir = this.modelDir(name);
    await mkdir(dir, { recursive: true });
    const g = guard ?? (await this.readState(name)).guard;
    await writeFileAtomic(dir, 'current.json', JSON.stringify({ ...p, highWater: g.highWater, rollbackIssuedAtMs: g.rollbackIssuedAtMs }));
  }

  /**
   * Makes `version` active; the old active becomes previous[0]. Raises the high-water mark and, for a
   * signed rollback, records its issue time in the same write. Returns the new pointer.
   */
  async activate(name: string, version: number, options: { rollbackIssuedAtMs?: number } = {}): Promise<ModelPointer> {
    await this.requireSlot(name, version);
    const { pointer: old, guard: oldGuard } = await this.readState(name);
    const guard = nextGuard(oldGuard, version, options.rollbackIssuedAtMs);
    if (old.active === version) {
      if (guard.highWater !== oldGuard.highWater || guard.rollbackIssuedAtMs !== oldGuard.rollbackIssuedAtMs) await this.writePointer(name, old, guard);
      return old;
    }
    const previous = [old.active, ...old.previous].filter((v): v is number => v !== null && v !== version).slice(0, this.keepPrevious);
    const next: ModelPointer = { active: version, shadow: old.shadow === version ? null : old.shadow, previous, activatedAtMs: this.now() };
    await this.writePointer(name, next, guard);
    await this.prune(name, next, [old.active, ...old.previous, old.shadow]);
    return next;
  }

  /**
   * Switches back to `toVersion` (default: the most recent previous version). The version rolled back
   * from is dropped from the kept list (it is the one that failed) and deleted.
   */
  async rollback(name: string, toVersion?: number): Promise<ModelPointer> {
    const old = await this.pointer(name);
    const target = toVersion ?? old.previous[0];
    if (target === undefined) throw new EdgeloopError('NOT_FOUND', `model ${name} has no previous version to roll back to (active: ${old.active ?? 'none'})`);
    if (target !== old.active && !old.previous.includes(target)) {
      throw new EdgeloopError('NOT_FOUND', `model ${name} version ${target} is not kept on this device (kept: ${[old.active, ...old.previous].filter((v) => v !== null).join(', ') || 'none'})`);
    }
    await this.requireSlot(name, target);
    const next: ModelPointer = { active: target, shadow: old.shadow, previous: old.previous.filter((v) => v !== target), activatedAtMs: this.now() };
    await this.writePointer(name, next);
    await this.prune(name, next, [old.active]);
    return next;
  }

  /**
   * Deactivates the model: no version active (the one before a first install was none). The version
   * that was active is dropped and deleted, like the version rolled back from in rollback(); the kept
   * previous versions, the shadow and the downgrade guard stay. A model with nothing active is left as it is.
   */
  async deactivate(name: string): Promise<ModelPointer> {
    const old = await this.pointer(name);
    if (old.active === null) return old;
    const next: ModelPointer = { active: null, shadow: old.shadow, previous: old.previous.filter((v) => v !== old.active), activatedAtMs: this.now() };
    await this.writePointer(name, next);
    await this.prune(name, next, [old.active]);
    return next;
  }

  /** Sets (or clears) the shadow version; a signed rollback's issue time is recorded in the same write. */
  async setShadow(name: string, version: number | null, options: { rollbackIssuedAtMs?: number } = {}): Promise<ModelPointer> {
    if (version !== null) await this.requireSlot(name, version);
    const { pointer: old, guard } = await this.readState(name);
    const next: ModelPointer = { ...old, shadow: version };
    await this.writePointer(name, next, { ...guard, rollbackIssuedAtMs: latest(guard.rollbackIssuedAtMs, options.rollbackIssuedAtMs) });
    await this.prune(name, next, [old.shadow]);
    return next;
  }

  /** Removes a slot that is referenced by nothing (e.g. staged but failed its smoke test). */
  async discard(name: string, version: number): Promise<void> {
    const p = await this.pointer(name);
    if (p.active === version || p.shadow === version || p.previous.includes(version)) return;
    await rm(this.slotDir(name, version), { recursive: true, force: true });
  }

  private async requireSlot(name: string, version: number): Promise<void> {
    if (!(await this.versions(name)).includes(assertVersion(version))) {
      throw new EdgeloopError('NOT_FOUND', `model ${name} version ${version} is not installed on this device`);
    }
  }

  /**
   * Deletes the candidate slots (versions the pointer just let go of) that it no longer references.
   * Staged versions never referenced yet are left alone: they are waiting for their activation.
   */
  private async prune(name: string, p: ModelPointer, candidates: (number | null)[]): Promise<void> {
    const keep = new Set([p.active, p.shadow, ...p.previous].filter((v): v is number => v !== null));
    const installed = new Set(await this.versions(name));
    for (const v of candidates) {
      if (v !== null && installed.has(v) && !keep.has(v)) {
        await rm(this.slotDir(name, v), { recursive: true, force: true });
        this.logger.debug(() => `pruned ${name} v${v}`);
      }
    }
  }
}

function latest(a: number | null, b: number | undefined): number | null {
  if (b === undefined) return a;
  return a === null ? b : Math.max(a, b);
}

function nextGuard(g: DowngradeGuard, activated: number, rollbackIssuedAtMs: number | undefined): DowngradeGuard {
  return { highWater: Math.max(g.highWater ?? activated, activated), rollbackIssuedAtMs: latest(g.rollbackIssuedAtMs, rollbackIssuedAtMs) };
}

export function artifactFileName(manifest: ModelManifest): string {
  const format = manifest.artifact.format;
  switch (format) {
    case 'onnx':
      return 'model.onnx';
    case 'tflite':
      return 'model.tflite';
    default:
      throw new EdgeloopError('MODEL_UNSUPPORTED', `artifact.format must be 'onnx' or 'tflite', got '${String(format satisfies never)}'`);
  }
}

/**
 * Size and sha256 of an artifact against its manifest (MODEL_CHECKSUM naming what differs). Bytes the
 * transfer already verified against this sha256 (device/verify.ts verifiedSha256, the same buffer) are
 * not hashed a second time; bytes read from disk always are.
 */
export function checkArtifact(manifest: ModelManifest, bytes: Uint8Array, where: string): void {
  if (bytes.length !== manifest.artifact.bytes) {
    throw new EdgeloopError('MODEL_CHECKSUM', `${where}: artifact is ${bytes.length} bytes, the manifest says ${manifest.artifact.bytes}`);
  }
  if (verifiedSha256(bytes) === manifest.artifact.sha256) return;
  const got = sha256OfBytes(bytes);
  if (got !== manifest.artifact.sha256) {
    throw new EdgeloopError('MODEL_CHECKSUM', `${where}: artifact sha256 ${got.slice(0, 16)}… differs from the manifest's ${String(manifest.artifact.sha256).slice(0, 16)}…`);
  }
}
