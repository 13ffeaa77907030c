/** A terminal progress bar (redrawn in place on a TTY; a line every 10 % otherwise). */
export class ProgressBar {
  readonly #label: string;
  readonly #total: number;
  readonly #out: NodeJS.WriteStream;
  #lastDecile = -1;
  #lastDrawMs = 0;

  constructor(label: string, total: number, out: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#total = Math.max(1, total);
    this.#out = out;
  }

  update(done: number, suffix = ''): void {
    const frac = Math.min(1, done / this.#total);
    if (this.#out.isTTY) {
      const now = Date.now();
      if (now - this.#lastDrawMs < 50 && done < this.#total) return;
      this.#lastDrawMs = now;
      const width = 30;
      const filled = Math.round(frac * width);
      this.#out.write(`\r  ${this.#label} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${done}/${this.#total} ${suffix}\x1b[K`);
    } else {
      const decile = Math.floor(frac * 10);
      if (decile === this.#lastDecile) return;
      this.#lastDecile = decile;
      this.#out.write(`  ${this.#label} ${(frac * 100).toFixed(0)}% (${done}/${this.#total}) ${suffix}\n`);
    }
  }

  done(suffix = ''): void {
    this.update(this.#total, suffix);
    if (this.#out.isTTY) this.#out.write('\n');
  }
}
