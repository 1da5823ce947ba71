import net from 'node:net';
import path from 'node:path';
import type { AgentPaths } from '../config/paths.ts';
import { agentFiles } from '../config/agent-files.ts';
import { OperationalError } from '../cli/errors.ts';
import { isTrustedDir } from './private-dir.ts';
import type { ControlResponse } from './control-protocol.ts';

/** Thrown when no service listens on the control socket. */
export class ServiceNotRunningError extends OperationalError {
  constructor(socketPath: string, cause: unknown) {
    super(
      `service not running (no answer on ${socketPath}); start ` +
        `it with "systemctl start certagent" or "certagent run"`,
      'service-not-running',
      { cause },
    );
  }
}

/**
 * Calls one method of the running service and returns its result. Errors of the method
 * come back as OperationalError with the method's code.
 */
export async function callControl(
  paths: AgentPaths,
  method: string,
  params?: unknown,
  timeoutMs = 10_000,
): Promise<unknown> {
  const socketPath = agentFiles(paths).controlSocket;
  // A socket in a directory another user controls may not be the service: do not talk to it.
  if (process.platform !== 'win32' && !isTrustedDir(path.dirname(socketPath))) {
    throw new ServiceNotRunningError(
      socketPath,
      new Error('socket directory missing or not private'),
    );
  }
  const res = await exchange(socketPath, JSON.stringify({ id: 1, method, params }), timeoutMs);
  if (res.error) throw new OperationalError(res.error.message, res.error.code);
  return res.result;
}

function exchange(socketPath: string, line: string, timeoutMs: number): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let buffered = '';
    let connected = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new OperationalError(
          `the service did not answer on ${socketPath} within ${timeoutMs} ms`,
          'control-timeout',
        ),
      );
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => {
      connected = true;
      socket.write(`${line}\n`);
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(buffered.slice(0, newline)) as ControlResponse);
      } catch (err) {
        reject(
          new OperationalError(
            `the service sent a malformed answer on ${socketPath}`,
            'control-protocol',
            { cause: err },
          ),
        );
      }
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(
        connected
          ? new OperationalError(
              `control socket ${socketPath} failed: ${err.message}`,
              'control-io',
              { cause: err },
            )
          : new ServiceNotRunningError(socketPath, err),
      );
    });
  });
}
