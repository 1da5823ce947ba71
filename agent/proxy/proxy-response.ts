import type { Socket } from 'node:net';

/** The head of a proxy's answer to CONNECT. */
export interface ProxyResponse {
  status: number;
  statusText: string;
  headers: Map<string, string[]>;
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads one HTTP response (head, and the body announced by Content-Length, discarded)
 * from a raw socket, leaving the socket positioned after it. That is what lets the NTLM
 * handshake send its second CONNECT on the same kept-alive connection.
 */
export function readProxyResponse(
  socket: Socket,
  timeoutMs: number,
  proxy: string,
): Promise<ProxyResponse> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    let head: ProxyResponse | undefined;
    let bodyLeft = 0;

    const finish = (err?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (err) return reject(err);
      // Bytes past the response belong to whoever uses the socket next (the tunnel).
      if (buffered.length > 0) socket.unshift(buffered);
      resolve(head!);
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!head) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buffered.length > MAX_HEAD_BYTES)
            finish(new Error(`proxy ${proxy} sent an oversized response head`));
          return;
        }
        try {
          head = parseHead(buffered.subarray(0, end).toString('latin1'), proxy);
        } catch (err) {
          return finish(err as Error);
        }
        buffered = buffered.subarray(end + 4);
        bodyLeft = Number(head.headers.get('content-length')?.[0] ?? 0);
        if (!Number.isFinite(bodyLeft) || bodyLeft < 0 || bodyLeft > MAX_BODY_BYTES) {
          return finish(new Error(`proxy ${proxy} announced an invalid Content-Length`));
        }
      }
      const take = Math.min(bodyLeft, buffered.length);
      bodyLeft -= take;
      buffered = buffered.subarray(take);
      if (bodyLeft === 0) {
        socket.pause();
        finish();
      }
    };
    const onClose = () =>
      finish(new Error(`proxy ${proxy} closed the connection before answering CONNECT`));
    const onError = (err: Error) => finish(err);
    const timer = setTimeout(
      () => finish(new Error(`proxy ${proxy} did not answer CONNECT within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.resume();
  });
}

function parseHead(text: string, proxy: string): ProxyResponse {
  const [statusLine, ...lines] = text.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine ?? '');
  if (!match)
    throw new Error(
      `proxy ${proxy} answered something that is not HTTP: "${(statusLine ?? '').slice(0, 80)}"`,
    );
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { status: Number(match[1]), statusText: match[2] ?? '', headers };
}
