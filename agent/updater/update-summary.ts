import type { AgentPaths } from '../config/paths.ts';
import { autoUpdateEffective, installKindNow, selfUpdating } from './auto-update-setting.ts';
import { externalUpdater, type InstallKind } from './install-layout.ts';
import { loadUpdateState, updateStateFile } from './update-state.ts';

/** What `status` shows about updating. */
export interface UpdateSummary {
  installKind: InstallKind;
  effective: boolean;
  lastCheck: string | null;
  lastResult: string | null;
  /** False when the last check or update failed (refused feed, rolled-back version...). */
  lastOk: boolean | null;
  nextCheck: string | null;
  heldAt: string | null;
}

export async function updateSummary(paths: AgentPaths, setting: boolean): Promise<UpdateSummary> {
  const kind = installKindNow();
  const state = await loadUpdateState(updateStateFile(paths.conf)).catch(() => undefined);
  const effective = autoUpdateEffective(setting, kind);
  return {
    installKind: kind,
    effective,
    lastCheck: state?.lastCheck ?? null,
    lastResult: state?.lastResult ?? null,
    lastOk: state?.lastOk ?? null,
    nextCheck: effective ? (state?.nextCheck ?? null) : null,
    heldAt: state?.holdVersion ?? null,
  };
}

/** One line for `status`: where updates come from, the last check and the next one. */
export function describeUpdates(s: UpdateSummary): string {
  if (!selfUpdating(s.installKind)) {
    return `by ${externalUpdater(s.installKind)} (${s.installKind} install)`;
  }
  const failed = s.lastOk === false ? ' [FAILED]' : '';
  const last = s.lastCheck
    ? `last check ${s.lastCheck}: ${s.lastResult}${failed}`
    : 'never checked';
  const held = s.heldAt ? `, held at ${s.heldAt} by the manager` : '';
  const next = s.effective
    ? `next check ${s.nextCheck ?? 'when the service starts'}`
    : 'no scheduled checks';
  return `${last}; ${next}${held}`;
}
