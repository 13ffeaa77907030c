/**
 * The one error class of edgeloop. `code` is stable and machine-readable; `message` names the
 * argument and the allowed range; `cause` keeps the underlying error when there is one.
 */
export type ErrorCode =
  // configuration and arguments
  | 'BAD_CONFIG'
  | 'BAD_ARGUMENT'
  // an API write without the gateway's token
  | 'UNAUTHORIZED'
  // network input (telemetry, commands, chunks) — also the quarantine reason codes
  | 'BAD_TOPIC'
  | 'BAD_NAME'
  | 'NOT_JSON'
  | 'BAD_PAYLOAD'
  | 'BAD_TIMESTAMP'
  | 'BAD_VALUE'
  | 'PAYLOAD_TOO_LARGE'
  | 'TOO_MANY_READINGS'
  // storage and I/O
  | 'STORE'
  | 'NOT_FOUND'
  | 'BAD_FILE'
  // data pipeline
  | 'BAD_SPEC'
  | 'BAD_DATA'
  // models, export, registry, devices
  | 'MODEL_SIGNATURE'
  | 'MODEL_UNSUPPORTED'
  | 'MODEL_CORRUPT'
  | 'MODEL_CHECKSUM'
  /** An install below the device's high-water mark without a valid, fresh signed rollback. */
  | 'MODEL_DOWNGRADE'
  | 'SMOKE_TEST'
  | 'RUNTIME'
  | 'TIMEOUT'
  | 'ABORTED'
  /** A helper (a worker thread) died or broke its contract: a bug or a resource limit, not bad input. */
  | 'INTERNAL'
  /** A singleton duty (retraining, …) asked of a gateway instance that is not the elected leader. */
  | 'NOT_LEADER';

export class EdgeloopError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EdgeloopError';
    this.code = code;
  }
}

export function isEdgeloopError(err: unknown, code?: ErrorCode): err is EdgeloopError {
  return err instanceof EdgeloopError && (code === undefined || err.code === code);
}

/** Message of any thrown value, for logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
