/**
 * `edgeloop models …` and `edgeloop runs …` as a user runs them (bin/edgeloop.js in a child process)
 * against a real data folder; bad calls in process, asserting code and message.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { Registry } from '../gateway/registry.ts';
import { RunStore } from '../gateway/runs.ts';
import { parsePublicKey } from '../io/ed25519.ts';
import { verifyArtifact, verifyManifest } from '../device/verify.ts';
import { modelsCommand, runsCommand } from '../cli/commands-models.ts';
import { registerInput } from './helpers/registry-fixture.ts';
import { tempDir } from './helpers/tmp.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
async function edgeloop(args: string[], dataDir: string): Promise<{ stdout: string; stderr: string; code: number }> {
  const argv = [join(ROOT, 'bin/edgeloop.js'), ...args];
  try {
    const r = await run(process.execPath, argv, { cwd: ROOT, env: { ...process.env, EDGELOOP_DATA_DIR: dataDir, EDGELOOP_LOG_LEVEL: 'error' } });
    return { ...r, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

async function seed() {
  const dataDir = tempDir();
  const store = await SqliteStore.create({ path: join(dataDir, 'edgeloop.db') });
  const registry = await Registry.create({ database: store.database, keyDir: join(dataDir, 'keys') });
  await registry.register(registerInput({ nativeModel: { kind: 'x' } }));
  await registry.register(registerInput({ artifacts: [registerInput().artifacts[0]!] }));
  const runs = await RunStore.create({ database: store.database, codeVersion: 'c0ffee' });
  await runs.record({ id: 'r1', modelKind: 'logistic', params: { C: 1 }, dataset: 'occ', metrics: { test: { accuracy: 0.91 } }, durationMs: 1500 });
  await runs.record({ id: 'r2', modelKind: 'random-forest', params: { nTrees: 50 }, dataset: 'occ', metrics: { test: { accuracy: 0.95 }, val: { accuracy: 0.96 } }, durationMs: 4000 });
  await runs.addTrial('r2', { trial: 0, params: { nTrees: 10 }, metrics: { val_accuracy: 0.93 }, durationMs: 300 });
  await store.close();
  return dataDir;
}

test('models list / show / promote / history / verify / key / manifest / artifact', async (t) => {
  const dir = await seed();
  const list = await edgeloop(['models', 'list'], dir);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^model\s+task\s+versions\s+latest/m);
  t.regex(list.stdout, /occupancy\s+classification\s+2\s+2/);

  const promote = await edgeloop(['models', 'promote', 'occupancy@1', '--alias', 'production', '--by', 'ci'], dir);
  t.is(promote.stdout.trim(), 'occupancy@production: (new) → version 1');
  const again = await edgeloop(['models', 'promote', 'occupancy@1', '--alias', 'production'], dir);
  t.is(again.stdout.trim(), 'occupancy@production already points at version 1');
  // Read-only commands, run side by side (each child pays tsx start-up).
  const out = join(dir, 'model.onnx');
  const manifestOut = join(dir, 'manifest.json');
  const [show, history, verify, key, keyText, art] = await Promise.all([
    edgeloop(['models', 'show', 'occupancy@production', '--format', 'table'], dir),
    edgeloop(['models', 'history', 'occupancy'], dir),
    edgeloop(['models', 'verify', 'occupancy@1'], dir),
    edgeloop(['models', 'key', '--format', 'json'], dir),
    edgeloop(['models', 'key'], dir),
    edgeloop(['models', 'artifact', 'occupancy@production', '--artifact', 'onnx/float32', '--out', out], dir),
    edgeloop(['models', 'manifest', 'occupancy@production', '--artifact', 'onnx/float32', '--out', manifestOut], dir),
  ]);
  t.regex(show.stdout, /^occupancy@1 {2}classification/);
  t.regex(show.stdout, /aliases: {3}production/);
  t.regex(show.stdout, /onnx\/float32\s+200766\s+[0-9a-f]{16}…\s+0\.9780/);
  t.regex(show.stdout, /tflite\/int8\s+40000/);
  t.regex(show.stdout, /native: {4}stored/);
  t.regex(history.stdout, /production\s+-\s+1\s+ci/);
  t.is(verify.code, 0);
  t.regex(verify.stdout, /onnx\/float32\s+OK/);
  t.regex(verify.stdout, /occupancy@1: all artifacts verified/);
  const k = JSON.parse(key.stdout) as { keyId: string; rawBase64: string; pem: string };
  t.is(statSync(join(dir, 'keys', 'ed25519.key')).mode & 0o777, 0o600);
  t.regex(keyText.stdout, new RegExp(`keyId: {2}${k.keyId}\\nraw: {4}${k.rawBase64.replace(/[+/]/g, '\\$&')}\\n[\\s\\S]*BEGIN PUBLIC KEY`));
  t.is(art.stdout.trim(), `wrote 200766 bytes of occupancy@1 onnx/float32 to ${out}`);
  // What an operator hands a device verifies against the printed key.
  const m = verifyManifest(JSON.parse(readFileSync(manifestOut, 'utf8')), parsePublicKey(k.rawBase64));
  t.notThrows(() => verifyArtifact(m, new Uint8Array(readFileSync(out))));
});

test('models verify exits 1 and names the code when the file was tampered with; artifact refuses to write', async (t) => {
  const dir = await seed();
  const store = await SqliteStore.create({ path: join(dir, 'edgeloop.db') });
  const blob = store.database.prepare("SELECT bytes FROM registry_artifacts WHERE version = 2 AND format = 'onnx'").pluck().get() as Buffer;
  blob[100]! ^= 1;
  store.database.prepare("UPDATE registry_artifacts SET bytes = ? WHERE version = 2 AND format = 'onnx'").run(blob);
  await store.close();
  const verify = await edgeloop(['models', 'verify', 'occupancy'], dir);
  t.is(verify.code, 1);
  t.regex(verify.stdout, /onnx\/float32\s+MODEL_CHECKSUM\s+artifact onnx\/float32: sha256 .*first bad chunk 0 of 13, bytes 0\.\.16383/);
  t.regex(verify.stdout, /occupancy@2: VERIFICATION FAILED/);
  const art = await edgeloop(['models', 'artifact', 'occupancy', '--artifact', 'onnx/float32', '--out', join(dir, 'x.onnx')], dir);
  t.is(art.code, 1);
  t.regex(art.stderr, /edgeloop: MODEL_CHECKSUM: occupancy@2 onnx\/float32: artifact onnx\/float32: sha256/);
});

test('runs list / show / compare', async (t) => {
  const dir = await seed();
  const [list, listJson, show, compare] = await Promise.all([
    edgeloop(['runs', 'list'], dir),
    edgeloop(['runs', 'list', '--model-kind', 'logistic', '--format', 'json'], dir),
    edgeloop(['runs', 'show', 'r2'], dir),
    edgeloop(['runs', 'compare', 'r1', 'r2'], dir),
  ]);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^r2\s+random-forest\s+occ\s+completed\s+\S+\s+4\.0\s+1\s+val=0\.9600 test=0\.9500$/m);
  t.regex(list.stdout, /^r1\s+logistic/m);
  t.deepEqual((JSON.parse(listJson.stdout) as { id: string }[]).map((r) => r.id), ['r1']);
  t.regex(show.stdout, /code c0ffee/);
  t.regex(show.stdout, /1 trials:\n.*\n.*\n0\s+-\s+300\s+\{"nTrees":10\}\s+val_accuracy=0\.9300/);
  t.regex(compare.stdout, /^\s+r1\s+r2$/m);
  t.regex(compare.stdout, /^test\.accuracy\s+0\.9100\s+0\.9500$/m);
  t.regex(compare.stdout, /^val\.accuracy\s+-\s+0\.9600$/m);
  t.regex(compare.stdout, /^param nTrees\s+-\s+50$/m);
});

test('bad CLI calls fail with the code and message (in process)', async (t) => {
  const dir = await seed();
  const config = join(dir, 'edgeloop.json');
  writeFileSync(config, JSON.stringify({ dataDir: dir }));
  const cases: [(args: string[]) => Promise<void>, string[], string, RegExp][] = [
    [modelsCommand, ['frobnicate'], 'BAD_ARGUMENT', /unknown models subcommand "frobnicate"/],
    [modelsCommand, ['show'], 'BAD_ARGUMENT', /a model reference is required/],
    [modelsCommand, ['promote', 'occupancy@1'], 'BAD_ARGUMENT', /--alias is required/],
    [modelsCommand, ['promote', 'occupancy@1', '--alias', 'latest'], 'BAD_NAME', /alias latest is reserved/],
    [modelsCommand, ['show', 'nope@1'], 'NOT_FOUND', /model nope is not registered \(models: occupancy\)/],
    [modelsCommand, ['list', '--format', 'xml'], 'BAD_ARGUMENT', /--format "xml" must be one of table, json/],
    [modelsCommand, ['manifest', 'occupancy', '--artifact', 'onnx'], 'BAD_ARGUMENT', /--artifact "onnx" must be FORMAT\/VARIANT/],
    [modelsCommand, ['artifact', 'occupancy', '--artifact', 'onnx/float32'], 'BAD_ARGUMENT', /--out is required/],
    [modelsCommand, ['list', '--log-level', 'loud'], 'BAD_ARGUMENT', /--log-level must be one of debug, info, warn, error, silent/],
    [modelsCommand, ['list', '--bogus'], 'BAD_ARGUMENT', /Unknown option '--bogus'/],
    [runsCommand, ['show', 'nope'], 'NOT_FOUND', /run "nope" not found/],
    [runsCommand, ['compare', 'r1'], 'BAD_ARGUMENT', /compare needs at least 2 run ids, got 1/],
    [runsCommand, ['list', '--status', 'done'], 'BAD_ARGUMENT', /--status "done" must be one of running, completed, failed/],
    [runsCommand, ['list', '--limit', '0'], 'BAD_ARGUMENT', /--limit "0" must be an integer in 1\.\.100000/],
    [runsCommand, ['delete'], 'BAD_ARGUMENT', /unknown runs subcommand "delete"/],
  ];
  for (const [command, args, code, message] of cases) {
    await t.throwsAsync(command([...args, '--config', config]), { code, message }, args.join(' '));
  }
});
