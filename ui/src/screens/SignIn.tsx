import { useRef, useState } from "react";
import { FocusHeading } from "../components/Heading";
import { CopyButton } from "../components/CopyButton";
import { ErrorNotice } from "../components/ErrorNotice";
import { Status } from "../components/Status";
import { SettingsForm } from "../components/SettingsForm";
import { useI18n } from "../i18n/I18n";
import { AppError, ipc, toAppError } from "../ipc";
import type { Me, SettingsView } from "../ipc";
import { progressText } from "../session";

/**
 * Sign-in: the provider, the button that opens the system browser (from
 * Rust), progress while waiting, cancel, and every failure explained.
 */
export function SignIn({
  settings,
  notice,
  onSignedIn,
  onSettings,
}: {
  settings: SettingsView;
  notice: AppError | null;
  onSignedIn: (me: Me) => void;
  onSettings: (s: SettingsView) => void;
}) {
  const { t } = useI18n();
  const [waiting, setWaiting] = useState(false);
  const [progress, setProgress] = useState<string | null>(null);
  const [error, setError] = useState<AppError | null>(notice);
  const [cancelled, setCancelled] = useState(false);
  const [editing, setEditing] = useState(false);
  // Set when the browser could not be opened: the user opens this address.
  const [manualUrl, setManualUrl] = useState<string | null>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const startRef = useRef<HTMLButtonElement>(null);

  const start = async () => {
    setError(null);
    setCancelled(false);
    setManualUrl(null);
    setWaiting(true);
    setProgress(t("signIn.discovering"));
    // Let the cancel button render, then give it the focus.
    queueMicrotask(() => cancelRef.current?.focus());
    try {
      await ipc.signIn((p) => {
        if (p.step === "browser_not_opened") setManualUrl(p.url);
        setProgress(progressText(t, p, false));
      });
      // Who is signed in comes from the account API, through Rust.
      onSignedIn(await ipc.me());
    } catch (e) {
      const err = toAppError(e);
      if (err.code === "cancelled") setCancelled(true);
      else setError(err);
      setWaiting(false);
      setProgress(null);
      setManualUrl(null);
      queueMicrotask(() => startRef.current?.focus());
    }
  };

  const cancel = async () => {
    try {
      await ipc.cancelSignIn();
    } catch (e) {
      setError(toAppError(e));
    }
  };

  return (
    <main id="content" className="sign-in">
      <FocusHeading>{t("signIn.title")}</FocusHeading>
      <p>{t("signIn.intro")}</p>
      <section aria-labelledby="provider-heading" className="card">
        <h2 id="provider-heading">{t("signIn.provider")}</h2>
        {settings.issuer ? (
          <p className="provider" data-testid="provider">
            {settings.issuer}
          </p>
        ) : (
          <p>{t("signIn.noProvider")}</p>
        )}
        {!waiting && (
          <button type="button" className="link" aria-expanded={editing} onClick={() => setEditing(!editing)}>
            {t("signIn.openSettings")}
          </button>
        )}
        {editing && !waiting && (
          <SettingsForm
            settings={settings}
            onSaved={(s) => {
              onSettings(s);
              setEditing(false);
            }}
          />
        )}
      </section>
      <div className="actions">
        {waiting ? (
          <button type="button" ref={cancelRef} onClick={() => void cancel()}>
            {t("signIn.cancel")}
          </button>
        ) : (
          <button
            type="button"
            ref={startRef}
            className="primary"
            disabled={!settings.issuer}
            onClick={() => void start()}
          >
            {t("signIn.button")}
          </button>
        )}
      </div>
      {waiting && <progress aria-label={t("signIn.title")} />}
      {waiting && manualUrl && (
        <div className="card">
          <p>{t("signIn.browserNotOpened")}</p>
          <p className="provider" data-testid="manual-url">
            {manualUrl}
          </p>
          <CopyButton text={manualUrl} label={`${t("common.copy")} — ${t("signIn.address")}`} />
        </div>
      )}
      <Status message={waiting ? progress : cancelled ? t("signIn.cancelled") : null} />
      <ErrorNotice error={error} title={t("signIn.failed")} />
      {!settings.issuer && settings.problem && !error && <ErrorNotice error={new AppError(settings.problem.code, settings.problem.message)} />}
    </main>
  );
}
