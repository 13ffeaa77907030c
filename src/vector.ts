/** Small pure helpers over numeric vectors, shared by the gateway, the device and the models. */

/** Index of the largest value (the first one on ties); 0 for an empty vector. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
