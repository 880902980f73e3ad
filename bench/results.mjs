// Writes one benchmark's block into bench/RESULTS.md without touching the others.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const RESULTS = new URL("./RESULTS.md", import.meta.url);

/**
 * Replaces the block between `<!-- id:start -->` and `<!-- id:end -->`, or adds
 * it at the end of the section `heading` (created with `intro` when missing).
 */
export function writeResultsBlock(heading, intro, id, markdown) {
  const start = `<!-- ${id}:start -->`;
  const end = `<!-- ${id}:end -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  // Read right before writing: other benchmarks write to the same file.
  let text = existsSync(RESULTS) ? readFileSync(RESULTS, "utf8") : "# Benchmark results\n";
  if (text.includes(start) && text.includes(end)) {
    text = text.slice(0, text.indexOf(start)) + block + text.slice(text.indexOf(end) + end.length);
  } else if (text.includes(heading)) {
    const at = text.indexOf(heading);
    const next = text.indexOf("\n## ", at + heading.length);
    let cut = next === -1 ? text.length : next;
    // A block that opens right before the next heading holds that heading: it belongs to the next section.
    const opening = /\n<!--[^\n]*start -->\s*$/.exec(text.slice(0, cut));
    if (opening) cut = opening.index;
    text = `${text.slice(0, cut).replace(/\n*$/, "\n\n")}${block}\n${text.slice(cut)}`;
  } else {
    text = `${text.replace(/\n*$/, "\n\n")}${heading}\n\n${intro}\n\n${block}\n`;
  }
  writeFileSync(RESULTS, text);
}
