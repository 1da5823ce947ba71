import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { challengeMessage, messageType, verifyAuthenticate } from './ntlm-server.ts';

/** What the fake "runs" for a PowerShell script (decoded from -EncodedCommand). */
export type PowerShellHandler = (
  script: string,
) => Promise<{ stdout: string; stderr?: string; exitCode?: number }>;

export interface FakeWinRm {
  port: number;
  /** Every decoded script and every raw request body, to check for leaked secrets. */
  scripts: string[];
  requests: string[];
  openShells(): number;
  close(): Promise<void>;
}

const NS_DECL =
  'xmlns:s="http://www.w3.org/2003/05/soap-envelope" ' +
  'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ' +
  'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" ' +
  'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" ' +
  'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer"';
const SHELL_URI = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd';
const A = {
  create: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create',
  delete: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete',
  command: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command',
  receive: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive',
  signal: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal',
};

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  isArray: (n) => n === 'Arguments' || n === 'Option',
});

interface Command {
  output: Promise<{ stdout: string; stderr?: string; exitCode?: number }>;
  receives: number;
}

/**
 * A fake WinRM listener: POST /wsman with Basic or NTLM (Negotiate) authentication and the
 * Windows Remote Shell operations (Create, Command, Receive, Signal, Delete). The first
 * Receive of each command answers with the w:TimedOut fault a slow command produces, then
 * stdout comes in two pieces, as a real shell streams it.
 */
