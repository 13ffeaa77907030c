/**
 * `edgeloop fleet` and `edgeloop rollout` against a live HTTP API (RolloutService routes) with real
 * device agents behind it; every bad call asserts its error code and message.
 */
import test from 'ava';
import { HttpServer } from '../gateway/http.ts';
import { fleetCommand, rolloutCommand } from '../cli/commands-fleet.ts';
import { isEdgeloopError, type ErrorCode } from '../src/errors.ts';
import { RolloutRig } from './rollout-rig.ts';

async function setup(t: import('ava').ExecutionContext) {
  const rig = await RolloutRig.create(2);
  const service = await rig.startService();
  const http = new HttpServer({ port: 0 });
  service.registerRoutes(http);
  await http.start();
  t.teardown(async () => {
    await http.stop();
    await rig.close();
  });
  await rig.addAgents(3, (i) => (i < 2 ? ['pi4'] : ['pi5']));
  const lines: string[] = [];
  const run = async (cmd: typeof fleetCommand, argv: string[]): Promise<string> => {
    lines.length = 0;
    await cmd([...argv, '--gateway', http.url], (l) => lines.push(l));
    return lines.join('\n');
  };
  return { rig, http, run };
}

async function rejects(t: import('ava').ExecutionContext, p: Promise<unknown>, code: ErrorCode, ...fragments: string[]): Promise<void> {
  const err = await t.throwsAsync(p);
  t.true(isEdgeloopError(err, code), `${code} expected, got ${String(err)}`);
  for (const f of fragments) t.true(err!.message.includes(f), `${JSON.stringify(err!.message)} should include ${JSON.stringify(f)}`);
}

test('fleet list/show, rollout create/status/pause/resume/rollback through the HTTP API', async (t) => {
  const { rig, http, run } = await setup(t);
  const list = JSON.parse(await run(fleetCommand, ['list', '--format', 'json'])) as { device: string; health: string; tags: string[]; runtimes: string[] }[];
  t.deepEqual(list.map((d) => [d.device, d.health, d.tags]), [['pi1', 'online', ['pi4']], ['pi2', 'online', ['pi4']], ['pi3', 'online', ['pi5']]]);
  t.true(list[0]!.runtimes.includes('onnxruntime-node'));
  const filtered = JSON.parse(await run(fleetCommand, ['list', '--tag', 'pi5', '--format', 'json'])) as { device: string }[];
  t.deepEqual(filtered.map((d) => d.device), ['pi3']);
  const tableText = await run(fleetCommand, ['list']);
  t.regex(tableText.split('\n')[0]!, /^fleet\s+device\s+health\s+tags\s+models\s+last seen\s+rollout$/);
  t.regex(tableText, /lab\s+pi3\s+online\s+pi5/);

  // No wave starts during the service's resume grace (300 ms in the rig) after its start: let it pass,
  // so that the canary goes out at once.
  await new Promise((r) => setTimeout(r, 400));
  // Paused right away: the canary (1 of 2) goes out, the second wave waits for resume.
  const created = JSON.parse(await run(rolloutCommand, ['create', '--model', 'occ@1', '--target', 'tag:pi4', '--strategy', 'canary', '--canary', '50%', '--wave-interval', '100ms', '--timeout', '20s', '--format', 'json'])) as { id: string; targets: number; waves: number; state: string };
  t.is(created.targets, 2);
  t.is(created.waves, 2);
  await run(rolloutCommand, ['pause', created.id]);
  await rig.waitState(created.id, ['paused']);
  const c = rig.service!.controller;
  await new Promise((r) => setTimeout(r, 1500));
  t.is((await c.summary(created.id)).currentWave, 0, 'no new wave while paused');
  t.is((await c.summary(created.id)).counts.active, 1, 'the canary finished while paused');
  await rejects(t, run(rolloutCommand, ['pause', created.id]), 'BAD_ARGUMENT', `cannot pause rollout ${created.id}: it is paused (pause needs running)`);
  await run(rolloutCommand, ['resume', created.id]);
  const done = await rig.waitState(created.id, ['completed']);
  t.is(done.counts.active, 2);
  const status = await run(rolloutCommand, ['status', created.id]);
  t.regex(status, new RegExp(`${created.id}\\s+occ@1\\s+lab\\s+tag:pi4\\s+canary\\s+active\\s+completed\\s+2/2\\s+2/2`));
  t.regex(status, /pi1\s+\d\s+active/);
  const all = await run(rolloutCommand, ['status']);
  t.true(all.includes(created.id));
  // Dashboard: the panels point at endpoints that answer with one row per device.
  const panels = rig.service!.dashboardPanels();
  t.deepEqual(panels.map((p) => [p.id, p.endpoint, p.kind]), [['rollouts', '/v1/rollouts/progress', 'table'], ['fleet', '/v1/fleet?view=table', 'table']]);
  const progress = await (await fetch(http.url + panels[0]!.endpoint)).json() as { rollout: string; device: string; state: string; change: string; chunks: string }[];
  t.deepEqual(progress.filter((r) => r.rollout === created.id).map((r) => [r.device, r.state, r.change]).sort(), [['pi1', 'active', 'occ@- → @1'], ['pi2', 'active', 'occ@- → @1']]);
  t.regex(progress[0]!.chunks, /^(\d+\/\d+)?$/);
  const fleetTable = await (await fetch(http.url + panels[1]!.endpoint)).json() as { device: string; health: string; rollout: string }[];
  t.deepEqual(fleetTable.map((r) => r.device), ['pi1', 'pi2', 'pi3']);
  t.true(fleetTable[0]!.rollout.startsWith(created.id));

  const show = JSON.parse(await run(fleetCommand, ['show', 'pi1', '--format', 'json'])) as { models: { active: number }[]; rollout: { id: string; state: string } };
  t.is(show.models[0]!.active, 1);
  t.deepEqual([show.rollout.id, show.rollout.state], [created.id, 'active']);
  t.regex(await run(fleetCommand, ['show', 'pi1']), /rollout\s+ro-\w+: occ@- → @1 active \(active\)/);

  // v2 to everyone, then an operator rollback: every device goes back to v1.
  const second = JSON.parse(await run(rolloutCommand, ['create', '--model', 'occ@2', '--target', 'all', '--strategy', 'all-at-once', '--timeout', '20s', '--format', 'json'])) as { id: string };
  t.is((await rig.waitState(second.id, ['completed'])).counts.active, 3);
  await run(rolloutCommand, ['rollback', second.id, '--reason', 'latency regression']);
  await rig.waitState(second.id, ['rolled-back']);
  await new Promise<void>((resolve, reject) => {
    const start = Date.now();
    // All three confirmations (pi3's may arrive after the others).
    const settled = async () => (await c.summary(second.id)).counts['rolled-back'] === 3;
    const poll = () => {
      settled().then((done) => (done ? resolve() : Date.now() - start > 10_000 ? reject(new Error('rollbacks not confirmed')) : void setTimeout(poll, 50)), reject);
    };
    poll();
  });
  const after = await c.summary(second.id);
  t.is(after.reason, 'latency regression');
  // pi3 had no version before this rollout (its first install): rolling back deactivates the model there
  // (issue #6; it used to refuse with NOT_FOUND and keep v2).
  const pi3 = (await c.store.device(second.id, 'pi3'))!;
  t.is(pi3.state, 'rolled-back');
  t.is(pi3.rollbackError, null);
  t.deepEqual(await rig.activeVersions(), { pi1: 1, pi2: 1, pi3: null });
});

