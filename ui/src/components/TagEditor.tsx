import { useState } from "react";
import { MAX_TAG_LENGTH } from "../../../src/contract/limits";

/** Tags as chips: × removes one, Enter in the box adds one. */
export function TagEditor({ tags, onChange }: { tags: string[]; onChange(tags: string[]): void }) {
  const [draft, setDraft] = useState("");
  const add = () => {
    const tag = draft.trim();
    setDraft("");
    if (tag && !tags.includes(tag)) onChange([...tags, tag]);
  };
  return (
    <div className="tag-editor" data-testid="tag-editor">
      {tags.map((tag) => (
        <span className="tag" key={tag} data-testid="tag">
          {tag}
          <button
            type="button"
            className="tag-remove"
            aria-label={`Remove tag ${tag}`}
            data-testid="tag-remove"
            onClick={() => onChange(tags.filter((t) => t !== tag))}
          >
            ×
          </button>
        </span>
      ))}
      <input
        className="tag-input"
        placeholder={tags.length ? "Add tag" : "Add a tag and press Enter"}
        value={draft}
        maxLength={MAX_TAG_LENGTH}
        data-testid="tag-input"
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" || e.key === ",") {
            e.preventDefault();
            add();
          } else if (e.key === "Backspace" && draft === "" && tags.length) {
            onChange(tags.slice(0, -1));
          }
        }}
        onBlur={add}
      />
    </div>
  );
}
