/**
 * One entry point for every model kind: `createModel(kind, params)` validates params against the
 * kind's declared specs; `fromJSON(json)` restores a fitted model from `toJSON()` output.
 */
import { EdgeloopError } from '../src/errors.ts';
import { AgglomerativeClustering, AGGLOMERATIVE_SPECS } from './cluster/agglomerative.ts';
import { Dbscan, DBSCAN_SPECS } from './cluster/dbscan.ts';
import { KMeans, KMEANS_SPECS } from './cluster/kmeans.ts';
import { AdaBoostClassifier, ADABOOST_SPECS } from './ensemble/adaboost.ts';
import { BaggingClassifier, BaggingRegressor, BAGGING_CLASSIFIER_SPECS, BAGGING_REGRESSOR_SPECS } from './ensemble/bagging.ts';
import { VotingClassifier, VOTING_SPECS } from './ensemble/voting.ts';
import { LDA_SPECS, LinearDiscriminantAnalysis } from './linear/lda.ts';
import { Lasso, LASSO_SPECS, LinearRegression, LINEAR_REGRESSION_SPECS, Ridge, RIDGE_SPECS } from './linear/linear-regression.ts';
import { LogisticRegression, LOGISTIC_REGRESSION_SPECS } from './linear/logistic-regression.ts';
import { KNeighborsClassifier, KNeighborsRegressor, KNN_SPECS } from './neighbors/knn.ts';
import type { ParamSpecs } from './params.ts';
import { SVC, SVC_SPECS } from './svm/svc.ts';
import { DecisionTreeClassifier, DecisionTreeRegressor, DECISION_TREE_CLASSIFIER_SPECS, DECISION_TREE_REGRESSOR_SPECS } from './tree/decision-tree.ts';
import { GradientBoostingClassifier, GradientBoostingRegressor, GRADIENT_BOOSTING_SPECS } from './tree/gradient-boosting.ts';
import { RandomForestClassifier, RandomForestRegressor, RANDOM_FOREST_CLASSIFIER_SPECS, RANDOM_FOREST_REGRESSOR_SPECS } from './tree/random-forest.ts';
import type { Estimator, ModelJSON } from './types.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- constructor table: params are validated by resolveParams at run time */
type Ctor = new (params: any) => Estimator & { loadState(state: unknown): unknown };
/* eslint-enable @typescript-eslint/no-explicit-any */

const KINDS = {
  'linear-regression': [LinearRegression, LINEAR_REGRESSION_SPECS],
  ridge: [Ridge, RIDGE_SPECS],
  lasso: [Lasso, LASSO_SPECS],
  'logistic-regression': [LogisticRegression, LOGISTIC_REGRESSION_SPECS],
  lda: [LinearDiscriminantAnalysis, LDA_SPECS],
  'decision-tree-classifier': [DecisionTreeClassifier, DECISION_TREE_CLASSIFIER_SPECS],
  'decision-tree-regressor': [DecisionTreeRegressor, DECISION_TREE_REGRESSOR_SPECS],
  'random-forest-classifier': [RandomForestClassifier, RANDOM_FOREST_CLASSIFIER_SPECS],
  'random-forest-regressor': [RandomForestRegressor, RANDOM_FOREST_REGRESSOR_SPECS],
  'gradient-boosting-classifier': [GradientBoostingClassifier, GRADIENT_BOOSTING_SPECS],
  'gradient-boosting-regressor': [GradientBoostingRegressor, GRADIENT_BOOSTING_SPECS],
  'knn-classifier': [KNeighborsClassifier, KNN_SPECS],
  'knn-regressor': [KNeighborsRegressor, KNN_SPECS],
  svc: [SVC, SVC_SPECS],
  kmeans: [KMeans, KMEANS_SPECS],
  dbscan: [Dbscan, DBSCAN_SPECS],
  agglomerative: [AgglomerativeClustering, AGGLOMERATIVE_SPECS],
  'voting-classifier': [VotingClassifier, VOTING_SPECS],
  'bagging-classifier': [BaggingClassifier, BAGGING_CLASSIFIER_SPECS],
  'bagging-regressor': [BaggingRegressor, BAGGING_REGRESSOR_SPECS],
  'adaboost-classifier': [AdaBoostClassifier, ADABOOST_SPECS],
} as const satisfies Record<string, readonly [Ctor, ParamSpecs]>;

export type ModelKind = keyof typeof KINDS;
export const MODEL_KINDS = Object.keys(KINDS) as ModelKind[];

/** Params accepted by each kind (the constructor's argument). */
export type ModelParams<K extends ModelKind> = NonNullable<ConstructorParameters<(typeof KINDS)[K][0]>[0]>;
export type ModelOf<K extends ModelKind> = InstanceType<(typeof KINDS)[K][0]>;

function entry(kind: string): readonly [Ctor, ParamSpecs] {
  if (!Object.hasOwn(KINDS, kind)) {
    throw new EdgeloopError('BAD_ARGUMENT', `kind must be one of ${MODEL_KINDS.join(', ')}; got '${kind}'`);
  }
  return KINDS[kind as ModelKind] as readonly [Ctor, ParamSpecs];
}

export function createModel<K extends ModelKind>(kind: K, params?: ModelParams<K>): ModelOf<K>;
export function createModel(kind: string, params?: Record<string, unknown>): Estimator;
export function createModel(kind: string, params?: object): Estimator {
  const [Model] = entry(kind);
  return new Model(params ?? {});
}

/** The declared hyper-parameters of a kind (ranges and defaults), for tuners and the CLI. */
export function modelSpecs(kind: string): ParamSpecs {
  return entry(kind)[1];
}

export function fromJSON(json: ModelJSON): Estimator {
  if (typeof json !== 'object' || json === null || json.format !== 'edgeloop-model' || json.version !== 1) {
    throw new EdgeloopError('MODEL_CORRUPT', `model JSON must have format 'edgeloop-model' and version 1, got ${JSON.stringify(json && { format: json.format, version: json.version })}`);
  }
  const [Model] = entry(json.kind);
  const model = new Model(json.params);
  model.loadState(json.state);
  return model;
}
