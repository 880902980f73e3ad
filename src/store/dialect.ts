/**
 * The few places where one SQL text cannot serve both SQLite and PostgreSQL.
 * Store functions build their statement from these, per connection.
 */
import type { Db } from "./driver.js";

/**
 * A subquery giving the values of a JSON array bound at `placeholder` ("?" or
 * "@name"), for `x IN (...)`: SQLite's json_each, PostgreSQL's
 * json_array_elements_text cast to the column's type.
 */
export function jsonArrayValues(db: Db, placeholder: string, type: "text" | "bigint"): string {
  if (db.driver !== "postgres") return `(SELECT value FROM json_each(${placeholder}))`;
  return `(SELECT json_array_elements_text(${placeholder}::json)${type === "bigint" ? "::bigint" : ""})`;
}
