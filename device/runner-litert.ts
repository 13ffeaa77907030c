/**
 * The TFLite runner on LiteRT (@litertjs/core, wasm CPU / XNNPACK) — the only module importing it.
 * LiteRT.js targets browsers: its loader injects the emscripten script through `importScripts`
 * or a <script> tag and reads `self.ModuleFactory`. We provide those few globals while the
 * runtime loads (and remove them after), evaluating the script with Node's require/__dirname.
 * Models have batch 1; a batch of N rows runs N times.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import type { Logger } from '../src/log.ts';
import { closedError, type ModelRunner } from './runner.ts';
import { assertSingleFloatInput, assertTfliteModel, batch1Input, loadOnce } from './runner-tflite-common.ts';

type LiteRtCore = typeof import('@litertjs/core');

const require = createRequire(import.meta.url);

const loadCore = loadOnce(async (logger: Logger): Promise<LiteRtCore> => {
  const core = (await import('@litertjs/core')) as LiteRtCore;
  const wasmDir = path.join(path.dirname(require.resolve('@litertjs/core/package.json')), 'wasm') + path.sep;
  const g = globalThis as Record<string, unknown>;
  const saved = { self: g.self, importScripts: g.importScripts, Module: g.Module };
  g.self = globalThis;
  g.importScripts = (url: string): void => {
    const fn = vm.runInThisContext(`(function (require, __dirname, __filename) {${readFileSync(url, 'utf8')}\n;self.ModuleFactory = ModuleFactory;\n})`, { filename: url }) as (
      r: NodeJS.Require,
      d: string,
      f: string,
    ) => void;
    fn(createRequire(url), path.dirname(url), url);
  };
  g.Module = { locateFile: (p: string) => wasmDir + p, print: (s: string) => logger.debug(s), printErr: (s: string) => logger.debug(s) };
  try {
    await core.loadLiteRt(wasmDir);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete g[k];
      else g[k] = v;
    }
  }
  return core;
});

export async function createLitertRunner(bytes: Uint8Array, options: { logger: Logger }): Promise<ModelRunner> {
  const core = await loadCore(options.logger);
  assertTfliteModel(bytes);
  let model: Awaited<ReturnType<LiteRtCore['loadAndCompile']>>;
  try {
    model = await core.loadAndCompile(bytes, { accelerator: 'wasm' });
  } catch (err) {
    throw new EdgeloopError('MODEL_CORRUPT', `tflite model could not be loaded by LiteRT (${bytes.length} bytes): ${errorMessage(err)}`, { cause: err });
  }
  const inDetails = model.getInputDetails();
  try {
    assertSingleFloatInput(inDetails.map((d) => d.dtype));
  } catch (err) {
    model.delete();
    throw err;
  }
  const batch = batch1Input(Array.from(inDetails[0].shape));
  const { inShape, rowSize } = batch;
  let closed = false;
  return {
    format: 'tflite',
    async run(input: Float32Array, shape: number[]): Promise<Float32Array[]> {
      if (closed) throw closedError('tflite');
      const rows = batch.rows(input, shape);
      const chunks: Float32Array[][] = [];
      for (let r = 0; r < rows; r++) {
        const t = new core.Tensor(input.slice(r * rowSize, (r + 1) * rowSize), [...inShape]);
        try {
          const outs = await model.run(t);
          chunks.push(
            outs.map((o) => {
              const data = Float32Array.from(o.toTypedArray() as ArrayLike<number>);
              o.delete();
              return data;
            }),
          );
        } catch (err) {
          throw new EdgeloopError('RUNTIME', `LiteRT inference failed on row ${r}: ${errorMessage(err)}`, { cause: err });
        } finally {
          t.delete();
        }
      }
      return chunks[0].map((_, k) => {
        const out = new Float32Array(chunks.reduce((a, c) => a + c[k].length, 0));
        let off = 0;
        for (const c of chunks) {
          out.set(c[k], off);
          off += c[k].length;
        }
        return out;
      });
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      model.delete();
    },
  };
}
