/** Device payload validators: good payloads round-trip, each bad one fails with BAD_PAYLOAD naming the field. */
import test from 'ava';
import { isEdgeloopError } from '../src/errors.ts';
import {
  parseJsonPayload, validateChunkRequest, validateCommand, validateCommandResult, validateDeviceStatus, validateHeartbeat,
} from '../src/contracts/device.ts';

function badPayload(t: import('ava').ExecutionContext, fn: () => unknown, message: string | RegExp): void {
  const err = t.throws(fn);
  t.true(isEdgeloopError(err, 'BAD_PAYLOAD'), String(err));
  if (typeof message === 'string') t.is(err?.message, message);
  else t.regex(err?.message ?? '', message);
}

test('commands: valid ones, defaults, and every bad field', (t) => {
  t.deepEqual(validateCommand({ id: 'a1', type: 'install', model: 'occ', version: 3, format: 'onnx', variant: 'int8' }),
    { id: 'a1', type: 'install', model: 'occ', version: 3, format: 'onnx', variant: 'int8', mode: 'active' });
  t.deepEqual(validateCommand({ id: 'a2', type: 'rollback' }), { id: 'a2', type: 'rollback' });
  t.deepEqual(validateCommand({ id: 'a3', type: 'rollback', model: 'occ', toVersion: 2 }), { id: 'a3', type: 'rollback', model: 'occ', toVersion: 2 });
  t.deepEqual(validateCommand({ id: 'a4', type: 'activate', model: 'occ', version: 2 }), { id: 'a4', type: 'activate', model: 'occ', version: 2 });
  t.deepEqual(validateCommand({ id: 'a5', type: 'status' }), { id: 'a5', type: 'status' });

  badPayload(t, () => validateCommand([]), 'command must be a JSON object, got array');
  badPayload(t, () => validateCommand({ type: 'status' }), 'command.id must be 1-128 printable ASCII characters without spaces, got undefined');
  badPayload(t, () => validateCommand({ id: 'a b', type: 'status' }), 'command.id must be 1-128 printable ASCII characters without spaces, got "a b"');
  badPayload(t, () => validateCommand({ id: 'x', type: 'reboot' }), "command.type must be one of 'install', 'activate', 'rollback', 'status', got \"reboot\"");
  const inst = { id: 'x', type: 'install', model: 'occ', version: 1, format: 'onnx', variant: 'float32' };
  badPayload(t, () => validateCommand({ ...inst, model: 'a/b' }), /^install command\.model "a\/b" is not a model name/);
  badPayload(t, () => validateCommand({ ...inst, version: 0 }), 'install command.version must be an integer in 1..999999999, got 0');
  badPayload(t, () => validateCommand({ ...inst, version: '1' }), 'install command.version must be an integer in 1..999999999, got string');
  badPayload(t, () => validateCommand({ ...inst, format: 'pt' }), "install command.format must be one of 'onnx', 'tflite', got \"pt\"");
  badPayload(t, () => validateCommand({ ...inst, variant: 'int4' }), "install command.variant must be one of 'float32', 'float16', 'dynamic-int8', 'int8', got \"int4\"");
  badPayload(t, () => validateCommand({ ...inst, mode: 'canary' }), "install command.mode must be one of 'active', 'shadow', got \"canary\"");
  badPayload(t, () => validateCommand({ ...inst, extra: 1 }), 'install command has unknown field "extra" (allowed: id, type, model, version, format, variant, mode, rollback)');
  badPayload(t, () => validateCommand({ id: 'x', type: 'activate', model: 'occ' }), 'activate command.version must be an integer in 1..999999999, got undefined');
  badPayload(t, () => validateCommand({ id: 'x', type: 'rollback', toVersion: 1.5 }), 'rollback command.toVersion must be an integer in 1..999999999, got 1.5');
  badPayload(t, () => validateCommand({ id: 'x', type: 'status', model: 'occ' }), 'status command has unknown field "model" (allowed: id, type)');
});

