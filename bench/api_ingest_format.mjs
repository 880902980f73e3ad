// The write API's batch format (issue 13): what a points batch of 50,000
// points (5 series × 10,000, the shippers' largest) costs in three encodings:
// JSON number arrays, B64F64 (base64 of little-endian float64 columns, the
// format the server takes) and gzip'd JSON arrays. Per format: bytes on the
// wire, the sender's encode time, the server's decode time (JSON.parse, the
// column decode and the finite check), and decode + insert as points/s (the
// insert is the same store call for every format: appendRemotePoints in one
// BEGIN IMMEDIATE transaction). Then B64F64 end to end: POST over HTTP to a
// real server on 127.0.0.1, points/s from request to committed answer.
// Run: npm run build && node bench/api_ingest_format.mjs   (REPEATS=15 by default)
import { randomUUID } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { openService } from "../dist/query/service.js";
import { startServer } from "../dist/server/index.js";
import { decodeB64F64, encodeB64F64 } from "../dist/util/b64f64.js";
import { machine, median, ms, PROVENANCE, tempDb, writeResults } from "./api_common.mjs";

const REPEATS = Number(process.env.REPEATS ?? 15);
const SERIES = 5;
const POINTS = 10_000;
const TOTAL = SERIES * POINTS;

/** Training-like columns: whole steps, noisy losses with every digit, wall-clock times with fractions. */
function makeColumns(start) {
  return Array.from({ length: SERIES }, (_, k) => {
    const steps = Float64Array.from({ length: POINTS }, (_, i) => start + i);
    const values = Float64Array.from(steps, (s) => 2 * Math.exp(-s / 30_000) + Math.sin(s * 7.7 + k) * 0.01);
    const times = Float64Array.from(steps, (s) => 1_765_000_000 + s * 0.0123);
    return { key: `train/metric_${k}`, start, steps, values, times };
  });
}

const jsonBody = (columns) =>
  JSON.stringify({
    series: columns.map((c) => ({
      key: c.key,
      start: c.start,
      steps: Array.from(c.steps),
      values: Array.from(c.values),
      times: Array.from(c.times),
    })),
  });

const FORMATS = {
  json: {
    label: "JSON number arrays",
    encode: (columns) => Buffer.from(jsonBody(columns)),
    decode: (bytes) => fromArrays(JSON.parse(bytes.toString("utf8"))),
  },
  b64f64: {
    label: "B64F64 (base64 float64 columns)",
    encode: (columns) =>
      Buffer.from(
        JSON.stringify({
          series: columns.map((c) => ({
            key: c.key,
            start: c.start,
            steps: encodeB64F64(c.steps),
            values: encodeB64F64(c.values),
            times: encodeB64F64(c.times),
          })),
        }),
      ),
    decode: (bytes) =>
      JSON.parse(bytes.toString("utf8")).series.map((s) => {
        const out = { key: s.key, start: s.start };
        for (const column of ["steps", "values", "times"]) out[column] = finite(decodeB64F64(s[column]));
        return out;
      }),
  },
  gzipJson: {
    label: "gzip'd JSON number arrays",
    encode: (columns) => gzipSync(jsonBody(columns), { level: 6 }),
    decode: (bytes) => fromArrays(JSON.parse(gunzipSync(bytes).toString("utf8"))),
  },
};

function finite(array) {
  if (array === null) throw new Error("bad column");
  for (let i = 0; i < array.length; i++) if (!Number.isFinite(array[i])) throw new Error("not finite");
  return array;
}

function fromArrays(body) {
  return body.series.map((s) => {
    const out = { key: s.key, start: s.start };
    for (const column of ["steps", "values", "times"]) {
      if (!Array.isArray(s[column])) throw new Error("not an array");
      out[column] = finite(Float64Array.from(s[column]));
    }
    return out;
  });
}

function timed(fn) {
  const start = performance.now();
  const result = fn();
  return { result, ms: performance.now() - start };
}

const db = tempDb("ingest-format");
const service = openService(db.path, { create: true });
const meta = (experiment) => ({
  experiment,
  project: null,
  name: null,
  config: {},
  tags: [],
  group: null,
  jobType: null,
  notes: null,
  color: null,
  createdAt: 1_765_000_000,
  provenance: { ...PROVENANCE },
  status: "running",
  endedAt: null,
  lastHeartbeat: null,
});