test('bad calls: errors name the argument and the allowed forms', async (t) => {
  const { run, http } = await setup(t);
  const raw = await fetch(`${http.url}/v1/rollouts`, { method: 'POST', body: '{not json' });
  t.is(raw.status, 400);
  t.is(((await raw.json()) as { error: string }).error, 'NOT_JSON');
  const unknown = await fetch(`${http.url}/v1/rollouts`, { method: 'POST', body: JSON.stringify({ model: 'occ@1', target: 'all', colour: 'blue' }) });
  t.is(unknown.status, 400);
  t.regex(((await unknown.json()) as { message: string }).message, /unknown field "colour" \(allowed: model, target, fleet, /);
  t.is((await fetch(`${http.url}/v1/rollouts/nope/pause`, { method: 'POST' })).status, 404);
  await rejects(t, run(rolloutCommand, ['create', '--model', 'occ@1', '--target', 'pi4']), 'BAD_ARGUMENT', 'target "pi4" is not understood', "'all', 'tag:<tag>' or 'device:<id>[,<id>…]'");
  await rejects(t, run(rolloutCommand, ['create', '--model', 'occ@1', '--target', 'all', '--canary', '0%', '--mode', 'ab:2', '--timeout', '5']), 'BAD_ARGUMENT',
    'invalid rollout request (3 problems)', 'canary "0%"', "mode \"ab:2\" must be 'active', 'shadow' or 'ab:<fraction>'", 'timeout "5" must be a duration');
  await rejects(t, run(rolloutCommand, ['create', '--model', 'occ@9', '--target', 'all']), 'NOT_FOUND', 'occ');
  await rejects(t, run(rolloutCommand, ['create', '--model', 'occ@1', '--target', 'tag:jetson']), 'BAD_ARGUMENT', 'target tag:jetson matches no online device in fleet lab');
  await rejects(t, run(rolloutCommand, ['create', '--target', 'all']), 'BAD_ARGUMENT', '--model is required');
  await rejects(t, run(rolloutCommand, ['status', 'ro-nope']), 'NOT_FOUND', 'rollout "ro-nope" does not exist');
  await rejects(t, run(rolloutCommand, ['abort']), 'BAD_ARGUMENT', 'rollout abort needs a rollout id');
  await rejects(t, run(rolloutCommand, ['launch']), 'BAD_ARGUMENT', 'unknown rollout subcommand "launch"');
  await rejects(t, run(fleetCommand, ['show', 'ghost']), 'NOT_FOUND', 'device "ghost" has never reported');
  await rejects(t, run(fleetCommand, ['list', '--format', 'xml']), 'BAD_ARGUMENT', '--format "xml" must be table or json');
  await rejects(t, fleetCommand(['list', '--gateway', 'http://127.0.0.1:1'], () => undefined), 'BAD_CONFIG', 'cannot reach the gateway at http://127.0.0.1:1');
  await rejects(t, fleetCommand(['list', '--gateway', 'ftp://x'], () => undefined), 'BAD_ARGUMENT', '--gateway "ftp://x" must look like http://host:port');
});
