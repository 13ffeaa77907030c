import test from 'ava';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson, createStreamingPipeline, fitPipeline, sha256Hex, specHash, transformPipeline, validatePipelineSpec } from '../src/pipeline/index.ts';
import type { Frame } from '../src/frame.ts';

const base = {
  version: 1,
  input: { sensors: ['t', 'h'], label: { column: 'y', task: 'classification' } },
  split: { type: 'time' },
  features: { window: { type: 'sliding-count', sizeReadings: 4 }, stats: ['mean', 'std'] },
  scale: { type: 'standard' },
} as const;

function frame(n: number): Frame {
  return {
    ts: Array.from({ length: n }, (_, i) => i * 1000),
    device: Array.from({ length: n }, () => 'd1'),
    num: { t: Array.from({ length: n }, (_, i) => 20 + Math.sin(i / 3)), h: Array.from({ length: n }, (_, i) => 40 + (i % 7)), y: Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 1 : 0)) },
    cat: {},
  };
}

test('a valid spec gets its defaults (70/15/15 time split, ddof 1, maxGapMs 5 min)', (t) => {
  const spec = validatePipelineSpec(base);
  t.deepEqual(spec.split, { type: 'time', parts: [{ name: 'train', fraction: 0.7 }, { name: 'val', fraction: 0.15 }, { name: 'test', fraction: 0.15 }], gapMs: 0 });
  t.is(spec.features.ddof, 1);
  t.is(spec.features.maxGapMs, 300_000);
  t.is(spec.trainSplit, 'train');
});

test('every structural problem is listed in one BAD_SPEC error', (t) => {
  const err = t.throws(() => validatePipelineSpec({ version: 2, input: { sensors: [] }, features: { window: { type: 'sliding-count', sizeReadings: 0 }, windowSizeS: 3 }, scale: { type: 'zscore' } }));
  t.is((err as { code?: string }).code, 'BAD_SPEC');
  const lines = err!.message.split('\n');
  t.regex(lines[0], /^invalid pipeline spec \(\d+ problems\):$/);
  const text = err!.message;
  t.regex(text, /- version: /);
  t.regex(text, /- input\.sensors: /);
  t.regex(text, /- features\.window\.sizeReadings: /);
  t.regex(text, /- features: Unrecognized key: "windowSizeS"/);
  t.regex(text, /- scale\.type: /);
  t.is(lines.length - 1, Number(/\((\d+) problems\)/.exec(lines[0])![1]));
});

test('every semantic problem is listed, with the argument and the allowed range', (t) => {
  const err = t.throws(() => validatePipelineSpec({
    version: 1,
    input: { sensors: ['t', 't', 'y'], label: { column: 'y', task: 'regression', classes: ['a', 'b'] } },
    clean: [{ op: 'impute', columns: ['nope'], strategy: 'median' }],
    split: { type: 'stratified', parts: [{ name: 'train', fraction: 0.5 }, { name: 'test', fraction: 0.4 }] },
    trainSplit: 'fit',
    features: {
      window: { type: 'tumbling-count', sizeReadings: 3 },
      stats: ['kurt', 'dominant_freq'],
      bands: [{ loHz: 2, hiHz: 1 }],
      date: { timeZone: 'Mars/Base', features: ['hour'] },
      derived: [{ type: 'polynomial', columns: ['t__mean'] }],
    },
    select: [{ type: 'mutual-info', keep: 99 }],
    scale: { type: 'minmax', rangeMin: 1, rangeMax: 0 },
  }));
  t.is((err as { code?: string }).code, 'BAD_SPEC');
  const expected = [
    "input.sensors: 't' appears twice",
    "input.label.column: 'y' is also a sensor; a label must not be a feature",
    'input.label.classes: only a classification label has classes',
    "trainSplit: 'fit' is not a split name; splits are train, test",
    'split.parts: fractions must sum to 1, got 0.9',
    'split: a stratified split needs a classification label (input.label.task)',
    "features.stats: 'kurt' needs windows of at least 4 readings, but the window guarantees 3 (raise sizeReadings/minReadings)",
    'features.sampleRateHz: required by dominant_freq and bands (the nominal sampling rate)',
    'features.bands[0]: hiHz must be > loHz, got [2, 1)',
    "features.date.timeZone: 'Mars/Base' is not a known IANA time zone (e.g. 'Europe/Brussels')",
    "features.derived[0]: unknown column(s) 't__mean'",
    'select[0] (mutual-info): only for classification labels',
    'select[0] (mutual-info): keep must be ≤ ',
    'scale: rangeMax must be > rangeMin, got [1, 0]',
    'clean: ',
  ];
  for (const e of expected) t.true(err!.message.includes(`- ${e}`), `missing: ${e}\n${err!.message}`);
});

test('sha256 matches node:crypto on random inputs, including the padding edge lengths', (t) => {
  for (const len of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
    const bytes = Uint8Array.from({ length: len }, (_, i) => (i * 131 + len) & 0xff);
    t.is(sha256Hex(bytes), createHash('sha256').update(bytes).digest('hex'), `length ${len}`);
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => sha256Hex(b) === createHash('sha256').update(b).digest('hex')), { numRuns: 200, seed: 1 });
});

