import fs from 'node:fs';
import os from 'node:os';
import type { Logger } from 'pino';
import { OperationalError, UsageError } from '../cli/errors.ts';
import { loadAgentConfig, saveAgentConfig } from '../config/agent-config.ts';
import type { AgentFiles } from '../config/agent-files.ts';
import { createManagerDispatcher } from '../service/dispatcher.ts';
import { ManagerClient, ManagerRejectedError } from '../service/manager-client.ts';
import { registrationTrust } from '../service/server-trust.ts';
import { buildIdentity } from '../version.ts';
import { createPendingIdentity, loadIdentity, saveIdentity } from './agent-identity.ts';

export interface RegisterOptions {
  token: string;
  server: string;
  caFile?: string;
  force?: boolean;
}

/**
 * One-time registration: new key pair, CSR + token to the manager, certificate back.
 * Nothing is written until the manager has answered, so a refused token leaves the
 * agent as it was.
 */
export async function registerAgent(files: AgentFiles, options: RegisterOptions, log: Logger) {
  const server = checkServerUrl(options.server);
  if (loadIdentity(files) && !options.force) {
    throw new UsageError(
      `this agent is already registered (${files.identityCert}); ` +
        `add --force to register it again with a new token`,
    );
  }

  const config = loadAgentConfig(files.config);
  const trust = registrationTrust(files, options.caFile);
  const client = new ManagerClient(
    server,
    createManagerDispatcher(config, { ca: trust.ca }, files.secretKey, log),
  );
  const pending = await createPendingIdentity(os.hostname());
  log.info({ server }, 'registering with the management server');

  try {
    const answer = await client.register({
      token: options.token,
      csr: pending.csrPem,
      version: buildIdentity().version,
      hostname: os.hostname(),
    });
    saveIdentity(files, pending.keyPem, answer.certificate, answer.caCertificate);
    // Later connections trust what this call trusted, not a later SSL_CERT_FILE.
    if (trust.pin !== undefined) fs.writeFileSync(files.serverCa, trust.pin, { mode: 0o644 });
    saveAgentConfig(files.config, {
      ...config,
      server,
      agentId: answer.agentId,
      agentName: answer.name,
    });
    log.info({ server, agentId: answer.agentId, agent: answer.name }, 'registered');
    return answer;
  } catch (err) {
    throw explainRefusal(err, server);
  } finally {
    await client.close();
  }
}

function explainRefusal(err: unknown, server: string): unknown {
  if (err instanceof ManagerRejectedError && err.code === 'token-invalid') {
    return new OperationalError(
      `registration with ${server} refused: the installation token is unknown or was already ` +
        `used (a token works once); ask the administrator ` +
        `for a new one ("certagent-manager agents add")`,
      'token-invalid',
      { cause: err },
    );
  }
  return err;
}

function checkServerUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--server "${value}" is not a URL; use https://HOST:PORT`);
  }
  if (url.protocol !== 'https:')
    throw new UsageError(`--server must be an https:// URL, not "${value}"`);
  return url.origin;
}
