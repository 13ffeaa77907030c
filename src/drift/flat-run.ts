/**
 * Flat-line length (QARTOD's flat-line test): a stuck sensor repeats one value. Runs at the
 * feature's floor are excepted, because a sensor at its physical minimum (no light) is constant
 * for hours legitimately.
 */
/** Longest run of equal consecutive finite values, runs equal to `floor` excepted. */
export function longestFlatRun(values: ArrayLike<number>, floor: number): number {
  let best = 0;
  let run = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v) || v === floor) run = 0;
    else run = i > 0 && values[i - 1] === v ? run + 1 : 1;
    if (run > best) best = run;
  }
  return best;
}
