/**
 * The wire protocol between the agent and the management server. Both sides import this
 * folder and nothing of each other. A breaking change to any message bumps the version
 * and the URL prefix, so an old agent gets a clear 404 instead of a misread body.
 */
export const PROTOCOL_VERSION = 1;

/** HTTP paths, relative to the server URL the agent was registered with. */
export const API_PATHS = {
  /** Token + CSR in, signed certificate out. The only call made without a client certificate. */
  register: '/v1/register',
  /** Liveness and version; answered with the interval the server expects. */
  heartbeat: '/v1/heartbeat',
  /** Tasks waiting for the calling agent. */
  tasks: '/v1/tasks',
  /** One batch of task results; acknowledged by batch id. */
  results: '/v1/results',
} as const;

/** Largest request body the server accepts; a result batch stays well below it. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
