import { buildConnector } from 'undici';

/** TCP keep-alive probe delay once connected; undici's own default. */
const KEEPALIVE_DELAY_MS = 60_000;

/**
 * undici's connector for direct connections, with TCP keep-alive switched on only once the
 * socket is connected. undici calls setKeepAlive right after net.connect(), before the
 * socket exists; Node then hands it to libuv, which on Windows remembers it and applies it
 * while binding the new socket, failing the whole connect when the keep-alive options are
 * refused (Wine's winsock does: every direct connection ends in "connect UNKNOWN"). Set on
 * a connected socket, a refusal is ignored by Node and the connection simply has no probes.
 */
export function directConnector(
  options: buildConnector.BuildOptions = {},
): buildConnector.connector {
  const connect = buildConnector({ ...options, keepAlive: false });
  return (opts, callback) =>
    connect(opts, (...result) => {
      if (result[1]) result[1].setKeepAlive(true, KEEPALIVE_DELAY_MS);
      callback(...result);
    });
}
