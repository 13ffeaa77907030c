/** All metrics, one import. */
export * from './regression.ts';
export * from './classification.ts';
export * from './ranking.ts';
export * from './calibration.ts';
export * from './clustering.ts';
