import { Client, type Dispatcher } from 'undici';
import { OperationalError } from '../cli/errors.ts';
import type { NodeCredentials } from './connection.ts';
import { winrmAuthenticate, winrmNegotiate } from './winrm-ntlm.ts';
import {
  ACTIONS,
  buildEnvelope,
  faultOf,
  parseEnvelope,
  SIGNAL_TERMINATE,
  STATE_DONE,
  TIMED_OUT_CODE,
  xmlEscape,
} from './wsman-envelope.ts';

export interface WinRmTarget {
  host: string;
  /** 5985 for HTTP, 5986 for HTTPS. */
  port?: number;
  https?: boolean;
  auth: 'ntlm' | 'basic';
  /** NTLM domain; a `DOMAIN\user` username sets it too. */
  domain?: string;
  credentials: NodeCredentials;
  ca?: string;
}

export interface PowerShellResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** PowerShell's -EncodedCommand takes base64 of the UTF-16LE script. */
export function encodePowerShell(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

/**
 * A WinRM client (WS-Management over HTTP/HTTPS) that runs PowerShell in a remote cmd shell:
 * shell Create, Command, Receive until Done, Signal terminate, Delete. NTLM authenticates
 * the connection once (three legs on one socket); Basic sends the header every request.
 *
 * Not done: NTLM/Kerberos message encryption of the SOAP body over plain HTTP, which a
 * default Windows configuration requires (AllowUnencrypted=false); use HTTPS (5986) or a
 * listener that allows unencrypted traffic. Kerberos is not supported either.
 */
export class WinRmConnection {
  readonly label: string;
  private readonly url: string;
  private readonly client: Dispatcher;
  private authorised = false;

  constructor(private readonly target: WinRmTarget) {
    const scheme = target.https ? 'https' : 'http';
    const port = target.port ?? (target.https ? 5986 : 5985);
    this.url = `${scheme}://${target.host}:${port}/wsman`;
    this.label = `winrm://${target.credentials.username}@${target.host}:${port}`;
    this.client = new Client(`${scheme}://${target.host}:${port}`, {
      pipelining: 1,
      connect: target.https ? { ca: target.ca } : undefined,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
  }

  /** Runs a PowerShell script on the node; its text travels only in the SOAP body. */
  async runPowerShell(script: string): Promise<PowerShellResult> {
    const prelude = "$ProgressPreference = 'SilentlyContinue'\n";
    return this.runCommand('powershell.exe', [
      '-NoProfile',
      '-NonInteractive',
      '-EncodedCommand',
      encodePowerShell(prelude + script),
    ]);
  }

  async runCommand(command: string, args: string[]): Promise<PowerShellResult> {
    const shellId = await this.createShell();
    try {
      const commandId = await this.startCommand(shellId, command, args);
      const result = await this.receiveAll(shellId, commandId);
      await this.send(
        ACTIONS.signal,
        shellId,
        `<rsp:Signal ` +
          `CommandId="${commandId}"><rsp:Code>${SIGNAL_TERMINATE}</rsp:Code></rsp:Signal>`,
      ).catch(() => undefined);
      return result;
    } finally {
      await this.send(ACTIONS.delete, shellId, '').catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async createShell(): Promise<string> {
    const body = await this.send(
      ACTIONS.create,
      undefined,
      '<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout ' +
        'stderr</rsp:OutputStreams></rsp:Shell>',
      { WINRS_NOPROFILE: 'FALSE', WINRS_CODEPAGE: '65001' },
    );
    const id = body.Shell?.ShellId ?? findSelector(body.ResourceCreated);
    if (!id) throw this.error('the shell Create answer has no ShellId');
    return String(id);
  }

  private async startCommand(shellId: string, command: string, args: string[]): Promise<string> {
    const argXml = args.map((a) => `<rsp:Arguments>${xmlEscape(a)}</rsp:Arguments>`).join('');
    const body = await this.send(
      ACTIONS.command,
      shellId,
      `<rsp:CommandLine><rsp:Command>${xmlEscape(command)}</rsp:Command>` +
        `${argXml}</rsp:CommandLine>`,
      { WINRS_CONSOLEMODE_STDIN: 'TRUE', WINRS_SKIP_CMD_SHELL: 'FALSE' },
    );
    const id = body.CommandResponse?.CommandId;
    if (!id) throw this.error('the Command answer has no CommandId');
    return String(id);
  }

  // Receive returns output in pieces; a TimedOut fault only means "nothing yet, ask again".
  private async receiveAll(shellId: string, commandId: string): Promise<PowerShellResult> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    for (let round = 0; round < 1000; round++) {
      let body: Record<string, any>;
      try {
        body = await this.send(
          ACTIONS.receive,
          shellId,
          `<rsp:Receive><rsp:DesiredStream CommandId="${commandId}">stdout ` +
            `stderr</rsp:DesiredStream></rsp:Receive>`,
        );
      } catch (e) {
        if ((e as OperationalError).code === 'winrm-timed-out') continue;
        throw e;
      }
      const response = body.ReceiveResponse ?? {};
      for (const s of (response.Stream ?? []) as Array<Record<string, any>>) {
        const text = typeof s === 'string' ? '' : String(s['#text'] ?? '');
        (s['@Name'] === 'stderr' ? err : out).push(Buffer.from(text, 'base64'));
      }
      const state = response.CommandState;
      if (state?.['@State'] === STATE_DONE) {
        return {
          exitCode: Number(state.ExitCode ?? 0),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        };
      }
    }
    throw this.error('the command did not finish after 1000 Receive rounds');
  }

  private async send(
    action: string,
    shellId: string | undefined,
    body: string,
    options?: Record<string, string>,
  ): Promise<Record<string, any>> {
    const xml = buildEnvelope({ to: this.url, action, shellId, options, body });
    const res = await this.post(xml);
    if (res.status === 401) {
      throw new OperationalError(
        `${this.label} refused the ${this.target.auth.toUpperCase()} login; check the secret ` +
          'and that the listener allows this authentication scheme',
        'winrm-auth-failed',
      );
    }
    let parsed: Record<string, any>;
    try {
      parsed = parseEnvelope(res.text);
    } catch {
      throw this.error(`HTTP ${res.status} without a SOAP envelope: ${res.text.slice(0, 200)}`);
    }
    const fault = faultOf(parsed);
    if (fault) {
      const code = fault.code === TIMED_OUT_CODE ? 'winrm-timed-out' : 'winrm-fault';
      throw new OperationalError(
        `${this.label} answered with a WS-Man fault ${fault.code}: ${fault.message}`,
        code,
      );
    }
    return parsed;
  }

  private async post(xml: string): Promise<{ status: number; text: string }> {
    if (this.target.auth === 'ntlm' && !this.authorised) return this.ntlmHandshake(xml);
    const headers: Record<string, string> = {
      'content-type': 'application/soap+xml;charset=UTF-8',
    };
    if (this.target.auth === 'basic') headers.authorization = this.basicHeader();
    return this.request(xml, headers);
  }

  // NTLM authorises the TCP connection: negotiate, challenge, authenticate with the body.
  private async ntlmHandshake(xml: string): Promise<{ status: number; text: string }> {
    const { user, domain } = this.account();
    const type1 = winrmNegotiate(domain);
    const first = await this.request('', { authorization: type1, 'content-length': '0' });
    const challenge = first.headers
      .flatMap((h) => h.split(/,\s*(?=Negotiate|NTLM|Basic|Kerberos)/))
      .find((h) => /^(Negotiate|NTLM) \S+/.test(h));
    if (first.status !== 401 || !challenge) {
      throw new OperationalError(
        `${this.label} did not answer the NTLM negotiation (HTTP ` +
          `${first.status}); check that Negotiate authentication is enabled`,
        'winrm-auth-failed',
      );
    }
    const type3 = winrmAuthenticate(
      challenge,
      domain,
      user,
      this.target.credentials.password ?? '',
    );
    const res = await this.request(xml, {
      authorization: type3,
      'content-type': 'application/soap+xml;charset=UTF-8',
    });
    if (res.status !== 401) this.authorised = true;
    return res;
  }

  private async request(body: string, headers: Record<string, string>) {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.client.request({ path: '/wsman', method: 'POST', body, headers });
    } catch (err) {
      throw new OperationalError(
        `cannot reach ${this.label}: ${(err as Error).message}; check ` +
          `host, port (5985 HTTP, 5986 HTTPS) and that the WinRM listener runs`,
        'winrm-unreachable',
        { cause: err },
      );
    }
    const www = res.headers['www-authenticate'];
    return {
      status: res.statusCode,
      text: await res.body.text(),
      headers: (Array.isArray(www) ? www : www ? [www] : []) as string[],
    };
  }

  private account(): { user: string; domain: string } {
    const name = this.target.credentials.username;
    const slash = name.indexOf('\\');
    if (slash > 0) return { domain: name.slice(0, slash), user: name.slice(slash + 1) };
    return { domain: this.target.domain ?? '', user: name };
  }

  private basicHeader(): string {
    const { username, password } = this.target.credentials;
    return `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
  }

  private error(message: string): OperationalError {
    return new OperationalError(`${this.label}: ${message}`, 'winrm-protocol');
  }
}

function findSelector(created: any): string | undefined {
  const sel = created?.ReferenceParameters?.SelectorSet?.Selector;
  return typeof sel === 'object' ? sel['#text'] : undefined;
}
