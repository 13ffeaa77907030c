/**
 * Fleet, device and sensor names travel in MQTT topics, SQL rows, file names and URLs, so they are
 * restricted to one safe set everywhere: 1–64 characters of ASCII letters, digits, '_' and '-',
 * starting with a letter or digit. No '/', '+', '#', '$' (MQTT), no '.' ('..' paths), no spaces,
 * no control or non-ASCII characters (homoglyphs, bidi tricks).
 */
import { EdgeloopError } from './errors.ts';

export const NAME_MAX_LENGTH = 64;
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export type NameKind = 'fleet' | 'device' | 'sensor' | 'model' | 'dataset';

export function isSafeName(value: unknown): value is string {
  return typeof value === 'string' && NAME_PATTERN.test(value);
}

/** Throws BAD_NAME naming the kind, a printable excerpt of the value and the allowed set. */
export function assertSafeName(kind: NameKind, value: unknown): string {
  if (isSafeName(value)) return value;
  throw new EdgeloopError('BAD_NAME', `${kind} name ${describeValue(value)} is not allowed: use 1-${NAME_MAX_LENGTH} characters of A-Z a-z 0-9 _ - starting with a letter or digit`);
}

/** A short, printable, escaped rendering of untrusted input for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value !== 'string') return value === undefined ? 'undefined' : typeof value;
  const shown = value.length > 40 ? value.slice(0, 40) + '…' : value;
  return JSON.stringify(shown).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
