import { useEffect, useState } from "react";
import { FocusHeading } from "../components/Heading";
import { ErrorNotice } from "../components/ErrorNotice";
import { SettingsForm } from "../components/SettingsForm";
import { useI18n } from "../i18n/I18n";
import { ipc } from "../ipc";
import { useAction, useSession } from "../session";

/** Provider, language, sign-out and the app's version. */
export function Settings() {
  const { t } = useI18n();
  const { settings, setSettings, signedOut } = useSession();
  const { run, busy, error } = useAction();
  const [version, setVersion] = useState<string | null>(null);

  useEffect(() => {
    ipc.version().then(
      (v) => setVersion(v.version),
      () => setVersion(null),
    );
  }, []);

  const signOut = async () => {
    const ok = await run(async () => {
      await ipc.signOut();
      return true;
    });
    if (ok) signedOut(null);
  };

  return (
    <>
      <FocusHeading>{t("settings.title")}</FocusHeading>
      <SettingsForm
        settings={settings}
        onSaved={(next) => {
          setSettings(next);
          // The session belongs to the old provider: sign in again with the new one.
          if (next.issuer !== settings.issuer) signedOut(null);
        }}
      />
      <section aria-labelledby="signout-heading" className="card">
        <h2 id="signout-heading">{t("settings.signOut")}</h2>
        <button type="button" className="danger" disabled={busy} onClick={() => void signOut()}>
          {t("settings.signOut")}
        </button>
        <ErrorNotice error={error} />
      </section>
      {version && <p className="hint">{t("settings.version", { version })}</p>}
    </>
  );
}