test('canonical JSON sorts keys at every depth and drops undefined members', (t) => {
  t.is(canonicalJson({ b: 1, a: [{ d: 'x', c: null }, 2.5], e: undefined }), '{"a":[{"c":null,"d":"x"},2.5],"b":1}');
  const err = t.throws(() => canonicalJson({ a: NaN }));
  t.is((err as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(err?.message, 'canonicalJson: numbers must be finite, got NaN');
});

/** An oracle for canonical JSON written for this test: keys sorted by code unit at every depth. */
function referenceCanonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(referenceCanonical).join(',')}]`;
  if (x !== null && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${referenceCanonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(x);
}

test('canonical JSON of any JSON value, in any key order or already canonical (the native fast path), matches the oracle', (t) => {
  // Integer-like keys (listed first, numerically, by every JS object), non-ASCII and astral keys, -0.
  const tricky = JSON.parse('{"10":1,"9":{"b":[],"a":-0},"é":"x","\ud83d\ude00":[{"2":true,"1":null}],"Z":0.1,"a":1e-7}') as unknown;
  for (const v of [tricky, JSON.parse(canonicalJson(tricky)) as unknown]) t.is(canonicalJson(v), referenceCanonical(tricky));
  t.is(canonicalJson(tricky), '{"10":1,"9":{"a":0,"b":[]},"Z":0.1,"a":1e-7,"é":"x","\ud83d\ude00":[{"1":null,"2":true}]}');
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    const expected = referenceCanonical(v);
    return canonicalJson(v) === expected && canonicalJson(JSON.parse(expected)) === expected;
  }), { numRuns: 500 });
  // What JSON.stringify would write differently is never taken as canonical.
  t.is(canonicalJson({ a: new Date(0) }), '{"a":{}}');
  t.is(canonicalJson([1, undefined]), '[1,null]');
  t.throws(() => canonicalJson({ a: () => 1 }), { message: 'canonicalJson: cannot encode a value of type function' });
  t.throws(() => canonicalJson({ a: [Infinity] }), { message: 'canonicalJson: numbers must be finite, got Infinity' });
});

test('the spec hash ignores key order and written-out defaults, and changes with any setting', (t) => {
  const a = specHash(validatePipelineSpec(base));
  const withDefaults = { ...base, trainSplit: 'train', features: { ...base.features, ddof: 1, maxGapMs: 300_000 } };
  t.is(specHash(validatePipelineSpec(withDefaults)), a);
  t.not(specHash(validatePipelineSpec({ ...base, features: { ...base.features, ddof: 0 } })), a);
});

test('transform refuses a fitted pipeline from another spec; fit refuses rfe without a model', (t) => {
  const { fitted } = fitPipeline(frame(60), base);
  const other = { ...base, features: { ...base.features, stats: ['mean'] } };
  const err = t.throws(() => transformPipeline(frame(10), other, fitted));
  t.is((err as { code?: string }).code, 'BAD_SPEC');
  t.regex(err!.message, /^fitted pipeline was fitted for spec [0-9a-f]{12}…, not this spec \([0-9a-f]{12}…\); refit with fitPipeline$/);
  const rfe = t.throws(() => fitPipeline(frame(60), { ...base, select: [{ type: 'rfe', keep: 1 }] }));
  t.is((rfe as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(rfe?.message, 'options.rfeModel is required: the spec has an rfe selection step');
});

test('missing input columns and an empty train split are BAD_DATA with the names', (t) => {
  const f = frame(60);
  delete (f.num as Record<string, unknown>).h;
  const e1 = t.throws(() => fitPipeline(f, base));
  t.is((e1 as { code?: string }).code, 'BAD_DATA');
  t.is(e1?.message, "frame has no numeric column for sensor(s) 'h' (input.sensors); numeric columns: t, y");
  const ranges = { ...base, split: { type: 'time-ranges', ranges: [{ name: 'train', start: '2030-01-01T00:00:00Z', end: '2030-02-01T00:00:00Z' }] } };
  const e2 = t.throws(() => fitPipeline(frame(60), ranges));
  t.is((e2 as { code?: string }).code, 'BAD_DATA');
  t.is(e2?.message, 'split \'train\' (trainSplit) has no rows; rows per split: {"train":0}');
});

test('the streaming pipeline refuses clean steps that need neighbouring rows', (t) => {
  const spec = { ...base, clean: [{ op: 'fill', columns: ['t'], direction: 'forward', maxRows: 2 }] };
  const { fitted } = fitPipeline(frame(60), spec);
  const err = t.throws(() => createStreamingPipeline(spec, fitted));
  t.is((err as { code?: string }).code, 'BAD_SPEC');
  t.is(err?.message, "clean step(s) 'fill' need neighbouring rows and cannot run per reading; allowed in streaming: row-local steps only");
});
