import type { Logger } from 'pino';
import type { PeriodicJob } from '../server/periodic-jobs.ts';
import type { Db } from '../store/database.ts';
import { queueRenewals } from './installs-command.ts';
import { resumeSignings, SERVER_CERT_DAYS } from './node-kinds.ts';
import { UsageError } from '../cli/errors.ts';

// A renewal that failed (node down, broken configuration) is tried again a day later, so
// a short --renew-interval does not add a failed installation per tick.
const FAILED_RENEWAL_RETRY_MS = 86_400_000;

export interface NodeJobOptions {
  /** Renew installed certificates this many days before they expire. */
  renewDays: number;
  /** How often to look for certificates to renew. */
  renewIntervalMs: number;
}

/**
 * The node work `serve` does by itself: first, sign the CSRs a previous server process
 * stored but did not sign; then, on every interval, queue renewal of the certificates
 * expiring within `renewDays` (queueRenewals skips those already being renewed or whose
 * renewal failed within the last day).
 */
export function nodeJobs(db: Db, options: NodeJobOptions, log: Logger): PeriodicJob[] {
  let resumed = false;
  return [
    {
      name: 'install-renewal',
      intervalMs: options.renewIntervalMs,
      async run() {
        if (!resumed) {
          const n = await resumeSignings(db);
          resumed = true;
          if (n) log.info({ installations: n }, 'resumed installations left in signing');
        }
        const queued = queueRenewals(db, options.renewDays, new Date(), {
          failedRetryMs: FAILED_RENEWAL_RETRY_MS,
        });
        if (queued.length)
          log.info(
            { renewals: queued.map((i) => ({ id: i.id, node: i.node_name, site: i.site_id })) },
            'certificate renewals queued',
          );
      },
    },
  ];
}

/** Checks `serve --renew-days/--renew-interval`; throws UsageError naming the bad option. */
export function parseRenewalOptions(days: string, intervalMs: string): NodeJobOptions {
  const renewDays = Number(days);
  // At or beyond the validity the CA gives, every new certificate would be renewed again.
  if (!Number.isInteger(renewDays) || renewDays < 1 || renewDays >= SERVER_CERT_DAYS) {
    throw new UsageError(
      `--renew-days must be an integer from 1 to ${SERVER_CERT_DAYS - 1} ` +
        `(certificates last ${SERVER_CERT_DAYS} days), not "${days}"`,
    );
  }
  const renewIntervalMs = Number(intervalMs);
  if (!Number.isInteger(renewIntervalMs) || renewIntervalMs < 100) {
    throw new UsageError(
      `--renew-interval must be an integer of at least 100 ms, not "${intervalMs}"`,
    );
  }
  return { renewDays, renewIntervalMs };
}
