import { render } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { App } from "./App";
import { mockBackend } from "./mock/backend";
import type { MockOptions } from "./mock/backend";

/** Renders the whole app over the mock backend; returns its state for assertions. */
export function renderApp(opts: MockOptions = {}) {
  const backend = mockBackend(opts);
  mockIPC(backend.handler);
  const user = userEvent.setup();
  const view = render(<App />);
  return { ...view, user, state: backend.state, calls: (cmd: string) => backend.state.calls.filter((c) => c.cmd === cmd) };
}
