import { act, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { mockIPC } from "@tauri-apps/api/mocks";
import { CopyButton } from "./CopyButton";
import { I18nProvider } from "../i18n/I18n";
import type { Lang } from "../bindings";
import { mockBackend } from "../mock/backend";
import type { MockOptions } from "../mock/backend";
import { fakeClipboard } from "../test-utils";

const SECRET = "JBSWY3DPEHPK3PXP";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** The Rust side (mock): its clipboard, and the commands the button called. */
function backend(opts: MockOptions = {}) {
  const b = mockBackend(opts);
  mockIPC(b.handler);
  return { clipboard: b.state.clipboard, calls: () => b.state.calls.map((c) => c.cmd) };
}

function renderButton({ secret = false, lang = "en" as Lang, text = SECRET } = {}) {
  return render(
    <I18nProvider initial={lang}>
      <CopyButton text={text} label="Copy — Secret key" secret={secret} />
    </I18nProvider>,
  );
}

/** Clicks Copy and lets the copy finish. */
async function copy() {
  await act(async () => {
    fireEvent.click(screen.getByRole("button", { name: "Copy — Secret key" }));
  });
}

/** Lets `ms` go by, running the timers and what they start. */
async function wait(ms: number) {
  await act(() => vi.advanceTimersByTimeAsync(ms));
}

test("a secret is copied by the Rust side, marked sensitive, not by the web view", async () => {
  const web = fakeClipboard();
  const rust = backend();
  renderButton({ secret: true });
  await copy();
  expect(rust.clipboard.text).toBe(SECRET);
  expect(rust.clipboard.sensitive).toBe(true);
  expect(rust.calls()).toEqual(["secret_copy"]);
  expect(web.writeText).not.toHaveBeenCalled();
  expect(web.readText).not.toHaveBeenCalled();
});

test("after 30 seconds the Rust side is asked to clear it, and the button says it was cleared", async () => {
  const rust = backend();
  renderButton({ secret: true });
  await copy();
  await wait(29_999);
  expect(rust.calls()).toEqual(["secret_copy"]);
  expect(rust.clipboard.text).toBe(SECRET);
  await wait(1);
  expect(rust.calls()).toEqual(["secret_copy", "secret_forget"]);
  expect(rust.clipboard.text).toBeNull();
  expect(screen.getByRole("status")).toHaveTextContent("The copy was cleared from the clipboard.");
});

test("a secret is not cleared when the user has copied something else since", async () => {
  const rust = backend();
  renderButton({ secret: true });
  await copy();
  rust.clipboard.text = "the user's next copy"; // another application
  await wait(30_000);
  expect(rust.calls()).toEqual(["secret_copy", "secret_forget"]);
  expect(rust.clipboard.text).toBe("the user's next copy");
  // The "will be cleared" notice is no longer true, so it is gone.
  expect(screen.getByRole("status")).toBeEmptyDOMElement();
});

test("a secret is cleared as soon as the button goes away (the user moved on)", async () => {
  const rust = backend();
  const { unmount } = renderButton({ secret: true });
  await copy();
  await wait(5_000);
  unmount();
  await act(async () => {});
  expect(rust.clipboard.text).toBeNull();
  // and once only: the 30-second timer went with the button.
  await wait(60_000);
  expect(rust.calls()).toEqual(["secret_copy", "secret_forget"]);
});

test("a newer copy counts its own 30 seconds", async () => {
  const rust = backend();
  renderButton({ secret: true });
  await copy();
  await wait(20_000);
  await copy();
  await wait(15_000);
  expect(rust.calls()).toEqual(["secret_copy", "secret_copy"]);
  await wait(15_000);
  expect(rust.calls()).toEqual(["secret_copy", "secret_copy", "secret_forget"]);
});

test("a clipboard that cannot be cleared is said, with what to do", async () => {
  const rust = backend();
  renderButton({ secret: true });
  await copy();
  rust.clipboard.failClear = true;
  await wait(30_000);
  expect(screen.getByRole("status")).toHaveTextContent(
    "The clipboard could not be cleared; copy some other text to replace what is in it.",
  );
});

test("a secret that cannot be copied is said, and nothing waits to be cleared", async () => {
  const rust = backend({
    overrides: {
      secret_copy: () => {
        throw { code: "clipboard", message: "no display" };
      },
    },
  });
  renderButton({ secret: true });
  await copy();
  expect(screen.getByRole("status")).toHaveTextContent("Could not copy; select the text and copy it yourself.");
  await wait(60_000);
  expect(rust.calls()).toEqual(["secret_copy"]);
});

test("only a secret copy is cleared: a plain one stays with the web view's clipboard, with the plain message", async () => {
  const web = fakeClipboard();
  const rust = backend();
  const plain = renderButton({ text: "https://id.example.org/authorize" });
  await copy();
  expect(screen.getByRole("status")).toHaveTextContent(/^Copied to the clipboard\.$/);
  await wait(60_000);
  plain.unmount();
  await act(async () => {});
  expect(web.contents).toBe("https://id.example.org/authorize");
  expect(web.writeText).toHaveBeenCalledTimes(1);
  expect(web.readText).not.toHaveBeenCalled();
  expect(rust.calls()).toEqual([]);
});

test("a plain copy the web view refuses is said", async () => {
  const web = fakeClipboard();
  web.writeText.mockRejectedValueOnce(new DOMException("denied", "NotAllowedError"));
  backend();
  renderButton({ text: "https://id.example.org/authorize" });
  await copy();
  expect(screen.getByRole("status")).toHaveTextContent("Could not copy; select the text and copy it yourself.");
});

test.each([
  [
    "en",
    "Copied to the clipboard. For your security, it will be cleared from the clipboard in 30 seconds, or as soon as you leave this screen.",
  ],
  [
    "fr",
    "Copié dans le presse-papiers. Par sécurité, la copie en sera effacée dans 30 secondes, ou dès que vous quitterez cet écran.",
  ],
] as const)("a secret copy says, in the status region, that it will be cleared (%s)", async (lang, message) => {
  backend();
  renderButton({ secret: true, lang });
  await copy();
  expect(screen.getByRole("status")).toHaveTextContent(message);
});
