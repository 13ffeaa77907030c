/** The data pipeline: spec → fit (train split only) → transform / stream. See docs/pipeline.md. */
export { PIPELINE_DEFAULTS, pipelineSpecSchema, validatePipelineSpec, splitNames, baseColumns, type PipelineSpec, type PipelineSpecInput } from './spec.ts';
export { canonicalJson, sha256Hex, specHash } from './hash.ts';
export { fitPipeline, type FitOptions, type FitReport } from './fit.ts';
export { transformPipeline } from './transform.ts';
export { createStreamingPipeline, type StreamingPipeline, type StreamReading } from './streaming.ts';
export type { FittedPipeline } from './fitted.ts';
