/** 1 when two labelings describe the same partition (label names ignored), else the share of agreeing pairs. */
export function adjustedRandIndexLike(a: readonly number[], b: readonly number[]): number {
  let agree = 0; let total = 0;
  for (let i = 0; i < a.length; i++) for (let j = i + 1; j < a.length; j++) {
    total++;
    if ((a[i] === a[j]) === (b[i] === b[j])) agree++;
  }
  return agree / total;
}
