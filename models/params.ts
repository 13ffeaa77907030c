/**
 * Declared, validated hyper-parameters. Each model kind states its parameters once (type, range,
 * default); `resolveParams` fills defaults and rejects unknown names and out-of-range values with
 * a message naming the parameter and the allowed range. The tuner reads the same declarations.
 */
import { EdgeloopError } from '../src/errors.ts';

export type ParamSpec =
  | { type: 'int'; min: number; max: number; default: number | null; nullable?: boolean; doc: string }
  | { type: 'float'; min: number; max: number; default: number | null; nullable?: boolean; exclusiveMin?: boolean; doc: string }
  | { type: 'enum'; values: readonly string[]; default: string; doc: string }
  | { type: 'bool'; default: boolean; doc: string }
  /** A nested model: { kind, params } (bagging's base estimator). */
  | { type: 'model'; default: { kind: string; params?: Record<string, unknown> }; doc: string }
  /** A list of nested models (voting). */
  | { type: 'models'; default: { kind: string; params?: Record<string, unknown> }[]; doc: string };

export type ParamSpecs = Record<string, ParamSpec>;

export type ParamValue = number | string | boolean | null | NestedModel | NestedModel[];
export interface NestedModel { kind: string; params?: Record<string, unknown> }

function describe(spec: ParamSpec): string {
  switch (spec.type) {
    case 'int':
      return `an integer in [${spec.min}, ${spec.max}]${spec.nullable ? ' or null' : ''}`;
    case 'float':
      return `a number in ${spec.exclusiveMin ? '(' : '['}${spec.min}, ${spec.max}]${spec.nullable ? ' or null' : ''}`;
    case 'enum':
      return `one of ${spec.values.map((v) => `'${v}'`).join(', ')}`;
    case 'bool':
      return 'true or false';
    case 'model':
      return 'a model { kind, params }';
    case 'models':
      return 'a non-empty array of models { kind, params }';
    default: {
      const never: never = spec;
      return String(never);
    }
  }
}

function isNested(v: unknown): v is NestedModel {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as NestedModel).kind === 'string';
}

function checkOne(kind: string, name: string, spec: ParamSpec, v: unknown): boolean {
  switch (spec.type) {
    case 'int':
      if (v === null) return spec.nullable === true;
      return typeof v === 'number' && Number.isInteger(v) && v >= spec.min && v <= spec.max;
    case 'float':
      if (v === null) return spec.nullable === true;
      return typeof v === 'number' && Number.isFinite(v) && (spec.exclusiveMin ? v > spec.min : v >= spec.min) && v <= spec.max;
    case 'enum':
      return typeof v === 'string' && spec.values.includes(v);
    case 'bool':
      return typeof v === 'boolean';
    case 'model':
      return isNested(v);
    case 'models':
      return Array.isArray(v) && v.length > 0 && v.every(isNested);
    default: {
      const never: never = spec;
      throw new EdgeloopError('BAD_ARGUMENT', `${kind}: unknown spec for ${name}: ${String(never)}`);
    }
  }
}

/** Defaults filled in, every given value checked; throws BAD_ARGUMENT naming the parameter and range. */
export function resolveParams<T>(kind: string, specs: ParamSpecs, given: Record<string, unknown> | undefined): T {
  if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) {
    throw new EdgeloopError('BAD_ARGUMENT', `${kind}: params must be an object, got ${Array.isArray(given) ? 'an array' : String(given)}`);
  }
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(given ?? {})) {
    if (!(name in specs)) {
      throw new EdgeloopError('BAD_ARGUMENT', `${kind}: unknown param '${name}'; allowed: ${Object.keys(specs).join(', ')}`);
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const v = given?.[name];
    if (v === undefined) { out[name] = structuredClone(spec.default); continue; }
    if (!checkOne(kind, name, spec, v)) {
      throw new EdgeloopError('BAD_ARGUMENT', `${kind}: param '${name}' must be ${describe(spec)}, got ${JSON.stringify(v)}`);
    }
    out[name] = v;
  }
  return out as T;
}
