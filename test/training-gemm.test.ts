/**
 * The strided matrix product of the typed-array trainer (models/nn/gemm.ts) against the textbook
 * triple loop, for every shape class the blocking distinguishes (M < 4, which computes Cᵀ = Bᵀ·Aᵀ;
 * M and N not multiples of the 4 × 2 block; K = 1) and for transposed views of A, B and C.
 */
import test from 'ava';
import { gemm, rowMajor, transposed, type MatrixView } from '../models/nn/gemm.ts';
import { createRandom } from '../src/random.ts';

function at(m: MatrixView, i: number, j: number): number {
  return m.data[m.offset + i * m.rowStride + j * m.colStride]!;
}

test('gemm = the triple loop for every block remainder, small M, K = 1 and transposed operands', (t) => {
  const r = createRandom(17);
  let checked = 0;
  for (const [M, N, K] of [[1, 1, 1], [2, 7, 3], [3, 1, 5], [4, 2, 1], [5, 3, 8], [9, 5, 2], [13, 32, 7], [200, 1, 33], [8, 33, 200]] as const) {
    for (const [ta, tb, tc] of [[false, false, false], [true, false, false], [false, true, true], [true, true, false]] as const) {
      // Operands stored with an offset, row-major or as the transpose of a row-major array.
      const make = (rows: number, cols: number, tr: boolean): MatrixView => {
        const data = Float64Array.from({ length: rows * cols + 3 }, () => r.next() * 2 - 1);
        return tr ? transposed(rowMajor(data, rows, 3)) : rowMajor(data, cols, 3);
      };
      const A = make(M, K, ta);
      const B = make(K, N, tb);
      const C = make(M, N, tc);
      const before = C.data.slice(0, 3);
      gemm(M, N, K, A, B, C);
      t.deepEqual(C.data.slice(0, 3), before, 'nothing before the view\'s offset is written');
      let worst = 0;
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += at(A, i, k) * at(B, k, j);
          worst = Math.max(worst, Math.abs(at(C, i, j) - s));
        }
      }
      t.true(worst < 1e-12, `${M}×${N}×${K} (transposed A ${ta}, B ${tb}, C ${tc}): ${worst}`);
      checked++;
    }
  }
  t.is(checked, 36);
});