// Formats take turns batch by batch, so each meets the file (and the garbage collector) in the same state.
const samples = Object.fromEntries(
  Object.keys(FORMATS).map((name) => {
    const runId = randomUUID();
    service.upsertRemoteRun(runId, meta("format"));
    return [name, { runId, bytes: 0, encode: [], decode: [], insert: [] }];
  }),
);
for (let i = 0; i < REPEATS + 2; i++) {
  const columns = makeColumns(i * POINTS);
  for (const [name, format] of Object.entries(FORMATS)) {
    const sample = samples[name];
    const encoded = timed(() => format.encode(columns));
    const decoded = timed(() => format.decode(encoded.result));
    const inserted = timed(() => service.appendRemotePoints(sample.runId, decoded.result));
    if (inserted.result.series[columns[0].key] !== (i + 1) * POINTS) throw new Error(`${name}: points went missing`);
    // The first two batches warm up the JIT and the file.
    if (i < 2) continue;
    sample.bytes = encoded.result.length;
    sample.encode.push(encoded.ms);
    sample.decode.push(decoded.ms);
    sample.insert.push(inserted.ms);
  }
}
const rows = Object.entries(FORMATS).map(([name, format]) => {
  const sample = samples[name];
  const serverMs = median(sample.decode.map((d, i) => d + sample.insert[i]));
  return {
    name,
    label: format.label,
    bytes: sample.bytes,
    encode: median(sample.encode),
    decode: median(sample.decode),
    insert: median(sample.insert),
    pointsPerSecond: TOTAL / (serverMs / 1000),
  };
});
service.close();

// B64F64 end to end over HTTP.
const server = await startServer({ dbPath: db.path, port: 0 });
const runId = randomUUID();
await fetch(`${server.url}/api/runs/${runId}`, {
  method: "PUT",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(meta("http")),
});
const requestMs = [];
for (let i = 0; i < REPEATS + 2; i++) {
  const body = FORMATS.b64f64.encode(makeColumns(i * POINTS));
  const start = performance.now();
  const response = await fetch(`${server.url}/api/runs/${runId}/points`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
  });
  const reply = await response.json();
  const elapsed = performance.now() - start;
  if (response.status !== 200 || reply.series["train/metric_0"] !== (i + 1) * POINTS) {
    throw new Error(`POST failed: ${response.status} ${JSON.stringify(reply)}`);
  }
  if (i >= 2) requestMs.push(elapsed);
}
await server.close();
db.remove();

const b64 = rows.find((r) => r.name === "b64f64");
const table = rows
  .map(
    (r) =>
      `| ${r.label} | ${(r.bytes / 1e6).toFixed(2)} MB (${(r.bytes / TOTAL).toFixed(1)} B/point) | ${ms(r.encode)} | ${ms(r.decode)} | ${ms(r.insert)} | ${Math.round(r.pointsPerSecond / 1000)}k | ${(r.pointsPerSecond / b64.pointsPerSecond).toFixed(2)} |`,
  )
  .join("\n");
const httpMs = median(requestMs);
const markdown = `### Write API batch format (bench/api_ingest_format.mjs)

One batch of ${TOTAL.toLocaleString("en")} points (${SERIES} series × ${POINTS.toLocaleString("en")}; steps, noisy float values, fractional times), medians of ${REPEATS} batches after 2 warm-up ones. Decode = JSON.parse + columns to Float64Array + finite check; insert = \`appendRemotePoints\` (one BEGIN IMMEDIATE transaction through writes.ts, same for every format). Machine: ${machine()}.

| format | bytes on the wire | encode (sender) ms | decode (server) ms | insert ms | decode + insert points/s | ratio to B64F64 |
|---|---|---|---|---|---|---|
${table}

B64F64 end to end (POST /api/runs/{id}/points to a real server on 127.0.0.1, fetch keep-alive): ${ms(httpMs)} ms per 50,000-point batch, ${Math.round(TOTAL / (httpMs / 1000) / 1000)}k points/s.

Choice: B64F64 stays the format. Its decode is a copy; JSON arrays parse every digit, and gzip adds inflate on the server and deflate (the slowest step of all) on the sender, to save bytes a loopback or LAN does not miss.`;
writeResults("api_ingest_format", markdown);
process.stdout.write(`${markdown}\n`);
