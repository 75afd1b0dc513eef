import { useEffect, useRef, useState } from "react";
import { useI18n } from "../i18n/I18n";

/** How long a copied secret may stay in the clipboard. */
const SECRET_CLIPBOARD_MS = 30_000;

/**
 * Takes `value` out of the clipboard if it is still there. When the clipboard
 * cannot be read (refused, as WebKitGTK may do outside a click, or missing),
 * it is emptied anyway: a secret must not stay. Resolves to whether the
 * clipboard was emptied; rejects if emptying it failed.
 */
async function clearFromClipboard(value: string): Promise<boolean> {
  let current: string | null = null;
  try {
    current = await navigator.clipboard.readText();
  } catch {
    current = null;
  }
  if (current !== null && current !== value) return false; // the user has copied something else since
  await navigator.clipboard.writeText("");
  return true;
}

/**
 * Copies `text` to the clipboard and says whether it worked. A `secret` copy
 * (TOTP secret, recovery codes) is taken out of the clipboard again after
 * SECRET_CLIPBOARD_MS, or as soon as the button goes away (the user moved on),
 * so that it does not linger there.
 *
 * WebKitGTK (2.50, with Tauri's default of no clipboard access for the page)
 * refuses both reading and writing the clipboard outside a user action: the
 * clearing on leaving works (it runs during the click that leaves), but the
 * 30-second one is refused, and the button then says so with what to do.
 */
export function CopyButton({ text, label, secret = false }: { text: string; label: string; secret?: boolean }) {
  const { t } = useI18n();
  const [result, setResult] = useState<string | null>(null);
  // The secret this button put in the clipboard and has not cleared yet.
  const pending = useRef<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const mounted = useRef(false);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      clearTimeout(timer.current);
      const value = pending.current;
      pending.current = null;
      if (value !== null) void clearFromClipboard(value).catch(() => {});
    };
  }, []);

  const expire = async () => {
    const value = pending.current;
    pending.current = null;
    if (value === null) return;
    let message: string | null;
    try {
      message = (await clearFromClipboard(value)) ? t("common.clipboardCleared") : null;
    } catch {
      message = t("common.clipboardClearFailed");
    }
    if (mounted.current) setResult(message);
  };

  const copy = async () => {
    // Empty the live region first so that a second copy is announced again.
    setResult(null);
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      if (mounted.current) setResult(t("common.copyFailed"));
      return;
    }
    if (secret) {
      if (!mounted.current) {
        // Gone while the copy was under way: nothing would clear it later.
        void clearFromClipboard(text).catch(() => {});
        return;
      }
      // Counted from the latest copy.
      clearTimeout(timer.current);
      pending.current = text;
      timer.current = setTimeout(() => void expire(), SECRET_CLIPBOARD_MS);
      setResult(t("common.copiedSecret", { seconds: SECRET_CLIPBOARD_MS / 1000 }));
    } else if (mounted.current) {
      setResult(t("common.copied"));
    }
  };

  return (
    <span className="copy">
      <button type="button" onClick={() => void copy()} aria-label={label}>
        {t("common.copy")}
      </button>
      <span role="status" className="copy-result">
        {result}
      </span>
    </span>
  );
}