export async function startFakeWinRm(options: {
  auth: Array<'basic' | 'ntlm'>;
  users: Record<string, string>;
  domain?: string;
  powershell: PowerShellHandler;
  /** Listen with TLS (the 5986 listener) using this key and certificate. */
  tls?: { key: string; cert: string };
}): Promise<FakeWinRm> {
  const shells = new Map<string, Map<string, Command>>();
  const scripts: string[] = [];
  const requests: string[] = [];
  const ntlmState = new WeakMap<Socket, { challenge?: Buffer; user?: string }>();

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push(`${req.headers.authorization ?? ''}\n${body}`);
      if (req.method !== 'POST' || req.url !== '/wsman') {
        res.writeHead(404).end();
        return;
      }
      if (!authenticate(req, res)) return;
      try {
        const [status, xml] = await handle(body);
        res.writeHead(status, { 'content-type': 'application/soap+xml;charset=UTF-8' }).end(xml);
      } catch (err) {
        res
          .writeHead(500, { 'content-type': 'application/soap+xml;charset=UTF-8' })
          .end(fault('2150858778', (err as Error).message));
      }
    });
  };
  const server = options.tls
    ? https.createServer(options.tls, onRequest)
    : http.createServer(onRequest);

  function unauthorised(res: http.ServerResponse, extra?: string): false {
    const offers = [extra ?? 'Negotiate'];
    if (options.auth.includes('basic')) offers.push('Basic realm="WSMAN"');
    res.writeHead(401, { 'www-authenticate': offers, 'content-length': '0' }).end();
    return false;
  }

  function authenticate(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const header = req.headers.authorization ?? '';
    const state = ntlmState.get(req.socket) ?? {};
    ntlmState.set(req.socket, state);
    if (state.user && !header) return true;

    const basic = /^Basic (.+)$/.exec(header);
    if (basic && options.auth.includes('basic')) {
      const [user, ...rest] = Buffer.from(basic[1]!, 'base64').toString().split(':');
      if (user && options.users[user] === rest.join(':')) return true;
      return unauthorised(res);
    }
    const nego = /^(Negotiate|NTLM) (.+)$/.exec(header);
    if (nego && options.auth.includes('ntlm')) {
      const token = Buffer.from(nego[2]!, 'base64');
      if (messageType(token) === 1) {
        const { message, challenge } = challengeMessage(options.domain ?? 'FAKEDOM');
        state.challenge = challenge;
        return unauthorised(res, `Negotiate ${message.toString('base64')}`);
      }
      if (messageType(token) === 3 && state.challenge) {
        const user = verifyAuthenticate(token, state.challenge, options.users);
        state.challenge = undefined;
        if (user) {
          state.user = user;
          return true;
        }
      }
    }
    return unauthorised(res);
  }

  async function handle(xml: string): Promise<[number, string]> {
    const env = parser.parse(xml).Envelope;
    const header = env?.Header ?? {};
    const action = text(header.Action);
    if (text(header.ResourceURI) !== SHELL_URI)
      return [
        500,
        fault(
          '2150858813',
          'The WS-Management service cannot process the request. The resource URI is not valid.',
        ),
      ];
    const shellId = header.SelectorSet?.Selector?.['#text'] as string | undefined;
    if (action === A.create) {
      const id = crypto.randomUUID().toUpperCase();
      shells.set(id, new Map());
      return [
        200,
        envelope(
          A.create + 'Response',
          `<x:ResourceCreated><a:Address>http://localhost/wsman</a:Address>` +
            `<a:ReferenceParameters><w:ResourceURI>${SHELL_URI}</w:ResourceURI>` +
            `<w:SelectorSet><w:Selector Name="ShellId">${id}</w:Selector></w:SelectorSet>` +
            `</a:ReferenceParameters></x:ResourceCreated><rsp:Shell>` +
            `<rsp:ShellId>${id}</rsp:ShellId>` +
            `<rsp:ResourceUri>${SHELL_URI}</rsp:ResourceUri><rsp:State>` +
            `Connected</rsp:State></rsp:Shell>`,
        ),
      ];
    }
    const commands = shellId ? shells.get(shellId) : undefined;
    if (!commands)
      return [
        500,
        fault(
          '2150858843',
          `The request for the Windows Remote Shell with ShellId ${shellId} failed because ` +
            `the shell was not found on the server.`,
        ),
      ];
    const body = env.Body ?? {};
    if (action === A.command) {
      const args = (body.CommandLine?.Arguments ?? []).map(text);
      const idx = args.indexOf('-EncodedCommand');
      const script = idx >= 0 ? Buffer.from(args[idx + 1] ?? '', 'base64').toString('utf16le') : '';
      scripts.push(script);
      const id = crypto.randomUUID().toUpperCase();
      const output = options.powershell(script);
      // Awaited by a later Receive; marked handled now so a failing script is no stray rejection.
      output.catch(() => undefined);
      commands.set(id, { output, receives: 0 });
      return [
        200,
        envelope(
          A.command + 'Response',
          `<rsp:CommandResponse><rsp:CommandId>${id}</rsp:CommandId></rsp:CommandResponse>`,
        ),
      ];
    }
    if (action === A.receive) {
      const id = body.Receive?.DesiredStream?.['@CommandId'];
      const cmd = commands.get(id);
      if (!cmd) return [500, fault('2150858843', `The command ${id} was not found.`)];
      return receive(id, cmd);
    }
    if (action === A.signal) {
      return [200, envelope(A.signal + 'Response', '<rsp:SignalResponse/>')];
    }
    if (action === A.delete) {
      shells.delete(shellId!);
      return [200, envelope(A.delete + 'Response', '')];
    }
    return [500, fault('2150858817', `The action ${action} is not supported by the service.`)];
  }

  async function receive(id: string, cmd: Command): Promise<[number, string]> {
    cmd.receives++;
    if (cmd.receives === 1) {
      return [
        500,
        fault(
          '2150858793',
          'The WS-Management service cannot complete the operation within the time specified ' +
            'in OperationTimeout.',
        ),
      ];
    }
    const out = await cmd.output;
    const stdout = Buffer.from(out.stdout);
    const half = Math.floor(stdout.length / 2);
    const stream = (name: string, data: Buffer, end = false) =>
      `<rsp:Stream Name="${name}" CommandId="${id}"${end ? ' End="true"' : ''}>` +
      `${data.toString('base64')}</rsp:Stream>`;
    if (cmd.receives === 2) {
      return [
        200,
        envelope(
          A.receive + 'Response',
          `<rsp:ReceiveResponse>${stream('stdout', stdout.subarray(0, half))}` +
            `<rsp:CommandState CommandId="${id}" ` +
            `State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/` +
            `CommandState/Running"/>` +
            `</rsp:ReceiveResponse>`,
        ),
      ];
    }
    const err = out.stderr ? stream('stderr', Buffer.from(out.stderr)) : '';
    return [
      200,
      envelope(
        A.receive + 'Response',
        `<rsp:ReceiveResponse>${stream('stdout', stdout.subarray(half))}${err}` +
          `${stream('stdout', Buffer.alloc(0), true)}` +
          `<rsp:CommandState CommandId="${id}" ` +
          `State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done">` +
          `<rsp:ExitCode>${out.exitCode ?? 0}</rsp:ExitCode></rsp:CommandState>` +
          `</rsp:ReceiveResponse>`,
      ),
    ];
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    scripts,
    requests,
    openShells: () => shells.size,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

function text(v: unknown): string {
  if (v && typeof v === 'object') return String((v as Record<string, unknown>)['#text'] ?? '');
  return String(v ?? '');
}

function envelope(action: string, body: string): string {
  return (
    `<s:Envelope ` +
    `xml:lang="en-US" ${NS_DECL}><s:Header><a:Action>${action}</a:Action><a:MessageID>` +
    `uuid:${crypto.randomUUID().toUpperCase()}</a:MessageID><a:To>` +
    `http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>` +
    `</s:Header><s:Body>${body}</s:Body></s:Envelope>`
  );
}

function fault(code: string, message: string): string {
  return (
    `<s:Envelope ` +
    `xml:lang="en-US" ${NS_DECL}><s:Header><a:Action>` +
    `http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action></s:Header>` +
    `<s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>` +
    `w:InternalError</s:Value></s:Subcode></s:Code><s:Reason><s:Text ` +
    `xml:lang="en-US">${message}</s:Text></s:Reason><s:Detail><f:WSManFault ` +
    `xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" ` +
    `Code="${code}" Machine="fakewin"><f:Message>${message}</f:Message>` +
    `</f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>`
  );
}
