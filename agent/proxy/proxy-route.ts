import { OperationalError } from '../cli/errors.ts';

/** One way to reach a target: straight, or through an HTTP proxy. */
export type ProxyRoute = { kind: 'direct' } | { kind: 'proxy'; host: string; port: number };

/**
 * Parses a PAC answer such as `PROXY a:3128; PROXY b:8080; DIRECT` into routes tried in
 * order. SOCKS entries are skipped: the agent speaks HTTP CONNECT only.
 */
export function parsePacAnswer(answer: string, source: string): ProxyRoute[] {
  const routes: ProxyRoute[] = [];
  for (const entry of answer
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [kind, address] = entry.split(/\s+/, 2);
    const upper = (kind ?? '').toUpperCase();
    if (upper === 'DIRECT') routes.push({ kind: 'direct' });
    if ((upper === 'PROXY' || upper === 'HTTP') && address)
      routes.push(parseHostPort(address, source));
  }
  if (routes.length === 0) {
    throw new OperationalError(
      `PAC file ${source} answered "${answer.slice(0, 200)}", which holds no PROXY or DIRECT ` +
        'entry the agent can use (SOCKS is not supported); fix the PAC file',
      'pac-answer-invalid',
    );
  }
  return routes;
}

function parseHostPort(address: string, source: string): ProxyRoute {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address);
  if (!match) return { kind: 'proxy', host: address, port: 8080 };
  const port = Number(match[2]);
  if (port < 1 || port > 65535) {
    throw new OperationalError(
      `PAC file ${source} names proxy ${address} with an invalid port`,
      'pac-answer-invalid',
    );
  }
  return { kind: 'proxy', host: match[1]!, port };
}

export function describeRoute(route: ProxyRoute): string {
  return route.kind === 'direct' ? 'DIRECT' : `PROXY ${route.host}:${route.port}`;
}
