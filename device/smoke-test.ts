/**
 * The manifest's smoke test, run in the device's own runtime before a model may serve: the inputs go
 * through the loaded runner and the first output must match the expected rows within the tolerance
 * (|got - expected| <= abs + rel * |expected|). It catches a runtime that reads the file differently
 * (an unsupported op, a quantization bug, a wrong variant) on the device itself, where it matters.
 */
import { EdgeloopError } from '../src/errors.ts';
import type { ModelManifest } from '../src/manifest.ts';
import type { ModelRunner } from './runner.ts';

export interface SmokeOutcome {
  rows: number;
  /** Largest |got - expected| seen. */
  maxAbsError: number;
}

/** Runs the smoke test; throws SMOKE_TEST naming the first mismatch. */
export async function runSmokeTest(manifest: ModelManifest, runner: ModelRunner): Promise<SmokeOutcome> {
  const { inputs, expected, tolerance } = manifest.smokeTest;
  const what = `smoke test of ${manifest.model} v${manifest.version}`;
  const rows = inputs.length;
  if (rows === 0) throw new EdgeloopError('SMOKE_TEST', `${what}: the manifest has no smoke-test inputs`);
  const spec = manifest.io.inputs[0];
  if (!spec) throw new EdgeloopError('SMOKE_TEST', `${what}: the manifest declares no input tensor`);
  const rowShape = spec.shape.slice(1).map((d) => (d < 0 ? 1 : d));
  const rowSize = rowShape.reduce((a, d) => a * d, 1);
  const flat = new Float32Array(rows * rowSize);
  inputs.forEach((row, r) => {
    if (row.length !== rowSize) throw new EdgeloopError('SMOKE_TEST', `${what}: input row ${r} has ${row.length} values, the input tensor [${spec.shape.join(', ')}] needs ${rowSize}`);
    flat.set(row, r * rowSize);
  });
  let outputs: Float32Array[];
  try {
    outputs = await runner.run(flat, [rows, ...rowShape]);
  } catch (err) {
    throw new EdgeloopError('SMOKE_TEST', `${what}: the runtime failed to run the model: ${(err as Error).message}`, { cause: err });
  }
  const got = outputs[0];
  const want = expected.flat();
  if (!got || got.length !== want.length) {
    throw new EdgeloopError('SMOKE_TEST', `${what}: the first output has ${got?.length ?? 0} values, expected ${want.length} (${expected.length} rows)`);
  }
  let maxAbsError = 0;
  const perRow = want.length / expected.length;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tolerance.abs + tolerance.rel * Math.abs(want[i]))) {
      throw new EdgeloopError('SMOKE_TEST', `${what}: row ${Math.floor(i / perRow)} output ${i % perRow} is ${got[i]}, expected ${want[i]} (|error| ${err.toPrecision(3)} > ${tolerance.abs} + ${tolerance.rel}·|expected|)`);
    }
    maxAbsError = Math.max(maxAbsError, err);
  }
  return { rows, maxAbsError };
}
