import type { Command } from 'commander';
import { listCertificates } from '../../store/certificates.ts';
import { openDataDir } from '../data-dir.ts';
import type { ManagerIo } from '../main.ts';
import { printTable } from '../table.ts';

export function addCertsCommand(program: Command, io: ManagerIo): void {
  const certs = program.command('certs').description('discovered certificates');

  certs
    .command('list')
    .description('list every certificate agents have reported, with where it was seen')
    .requiredOption('--data <dir>', 'data directory of the manager')
    .option('--json', 'print as JSON (includes the PEM)')
    .action((opts: { data: string; json?: boolean }) => {
      const db = openDataDir(opts.data);
      const rows = listCertificates(db);
      db.close();
      if (opts.json) return void io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      printTable(
        io.stdout,
        ['SHA256', 'SUBJECT', 'NOT AFTER', 'SEEN AT'],
        rows.map((c) => [
          c.sha256.slice(0, 16),
          c.subject,
          c.notAfter,
          c.endpoints.map((e) => endpointText(e.host, e.port)).join(' '),
        ]),
      );
    });
}

/** host:port, with an IPv6 address in brackets (`[::1]:443`) so the port reads apart. */
export function endpointText(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
