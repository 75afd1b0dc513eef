import { render, screen } from "@testing-library/react";
import { mockIPC, clearMocks } from "@tauri-apps/api/mocks";
import { afterEach, expect, test } from "vitest";
import { App } from "./App";

afterEach(() => clearMocks());

test("shows the version the Rust side reports", async () => {
  mockIPC((cmd) => (cmd === "version" ? { version: "9.8.7" } : undefined));
  render(<App />);
  expect(await screen.findByTestId("version")).toHaveTextContent("Version 9.8.7");
});

test("explains when the version cannot be read", async () => {
  mockIPC(() => {
    throw new Error("ipc down");
  });
  render(<App />);
  expect(await screen.findByRole("alert")).toHaveTextContent("ipc down");
});
