import { createContext, useCallback, useContext, useState } from "react";
import type { LoginProgress, Me, SettingsView } from "./ipc";
import { AppError, toAppError } from "./ipc";
import { SESSION_ENDED } from "./errors";
import type { Translate } from "./i18n/I18n";
import { useI18n } from "./i18n/I18n";

export type ScreenName = "overview" | "devices" | "browsers" | "activity" | "helpdesk" | "settings";

export interface Session {
  me: Me;
  settings: SettingsView;
  setSettings: (s: SettingsView) => void;
  navigate: (s: ScreenName) => void;
  signedOut: (why: AppError | null) => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside a signed-in shell");
  return s;
}

export const isHelpdesk = (me: Me) => me.roles.includes("helpdesk");

/** The provider's address as people know it: the origin of a URL. */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** The sentence for a sign-in or step-up progress step. */
export function progressText(t: Translate, p: LoginProgress, stepUp: boolean): string | null {
  switch (p.step) {
    case "discovering":
      return t("signIn.discovering");
    case "waiting_for_browser":
      return stepUp ? t("signIn.stepUp") : t("signIn.waiting", { provider: origin(p.url) });
    case "browser_not_opened":
      return t("signIn.browserNotOpened");
    case "exchanging":
      return t("signIn.exchanging");
    case "done":
      return null;
  }
  return null;
}

/**
 * Runs one command for a screen: keeps `busy`, the error and the progress
 * of an automatic step-up, and sends the user back to sign-in when the
 * session is gone.
 */
export function useAction() {
  const session = useSession();
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const [progress, setProgress] = useState<string | null>(null);

  const onProgress = useCallback((p: LoginProgress) => setProgress(progressText(t, p, true)), [t]);

  const run = useCallback(
    async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
      setBusy(true);
      setError(null);
      try {
        return await action();
      } catch (e) {
        const err = toAppError(e);
        if (SESSION_ENDED.has(err.code)) session.signedOut(err);
        else setError(err);
        return undefined;
      } finally {
        setBusy(false);
        setProgress(null);
      }
    },
    [session],
  );

  return { run, busy, error, setError, progress, onProgress };
}
