import { api } from "../api/client";
import type { RunPatch } from "../api/types";
import { showError } from "./notices";
import { runsStore } from "./runs";
import { seriesStore } from "./series";
import { getView, updateView } from "./view";

/** Saves a change to a run and shows it at once; false (and the error banner) when the server refused. */
export async function patchRun(runId: string, patch: RunPatch): Promise<boolean> {
  try {
    runsStore.upsert(await api.patchRun(runId, patch));
    return true;
  } catch (error) {
    showError(error);
    return false;
  }
}

export function forgetRun(runId: string): void {
  runsStore.remove(runId);
  seriesStore.dropRun(runId);
  const view = getView();
  if (view.runs.includes(runId) || view.hide.includes(runId) || view.run === runId) {
    updateView((v) => ({
      runs: v.runs.filter((id) => id !== runId),
      hide: v.hide.filter((id) => id !== runId),
      run: v.run === runId ? null : v.run,
      page: v.run === runId ? "experiment" : v.page,
    }));
  }
}

export async function deleteRun(runId: string): Promise<boolean> {
  try {
    await api.deleteRun(runId);
    forgetRun(runId);
    return true;
  } catch (error) {
    showError(error);
    return false;
  }
}
