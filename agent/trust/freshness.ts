import { OperationalError } from '../cli/errors.ts';

/** The fields every signed distribution document (manifest, feed) carries. */
export interface SignedDocumentHeader {
  sequence: number;
  issued: string;
  expires: string;
}

export interface FreshnessContext {
  now: Date;
  /** Highest sequence accepted before from this source, if any. */
  newestSequence?: number;
  source: string;
}

/**
 * Refuses a validly signed document that is stale: past its expiry (a freeze attack keeps
 * serving an old document) or older than one already seen (a rollback attack). The same
 * sequence is accepted again, since hosts serve the same document until the next release.
 */
export function checkFreshness(header: SignedDocumentHeader, ctx: FreshnessContext): void {
  const expires = Date.parse(header.expires);
  if (Number.isNaN(expires)) {
    throw new OperationalError(
      `${ctx.source}: expiry "${header.expires}" is not a date; refusing the document`,
      'trust.malformed',
    );
  }
  if (expires <= ctx.now.getTime()) {
    throw new OperationalError(
      `${ctx.source}: the signed document expired at ${header.expires} (now ` +
        `${ctx.now.toISOString()}); the distribution host is serving stale metadata, ` +
        'ask its operator to republish, or check this machine clock',
      'trust.expired',
    );
  }
  if (ctx.newestSequence !== undefined && header.sequence < ctx.newestSequence) {
    throw new OperationalError(
      `${ctx.source}: sequence ${header.sequence} is older than sequence ` +
        `${ctx.newestSequence} already seen; refusing a rolled-back document`,
      'trust.rollback-sequence',
    );
  }
}
