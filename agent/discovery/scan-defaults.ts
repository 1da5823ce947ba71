// Apart from scan.ts so that `discover --help` can show them without loading the scanner.

/** Handshakes in flight at once unless `--concurrency` says otherwise. */
export const DEFAULT_CONCURRENCY = 64;

/** Per endpoint, connect and handshake together, unless `--timeout` says otherwise. */
export const DEFAULT_TIMEOUT_MS = 5000;
