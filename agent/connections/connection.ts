/** The login a credential store resolves a secret reference to. */
export interface NodeCredentials {
  username: string;
  password?: string;
  privateKeyPath?: string;
  passPhrase?: string;
}

/** How the agent reaches a node (SPEC section 3: default ports per kind). */
export type ConnectionKind = 'local' | 'ssh' | 'winrm' | 'rest';

export const DEFAULT_PORTS: Record<ConnectionKind, number | null> = {
  local: null,
  ssh: 22,
  winrm: 5985,
  rest: 443,
};

export interface ExecOptions {
  /** Run with root rights (sudo) when the login is not root already. */
  sudo?: boolean;
  /** Bytes for the command's standard input; secrets travel here, never in argv. */
  stdin?: Buffer | string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface FileStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

export interface WriteOptions {
  mode: number;
  /** Numeric owner to give the file; kept as the writer's when absent. */
  owner?: { uid: number; gid: number };
  sudo?: boolean;
}

/**
 * A shell on a node. Commands are argument vectors, quoted by the implementation, so no
 * caller builds a shell string from untrusted text.
 */
export interface Connection {
  /** A short name for messages: `ssh://user@host:port`, `local`. */
  readonly label: string;
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  readFile(path: string, options?: { sudo?: boolean }): Promise<Buffer>;
  writeFile(path: string, data: Buffer | string, options: WriteOptions): Promise<void>;
  /** null when the path does not exist. */
  stat(path: string, options?: { sudo?: boolean }): Promise<FileStat | null>;
  close(): Promise<void>;
}
