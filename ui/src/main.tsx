import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { App } from "./App";
import { runsStore } from "./state/runs";
import { getView } from "./state/view";

// The run list is the longest fetch on the way to the first chart: start it before the first render.
void runsStore.load(getView().exp);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
