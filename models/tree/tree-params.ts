/** Hyper-parameters shared by the tree models (one declaration, reused by each kind). */
import type { ParamSpecs } from '../params.ts';

export const SEED_SPEC = { type: 'int', min: 0, max: 4294967295, default: 0, doc: 'seed of the PRNG (feature order, bootstrap, subsampling)' } as const;

export const TREE_SPECS = {
  maxDepth: { type: 'int', min: 1, max: 1000, default: null, nullable: true, doc: 'deepest split level; null grows until leaves are pure' },
  minSamplesSplit: { type: 'int', min: 2, max: 1e9, default: 2, doc: 'rows a node needs to be split' },
  minSamplesLeaf: { type: 'int', min: 1, max: 1e9, default: 1, doc: 'rows each child must keep' },
  maxFeatures: { type: 'enum', values: ['all', 'sqrt', 'log2'], default: 'all', doc: 'features examined per split' },
  seed: SEED_SPEC,
} as const satisfies ParamSpecs;

export interface TreeParams {
  maxDepth: number | null;
  minSamplesSplit: number;
  minSamplesLeaf: number;
  maxFeatures: 'all' | 'sqrt' | 'log2';
  seed: number;
}

export function featureCount(rule: 'all' | 'sqrt' | 'log2', nFeatures: number): number {
  switch (rule) {
    case 'all': return nFeatures;
    case 'sqrt': return Math.max(1, Math.floor(Math.sqrt(nFeatures)));
    case 'log2': return Math.max(1, Math.floor(Math.log2(nFeatures)));
    default: {
      const never: never = rule;
      return never;
    }
  }
}
