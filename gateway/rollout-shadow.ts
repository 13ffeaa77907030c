/**
 * Shadow agreement. The device agent runs a shadow candidate beside the active model but publishes no
 * agreement figure of its own, so the gateway computes it from prediction batches: a device in shadow
 * mode that publishes a prediction for the active version and one for the candidate with the same
 * `ts` gives one pair; they agree when their outputs are equal (classification: the same class index;
 * regression: within `tolerance`). Unpaired predictions wait in a bounded per-device buffer.
 */
import type { Prediction } from '../src/contracts/predictions.ts';

export const SHADOW_DEFAULTS = { maxPendingPerDevice: 2000, tolerance: 1e-6 };

export class ShadowPairing {
  readonly #pending = new Map<string, Map<number, { version: number; output: number }>>();
  readonly #max: number;
  readonly #tolerance: number;

  constructor(options: { maxPendingPerDevice?: number; tolerance?: number } = {}) {
    this.#max = options.maxPendingPerDevice ?? SHADOW_DEFAULTS.maxPendingPerDevice;
    this.#tolerance = options.tolerance ?? SHADOW_DEFAULTS.tolerance;
  }

  /** Pairs `predictions` of model between the active and candidate versions; returns the new pairs. */
  add(key: string, predictions: readonly Prediction[], model: string, activeVersion: number | null, candidate: number): { agree: number; total: number } {
    let buffer = this.#pending.get(key);
    if (!buffer) this.#pending.set(key, (buffer = new Map()));
    let agree = 0;
    let total = 0;
    for (const p of predictions) {
      if (p.model !== model) continue;
      const isCandidate = p.version === candidate;
      if (!isCandidate && activeVersion !== null && p.version !== activeVersion) continue;
      const other = buffer.get(p.ts);
      if (other && other.version !== p.version) {
        buffer.delete(p.ts);
        total++;
        if (Math.abs(other.output - p.output) <= this.#tolerance) agree++;
        continue;
      }
      buffer.set(p.ts, { version: p.version, output: p.output });
      // Oldest first out: Map keeps insertion order.
      if (buffer.size > this.#max) buffer.delete(buffer.keys().next().value!);
    }
    return { agree, total };
  }

  forget(key: string): void {
    this.#pending.delete(key);
  }
}
