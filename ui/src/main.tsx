import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import "./styles.css";

async function start() {
  // Only the `mock` build (for the accessibility scan) carries the fake
  // backend; the check is static, so production builds drop it entirely.
  if (import.meta.env.MODE === "mock") {
    const { installFromQuery } = await import("./mock/install");
    installFromQuery(window.location.search);
  }
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}

void start();
