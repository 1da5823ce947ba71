import type { DiscoveredEndpoint, ReportedCertificate } from '../../protocol/tasks.ts';

/**
 * One certificate of a chain, as the peer sent it. The shape is the wire protocol's, so
 * what the engine produces is what the manager stores.
 */
export type ChainCertificate = ReportedCertificate;

/** Why no certificate was obtained from an endpoint. */
export type EndpointErrorCode =
  | 'refused'
  | 'timeout'
  | 'not-tls'
  | 'handshake'
  | 'dns'
  | 'unreachable';

/**
 * The record discovery produces for one (target, port) pair: the protocol's, error codes
 * narrowed.
 */
export interface EndpointResult extends Omit<DiscoveredEndpoint, 'error'> {
  error?: { code: EndpointErrorCode; message: string };
}
