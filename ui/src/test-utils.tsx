import { render, screen, waitFor } from "@testing-library/react";
import { expect, onTestFinished, vi } from "vitest";
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

/**
 * A command override that reports a step-up waiting for the browser, then
 * answers `answer(args)` once `release()` is called: for checking what a
 * screen shows while the browser confirms.
 */
export function stepUpPending(answer: (args: Record<string, unknown>) => unknown = () => null) {
  let release: () => void = () => {};
  const command = (a: Record<string, unknown>) => {
    (a.onProgress as { onmessage: (p: unknown) => void }).onmessage({ step: "waiting_for_browser", provider: "x" });
    return new Promise((res) => (release = () => res(answer(a))));
  };
  return { command, release: () => release() };
}

/** Waits until a status region announces the step-up. */
export async function expectStepUpAnnounced() {
  await waitFor(() =>
    expect(screen.getAllByRole("status").some((s) => s.textContent?.includes("needs a recent sign-in"))).toBe(true),
  );
}

/**
 * Replaces navigator.clipboard, for this test only, with one that keeps its
 * text in `contents`; its spies show whether the web view's clipboard was
 * used at all. Install it after renderApp: userEvent brings its own.
 */
export function fakeClipboard() {
  const clipboard = {
    contents: "",
    writeText: vi.fn(async (text: string) => {
      clipboard.contents = text;
    }),
    readText: vi.fn(async () => clipboard.contents),
  };
  const before = Object.getOwnPropertyDescriptor(navigator, "clipboard");
  const { writeText, readText } = clipboard;
  Object.defineProperty(navigator, "clipboard", {
    value: { writeText, readText },
    configurable: true,
  });
  onTestFinished(() => {
    if (before) Object.defineProperty(navigator, "clipboard", before);
    else delete (navigator as { clipboard?: unknown }).clipboard;
  });
  return clipboard;
}
