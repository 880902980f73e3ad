import { type ReactNode, useEffect, useState } from "react";
import { MAX_NOTES_LENGTH, MAX_RUN_NAME_LENGTH } from "../../../src/contract/limits";
import type { Run } from "../api/types";
import { formatDateTime, formatDuration, formatNumber } from "../lib/format";
import { runDuration } from "../lib/run-table";
import { deleteRun, patchRun } from "../state/actions";
import { lastHeartbeat, useRuns, useSummary } from "../state/runs";
import { updateView } from "../state/view";
import { ColorPicker } from "./ColorPicker";
import { ConfigTree } from "./ConfigTree";
import { ConfirmDialog } from "./ConfirmDialog";
import { CloseIcon } from "./Icons";
import { StatusBadge } from "./StatusBadge";
import { TagEditor } from "./TagEditor";

function Field({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div className="field">
      <dt>{label}</dt>
      <dd data-testid={testId}>{children ?? <span className="muted">—</span>}</dd>
    </div>
  );
}

export function EditableName({ run }: { run: Run }) {
  const [draft, setDraft] = useState(run.name ?? "");
  useEffect(() => setDraft(run.name ?? ""), [run.name]);
  const save = () => {
    const name = draft.trim();
    if (name !== (run.name ?? "")) void patchRun(run.id, { name: name === "" ? null : name });
  };
  return (
    <input
      className="title-input"
      value={draft}
      placeholder={run.id.slice(0, 8)}
      maxLength={MAX_RUN_NAME_LENGTH}
      aria-label="Run name"
      data-testid="detail-name"
      onChange={(e) => setDraft(e.target.value)}
      onBlur={save}
      onKeyDown={(e) => {
        if (e.key === "Enter") (e.target as HTMLInputElement).blur();
        if (e.key === "Escape") setDraft(run.name ?? "");
      }}
    />
  );
}

function Notes({ run }: { run: Run }) {
  const [draft, setDraft] = useState(run.notes ?? "");
  const [saving, setSaving] = useState(false);
  useEffect(() => setDraft(run.notes ?? ""), [run.notes]);
  const dirty = draft !== (run.notes ?? "");
  return (
    <div className="notes">
      <textarea
        value={draft}
        rows={4}
        maxLength={MAX_NOTES_LENGTH}
        placeholder="What was this run about? What did you learn?"
        data-testid="notes-input"
        onChange={(e) => setDraft(e.target.value)}
      />
      <div className="notes-actions">
        {dirty && (
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => setDraft(run.notes ?? "")}>
            Discard
          </button>
        )}
        <button
          type="button"
          className="btn btn-primary btn-sm"
          disabled={!dirty || saving}
          data-testid="notes-save"
          onClick={async () => {
            setSaving(true);
            await patchRun(run.id, { notes: draft === "" ? null : draft });
            setSaving(false);
          }}
        >
          {saving ? "Saving…" : "Save notes"}
        </button>
      </div>
    </div>
  );
}

/** Times, tags, notes, provenance and config of a run: shown in the drawer and on the run page. */
export function RunInfoSections({ run }: { run: Run }) {
  const p = run.provenance;
  // Heartbeats arrive apart from the run's row; reading them here also re-renders the live duration.
  const heartbeat = lastHeartbeat(run, useRuns().heartbeats);
  return (
    <>
      <section>
        <h4>Overview</h4>
        <dl className="fields">
          <Field label="Run id">
            <code className="mono small" data-testid="detail-id">
              {run.id}
            </code>
          </Field>
          <Field label="Created" testId="detail-created">
            {formatDateTime(run.created_at)}
          </Field>
          <Field label="Ended">{run.ended_at ? formatDateTime(run.ended_at) : null}</Field>
          <Field label="Duration">{formatDuration(runDuration(run, Date.now() / 1000))}</Field>
          <Field label="Last heartbeat">{heartbeat ? formatDateTime(heartbeat) : null}</Field>
          <Field label="Group">{run.group}</Field>
          <Field label="Job type">{run.job_type}</Field>
        </dl>
      </section>
      <section>
        <h4>Tags</h4>
        <TagEditor tags={run.tags} onChange={(tags) => void patchRun(run.id, { tags })} />
      </section>
      <section>
        <h4>Notes</h4>
        <Notes run={run} />
      </section>
      <section>
        <h4>Provenance</h4>
        <dl className="fields" data-testid="provenance">
          <Field label="Host" testId="prov-host">
            {p?.host}
          </Field>
          <Field label="Command" testId="prov-command">
            {p?.command ? <code className="mono small wrap">{p.command}</code> : null}
          </Field>
          <Field label="Directory">{p?.cwd ? <code className="mono small wrap">{p.cwd}</code> : null}</Field>
          <Field label="Git commit" testId="prov-git">
            {p?.git_commit ? (
              <span>
                <code className="mono small">{p.git_commit.slice(0, 12)}</code>
                {p.git_dirty && (
                  <span className="badge badge-warn" title="Uncommitted changes when the run started">
                    dirty
                  </span>
                )}
              </span>
            ) : null}
          </Field>
          <Field label="Process id">{p?.pid ?? null}</Field>
          <Field label="SDK">{p?.sdk_language ? `${p.sdk_language} ${p.sdk_version ?? ""}` : null}</Field>
        </dl>
      </section>
      <section>
        <h4>Config</h4>
        <ConfigTree config={run.config} />
      </section>
    </>
  );
}

