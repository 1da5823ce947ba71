/** An error answered to the agent with `status` and a stable `code` (protocol ErrorBody). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
