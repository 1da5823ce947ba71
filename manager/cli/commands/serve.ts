import net from 'node:net';
import type { Command } from 'commander';
import { issueServerCertificate, loadOrCreateCa } from '../../ca/certificate-authority.ts';
import { heartbeatIntervalMs } from '../../store/agents.ts';
import { setSetting } from '../../store/database.ts';
import { createManagerLogger } from '../../server/manager-logger.ts';
import { createManagerServer } from '../../server/https-server.ts';
import { startPeriodicJobs } from '../../server/periodic-jobs.ts';
import { nodeJobs, parseRenewalOptions } from '../../nodes/node-jobs.ts';
import { acquireServeLock } from '../../server/serve-lock.ts';
import { openDataDir } from '../data-dir.ts';
import { OperationalError, UsageError } from '../errors.ts';
import type { ManagerIo } from '../main.ts';

export function addServeCommand(program: Command, io: ManagerIo): void {
  program
    .command('serve')
    .description('run the HTTPS management server (creates DIR/ca.pem on first start)')
    .requiredOption('--data <dir>', 'data directory: database, CA, logs')
    .requiredOption(
      '--listen <host:port>',
      'address to listen on, e.g. 127.0.0.1:8443 (port 0 picks one)',
    )
    .option('--heartbeat-interval <ms>', 'heartbeat interval asked of agents', '30000')
    .option('--renew-days <n>', 'renew installed certificates this many days before expiry', '30')
    .option('--renew-interval <ms>', 'how often to look for certificates to renew', '3600000')
    .action(async (opts: ServeOptions) => {
      const { host, port } = parseListen(opts.listen);
      const renewal = parseRenewalOptions(opts.renewDays, opts.renewInterval);
      const interval = Number(opts.heartbeatInterval);
      if (!Number.isInteger(interval) || interval < 100) {
        throw new UsageError(
          `--heartbeat-interval must be an integer of at ` +
            `least 100 ms, not "${opts.heartbeatInterval}"`,
        );
      }

      const db = openDataDir(opts.data, true);
      const lock = (() => {
        try {
          return acquireServeLock(opts.data);
        } catch (err) {
          db.close();
          throw err;
        }
      })();
      try {
        await serve(db, opts, { host, port, interval, renewal }, io);
      } finally {
        lock.release();
      }
    });
}

async function serve(
  db: ReturnType<typeof openDataDir>,
  opts: ServeOptions,
  o: {
    host: string;
    port: number;
    interval: number;
    renewal: ReturnType<typeof parseRenewalOptions>;
  },
  io: ManagerIo,
): Promise<void> {
  const { host, port, interval, renewal } = o;
  setSetting(db, 'heartbeat_interval_ms', String(interval));
  const ca = await loadOrCreateCa(opts.data);
  const log = createManagerLogger(opts.data);
  const server = createManagerServer({
    db,
    ca,
    serverCert: await issueServerCertificate(ca, host),
    log,
  });

  // Listen for SIGTERM before saying "listening": a supervisor (or a test) may stop us
  // the moment it reads that line, and without a handler Node dies without cleaning up.
  const stopped = untilSignal();
  await listen(server, host, port);
  const bound = server.address() as net.AddressInfo;
  const urlHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const url = `https://${urlHost}:${bound.port}`;
  log.info({ url, heartbeatIntervalMs: heartbeatIntervalMs(db) }, 'manager listening');
  io.stdout.write(`certagent-manager listening on ${url} (CA ${opts.data}/ca.pem)\n`);
  const jobs = startPeriodicJobs(nodeJobs(db, renewal, log), log);

  await stopped;
  await jobs.stop();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  db.close();
}

interface ServeOptions {
  data: string;
  listen: string;
  heartbeatInterval: string;
  renewDays: string;
  renewInterval: string;
}

function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new UsageError(
      `--listen must be HOST:PORT (e.g. 127.0.0.1:8443 or [::1]:8443), not "${value}"`,
    );
  }
  return { host: (m[1] ?? m[2])!, port };
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new OperationalError(
          `cannot listen on ${host}:${port}: ` +
            `${err.code ?? err.message}; choose another --listen address`,
          'listen',
          { cause: err },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}
