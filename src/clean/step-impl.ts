/** The contract every cleaning op implements; `fit` is only called by fitClean, `apply` by both. */
import type { Frame } from '../frame.ts';
import type { CleanOp, StepOf } from './spec.ts';
import type { StateOf } from './types.ts';
import type { StepRecorder } from './frame-ops.ts';

export interface StepImpl<Op extends CleanOp> {
  /** Learns the step's state from the (already partly cleaned) training frame; null for stateless ops. */
  fit(frame: Frame, step: StepOf<Op>): StateOf<Op>;
  /** Applies the step with a fitted state; never refits. */
  apply(frame: Frame, step: StepOf<Op>, state: StateOf<Op>, rec: StepRecorder): Frame;
}

export const stateless = (): null => null;
