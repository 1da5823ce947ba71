/**
 * Errors the CLI turns into exit codes. Each carries a stable `code` for callers and
 * a message that tells the operator what to change.
 */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(
    message: string,
    readonly code = 'usage',
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure of the work itself (a server down, a file unreadable): exit code 1. */
export class OperationalError extends Error {
  readonly exitCode = 1;
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OperationalError';
  }
}

/** The exit code an error maps to: 2 for usage, 1 for everything else. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return 2;
  return 1;
}
