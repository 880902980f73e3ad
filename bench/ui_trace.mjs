// Main-thread work per frame from a real Chromium trace (CDP Tracing, devtools.timeline):
// script timers inside the page cannot see the canvas rasterisation and paint that follow
// a redraw, the trace can. Used by bench/ui_interaction.mjs.

/** Every event the devtools timeline records: where a frame's work went, event by event. */
const TIMELINE = [
  "devtools.timeline",
  "disabled-by-default-devtools.timeline",
  "disabled-by-default-devtools.timeline.frame",
  "toplevel",
  "blink",
  "cc",
  // Garbage collections by name when looking at where frames went (TRACE=1).
  ...(process.env.TRACE ? ["v8", "disabled-by-default-v8.gc"] : []),
  ...extraCategories(),
].join(",");

/**
 * More categories to record (EXTRA_CATEGORIES=a,b), in either mode: "v8,disabled-by-default-v8.gc"
 * names the collector's work in each task; "disabled-by-default-memory-infra" with MEMDUMP=1 takes
 * a memory dump of every process as each interaction starts and ends (Blink's heap by object type).
 */
function extraCategories() {
  return process.env.EXTRA_CATEGORIES ? process.env.EXTRA_CATEGORIES.split(",") : [];
}

/**
 * Only each task of the main thread (with its thread time) and where each frame begins. Recording
 * an event costs the thread that records it: the timeline's ~550 events per frame of a hover add
 * about a millisecond to every frame on this machine (bench/RESULTS.md, ui-interaction notes),
 * which is the instrument's work, not the page's.
 */
const TASKS = ["toplevel", "benchmark", ...extraCategories()].join(",");

/** RAWDUMP=prefix writes each interaction's trace events to prefix.1, prefix.2, … in the order measured. */
let rawDumps = 0;

/**
 * Starts tracing the page; the returned function stops it and gives the main thread's summary.
 * `detail`: record the whole devtools timeline (needed for the worst frames' breakdown), or only
 * tasks and frame starts (per-frame totals with the least cost to the page).
 */
export async function startTrace(page, { detail = true } = {}) {
  const cdp = await page.context().newCDPSession(page);
  const events = [];
  cdp.on("Tracing.dataCollected", (e) => events.push(...e.value));
  await cdp.send("Tracing.start", { categories: detail ? TIMELINE : TASKS, transferMode: "ReportEvents" });
  const memoryDump = () =>
    process.env.MEMDUMP ? cdp.send("Tracing.requestMemoryDump", { levelOfDetail: "detailed" }) : undefined;
  await memoryDump();
  return async () => {
    await memoryDump();
    const done = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
    await cdp.send("Tracing.end");
    await done;
    await cdp.detach();
    if (process.env.RAWDUMP)
      (await import("node:fs")).writeFileSync(`${process.env.RAWDUMP}.${++rawDumps}`, JSON.stringify(events));
    return summarise(events);
  };
}

/** Which script a FunctionCall or timer ran (for the breakdown of the longest frames). */
function detailOf(e) {
  const d = e.args?.data;
  if (!d || !["FunctionCall", "TimerFire", "FireAnimationFrame", "EventDispatch"].includes(e.name)) return undefined;
  const where = d.functionName ? `${d.functionName}@${d.lineNumber ?? ""}` : (d.type ?? "");
  return `${e.name}(${where})`;
}

/** The renderer main thread that did the most work (the page's, not an extension's or a worker's). */
function mainThread(events) {
  const names = new Map();
  for (const e of events) {
    if (e.ph === "M" && e.name === "thread_name" && e.args?.name === "CrRendererMain")
      names.set(`${e.pid}:${e.tid}`, 0);
  }
  for (const e of events) {
    const id = `${e.pid}:${e.tid}`;
    if (e.ph === "X" && names.has(id)) names.set(id, names.get(id) + (e.dur ?? 0));
  }
  let best = null;
  for (const [id, total] of names) if (!best || total > best[1]) best = [id, total];
  return best?.[0];
}

/**
 * Sums self time by event name on the main thread, lists its top-level tasks, and splits the
 * busy time into frames (between the starts of consecutive main frames on that thread): wall time
 * the thread was in a task, and thread (CPU) time, which leaves out waiting for a core while
 * other processes share the machine.
 */
