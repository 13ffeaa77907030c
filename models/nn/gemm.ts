/**
 * A strided matrix product on Float64Arrays for the typed-array trainer (dense-typed.ts):
 * C = A·B, where each operand is a view (offset, row stride, column stride) into a flat array, so a
 * transposed operand is the same array with its strides swapped — no copies.
 *
 * Register blocking: each pass of the inner loop over k loads 4 values of A and 2 of B and does 8
 * multiply-adds into 8 local accumulators, instead of one load-multiply-add-store per product;
 * V8 keeps the accumulators in registers (about 2× faster than the naive loops on the occupancy
 * net's shapes). The result is exactly Σ_k A(i,k)·B(k,j) summed in k order, in float64.
 */

/** A matrix view: element (i, j) is data[offset + i·rowStride + j·colStride]. */
export interface MatrixView {
  data: Float64Array;
  offset: number;
  rowStride: number;
  colStride: number;
}

/** A row-major rows × cols view of `data` from `offset`. */
export function rowMajor(data: Float64Array, cols: number, offset = 0): MatrixView {
  return { data, offset, rowStride: cols, colStride: 1 };
}

/** The transpose of a view (same data). */
export function transposed(m: MatrixView): MatrixView {
  return { data: m.data, offset: m.offset, rowStride: m.colStride, colStride: m.rowStride };
}

/** C (M × N) = A (M × K) · B (K × N), overwriting C. */
export function gemm(M: number, N: number, K: number, A: MatrixView, B: MatrixView, C: MatrixView): void {
  // The 4-row blocks want the longer side as M: computing Cᵀ = Bᵀ·Aᵀ is the same sums.
  if (M < 4 && N > M) {
    product(N, M, K, B.data, B.offset, B.colStride, B.rowStride, A.data, A.offset, A.colStride, A.rowStride, C.data, C.offset, C.colStride, C.rowStride);
    return;
  }
  product(M, N, K, A.data, A.offset, A.rowStride, A.colStride, B.data, B.offset, B.rowStride, B.colStride, C.data, C.offset, C.rowStride, C.colStride);
}

function product(
  M: number, N: number, K: number,
  a: Float64Array, aOff: number, ais: number, aks: number,
  b: Float64Array, bOff: number, bks: number, bjs: number,
  c: Float64Array, cOff: number, cis: number, cjs: number,
): void {
  let i = 0;
  for (; i + 3 < M; i += 4) {
    const a0 = aOff + i * ais;
    const a1 = a0 + ais;
    const a2 = a1 + ais;
    const a3 = a2 + ais;
    const c0 = cOff + i * cis;
    let j = 0;
    for (; j + 1 < N; j += 2) {
      const b0 = bOff + j * bjs;
      const b1 = b0 + bjs;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
      for (let k = 0; k < K; k++) {
        const ka = k * aks;
        const kb = k * bks;
        const y0 = b[b0 + kb]!;
        const y1 = b[b1 + kb]!;
        const x0 = a[a0 + ka]!;
        const x1 = a[a1 + ka]!;
        const x2 = a[a2 + ka]!;
        const x3 = a[a3 + ka]!;
        s00 += x0 * y0; s01 += x0 * y1;
        s10 += x1 * y0; s11 += x1 * y1;
        s20 += x2 * y0; s21 += x2 * y1;
        s30 += x3 * y0; s31 += x3 * y1;
      }
      const at = c0 + j * cjs;
      c[at] = s00; c[at + cjs] = s01;
      c[at + cis] = s10; c[at + cis + cjs] = s11;
      c[at + 2 * cis] = s20; c[at + 2 * cis + cjs] = s21;
      c[at + 3 * cis] = s30; c[at + 3 * cis + cjs] = s31;
    }
    for (; j < N; j++) {
      const b0 = bOff + j * bjs;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < K; k++) {
        const ka = k * aks;
        const y = b[b0 + k * bks]!;
        s0 += a[a0 + ka]! * y;
        s1 += a[a1 + ka]! * y;
        s2 += a[a2 + ka]! * y;
        s3 += a[a3 + ka]! * y;
      }
      const at = c0 + j * cjs;
      c[at] = s0; c[at + cis] = s1; c[at + 2 * cis] = s2; c[at + 3 * cis] = s3;
    }
  }
  for (; i < M; i++) {
    const a0 = aOff + i * ais;
    for (let j = 0; j < N; j++) {
      const b0 = bOff + j * bjs;
      let s = 0;
      for (let k = 0; k < K; k++) s += a[a0 + k * aks]! * b[b0 + k * bks]!;
      c[cOff + i * cis + j * cjs] = s;
    }
  }
}
