import { useCallback, useEffect, useMemo, useState } from "react";
import { ErrorNotice } from "./components/ErrorNotice";
import { I18nProvider, useI18n } from "./i18n/I18n";
import type { MessageKey } from "./i18n/en";
import { ipc, toAppError } from "./ipc";
import type { AppError, Me, SettingsView } from "./ipc";
import { SESSION_ENDED } from "./errors";
import { SessionContext, isHelpdesk } from "./session";
import type { ScreenName, Session } from "./session";
import { SignIn } from "./screens/SignIn";
import { Overview } from "./screens/Overview";
import { Devices } from "./screens/Devices";
import { Browsers } from "./screens/Browsers";
import { Activity } from "./screens/Activity";
import { Helpdesk } from "./screens/Helpdesk";
import { Settings } from "./screens/Settings";

type Phase =
  | { kind: "loading" }
  | { kind: "failed"; error: AppError }
  | { kind: "signedOut"; settings: SettingsView; notice: AppError | null }
  | { kind: "signedIn"; settings: SettingsView; me: Me };

export function App() {
  return (
    <I18nProvider>
      <Root />
    </I18nProvider>
  );
}

function Root() {
  const { t, setPreference } = useI18n();
  const [phase, setPhase] = useState<Phase>({ kind: "loading" });

  const start = useCallback(async () => {
    setPhase({ kind: "loading" });
    let settings: SettingsView;
    try {
      settings = await ipc.settingsGet();
      setPreference(settings.language);
    } catch (e) {
      setPhase({ kind: "failed", error: toAppError(e) });
      return;
    }
    try {
      // A session kept in the keyring from an earlier run, if any.
      const me = await ipc.me();
      setPhase({ kind: "signedIn", settings, me });
    } catch (e) {
      const err = toAppError(e);
      setPhase({ kind: "signedOut", settings, notice: SESSION_ENDED.has(err.code) ? null : err });
    }
  }, [setPreference]);

  useEffect(() => {
    void start();
  }, [start]);

  switch (phase.kind) {
    case "loading":
      return (
        <main id="content">
          <h1>{t("app.name")}</h1>
          <p role="status">{t("app.loading")}</p>
        </main>
      );
    case "failed":
      return (
        <main id="content">
          <h1>{t("app.name")}</h1>
          <ErrorNotice error={phase.error} onRetry={() => void start()} />
        </main>
      );
    case "signedOut":
      return (
        <SignIn
          settings={phase.settings}
          notice={phase.notice}
          onSignedIn={(me) => setPhase({ kind: "signedIn", settings: phase.settings, me })}
          onSettings={(settings) => setPhase({ ...phase, settings })}
        />
      );
    case "signedIn":
      return (
        <Shell
          me={phase.me}
          settings={phase.settings}
          // Functional updates: a save and a sign-out may follow each other
          // before React renders again.
          onSettings={(settings) => setPhase((p) => (p.kind === "signedIn" ? { ...p, settings } : p))}
          onSignedOut={(notice) =>
            setPhase((p) => (p.kind === "signedIn" ? { kind: "signedOut", settings: p.settings, notice } : p))
          }
        />
      );
  }
}

const SCREENS: { name: ScreenName; label: MessageKey }[] = [
  { name: "overview", label: "nav.overview" },
  { name: "devices", label: "nav.devices" },
  { name: "browsers", label: "nav.browsers" },
  { name: "activity", label: "nav.activity" },
  { name: "helpdesk", label: "nav.helpdesk" },
  { name: "settings", label: "nav.settings" },
];

function Shell({
  me,
  settings,
  onSettings,
  onSignedOut,
}: {
  me: Me;
  settings: SettingsView;
  onSettings: (s: SettingsView) => void;
  onSignedOut: (notice: AppError | null) => void;
}) {
  const { t } = useI18n();
  const [screen, setScreen] = useState<ScreenName>("overview");
  const helpdesk = isHelpdesk(me);
  const session = useMemo<Session>(
    () => ({ me, settings, setSettings: onSettings, navigate: setScreen, signedOut: onSignedOut }),
    [me, settings, onSettings, onSignedOut],
  );
  const screens = SCREENS.filter((s) => s.name !== "helpdesk" || helpdesk);

  return (
    <SessionContext.Provider value={session}>
      <a href="#content" className="skip-link">
        {t("app.skip")}
      </a>
      <header className="app-header">
        <p className="app-name">{t("app.name")}</p>
        <p className="who">{t("nav.signedInAs", { name: me.name })}</p>
      </header>
      <div className="layout">
        <nav aria-label={t("nav.label")}>
          <ul>
            {screens.map((s) => (
              <li key={s.name}>
                <button
                  type="button"
                  className="nav-item"
                  aria-current={screen === s.name ? "page" : undefined}
                  onClick={() => setScreen(s.name)}
                >
                  {t(s.label)}
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <main id="content" tabIndex={-1}>
          {screen === "overview" && <Overview />}
          {screen === "devices" && <Devices />}
          {screen === "browsers" && <Browsers />}
          {screen === "activity" && <Activity />}
          {screen === "helpdesk" && helpdesk && <Helpdesk />}
          {screen === "settings" && <Settings />}
        </main>
      </div>
    </SessionContext.Provider>
  );
}
