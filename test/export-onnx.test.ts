import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRunner } from '../device/runner.ts';
import type { ModelIR } from '../models/ir.ts';
import { exportModel, referenceForward, type ExportResult } from '../models/export/index.ts';
import { decodeModel } from '../models/export/onnx-graph.ts';
import { convNet, inputs, linearModel, maxRelError, mlp, recurrentNet, treeModel, withScaler } from './export-nets.ts';

const cases: [string, ModelIR][] = [
  ['mlp relu/tanh/softmax', { body: mlp(1, [4, 8, 6, 3], ['relu', 'tanh', 'softmax']) }],
  ['mlp relu6/sigmoid regression', { body: mlp(2, [5, 7, 2], ['relu6', 'sigmoid'], 'regression') }],
  ['mlp linear head', { body: mlp(3, [3, 4, 1], ['relu', 'linear'], 'regression') }],
  ['mlp + scaler folded', withScaler(mlp(4, [4, 6, 2], ['relu', 'softmax']), 40, 4)],
  ['conv1d/pool/flatten', { body: convNet(5) }],
  ['lstm last state', { body: recurrentNet(6, 'lstm', false) }],
  ['lstm sequences', { body: recurrentNet(7, 'lstm', true) }],
  ['gru sequences', { body: recurrentNet(8, 'gru', true) }],
  ['gru last state', { body: recurrentNet(9, 'gru', false) }],
  ['linear regression', { body: linearModel(10, 4, 2, 'identity') }],
  ['linear binary logistic', withScaler(linearModel(11, 4, 1, 'logistic'), 41, 4)],
  ['linear softmax', { body: linearModel(12, 4, 3, 'softmax') }],
  ['forest average softmax', { body: treeModel(13, { nFeatures: 4, trees: 5, depth: 3, width: 3, aggregate: 'average', link: 'softmax' }) }],
  ['boosted sum logistic binary', withScaler(treeModel(14, { nFeatures: 4, trees: 6, depth: 2, width: 1, aggregate: 'sum', link: 'logistic' }), 42, 4)],
  ['boosted sum regression', { body: treeModel(15, { nFeatures: 4, trees: 4, depth: 3, width: 1, aggregate: 'sum', link: 'identity' }) }],
];

const hasChecker = (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import onnx'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const dir = mkdtempSync(path.join(tmpdir(), 'edgeloop-onnx-'));

function check(t: { log: (...a: unknown[]) => void; notThrows: (fn: () => unknown) => void }, file: string): void {
  if (!hasChecker) {
    if (process.env.CI) throw new Error('python3-onnx is not installed but CI must run the ONNX checker (.ci/run installs it)');
    t.log('SKIPPED onnx.checker: /usr/bin/python3 -c "import onnx" failed on this machine');
    return;
  }
  t.notThrows(() =>
    execFileSync('/usr/bin/python3', ['-c', 'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', file], { stdio: 'pipe' }),
  );
}

for (const [name, model] of cases) {
  test(`onnx float32 ${name}: onnxruntime matches the reference and the checker accepts it`, async (t) => {
    const r: ExportResult = exportModel(model, { format: 'onnx' });
    const sample = r.inputs[0].shape.slice(1);
    const size = sample.reduce((a, d) => a * d, 1);
    const batch = 7;
    const x = inputs(100, batch * size);
    const runner = await createRunner('onnx', r.bytes);
    try {
      const [y] = await runner.run(x, [batch, ...sample]);
      const ref = referenceForward(model, x, batch);
      t.is(y.length, ref.length);
      t.true(maxRelError(y, ref) <= 1e-5, `max rel error ${maxRelError(y, ref)}`);
    } finally {
      await runner.close();
    }
    const file = path.join(dir, `${name.replace(/\W+/g, '_')}.onnx`);
    writeFileSync(file, r.bytes);
    check(t, file);
  });
}

test('onnx file header: IR version 8, opset 13, ai.onnx.ml 3 only when trees are used, documented names', (t) => {
  const net = decodeModel(exportModel({ body: mlp(1, [4, 3], ['softmax']) }, { format: 'onnx' }).bytes) as {
    ir_version: number;
    opset_import: { domain?: string; version: number }[];
    graph: { input: { name: string }[]; output: { name: string }[] };
  };
  t.is(net.ir_version, 8);
  t.deepEqual(net.opset_import.map((o) => [o.domain ?? '', o.version]), [['', 13]]);
  t.is(net.graph.input[0].name, 'input');
  t.is(net.graph.output[0].name, 'probabilities');
  const trees = decodeModel(exportModel({ body: treeModel(1, { nFeatures: 2, trees: 1, depth: 1, width: 1, aggregate: 'sum', link: 'identity' }) }, { format: 'onnx' }).bytes) as typeof net;
  t.deepEqual(trees.opset_import.map((o) => [o.domain ?? '', o.version]), [['', 13], ['ai.onnx.ml', 3]]);
  t.is(trees.graph.output[0].name, 'predictions');
});

test('onnx: an unfolded scaler (Sub/Mul) gives the same outputs as the folded one', async (t) => {
  const model = withScaler(mlp(21, [4, 5, 2], ['tanh', 'softmax']), 43, 4);
  const x = inputs(5, 8 * 4, 3);
  const ref = referenceForward(model, x, 8);
  for (const foldPreprocess of [true, false]) {
    const runner = await createRunner('onnx', exportModel(model, { format: 'onnx', foldPreprocess }).bytes);
    const [y] = await runner.run(x, [8, 4]);
    await runner.close();
    t.true(maxRelError(y, ref) <= 1e-5, `fold=${foldPreprocess}: ${maxRelError(y, ref)}`);
  }
});

test('onnx: tree ensembles have no quantized variant (MODEL_UNSUPPORTED names format, kind and variant)', (t) => {
  const model = { body: treeModel(1, { nFeatures: 2, trees: 1, depth: 1, width: 1, aggregate: 'sum' as const, link: 'identity' as const }) };
  const err = t.throws(() => exportModel(model, { format: 'onnx', variant: 'int8' }));
  t.is((err as { code?: string }).code, 'MODEL_UNSUPPORTED');
  t.is(err?.message, "onnx export of a tree-ensemble model supports variant 'float32' only, got 'int8'");
});