/** The drawer with everything about one run, where it can be edited or deleted. */
export function RunDetail({ run, loading }: { run: Run | undefined; loading: boolean }) {
  const [confirming, setConfirming] = useState(false);
  const close = () => updateView({ run: null });
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && !confirming && !(e.target instanceof HTMLInputElement)) updateView({ run: null });
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [confirming]);
  const summary = useSummary(run?.id);
  const metrics = run ? Object.entries(summary).sort(([a], [b]) => a.localeCompare(b)) : [];
  return (
    <aside className="drawer" data-testid="run-detail" aria-label="Run details">
      <div className="drawer-head">
        {run && <ColorPicker run={run} onPick={(color) => void patchRun(run.id, { color })} />}
        {run ? <EditableName run={run} /> : <h2>{loading ? "Loading…" : "Run not found"}</h2>}
        {run && <StatusBadge run={run} />}
        {run && (
          <button
            type="button"
            className="btn btn-sm"
            data-testid="open-run-page"
            title="Open the page of this run: every metric charted"
            onClick={() => updateView({ page: "run" }, true)}
          >
            Open page
          </button>
        )}
        <button
          type="button"
          className="icon-btn close-btn"
          aria-label="Close"
          data-testid="detail-close"
          onClick={close}
        >
          <CloseIcon />
        </button>
      </div>
      {!run && !loading && (
        <p className="pad muted" data-testid="run-not-found">
          This run does not exist in this experiment (it may have been deleted).
        </p>
      )}
      {run && (
        <div className="drawer-body">
          <RunInfoSections run={run} />
          <section>
            <h4>Metrics</h4>
            {metrics.length === 0 ? (
              <p className="muted">No metrics logged yet.</p>
            ) : (
              <table className="mini-table" data-testid="detail-metrics">
                <thead>
                  <tr>
                    <th>Key</th>
                    <th className="num">Last</th>
                    <th className="num">Min</th>
                    <th className="num">Max</th>
                    <th className="num">Points</th>
                  </tr>
                </thead>
                <tbody>
                  {metrics.map(([key, s]) => (
                    <tr key={key}>
                      <td className="mono">{key}</td>
                      <td className="num">{formatNumber(s.last)}</td>
                      <td className="num">{formatNumber(s.min)}</td>
                      <td className="num">{formatNumber(s.max)}</td>
                      <td className="num">{formatNumber(s.count)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section className="danger-zone">
            <h4>Danger zone</h4>
            <p className="muted small">Deleting a run removes it and all its points from the database.</p>
            <button
              type="button"
              className="btn btn-danger"
              data-testid="delete-run"
              onClick={() => setConfirming(true)}
            >
              Delete run
            </button>
          </section>
        </div>
      )}
      {confirming && run && (
        <ConfirmDialog
          title="Delete this run?"
          body={
            <p>
              <strong>{run.name ?? run.id}</strong> and all its metric points will be deleted. This cannot be undone.
            </p>
          }
          confirmLabel="Delete run"
          onClose={() => setConfirming(false)}
          onConfirm={async () => {
            if (await deleteRun(run.id)) setConfirming(false);
          }}
        />
      )}
    </aside>
  );
}
