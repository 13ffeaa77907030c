/** Label handling: raw label values → class indices (classification) or numbers (regression). */
import type { PipelineSpec } from './spec.ts';

/** Class key of a raw label: numbers print as JSON would (1 → "1"), strings stay. */
export function classKey(v: number | string | null): string | null {
  if (v === null) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : null;
  return v;
}

/** Sorted distinct class keys; numeric keys in numeric order when all are numbers. */
export function inferClasses(keys: readonly (string | null)[]): string[] {
  const distinct = [...new Set(keys.filter((k): k is string => k !== null))];
  const numeric = distinct.every((k) => k.trim() !== '' && Number.isFinite(Number(k)));
  return numeric ? distinct.sort((a, b) => Number(a) - Number(b)) : distinct.sort();
}

/** Target of a raw label, or null when the row has no usable label (missing or unknown class). */
export function target(v: number | string | null, label: NonNullable<PipelineSpec['input']['label']>, classes: readonly string[] | undefined): number | null {
  if (label.task === 'regression') {
    const x = typeof v === 'string' ? Number(v) : v;
    return x !== null && Number.isFinite(x) ? x : null;
  }
  const key = classKey(v);
  if (key === null) return null;
  const idx = classes!.indexOf(key);
  return idx >= 0 ? idx : null;
}
