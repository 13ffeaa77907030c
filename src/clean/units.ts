/**
 * A small registry of physical units for the 'convert-unit' cleaning step. Every unit is affine in
 * its dimension's base unit: base = value × scale + offset. Exact factors from their definitions
 * (1 ft = 0.3048 m, 1 lb = 0.45359237 kg, 1 psi = 6894.757293168 Pa).
 */
export type Dimension = 'temperature' | 'length' | 'speed' | 'pressure' | 'mass' | 'volume';

interface UnitDef {
  dimension: Dimension;
  /** Multiplier to the base unit (°C, m, m/s, Pa, kg, L). */
  scale: number;
  /** Added after scaling (only temperatures have one). */
  offset: number;
}

const linear = (dimension: Dimension, scale: number): UnitDef => ({ dimension, scale, offset: 0 });

export const UNITS = {
  degC: linear('temperature', 1),
  degF: { dimension: 'temperature', scale: 5 / 9, offset: -32 * (5 / 9) },
  K: { dimension: 'temperature', scale: 1, offset: -273.15 },
  m: linear('length', 1),
  cm: linear('length', 0.01),
  mm: linear('length', 0.001),
  km: linear('length', 1000),
  in: linear('length', 0.0254),
  ft: linear('length', 0.3048),
  yd: linear('length', 0.9144),
  mi: linear('length', 1609.344),
  'm/s': linear('speed', 1),
  'km/h': linear('speed', 1000 / 3600),
  mph: linear('speed', 1609.344 / 3600),
  kn: linear('speed', 1852 / 3600),
  Pa: linear('pressure', 1),
  hPa: linear('pressure', 100),
  kPa: linear('pressure', 1000),
  bar: linear('pressure', 100_000),
  psi: linear('pressure', 6894.757293168),
  inHg: linear('pressure', 3386.389),
  mmHg: linear('pressure', 133.322387415),
  kg: linear('mass', 1),
  g: linear('mass', 0.001),
  lb: linear('mass', 0.45359237),
  oz: linear('mass', 0.028349523125),
  L: linear('volume', 1),
  mL: linear('volume', 0.001),
  gal: linear('volume', 3.785411784),
} as const satisfies Record<string, UnitDef>;

export type UnitName = keyof typeof UNITS;
export const UNIT_NAMES = Object.keys(UNITS) as [UnitName, ...UnitName[]];

export function unitDimension(unit: UnitName): Dimension {
  return UNITS[unit].dimension;
}

/** A converter from `from` to `to`; the caller has checked both share a dimension. */
export function unitConverter(from: UnitName, to: UnitName): (value: number) => number {
  const a: UnitDef = UNITS[from];
  const b: UnitDef = UNITS[to];
  return (value) => (value * a.scale + a.offset - b.offset) / b.scale;
}
