// A cold server's first grouped aggregate, in process: 200 runs × 100,000 points (bench/group_seed.mjs,
// the file of bench/ui_groups.mjs), StonksService.getGroupSeries for its 10 groups of 20 runs at 400 buckets,
// each repetition in a fresh Node process (fresh connection, no aggregate remembered, code not yet optimised;
// the operating system's page cache is warm). BASELINE_DIST names the dist/ of an earlier build to
// measure alternately in the same run (before/after), checked to give the same answer.
// Run: npm run build && BASELINE_DIST=/path/to/old/dist BASELINE_LABEL=abc1234 node bench/api_group_read.mjs
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpus, loadavg, totalmem } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { GROUPS, KEY, RUNS, seedGroupedRuns } from "./group_seed.mjs";
import { writeResultsBlock } from "./results.mjs";

const BUCKETS = 400;
const REPEATS = Number(process.env.RUNS ?? 7);

/** The file's runs by group (sorted), as the dashboard groups them. */
function runGroups(service) {
  const groups = new Map();
  for (const run of service.listRuns()) groups.set(run.group, [...(groups.get(run.group) ?? []), run.id]);
  return [...groups.keys()].sort().map((g) => ({ label: g, runIds: groups.get(g).sort() }));
}

const hashOf = (value) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);

/**
 * In a child: the 10 groups' aggregates from a fresh service ("in process") or as one
 * POST /api/groups/series to a fresh server ("server"); prints wall and CPU milliseconds and the answer's hash.
 */
async function measureOnce(mode, dist, path) {
  const { openService } = await import(pathToFileURL(`${dist}/query/service.js`).href);
  const service = openService(path);
  const groups = runGroups(service);
  if (mode === "server") {
    service.close();
    const { startServer } = await import(pathToFileURL(`${dist}/server/index.js`).href);
    const server = await startServer({ dbPath: path, host: "127.0.0.1", port: 0 });
    const body = JSON.stringify({
      groups: groups.map((g) => ({ label: g.label, run_ids: g.runIds })),
      keys: [KEY],
      buckets: BUCKETS,
    });
    const cpu = process.cpuUsage();
    const start = performance.now();
    const response = await fetch(`${server.url}/api/groups/series`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
    });
    const answer = await response.json();
    const wall = performance.now() - start;
    const used = process.cpuUsage(cpu);
    await server.close();
    if (response.status !== 200) throw new Error(JSON.stringify(answer));
    console.log(JSON.stringify({ wall, cpu: (used.user + used.system) / 1000, hash: hashOf(answer) }));
    return;
  }
  const cpu = process.cpuUsage();
  const start = performance.now();
  const answers = groups.map((g) => service.getGroupSeries(g.runIds, KEY, { buckets: BUCKETS }));
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  service.close();
  console.log(JSON.stringify({ wall, cpu: (used.user + used.system) / 1000, hash: hashOf(answers) }));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

async function main() {
  const { tempDb } = await import("./ui_common.mjs");
  const db = tempDb("group-read");
  await seedGroupedRuns(db.path);
  const builds = [{ label: "this build", dist: fileURLToPath(new URL("../dist", import.meta.url)) }];
  if (process.env.BASELINE_DIST) {
    builds.unshift({
      label: `baseline ${process.env.BASELINE_LABEL ?? ""}`.trim(),
      dist: resolve(process.env.BASELINE_DIST),
    });
  }
  const modes = [
    ["in process", "inproc"],
    ["fresh server, one POST", "server"],
  ];
  const samples = new Map(modes.flatMap(([what]) => builds.map((b) => [`${what}, ${b.label}`, []])));
  // The first round warms the page cache; builds alternate so load swings hit both alike.
  for (let i = 0; i <= REPEATS; i++) {
    for (const [what, mode] of modes) {
      for (const build of builds) {
        const out = execFileSync(
          process.execPath,
          [fileURLToPath(import.meta.url), "--child", mode, build.dist, db.path],
          { encoding: "utf8" },
        );
        console.error(what, build.label, i, out.trim());
        if (i > 0) samples.get(`${what}, ${build.label}`).push(JSON.parse(out));
      }
    }
  }
  db.remove();
  for (const [what] of modes) {
    const answers = new Set(builds.flatMap((b) => samples.get(`${what}, ${b.label}`).map((s) => s.hash)));
    if (answers.size !== 1) throw new Error(`${what}: the builds' answers differ`);
  }
  const cpu = cpus();
  const load = loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ");
  const rows = [...samples].flatMap(([label, list]) => [
    `| ${label}: wall | ${fmt(median(list.map((s) => s.wall)))} ms | ${list.map((s) => fmt(s.wall)).join(", ")} |`,
    `| ${label}: CPU | ${fmt(median(list.map((s) => s.cpu)))} ms | ${list.map((s) => fmt(s.cpu)).join(", ")} |`,
  ]);
  const markdown = `### A cold server's first grouped aggregate: 200 runs × 100,000 points in 10 groups (bench/api_group_read.mjs)

${cpu.length} × ${cpu[0]?.model ?? "CPU"} VM, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}; load average ${load} (1/5/15 min) when the run ended: other work shared the ${cpu.length} cores. The file of bench/ui_groups.mjs; \`StonksService.getGroupSeries\` for its ${GROUPS} groups of ${RUNS / GROUPS} runs at ${BUCKETS} buckets (1,563 rollup rows of level 6 per run, docs/grouping.md), each repetition in a fresh Node process: wall and CPU time of the ${GROUPS} calls ("in process"), or of one POST /api/groups/series with the ${GROUPS} groups to a server started in that process (the server's CPU and the request's, one process; answer read and parsed). CPU time is the steadier number on a shared machine: wall time counts the time other work held the cores. Builds alternate within the run and gave the same answers. Medians of ${REPEATS}.

| measurement | median | samples |
|---|---|---|
${rows.join("\n")}
`;
  writeResultsBlock(
    "## REST API and live events (bench/api_*.mjs)",
    "Measured against a real `stonks serve` on 127.0.0.1.",
    "api-group-read",
    markdown,
  );
  console.log(markdown);
}

if (process.argv[2] === "--child") await measureOnce(process.argv[3], process.argv[4], process.argv[5]);
else await main();
