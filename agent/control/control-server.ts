import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { OperationalError } from '../cli/errors.ts';
import { ensurePrivateDir } from './private-dir.ts';
import { MAX_CONTROL_LINE, type ControlRequest, type ControlResponse } from './control-protocol.ts';

export type ControlHandler = (params: unknown) => unknown | Promise<unknown>;

/**
 * The service side of the control socket. Modules register methods with `handle()`;
 * the socket is created mode 0600 in a 0700 directory, so only the agent's own user
 * (root for the packaged service) can talk to it.
 */
export class ControlServer {
  private readonly handlers = new Map<string, ControlHandler>();
  private server?: net.Server;

  constructor(
    private readonly socketPath: string,
    private readonly log: Logger,
  ) {}

  handle(method: string, fn: ControlHandler): void {
    this.handlers.set(method, fn);
  }

  async listen(): Promise<void> {
    if (process.platform !== 'win32') {
      ensurePrivateDir(path.dirname(this.socketPath));
      await removeStaleSocket(this.socketPath);
    }
    const server = net.createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    if (process.platform !== 'win32') fs.chmodSync(this.socketPath, 0o600);
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.server = undefined;
  }

  private serve(socket: net.Socket): void {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_CONTROL_LINE) return void socket.destroy();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        void this.answer(line).then((res) => socket.write(`${JSON.stringify(res)}\n`));
      }
    });
  }

  private async answer(line: string): Promise<ControlResponse> {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
    } catch {
      return { id: -1, error: { code: 'bad-request', message: 'request is not JSON' } };
    }
    const fn = typeof req.method === 'string' ? this.handlers.get(req.method) : undefined;
    if (!fn) {
      return {
        id: req.id,
        error: {
          code: 'unknown-method',
          message: `unknown control method "${String(req.method)}"`,
        },
      };
    }
    try {
      return { id: req.id, result: (await fn(req.params)) ?? null };
    } catch (err) {
      this.log.warn({ err, method: req.method }, 'control method failed');
      const code = err instanceof OperationalError ? err.code : 'failed';
      return { id: req.id, error: { code, message: (err as Error).message } };
    }
  }
}

// A socket file left by a killed service blocks listen(); remove it only if nobody answers.
async function removeStaleSocket(socketPath: string): Promise<void> {
  if (!fs.existsSync(socketPath)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
  if (alive) {
    throw new OperationalError(
      `another certagent service is already running on ${socketPath}; stop it first`,
      'service-running',
    );
  }
  fs.rmSync(socketPath, { force: true });
}
