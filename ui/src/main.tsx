import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { App } from "./App";
import { prefetchGroupCharts } from "./components/chart/group-prefetch";
import { runsStore } from "./state/runs";
import { getView } from "./state/view";

// The run list is the longest fetch on the way to the first chart: start it before the first render.
void runsStore.load(getView().exp);
// Grouped charts wait on an aggregate of their runs: ask for the first ones as soon as the run list is
// in, ahead of React's render of it (this listener is the store's first, its microtask runs first).
const stopPrefetch = runsStore.subscribe(() => {
  if (runsStore.getSnapshot().status === "loading") return;
  stopPrefetch();
  queueMicrotask(() => prefetchGroupCharts(getView(), runsStore.getSnapshot()));
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
