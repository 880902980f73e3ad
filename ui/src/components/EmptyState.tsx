import type { ReactNode } from "react";

const FIRST_RUN_SNIPPET = `import stonks
with stonks.start_run("my-experiment", config={"lr": 0.01}) as run:
    run.log({"train/loss": loss}, step=step)`;

export function Snippet({ code = FIRST_RUN_SNIPPET }: { code?: string }) {
  return (
    <pre className="snippet" data-testid="snippet">
      <code>{code}</code>
    </pre>
  );
}

export function EmptyState({
  title,
  children,
  testId,
  icon = "◇",
}: {
  title: string;
  children?: ReactNode;
  testId?: string;
  icon?: string;
}) {
  return (
    <div className="empty" data-testid={testId}>
      <div className="empty-icon" aria-hidden>
        {icon}
      </div>
      <h3>{title}</h3>
      {children}
    </div>
  );
}