test('chunk requests: bounds, duplicates, types', (t) => {
  t.deepEqual(validateChunkRequest({ model: 'occ', version: 1, chunks: [3, 0, 7] }), { model: 'occ', version: 1, chunks: [3, 0, 7] });
  badPayload(t, () => validateChunkRequest({ model: 'occ', version: 1, chunks: [] }), 'chunk request.chunks must be an array of 1..1024 chunk indices, got 0 items');
  badPayload(t, () => validateChunkRequest({ model: 'occ', version: 1, chunks: Array.from({ length: 1025 }, (_, i) => i) }), 'chunk request.chunks must be an array of 1..1024 chunk indices, got 1025 items');
  badPayload(t, () => validateChunkRequest({ model: 'occ', version: 1, chunks: 'all' }), 'chunk request.chunks must be an array of 1..1024 chunk indices, got string');
  badPayload(t, () => validateChunkRequest({ model: 'occ', version: 1, chunks: [1, -1] }), 'chunk request.chunks[1] must be an integer in 0..999999999, got -1');
  badPayload(t, () => validateChunkRequest({ model: 'occ', version: 1, chunks: [2, 2] }), 'chunk request.chunks[1] repeats chunk 2');
  badPayload(t, () => validateChunkRequest({ model: 'occ', version: 1, chunks: [0], device: 'x' }), 'chunk request has unknown field "device" (allowed: model, version, chunks)');
  badPayload(t, () => validateChunkRequest(null), 'chunk request must be a JSON object, got null');
});

test('status, heartbeat and results: valid ones and bad fields', (t) => {
  t.deepEqual(validateDeviceStatus({ online: false }), { online: false });
  const status = {
    online: true, fleet: 'lab', device: 'pi1', tsMs: 1, startedAtMs: 1, agentVersion: '0.1.0',
    hardware: { arch: 'arm64', platform: 'linux', nodeVersion: '20.0.0', cpus: 4, memoryBytes: 4e9 },
    runtimes: ['onnxruntime-node'], tags: ['pi4'], models: [{ model: 'occ', active: 2, shadow: null, previous: [1] }],
  };
  t.deepEqual(validateDeviceStatus(status), status);
  badPayload(t, () => validateDeviceStatus({ online: 'yes' }), 'status.online must be true or false, got string');
  badPayload(t, () => validateDeviceStatus({ online: false, extra: 1 }), 'offline status has unknown field "extra" (allowed: online)');
  badPayload(t, () => validateDeviceStatus({ ...status, hardware: { ...status.hardware, arch: 64 } }), 'status.hardware.arch must be a string, got number');
  badPayload(t, () => validateDeviceStatus({ ...status, runtimes: ['cuda'] }), "status.runtimes[0] must be one of 'onnxruntime-node', 'tflite', got \"cuda\"");
  badPayload(t, () => validateDeviceStatus({ ...status, models: [{ model: 'occ', active: 0, shadow: null, previous: [] }] }), 'status.models[0].active must be an integer in 1..999999999, got 0');

  const hb = { tsMs: 5, seq: 0, uptimeS: 1, active: { occ: 2 }, transfer: { model: 'occ', version: 3, receivedChunks: 4, totalChunks: 9 } };
  t.deepEqual(validateHeartbeat(hb), hb);
  badPayload(t, () => validateHeartbeat({ ...hb, seq: 1.5 }), 'heartbeat.seq must be an integer, got 1.5');
  badPayload(t, () => validateHeartbeat({ ...hb, tsMs: -1 }), 'heartbeat.tsMs must be a finite number >= 0, got -1');
  badPayload(t, () => validateHeartbeat({ ...hb, transfer: { ...hb.transfer, model: '' } }), /^heartbeat\.transfer\.model "" is not a model name/);

  const ok = { id: 'c1', type: 'install', ok: true, tsMs: 1, detail: 'done', models: [], transfer: { totalChunks: 3, resumedChunks: 0, requestedChunks: 3, tamperedChunks: 0, bytes: 10, durationMs: 5 } };
  t.deepEqual(validateCommandResult(ok), ok);
  const fail = { id: null, type: null, ok: false, tsMs: 1, error: { code: 'NOT_JSON', message: 'x' }, models: [] };
  t.deepEqual(validateCommandResult(fail), fail);
  badPayload(t, () => validateCommandResult({ ...fail, ok: 'no' }), 'command result.ok must be true or false, got string');
  badPayload(t, () => validateCommandResult({ ...fail, error: { code: 1 } }), 'command result.error must be {"code": string, "message": string}');
  badPayload(t, () => validateCommandResult({ ...ok, transfer: { ...ok.transfer, bytes: -1 } }), 'command result.transfer.bytes must be a finite number >= 0, got -1');
});

test('parseJsonPayload refuses non-JSON and invalid UTF-8 with NOT_JSON', (t) => {
  t.deepEqual(parseJsonPayload('{"a":1}', 'x'), { a: 1 });
  const e1 = t.throws(() => parseJsonPayload('{', 'command'));
  t.true(isEdgeloopError(e1, 'NOT_JSON'));
  t.regex(e1!.message, /^command is not UTF-8 JSON: /);
  const e2 = t.throws(() => parseJsonPayload(new Uint8Array([0x22, 0xff, 0x22]), 'command'));
  t.true(isEdgeloopError(e2, 'NOT_JSON'));
});
