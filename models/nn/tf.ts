/**
 * The one module of edgeloop that imports TensorFlow.js. Everything else in models/nn/ receives
 * the `tf` namespace from `loadTf()`, so the backend choice is made in exactly one place.
 *
 * Backend preference: `tensorflow` (@tensorflow/tfjs-node, native, optional dependency) when it
 * can be imported, else `wasm` (@tensorflow/tfjs-backend-wasm, ≈3× faster than `cpu` for training
 * in Node, single-threaded), else the pure-JS `cpu` backend.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as TfModule from '@tensorflow/tfjs';
import { EdgeloopError, errorMessage } from '../../src/errors.ts';
import { silentLogger, type Logger } from '../../src/log.ts';

export type Tf = typeof TfModule;
export type Tensor = TfModule.Tensor;
export type Tensor2D = TfModule.Tensor2D;
export type Tensor3D = TfModule.Tensor3D;
export type Variable = TfModule.Variable;
export type Optimizer = TfModule.Optimizer;
export type NamedTensorMap = TfModule.NamedTensorMap;

export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';
export const TF_BACKENDS: readonly TfBackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface TfRuntime {
  tf: Tf;
  /** The backend actually active (after fallbacks). */
  backend: TfBackendName;
}

export interface LoadTfOptions {
  /** Backends to try, in order. Default: tensorflow, wasm, cpu. */
  prefer?: readonly TfBackendName[];
  logger?: Logger;
}

let loading: Promise<TfRuntime> | undefined;

/**
 * Initialize TensorFlow.js once per process and report the active backend. Later calls return the
 * same runtime; a later call whose `prefer` list does not start with the active backend switches to
 * the first backend of that list that works (tests and benches compare backends this way).
 */
export async function loadTf(options: LoadTfOptions = {}): Promise<TfRuntime> {
  const prefer = options.prefer ?? TF_BACKENDS;
  if (prefer.length === 0) throw new EdgeloopError('BAD_ARGUMENT', `prefer must list at least one of ${TF_BACKENDS.join(', ')}`);
  for (const name of prefer) {
    if (!TF_BACKENDS.includes(name)) {
      throw new EdgeloopError('BAD_ARGUMENT', `prefer entries must be one of ${TF_BACKENDS.join(', ')}, got ${JSON.stringify(name)}`);
    }
  }
  const logger = (options.logger ?? silentLogger).child('tf');
  if (loading === undefined) {
    loading = initialize(prefer, logger);
    loading.catch(() => {
      loading = undefined; // let a later call retry instead of caching the failure
    });
    return loading;
  }
  const runtime = await loading;
  if (options.prefer === undefined || prefer[0] === runtime.backend) return runtime;
  const attempt = switchBackend(runtime.tf, prefer, logger);
  // A failed switch leaves the previous backend active and cached.
  loading = attempt.catch(async () => {
    await runtime.tf.setBackend(runtime.backend);
    return runtime;
  });
  return attempt;
}

async function initialize(prefer: readonly TfBackendName[], logger: Logger): Promise<TfRuntime> {
  let tf: Tf;
  let nodeLoaded = false;
  if (prefer.includes('tensorflow')) {
    try {
      // tfjs-node re-exports the whole tfjs API and registers the native backend on import.
      // The specifier is a variable so that TypeScript does not require the optional package.
      const specifier = '@tensorflow/tfjs-node';
      tf = (await import(specifier)) as Tf;
      nodeLoaded = true;
    } catch (err) {
      logger.debug(() => `@tensorflow/tfjs-node not available: ${errorMessage(err)}`);
      tf = await import('@tensorflow/tfjs');
    }
  } else {
    tf = await import('@tensorflow/tfjs');
  }
  return switchBackend(tf, prefer.filter((b) => b !== 'tensorflow' || nodeLoaded), logger);
}

async function switchBackend(tf: Tf, prefer: readonly TfBackendName[], logger: Logger): Promise<TfRuntime> {
  // PROD silences tfjs's own console.warn calls (e.g. the cpu backend's "install tfjs-node" banner):
  // library code reports through the injected logger only.
  tf.env().set('PROD', true);
  const failures: string[] = [];
  for (const name of prefer) {
    try {
      if (name === 'wasm') await registerWasm();
      if (await tf.setBackend(name)) {
        await tf.ready();
        logger.info(`tensorflow.js backend: ${name}`);
        return { tf, backend: name };
      }
      failures.push(`${name}: setBackend returned false`);
    } catch (err) {
      failures.push(`${name}: ${errorMessage(err)}`);
    }
    logger.debug(() => `backend ${name} unavailable: ${failures[failures.length - 1]}`);
  }
  throw new EdgeloopError('RUNTIME', `no tensorflow.js backend could be initialized (${failures.join('; ')})`);
}

let wasmRegistered = false;

async function registerWasm(): Promise<void> {
  if (wasmRegistered) return;
  // Importing the package registers the backend; the .wasm binaries are loaded from disk, so point
  // the loader at the package's dist/ folder as a file path (the trailing slash is required).
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(dirname(entry) + '/');
  wasmRegistered = true;
}
