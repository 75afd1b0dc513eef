import { useEffect, useRef, useState } from "react";
import { useI18n } from "../i18n/I18n";
import { ipc } from "../ipc";

/** How long a copied secret may stay in the clipboard (as CLEAR_AFTER in src-tauri/src/clipboard.rs). */
const SECRET_CLIPBOARD_MS = 30_000;

/**
 * Copies `text` to the clipboard and says whether it worked.
 *
 * A `secret` copy (TOTP secret, recovery codes) goes through the Rust side
 * (`secret_copy`), which marks it as sensitive for clipboard managers and
 * takes it out of the clipboard again after 30 seconds if it is still there.
 * The web view cannot do that itself: WebKitGTK refuses clipboard reads and
 * writes outside a click. When the button goes away (the user moved on),
 * `secret_forget` clears it at once. After the 30 seconds, the button asks
 * `secret_forget` too, to say what became of the copy.
 *
 * A plain copy stays with navigator.clipboard and is never cleared.
 */
export function CopyButton({ text, label, secret = false }: { text: string; label: string; secret?: boolean }) {
  const { t } = useI18n();
  const [result, setResult] = useState<string | null>(null);
  // Whether this button put a secret in the clipboard that is not settled yet.
  const pending = useRef(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const mounted = useRef(false);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      clearTimeout(timer.current);
      if (pending.current) {
        pending.current = false;
        void ipc.secretForget().catch(() => {});
      }
    };
  }, []);

  const expire = async () => {
    if (!pending.current) return;
    pending.current = false;
    let message: string | null;
    try {
      // "replaced": the user has copied something else since, which stays;
      // the "will be cleared" notice is no longer true, so it goes.
      message = (await ipc.secretForget()) === "cleared" ? t("common.clipboardCleared") : null;
    } catch {
      message = t("common.clipboardClearFailed");
    }
    if (mounted.current) setResult(message);
  };

  const copySecret = async () => {
    try {
      await ipc.secretCopy(text);
    } catch {
      if (mounted.current) setResult(t("common.copyFailed"));
      return;
    }
    if (!mounted.current) {
      // Gone while the copy was under way: the user has moved on.
      void ipc.secretForget().catch(() => {});
      return;
    }
    // Counted from the latest copy, as on the Rust side.
    clearTimeout(timer.current);
    pending.current = true;
    timer.current = setTimeout(() => void expire(), SECRET_CLIPBOARD_MS);
    setResult(t("common.copiedSecret", { seconds: SECRET_CLIPBOARD_MS / 1000 }));
  };

  const copyPlain = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      if (mounted.current) setResult(t("common.copyFailed"));
      return;
    }
    if (mounted.current) setResult(t("common.copied"));
  };

  const copy = () => {
    // Empty the live region first so that a second copy is announced again.
    setResult(null);
    return secret ? copySecret() : copyPlain();
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
