/** src/acl.ts: identities, publish/subscribe rules and the mosquitto rendering; each bad call's code and message. */
import test from 'ava';
import { parseIdentity, identityName, checkPublish, checkSubscribe, renderMosquittoAcl } from '../src/acl.ts';
import { isEdgeloopError } from '../src/errors.ts';

const node7 = { role: 'device', fleet: 'lab', device: 'node7' } as const;
const gw = { role: 'gateway', id: 'gw1' } as const;

test('identities parse and print back', (t) => {
  t.deepEqual(parseIdentity('lab/node7'), node7);
  t.deepEqual(parseIdentity('_gateway/gw1'), gw);
  t.is(identityName(node7), 'lab/node7');
  t.is(identityName(gw), '_gateway/gw1');
});

for (const [name, re] of [
  ['lab', /must be <fleet>\/<device> or _gateway\/<gateway id>/],
  ['a/b/c', /must be <fleet>\/<device>/],
  [42, /identity number must be/],
  ['lab/../x', /must be <fleet>\/<device>/],
  ['_lab/node7', /fleet name "_lab" is not allowed/],
  ['lab/no de', /device name "no de" is not allowed/],
  ['lab/models', /device name 'models' is reserved/],
  ['_gateway/a+b', /gateway id "a\+b" is not allowed/],
] as const) {
  test(`parseIdentity refuses ${JSON.stringify(name)} with BAD_NAME`, (t) => {
    const err = t.throws(() => parseIdentity(name));
    t.true(isEdgeloopError(err, 'BAD_NAME'));
    t.regex(err!.message, re);
  });
}

test('device publish rules', (t) => {
  for (const s of ['telemetry', 'telemetry/co2', 'status', 'heartbeat', 'predictions', 'drift', 'labels', 'cmd/result', 'model/request']) t.true(checkPublish(node7, `edgeloop/lab/node7/${s}`).allow, s);
  for (const topic of ['edgeloop/lab/node8/telemetry', 'edgeloop/other/node7/telemetry', 'edgeloop/lab/node7/cmd', 'edgeloop/lab/node7/rejected', 'edgeloop/lab/models/m/1/manifest', 'edgeloop/lab/alerts', 'edgeloop/_gateway/gw1/status', 'edgeloop/lab/node7/unknown', 'x/lab/node7/telemetry', 'edgeloop/lab/+/telemetry']) {
    const d = checkPublish(node7, topic);
    t.false(d.allow, topic);
  }
  const d = checkPublish(node7, 'edgeloop/lab/node8/telemetry');
  t.deepEqual(d, { allow: false, reason: 'a device publishes only under edgeloop/lab/node7/' });
  t.deepEqual(checkPublish(node7, 'edgeloop/lab/node7/cmd'), { allow: false, reason: "devices may not publish 'cmd' topics" });
});

test('device subscribe rules and gateway rules', (t) => {
  for (const f of ['edgeloop/lab/node7/cmd', 'edgeloop/lab/node7/rejected', 'edgeloop/lab/models/#', 'edgeloop/lab/models/m/+/chunk/+']) t.true(checkSubscribe(node7, f).allow, f);
  for (const f of ['edgeloop/lab/node8/cmd', 'edgeloop/lab/#', 'edgeloop/+/models/#', 'edgeloop/lab/models', '#', '$share/g/edgeloop/lab/node7/cmd', 'edgeloop/lab/node7/#']) t.false(checkSubscribe(node7, f).allow, f);
  t.true(checkPublish(gw, 'edgeloop/lab/node7/cmd').allow);
  t.false(checkPublish(gw, 'other/x').allow);
  t.true(checkSubscribe(gw, 'edgeloop/+/+/telemetry').allow);
  t.true(checkSubscribe(gw, '$share/g1/edgeloop/+/+/telemetry').allow);
  t.false(checkSubscribe(gw, '#').allow);
  t.false(checkSubscribe(gw, '$SYS/#').allow);
});

test('mosquitto rendering: patterns once, one user block per identity', (t) => {
  const acl = renderMosquittoAcl([gw, node7, { role: 'device', fleet: 'f2', device: 'd' }]);
  t.is(acl.match(/^pattern /gm)!.length, 11);
  t.regex(acl, /^pattern write edgeloop\/%u\/telemetry\/\+$/m);
  t.regex(acl, /^pattern read edgeloop\/%u\/cmd$/m);
  t.regex(acl, /user _gateway\/gw1\ntopic readwrite edgeloop\/#\n\nuser f2\/d\ntopic read edgeloop\/f2\/models\/#\n\nuser lab\/node7\ntopic read edgeloop\/lab\/models\/#\n/);
});
