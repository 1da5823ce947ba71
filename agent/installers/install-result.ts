/** The steps of an installation, in order; a failure names the one it stopped at. */
export type InstallStep =
  | 'discover'
  | 'key-request'
  | 'sign'
  | 'backup'
  | 'place'
  | 'config-test'
  | 'reload'
  | 'confirm';

export interface InstallFailure {
  step: InstallStep;
  message: string;
  /** True when the previous files were put back and the server reloaded with them. */
  rolledBack: boolean;
}

/** What the agent reports for one installation (never a key or a secret). */
export interface InstallResult {
  siteId: string;
  status: 'installed' | 'failed';
  /** SHA-256 of the new leaf when installed, of the one still served when failed. */
  fingerprint: string | null;
  previousFingerprint: string | null;
  notAfter?: string;
  backups: string[];
  error?: InstallFailure;
}

/** An error carrying the step it happened in. */
export class StepError extends Error {
  constructor(
    readonly step: InstallStep,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StepError';
  }
}
