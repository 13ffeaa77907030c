/** Fault specs (pure parse, every bad call with its code and message), the injector, and the csv input's per-line rejects. */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaultInjector, parseFault } from '../device/fault.ts';
import { CsvInput } from '../device/input-csv.ts';
import { parseInputSpec, type InputItem } from '../device/input-source.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { tempDir } from './helpers/tmp.ts';
import { Readable } from 'node:stream';
import { StdinInput } from '../device/input-stdin.ts';
import { MqttInput } from '../device/input-mqtt.ts';
import { startEmbeddedBroker } from '../gateway/broker.ts';
import { connectMqtt, endAsync, publishAsync } from '../io/mqtt-client.ts';

test('parseFault: offsets, factors, stuck; onsets as fractions or timestamps in a zone', (t) => {
  t.like(parseFault('CO2:+600@0.5'), { sensor: 'CO2', effect: { kind: 'offset', delta: 600 }, onset: { kind: 'fraction', fraction: 0.5 } });
  t.like(parseFault('Temperature:-1.5@0'), { effect: { kind: 'offset', delta: -1.5 }, onset: { kind: 'fraction', fraction: 0 } });
  t.like(parseFault('Temperature:*1.5@0.3'), { effect: { kind: 'scale', factor: 1.5 } });
  t.like(parseFault('Light:stuck@1'), { effect: { kind: 'stuck' }, onset: { kind: 'fraction', fraction: 1 } });
  t.like(parseFault('Light:stuck@2015-02-12T10:00', { timeZone: 'Europe/Brussels' }), { onset: { kind: 'time', tsMs: Date.parse('2015-02-12T09:00:00Z') } });
  t.like(parseFault('Light:stuck@2015-02-12T10:00:00Z'), { onset: { kind: 'time', tsMs: Date.parse('2015-02-12T10:00:00Z') } });
});

test('parseFault: bad specs are BAD_ARGUMENT naming the part', (t) => {
  const cases: [string, RegExp][] = [
    ['CO2+600@0.5', /no SENSOR: prefix/],
    ['CO2:+600', /no @WHEN suffix/],
    ['C O2:+600@0.5', /is not a sensor name/],
    ['CO2:600@0.5', /effect "600" is not \+N, -N, \*F or stuck/],
    ['CO2:+abc@0.5', /offset "\+abc" is not a number/],
    ['CO2:*x@0.5', /factor "x" is not a number/],
    ['CO2:+1@1.5', /onset fraction 1.5 is not in \[0, 1\]/],
    ['CO2:+1@yesterday', /onset "yesterday" is neither a fraction/],
  ];
  for (const [spec, re] of cases) {
    const err = t.throws(() => parseFault(spec), undefined, spec);
    t.true(isEdgeloopError(err, 'BAD_ARGUMENT'), spec);
    t.regex(err!.message, re, spec);
    t.regex(err!.message, /expected SENSOR:\+N@WHEN/);
  }
});

test('FaultInjector: applies from the onset, leaves the input untouched, freezes stuck sensors at the last good value', (t) => {
  const inj = new FaultInjector([parseFault('CO2:+100@0.5'), parseFault('Light:stuck@0.5'), parseFault('Temperature:*2@2015-01-01T00:03:00Z')], 6);
  const t0 = Date.parse('2015-01-01T00:00:00Z');
  const out = Array.from({ length: 6 }, (_, i) => {
    const values = { CO2: 400 + i, Light: 10 * i, Temperature: 20 };
    const got = inj.apply(i, t0 + i * 60_000, values);
    t.deepEqual(values, { CO2: 400 + i, Light: 10 * i, Temperature: 20 }, 'input not mutated');
    return got;
  });
  t.deepEqual(out.map((v) => v.CO2), [400, 401, 402, 503, 504, 505]);
  t.deepEqual(out.map((v) => v.Light), [0, 10, 20, 20, 20, 20]);
  t.deepEqual(out.map((v) => v.Temperature), [20, 20, 20, 40, 40, 40]);
  t.is(inj.applied, 3);
  const err = t.throws(() => new FaultInjector([parseFault('CO2:+1@0.5')], null));
  t.true(isEdgeloopError(err, 'BAD_ARGUMENT'));
  t.regex(err!.message, /needs an input of known length/);
});

