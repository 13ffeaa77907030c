/**
 * A growable FIFO ring of float64 values: O(1) push/shift, random access from the oldest element.
 * Count windows know their capacity up front; time windows grow it by doubling.
 */
export class FloatRing {
  private buf: Float64Array;
  private head = 0;
  private len = 0;

  constructor(initialCapacity = 16) {
    this.buf = new Float64Array(Math.max(2, initialCapacity));
  }

  get length(): number {
    return this.len;
  }

  push(v: number): void {
    if (this.len === this.buf.length) this.grow();
    let i = this.head + this.len;
    if (i >= this.buf.length) i -= this.buf.length;
    this.buf[i] = v;
    this.len++;
  }

  /** Removes and returns the oldest value (undefined behaviour when empty: callers check length). */
  shift(): number {
    const v = this.buf[this.head];
    this.head++;
    if (this.head === this.buf.length) this.head = 0;
    this.len--;
    return v;
  }

  /** Removes and returns the newest value. */
  pop(): number {
    this.len--;
    let i = this.head + this.len;
    if (i >= this.buf.length) i -= this.buf.length;
    return this.buf[i];
  }

  /** i-th value from the oldest (0) to the newest (length − 1). */
  at(i: number): number {
    let j = this.head + i;
    if (j >= this.buf.length) j -= this.buf.length;
    return this.buf[j];
  }

  first(): number {
    return this.buf[this.head];
  }

  last(): number {
    return this.at(this.len - 1);
  }

  clear(): void {
    this.head = 0;
    this.len = 0;
  }

  /** Copies the contents, oldest first, into `out` (which must hold `length` values). */
  copyTo(out: Float64Array): void {
    const first = Math.min(this.len, this.buf.length - this.head);
    out.set(this.buf.subarray(this.head, this.head + first), 0);
    if (first < this.len) out.set(this.buf.subarray(0, this.len - first), first);
  }

  private grow(): void {
    const next = new Float64Array(this.buf.length * 2);
    const tmp = next.subarray(0, this.len);
    this.copyTo(tmp);
    this.buf = next;
    this.head = 0;
  }
}
