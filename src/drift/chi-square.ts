/**
 * Chi-square tests for categorical frequencies: goodness of fit (scipy.stats.chisquare) and
 * homogeneity of a contingency table (scipy.stats.chi2_contingency, with Yates' correction when
 * there is one degree of freedom, as scipy's default).
 */
import { EdgeloopError } from '../errors.ts';
import { chiSquareSf } from './special.ts';

export interface ChiSquareResult {
  statistic: number;
  pValue: number;
  dof: number;
}

/**
 * Goodness of fit of `observed` counts to `expected` counts (uniform when omitted). Like scipy ≥ 1.9,
 * both must have the same total (relative tolerance 1e-8): scale expected proportions first.
 */
export function chiSquareGoodnessOfFit(observed: ArrayLike<number>, expected?: ArrayLike<number>): ChiSquareResult {
  const k = observed.length;
  if (k === 0) throw new EdgeloopError('BAD_ARGUMENT', 'observed must have at least one category');
  let totalObs = 0;
  for (let i = 0; i < k; i++) {
    const o = observed[i]!;
    if (!(o >= 0) || !Number.isFinite(o)) throw new EdgeloopError('BAD_ARGUMENT', `observed[${i}] must be a finite count ≥ 0, got ${o}`);
    totalObs += o;
  }
  let exp: ArrayLike<number>;
  if (expected === undefined) {
    exp = new Array<number>(k).fill(totalObs / k);
  } else {
    if (expected.length !== k) throw new EdgeloopError('BAD_ARGUMENT', `expected must have ${k} categories like observed, got ${expected.length}`);
    let totalExp = 0;
    for (let i = 0; i < k; i++) {
      const e = expected[i]!;
      if (!(e > 0) || !Number.isFinite(e)) throw new EdgeloopError('BAD_ARGUMENT', `expected[${i}] must be a finite count > 0, got ${e}`);
      totalExp += e;
    }
    if (Math.abs(totalObs - totalExp) > 1e-8 * Math.max(totalObs, totalExp)) {
      throw new EdgeloopError('BAD_ARGUMENT', `observed and expected totals must agree (relative tolerance 1e-8), got ${totalObs} and ${totalExp}`);
    }
    exp = expected;
  }
  let statistic = 0;
  for (let i = 0; i < k; i++) {
    const d = observed[i]! - exp[i]!;
    statistic += (d * d) / exp[i]!;
  }
  const dof = k - 1;
  return { statistic, pValue: dof === 0 ? 1 : chiSquareSf(statistic, dof), dof };
}

/**
 * Chi-square test of independence on an r × c table of counts. Rows or columns whose total is zero
 * are dropped first (scipy raises on them; a category seen in neither sample carries no information).
 */
export function chiSquareContingency(table: readonly (readonly number[])[], options: { correction?: boolean } = {}): ChiSquareResult {
  const correction = options.correction ?? true;
  if (table.length === 0) throw new EdgeloopError('BAD_ARGUMENT', 'table must have at least one row');
  const c0 = table[0]!.length;
  table.forEach((row, r) => {
    if (row.length !== c0) throw new EdgeloopError('BAD_ARGUMENT', `table rows must have equal length, row 0 has ${c0} and row ${r} has ${row.length}`);
    row.forEach((v, c) => {
      if (!(v >= 0) || !Number.isFinite(v)) throw new EdgeloopError('BAD_ARGUMENT', `table[${r}][${c}] must be a finite count ≥ 0, got ${v}`);
    });
  });
  const colTotals = new Array<number>(c0).fill(0);
  for (const row of table) row.forEach((v, c) => (colTotals[c]! += v));
  const cols = colTotals.map((t, c) => (t > 0 ? c : -1)).filter((c) => c >= 0);
  const rows = table.filter((row) => cols.some((c) => row[c]! > 0));
  const total = cols.reduce((s, c) => s + colTotals[c]!, 0);
  const dof = Math.max(0, (rows.length - 1) * (cols.length - 1));
  if (dof === 0 || total === 0) return { statistic: 0, pValue: 1, dof: 0 };
  const rowTotals = rows.map((row) => cols.reduce((s, c) => s + row[c]!, 0));
  let statistic = 0;
  rows.forEach((row, r) => {
    for (const c of cols) {
      const e = (rowTotals[r]! * colTotals[c]!) / total;
      let o = row[c]!;
      if (dof === 1 && correction) {
        // Yates: move each observation toward its expectation by at most 0.5 (scipy gh-13875).
        const diff = e - o;
        o += Math.sign(diff) * Math.min(0.5, Math.abs(diff));
      }
      statistic += ((o - e) * (o - e)) / e;
    }
  });
  return { statistic, pValue: chiSquareSf(statistic, dof), dof };
}
