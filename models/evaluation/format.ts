/** A readable text block of an evaluation report, for the CLI (fixed-width columns, no colour). */
import type { EvaluationReport } from './report.ts';
import type { SplitMetrics } from './split-metrics.ts';

const f3 = (v: number | undefined): string => (v === undefined ? '   —  ' : v.toFixed(4));

function metricRows(report: EvaluationReport): string[] {
  const names = Object.keys(report.splits);
  const pick = (key: string, get: (s: SplitMetrics) => number | undefined): string =>
    `  ${key.padEnd(18)}${names.map((n) => f3(get(report.splits[n])).padStart(12)).join('')}`;
  const head = `  ${''.padEnd(18)}${names.map((n) => n.padStart(12)).join('')}`;
  const rowsLine = `  ${'rows'.padEnd(18)}${names.map((n) => String(report.splits[n].n).padStart(12)).join('')}`;
  if (report.task === 'regression') {
    const r = (g: (s: Extract<SplitMetrics, { task: 'regression' }>) => number) => (s: SplitMetrics) => (s.task === 'regression' ? g(s) : undefined);
    return [head, rowsLine, pick('R²', r((s) => s.r2)), pick('MSE', r((s) => s.mse)), pick('RMSE', r((s) => s.rmse)), pick('MAE', r((s) => s.mae))];
  }
  const c = (g: (s: Extract<SplitMetrics, { task: 'classification' }>) => number | undefined) => (s: SplitMetrics) => (s.task === 'classification' ? g(s) : undefined);
  const rows = [head, rowsLine, pick('accuracy', c((s) => s.accuracy)),
    pick('precision macro', c((s) => s.precisionMacro)), pick('recall macro', c((s) => s.recallMacro)), pick('F1 macro', c((s) => s.f1Macro)),
    pick('F1 weighted', c((s) => s.f1Weighted))];
  if (report.classes?.length === 2) rows.push(pick(`F1 (class ${report.classes[1]})`, c((s) => s.binary?.f1)));
  rows.push(pick('ROC-AUC', c((s) => s.rocAuc)), pick('PR-AUC', c((s) => s.prAuc)), pick('Brier', c((s) => s.brier)));
  return rows;
}

export function formatReport(report: EvaluationReport): string {
  const lines: string[] = [`Evaluation (${report.task}, main metric ${report.mainMetric === 'r2' ? 'R²' : 'accuracy'})`, '', ...metricRows(report)];
  if (report.task === 'classification') {
    for (const [name, s] of Object.entries(report.splits)) {
      if (s.task !== 'classification') continue;
      const width = Math.max(6, ...s.confusion.matrix.flat().map((v) => String(v).length + 1));
      lines.push('', `  confusion (${name}; rows true, columns predicted)`, `  ${''.padEnd(8)}${s.confusion.labels.map((l) => String(l).padStart(width)).join('')}`);
      s.confusion.matrix.forEach((row, i) => lines.push(`  ${String(s.confusion.labels[i]).padEnd(8)}${row.map((v) => String(v).padStart(width)).join('')}`));
      for (const note of s.notes) lines.push(`  note (${name}): ${note}`);
    }
    const calibrated = Object.entries(report.splits).filter(([name, s]) => name !== 'train' && s.task === 'classification' && s.calibration && s.calibration.count.length > 0);
    if (calibrated.length > 0) {
      lines.push('', `  calibration (P(class ${report.classes?.[1]}), 10 bins; mean predicted → observed rate, rows)`);
      for (const [name, s] of calibrated) {
        if (s.task !== 'classification' || !s.calibration) continue;
        const c = s.calibration;
        lines.push(`  ${name.padEnd(8)}${c.probPred.map((p, i) => `${p.toFixed(2)}→${c.probTrue[i].toFixed(2)} (${c.count[i]})`).join('  ')}`);
      }
    }
  }
  if (report.learningCurve) {
    lines.push('', `  learning curve (${report.referenceSplit})`, `  ${'fraction'.padEnd(10)}${'rows'.padStart(8)}${'train'.padStart(10)}${'held-out'.padStart(10)}`);
    for (const p of report.learningCurve) lines.push(`  ${`${Math.round(p.fraction * 100)} %`.padEnd(10)}${String(p.nTrain).padStart(8)}${p.trainScore.toFixed(4).padStart(10)}${p.valScore.toFixed(4).padStart(10)}`);
  }
  if (report.importance) {
    lines.push('', `  permutation importance (${report.importance.split}, ${report.importance.repeats} repeats, drop in ${report.mainMetric === 'r2' ? 'R²' : 'accuracy'})`);
    const width = Math.max(18, ...report.importance.features.map((f) => f.feature.length + 1));
    for (const f of report.importance.features) lines.push(`  ${f.feature.padEnd(width)}${f.mean.toFixed(4).padStart(9)} ± ${f.std.toFixed(4)}`);
  }
  lines.push('', 'Diagnosis', ...report.diagnosis.text.map((t) => `  ${t}`));
  return lines.join('\n');
}
