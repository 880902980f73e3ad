import type { JsonValue } from "../../../src/types";
import { formatValue } from "../lib/format";

/** Per config key of the table's columns, how each of its numbers reads (readableNumbers). */
export type ConfigTexts = ReadonlyMap<string, ReadonlyMap<number, string>>;

/** Past this many characters a value may be cut by its cell: the whole text goes in the title. */
const CUT_AT = 12;

/**
 * A config value in a table cell: a number as its column reads it (readableNumbers: rounded where
 * no other value of the column reads alike), the exact value on hover where the text differs from
 * it or may be cut.
 */
export function ConfigText({
  value,
  readable,
}: {
  value: JsonValue | undefined;
  readable: ReadonlyMap<number, string> | undefined;
}) {
  if (value === undefined) return <span className="muted">—</span>;
  const exact = formatValue(value);
  const text = typeof value === "number" ? (readable?.get(value) ?? exact) : exact;
  return (
    <span data-testid="config-value" title={text !== exact || exact.length > CUT_AT ? exact : undefined}>
      {text}
    </span>
  );
}
