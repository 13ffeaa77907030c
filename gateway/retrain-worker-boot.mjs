// Worker-thread entry of a retraining fit. tsx's process-wide loader does not reach worker threads on
// Node 20 (a .ts worker fails with "Unknown file extension"), so the TypeScript module is loaded with
// tsx's scoped tsImport, which also resolves everything it imports.
import { tsImport } from 'tsx/esm/api';

await tsImport('./retrain-worker.ts', import.meta.url);
