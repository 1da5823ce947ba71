import tls from 'node:tls';

/** SHA-256 of the leaf an endpoint serves for `servername`, lower-case hex. */
export function servedFingerprint(
  host: string,
  port: number,
  servername?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const sni = servername && !/^[\d.]+$|:|^\*|^_$/.test(servername) ? servername : undefined;
    const socket = tls.connect({ host, port, servername: sni, rejectUnauthorized: false });
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no TLS answer within 10 s`)));
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert.fingerprint256.replace(/:/g, '').toLowerCase());
    });
    socket.once('error', reject);
  });
}

/**
 * Waits until the endpoint serves `expected`. A graceful reload lets old workers finish, so
 * the first handshakes may still see the previous certificate; polls for up to `waitMs`.
 */
export async function confirmServed(
  target: { host: string; port: number; servername?: string },
  expected: string,
  waitMs = 15_000,
): Promise<{ ok: boolean; seen: string | null; error?: string }> {
  const deadline = Date.now() + waitMs;
  let seen: string | null = null;
  let error: string | undefined;
  let streak = 0;
  while (Date.now() < deadline) {
    try {
      seen = await servedFingerprint(target.host, target.port, target.servername);
      error = undefined;
      // Old workers may still accept a connection or two after the reload: insist on a run.
      streak = seen === expected ? streak + 1 : 0;
      if (streak >= 3) return { ok: true, seen };
      if (streak > 0) continue;
    } catch (err) {
      error = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { ok: false, seen, error };
}
