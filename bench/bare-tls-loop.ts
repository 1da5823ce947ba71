/**
 * The baseline of the benchmark: the least a Node program can do to collect certificates,
 * `tls.connect` in a loop with a fixed number in flight. Prints how many chains it got.
 * Usage: bare-tls-loop.ts HOST PORT,PORT,... CONCURRENCY
 */
import tls from 'node:tls';

const [host = '127.0.0.1', portList = '', concurrencyText = '64'] = process.argv.slice(2);
const ports = portList.split(',').map(Number);
const concurrency = Number(concurrencyText);

function handshake(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false });
    socket.setTimeout(5000, () => socket.destroy());
    socket.once('secureConnect', () => {
      const chain = socket.getPeerCertificate(true);
      socket.destroy();
      resolve(Boolean(chain.raw));
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

let next = 0;
let ok = 0;
async function worker(): Promise<void> {
  while (next < ports.length) {
    if (await handshake(ports[next++]!)) ok++;
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
process.stdout.write(`${ok}\n`);
