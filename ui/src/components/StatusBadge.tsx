import { displayStatus } from "../../../src/contract/run-table";
import type { DisplayStatus, Run } from "../api/types";

const TITLES: Record<DisplayStatus, string> = {
  running: "Running: the process is alive and logging",
  stale: "Stale: marked running, but no heartbeat for over a minute (the process probably died)",
  completed: "Completed normally",
  failed: "Failed: the script raised an error",
  interrupted: "Interrupted: stopped by Ctrl-C or a signal",
};

export function StatusBadge({ run }: { run: Run }) {
  const status = displayStatus(run);
  return (
    <span className={`status status-${status}`} data-testid="status-badge" data-status={status} title={TITLES[status]}>
      <span className="status-dot" />
      {status}
    </span>
  );
}
