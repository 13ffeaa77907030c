/**
 * Sensor fault injection for demos and drift tests (`edgeloop device --fault SPEC`, repeatable).
 * Pure: parse a spec, then apply the faults to each reading before it is published as telemetry and
 * before inference (it stands for a broken sensor, so both the gateway and the model see it).
 *
 *   SENSOR:+N@WHEN     add N (or -N) to the sensor's value        CO2:+600@0.5
 *   SENSOR:*F@WHEN     multiply the value by F                    Temperature:*1.5@0.3
 *   SENSOR:stuck@WHEN  freeze the value at the last one before the onset (the first faulty one
 *                      when there is none)                         Light:stuck@2015-02-12T10:00
 *
 * WHEN is a fraction of the input in [0, 1] (0.5: from the middle reading of a CSV replay; needs an
 * input whose length is known) or a timestamp (ISO-8601; without a zone it is read in `timeZone`).
 */
import { EdgeloopError } from '../src/errors.ts';
import { isSafeName } from '../src/names.ts';
import { parseTimestamp } from '../src/time/parse-timestamp.ts';

export type FaultEffect = { kind: 'offset'; delta: number } | { kind: 'scale'; factor: number } | { kind: 'stuck' };
export type FaultOnset = { kind: 'fraction'; fraction: number } | { kind: 'time'; tsMs: number };

export interface SensorFault {
  /** The spec as given, for logs. */
  text: string;
  sensor: string;
  effect: FaultEffect;
  onset: FaultOnset;
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const FORMAT = "SENSOR:+N@WHEN, SENSOR:-N@WHEN, SENSOR:*F@WHEN or SENSOR:stuck@WHEN, WHEN a fraction in [0, 1] or a timestamp (e.g. CO2:+600@0.5, Light:stuck@2015-02-12T10:00)";

function bad(text: string, why: string): EdgeloopError {
  return new EdgeloopError('BAD_ARGUMENT', `--fault ${JSON.stringify(text)}: ${why}; expected ${FORMAT}`);
}

/** Parses one --fault spec; BAD_ARGUMENT naming the part that is wrong. */
export function parseFault(text: string, options: { timeZone?: string } = {}): SensorFault {
  if (typeof text !== 'string') throw bad(String(text), 'must be a string');
  const colon = text.indexOf(':');
  const at = text.lastIndexOf('@');
  if (colon <= 0) throw bad(text, 'no SENSOR: prefix');
  if (at < colon) throw bad(text, 'no @WHEN suffix');
  const sensor = text.slice(0, colon);
  if (!isSafeName(sensor)) throw bad(text, `sensor ${JSON.stringify(sensor)} is not a sensor name (1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit)`);
  const op = text.slice(colon + 1, at);
  const when = text.slice(at + 1);
  let effect: FaultEffect;
  if (op === 'stuck') {
    effect = { kind: 'stuck' };
  } else if (op.startsWith('*')) {
    const f = op.slice(1);
    if (!NUMBER.test(f) || !Number.isFinite(Number(f))) throw bad(text, `factor ${JSON.stringify(f)} is not a number`);
    effect = { kind: 'scale', factor: Number(f) };
  } else if (op.startsWith('+') || op.startsWith('-')) {
    if (!NUMBER.test(op) || !Number.isFinite(Number(op))) throw bad(text, `offset ${JSON.stringify(op)} is not a number`);
    effect = { kind: 'offset', delta: Number(op) };
  } else {
    throw bad(text, `effect ${JSON.stringify(op)} is not +N, -N, *F or stuck`);
  }
  let onset: FaultOnset;
  if (/^\d*\.?\d+$/.test(when) && !/^\d{4}/.test(when)) {
    const fraction = Number(when);
    if (!(fraction >= 0 && fraction <= 1)) throw bad(text, `onset fraction ${when} is not in [0, 1]`);
    onset = { kind: 'fraction', fraction };
  } else {
    try {
      onset = { kind: 'time', tsMs: parseTimestamp(when, { format: 'auto', timeZone: options.timeZone }) };
    } catch (err) {
      throw bad(text, `onset ${JSON.stringify(when)} is neither a fraction in [0, 1] nor a timestamp (${(err as Error).message})`);
    }
  }
  return { text, sensor, effect, onset };
}

/**
 * Applies faults to a stream of readings. `totalReadings` (the input's length) is required when a
 * fault starts at a fraction; the reading index is the position in the input (0-based).
 */
export class FaultInjector {
  readonly #faults: { fault: SensorFault; startIndex: number | null; startTs: number | null; frozen: number | null; active: boolean }[];
  #applied = 0;

  constructor(faults: readonly SensorFault[], totalReadings: number | null) {
    this.#faults = faults.map((fault) => {
      if (fault.onset.kind === 'fraction') {
        if (totalReadings === null) throw new EdgeloopError('BAD_ARGUMENT', `--fault ${JSON.stringify(fault.text)}: an onset given as a fraction needs an input of known length (csv:); use a timestamp onset for mqtt: and stdin inputs`);
        return { fault, startIndex: Math.floor(fault.onset.fraction * totalReadings), startTs: null, frozen: null, active: false };
      }
      return { fault, startIndex: null, startTs: fault.onset.tsMs, frozen: null, active: false };
    });
  }

  get size(): number {
    return this.#faults.length;
  }

  /** Readings with at least one value changed so far. */
  get applied(): number {
    return this.#applied;
  }

  /** Returns the (possibly) faulted values; the input object is not changed. */
  apply(index: number, tsMs: number, values: Readonly<Record<string, number>>): Record<string, number> {
    if (this.#faults.length === 0) return values as Record<string, number>;
    let out: Record<string, number> | null = null;
    for (const f of this.#faults) {
      const v = values[f.fault.sensor];
      if (v === undefined) continue;
      const on = f.startIndex !== null ? index >= f.startIndex : tsMs >= f.startTs!;
      if (!on) {
        f.frozen = v;
        continue;
      }
      if (!f.active) {
        f.active = true;
        f.frozen ??= v;
      }
      const e = f.fault.effect;
      let next: number;
      switch (e.kind) {
        case 'offset': next = v + e.delta; break;
        case 'scale': next = v * e.factor; break;
        case 'stuck': next = f.frozen!; break;
        default: throw new EdgeloopError('BAD_ARGUMENT', `unknown fault effect ${JSON.stringify(e satisfies never)}`);
      }
      out ??= { ...values };
      out[f.fault.sensor] = next;
    }
    if (out) this.#applied++;
    return out ?? (values as Record<string, number>);
  }
}
