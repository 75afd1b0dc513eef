import { render, screen, waitFor } from "@testing-library/react";
import { expect } from "vitest";
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

/**
 * Waits until the heading named `name` is shown AND has the focus. A screen
 * may render its heading more than once while its data arrives; asking again
 * each time avoids checking a heading that was just replaced.
 */
export async function expectFocusedHeading(name: string, level: 1 | 2 = 1) {
  await waitFor(() => expect(screen.getByRole("heading", { level, name })).toHaveFocus());
  return screen.getByRole("heading", { level, name });
}