test('csv input: bad lines become rejects naming the line, good ones readings; --input specs', async (t) => {
  const path = join(tempDir(), 'occ.txt');
  writeFileSync(path, [
    '"date","Temperature","Humidity","Light","CO2","HumidityRatio","Occupancy"',
    '"1","2015-02-04 17:51:00",23.18,27.272,426,721.25,0.00479298817650529,1',
    '"2","2015-02-04 17:51:59",23.15,27.2675,429.5,714,0.00478344094931065',
    '"3","2015-02-04 17:53:00",23.15,27.245,426,713.5,oops,1',
    '"4","2015-02-04 17:54:00",23.15,27.2,426,708.25,0.00477210032882682,1',
    '"5","2015-02-30 17:55:00",23.1,27.2,426,704.5,0.00475923131356802,1',
  ].join('\n') + '\n');
  const input = await CsvInput.create({ path, timeZone: 'Europe/Brussels', ratePerS: 100_000 });
  t.is(input.total, 5);
  const items: InputItem[] = [];
  for await (const item of input.items(new AbortController().signal)) items.push(item);
  t.deepEqual(items.map((i) => i.kind), ['reading', 'reject', 'reject', 'reading', 'reject']);
  t.like(items[0], { kind: 'reading', index: 0, ts: Date.parse('2015-02-04T16:51:00Z'), values: { CO2: 721.25, Occupancy: 1 } });
  t.regex((items[1] as { reason: string }).reason, /line 3: has 7 fields, expected 8/);
  t.regex((items[2] as { reason: string }).reason, /line 4: HumidityRatio value "oops" is not a number/);
  t.regex((items[4] as { reason: string }).reason, /line 6: .*2015-02-30/);
  t.deepEqual(parseInputSpec('csv:a/b.txt'), { kind: 'csv', path: 'a/b.txt' });
  t.deepEqual(parseInputSpec('mqtt:local/sensors'), { kind: 'mqtt', topic: 'local/sensors' });
  t.deepEqual(parseInputSpec('stdin'), { kind: 'stdin' });
  for (const bad of ['file.csv', 'mqtt:a/+/b', 'http:x']) t.throws(() => parseInputSpec(bad), { code: 'BAD_ARGUMENT' } as never);
  const missing = await t.throwsAsync(CsvInput.create({ path: join(tempDir(), 'none.txt') }));
  t.true(isEdgeloopError(missing, 'BAD_FILE'));
});

test('stdin and mqtt inputs: JSON {ts, values} readings in order, bad messages as rejects with the gateway validator\'s reason', async (t) => {
  const lines = ['{"ts":"2015-02-02T14:19:00+01:00","values":{"CO2":700}}', 'not json', '', '[{"ts":1422883260000,"values":{"CO2":701}},{"ts":1422883320000,"values":{"CO2":702,"Light":5}}]', '{"ts":1422883380000,"values":{"CO2":"x"}}'];
  const stdin = new StdinInput({ stream: Readable.from([lines.join('\n') + '\n']) });
  const items: InputItem[] = [];
  for await (const item of stdin.items(new AbortController().signal)) items.push(item);
  t.deepEqual(items.map((i) => (i.kind === 'reading' ? [i.index, i.ts, i.values] : [i.index, i.code, i.reason])), [
    [0, Date.parse('2015-02-02T13:19:00Z'), { CO2: 700 }],
    [1, 'NOT_JSON', 'stdin line 2: payload is not UTF-8 JSON: Unexpected token \'o\', "not json" is not valid JSON'],
    [2, 1422883260000, { CO2: 701 }],
    [3, 1422883320000, { CO2: 702, Light: 5 }],
    [4, 'BAD_VALUE', 'stdin line 5: payload: sensor CO2 value must be a finite number, got "x"'],
  ]);

  const broker = await startEmbeddedBroker({ port: 0 });
  t.teardown(() => broker.stop());
  const mqttInput = await MqttInput.create({ brokerUrl: broker.url, topic: 'local/sensors', clientId: 'input-test' });
  const pub = await connectMqtt(broker.url, { clientId: 'sensor' });
  for (const l of lines.filter((x) => x !== '')) await publishAsync(pub, 'local/sensors', l, { qos: 1 });
  await endAsync(pub);
  const abort = new AbortController();
  const got: InputItem[] = [];
  for await (const item of mqttInput.items(abort.signal)) {
    got.push(item);
    if (got.length === 5) abort.abort();
  }
  await mqttInput.close();
  t.deepEqual(got.map((i) => i.kind), ['reading', 'reject', 'reading', 'reading', 'reject']);
  t.regex((got[4] as { reason: string }).reason, /^mqtt:local\/sensors: payload: sensor CO2 value must be a finite number/);
  await t.throwsAsync(MqttInput.create({ brokerUrl: broker.url, topic: 'local/#' }), { message: /without wildcards/ });
});