export function summarise(events) {
  const thread = mainThread(events);
  const mine = events
    .filter((e) => `${e.pid}:${e.tid}` === thread && (e.ph === "X" || e.ph === "B" || e.ph === "E"))
    .sort((a, b) => a.ts - b.ts || (a.ph === "E" ? -1 : 1));
  // B/E pairs become complete events; nesting gives self times. A thread's CPU time cannot exceed
  // its wall time, yet Chromium's trace on this VM now and then gives a task several ms more thread
  // time than wall time (11.4 ms of wall with 15.6 ms of CPU: the thread clock catches up in a
  // jump), so each event's CPU time is capped at its wall time.
  const cpuOf = (dur, tdur) => Math.max(0, Math.min(dur, tdur));
  const complete = [];
  const open = [];
  for (const e of mine) {
    if (e.ph === "X")
      complete.push({
        name: e.name,
        ts: e.ts,
        dur: e.dur ?? 0,
        tdur: cpuOf(e.dur ?? 0, e.tdur ?? e.dur ?? 0),
        detail: detailOf(e),
      });
    else if (e.ph === "B") open.push(e);
    else {
      const b = open.pop();
      if (b)
        complete.push({
          name: b.name,
          ts: b.ts,
          dur: e.ts - b.ts,
          tdur: cpuOf(e.ts - b.ts, (e.tts ?? 0) - (b.tts ?? 0) || e.ts - b.ts),
        });
    }
  }
  complete.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const stack = [];
  const tasks = [];
  for (const e of complete) {
    while (stack.length && stack[stack.length - 1].ts + stack[stack.length - 1].dur <= e.ts) stack.pop();
    const parent = stack[stack.length - 1];
    e.self = e.dur;
    e.cpuSelf = e.tdur;
    if (parent) {
      parent.self -= Math.min(e.dur, parent.ts + parent.dur - e.ts);
      parent.cpuSelf -= e.tdur;
    } else if (e.name === "ThreadControllerImpl::RunTask" || e.name === "RunTask") tasks.push(e);
    stack.push(e);
  }
  const selfByName = (list, field = "self") => {
    const by = new Map();
    for (const e of list) by.set(e.name, (by.get(e.name) ?? 0) + e[field]);
    return [...by.entries()].map(([name, us]) => [name, us / 1000]).sort((a, b) => b[1] - a[1]);
  };
  // Frame boundaries: each main frame (animation frame callbacks, style, layout, paint) begins here.
  const starts = complete.filter((e) => e.name === "ProxyMain::BeginMainFrame").map((e) => e.ts);
  const perFrame = [];
  const cpuPerFrame = [];
  const windows = [];
  let t = 0;
  for (let f = 0; f + 1 < starts.length; f++) {
    const [lo, hi] = [starts[f], starts[f + 1]];
    let busy = 0;
    let cpu = 0;
    while (t < tasks.length && tasks[t].ts + tasks[t].dur <= lo) t++;
    for (let i = t; i < tasks.length && tasks[i].ts < hi; i++) {
      const task = tasks[i];
      const overlap = Math.min(hi, task.ts + task.dur) - Math.max(lo, task.ts);
      busy += overlap;
      // Thread time: the task's CPU time, without the time the thread waited for a core.
      cpu += task.dur > 0 ? ((task.tdur ?? task.dur) * overlap) / task.dur : 0;
    }
    perFrame.push(busy / 1000);
    cpuPerFrame.push(cpu / 1000);
    windows.push([lo, hi, cpu / 1000]);
  }
  // What the frames with the most thread CPU spent it on (CPU self time per event: the
  // machine is shared, so wall time alone would blame whatever waited for a core).
  const worst = windows
    .sort((a, b) => b[2] - a[2])
    .slice(0, 3)
    .map(([lo, hi, cpu]) => ({
      cpu,
      // The frame's events of over 0.3 ms in time order, nested ones included (TRACE=2 prints them).
      timeline: complete
        .filter((e) => e.ts >= lo && e.ts < hi && e.dur > 300)
        .map((e) => `${((e.ts - lo) / 1000).toFixed(1)} ms +${(e.dur / 1000).toFixed(1)} ${e.detail ?? e.name}`),
      // Each canvas flushed in the frame: a canvas is flushed (rasterised, without a GPU) at the end
      // of the task that drew on it, so several here means several canvases drawn in one task.
      canvases: complete
        .filter((e) => e.ts >= lo && e.ts < hi && e.name === "CanvasRenderingContext2D::FinalizeFrame")
        .map((e) => e.tdur / 1000),
      byName: selfByName(
        complete.filter((e) => e.ts >= lo && e.ts < hi).map((e) => ({ ...e, name: e.detail ?? e.name })),
        "cpuSelf",
      ).slice(0, 10),
    }));
  return {
    byName: selfByName(complete),
    tasks: tasks.map((e) => e.dur / 1000),
    cpuTasks: tasks.map((e) => (e.tdur ?? e.dur) / 1000),
    perFrame,
    cpuPerFrame,
    worst,
  };
}
