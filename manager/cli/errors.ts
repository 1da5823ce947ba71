/**
 * Bad command line: exit code 2. (The manager's own copy; it shares only protocol/ with the
 * agent.)
 */
export class UsageError extends Error {}

/** The work failed (data dir unreadable, port taken): exit code 1. */
export class OperationalError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
