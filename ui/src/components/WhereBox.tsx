import { useId, useLayoutEffect, useMemo, useRef, useState } from "react";
import { completeField, searchQuery } from "../lib/where-search";
import { SearchIcon } from "./Icons";
import "./WhereBox.css";

interface WhereBoxProps {
  value: string;
  testId: string;
  placeholder: string;
  /** The experiment's keys, offered as `config.<key>` and `metric.<key>`. */
  configKeys: readonly string[];
  metricKeys: readonly string[];
  onChange(value: string): void;
}

/** The expression with the character at the mistake's column marked (the end of the text as a space). */
function ErrorSnippet({ text, column }: { text: string; column: number }) {
  const chars = [...text];
  return (
    <code className="where-snippet" data-testid="where-error-snippet">
      {chars.slice(0, column - 1).join("")}
      <mark data-testid="where-error-mark">{chars[column - 1] ?? " "}</mark>
      {chars.slice(column).join("")}
    </code>
  );
}

/**
 * The run table's search box: words search names, ids, tags, groups and
 * notes; an expression (docs/query-language.md) filters with the where
 * language, with field names completed from the experiment's keys and a
 * mistake shown under the box at its column.
 */
export function WhereBox({ value, testId, placeholder, configKeys, metricKeys, onChange }: WhereBoxProps) {
  const inputRef = useRef<HTMLInputElement>(null);
  const [caret, setCaret] = useState<number | null>(null);
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState(false);
  const pendingCaret = useRef<number | null>(null);
  const listId = useId();
  const errorId = useId();
  const query = useMemo(() => searchQuery(value), [value]);
  const keys = useMemo(() => ({ configKeys, metricKeys }), [configKeys, metricKeys]);
  const completion = caret === null || dismissed ? null : completeField(value, caret, keys);

  useLayoutEffect(() => {
    if (pendingCaret.current === null || inputRef.current === null) return;
    inputRef.current.setSelectionRange(pendingCaret.current, pendingCaret.current);
    setCaret(pendingCaret.current);
    pendingCaret.current = null;
  });

  const edit = (text: string, at: number | null) => {
    setDismissed(false);
    setActive(0);
    setCaret(at);
    onChange(text);
  };
  const accept = (item: string) => {
    if (completion === null) return;
    const next = value.slice(0, completion.from) + item + value.slice(completion.to);
    pendingCaret.current = completion.from + item.length;
    edit(next, pendingCaret.current);
    inputRef.current?.focus();
  };
  const onKeyDown = (e: React.KeyboardEvent<HTMLInputElement>) => {
    if (completion === null) return;
    const count = completion.items.length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      setActive((i) => (i + (e.key === "ArrowDown" ? 1 : count - 1)) % count);
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      accept(completion.items[Math.min(active, count - 1)]);
    } else if (e.key === "Escape") {
      setDismissed(true);
    }
  };

  // While the list offers fields the text is still being written: the mistake waits until it closes.
  const invalid = query.kind === "error" && completion === null;
  return (
    <div className="search-box where-box">
      <span className="search-icon">
        <SearchIcon />
      </span>
      <input
        ref={inputRef}
        type="search"
        role="combobox"
        spellCheck={false}
        autoComplete="off"
        placeholder={placeholder}
        value={value}
        data-testid={testId}
        data-mode={query.kind}
        aria-invalid={invalid}
        aria-describedby={invalid ? errorId : undefined}
        aria-expanded={completion !== null}
        aria-controls={listId}
        aria-autocomplete="list"
        onChange={(e) => edit(e.target.value, e.target.selectionStart)}
        onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
        onKeyDown={onKeyDown}
        onBlur={() => setCaret(null)}
      />
      {completion !== null && (
        <div className="where-completions" id={listId} role="listbox" data-testid="where-completions">
          {completion.items.map((item, i) => (
            <div
              key={item}
              role="option"
              tabIndex={-1}
              aria-selected={i === active}
              className={i === active ? "active" : undefined}
              data-testid="where-completion"
              // Before the input's blur, so the list is still there to click.
              onMouseDown={(e) => {
                e.preventDefault();
                accept(item);
              }}
            >
              {item}
            </div>
          ))}
        </div>
      )}
      {invalid && (
        <div className="where-error" id={errorId} role="alert" data-testid="where-error">
          <span data-testid="where-error-message">{query.message}</span>
          <ErrorSnippet text={value} column={query.column} />
        </div>
      )}
    </div>
  );
}
