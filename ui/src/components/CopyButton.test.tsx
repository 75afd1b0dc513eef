import { act, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { CopyButton } from "./CopyButton";
import { I18nProvider } from "../i18n/I18n";
import type { Lang } from "../bindings";
import { fakeClipboard } from "../test-utils";

const SECRET = "JBSWY3DPEHPK3PXP";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function renderButton({ secret = false, lang = "en" as Lang, text = SECRET } = {}) {
  return render(
    <I18nProvider initial={lang}>
      <CopyButton text={text} label="Copy — Secret key" secret={secret} />
    </I18nProvider>,
  );
}

/** Clicks Copy and lets the clipboard write finish. */
async function copy() {
  await act(async () => {
    fireEvent.click(screen.getByRole("button", { name: "Copy — Secret key" }));
  });
}

/** Lets `ms` go by, running the timers and what they start. */
async function wait(ms: number) {
  await act(() => vi.advanceTimersByTimeAsync(ms));
}

test("a copied secret is cleared from the clipboard after 30 seconds when it is still there", async () => {
  const clipboard = fakeClipboard();
  renderButton({ secret: true });
  await copy();
  expect(clipboard.contents).toBe(SECRET);
  await wait(29_999);
  expect(clipboard.contents).toBe(SECRET);
  await wait(1);
  expect(clipboard.readText).toHaveBeenCalled();
  expect(clipboard.contents).toBe("");
  expect(screen.getByRole("status")).toHaveTextContent("The copy was cleared from the clipboard.");
});

test("a secret is not cleared when the user has copied something else since", async () => {
  const clipboard = fakeClipboard();
  renderButton({ secret: true });
  await copy();
  clipboard.contents = "the user's next copy"; // another application
  await wait(30_000);
  expect(clipboard.readText).toHaveBeenCalled();
  expect(clipboard.contents).toBe("the user's next copy");
  expect(clipboard.writeText.mock.calls).toEqual([[SECRET]]);
  // The "will be cleared" notice is no longer true, so it is gone.
  expect(screen.getByRole("status")).toBeEmptyDOMElement();
});

test("a secret is cleared as soon as the button goes away (the user moved on)", async () => {
  const clipboard = fakeClipboard();
  const { unmount } = renderButton({ secret: true });
  await copy();
  await wait(5_000);
  unmount();
  await act(async () => {});
  expect(clipboard.contents).toBe("");
  // and once only: the 30-second timer went with the button.
  await wait(60_000);
  expect(clipboard.writeText.mock.calls).toEqual([[SECRET], [""]]);
});

test.each(["refused", "missing"] as const)(
  "a secret is cleared anyway when reading the clipboard is %s",
  async (read) => {
    const clipboard = fakeClipboard({ read });
    renderButton({ secret: true });
    await copy();
    clipboard.contents = "cannot tell what this is";
    await wait(30_000);
    expect(clipboard.contents).toBe("");
    expect(clipboard.writeText.mock.calls).toEqual([[SECRET], [""]]);
  },
);

test("a clipboard that cannot be cleared is said, with what to do", async () => {
  const clipboard = fakeClipboard();
  renderButton({ secret: true });
  await copy();
  clipboard.writeText.mockRejectedValueOnce(new DOMException("denied", "NotAllowedError"));
  await wait(30_000);
  expect(screen.getByRole("status")).toHaveTextContent(
    "The clipboard could not be cleared; copy some other text to replace what is in it.",
  );
});

test("only a secret copy is cleared: a plain one stays, with the plain message", async () => {
  const clipboard = fakeClipboard();
  const plain = renderButton({ text: "https://id.example.org/authorize" });
  await copy();
  expect(screen.getByRole("status")).toHaveTextContent(/^Copied to the clipboard\.$/);
  await wait(60_000);
  plain.unmount();
  await act(async () => {});
  expect(clipboard.contents).toBe("https://id.example.org/authorize");
  expect(clipboard.writeText).toHaveBeenCalledTimes(1);
  expect(clipboard.readText).not.toHaveBeenCalled();

  renderButton({ secret: true });
  await copy();
  await wait(30_000);
  expect(clipboard.contents).toBe("");
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
  fakeClipboard();
  renderButton({ secret: true, lang });
  await copy();
  expect(screen.getByRole("status")).toHaveTextContent(message);
});
