import { useCallback, useEffect, useState } from "react";
import { FocusHeading } from "../components/Heading";
import { ErrorNotice } from "../components/ErrorNotice";
import { useI18n } from "../i18n/I18n";
import { ipc } from "../ipc";
import type { Me } from "../ipc";
import { useAction, useSession } from "../session";

/** Who is signed in and whether two-factor authentication is set up. */
export function Overview() {
  const { t, formatDate } = useI18n();
  const session = useSession();
  const { run, error } = useAction();
  // Counts change as the user works in other screens: read them afresh.
  const [fresh, setFresh] = useState<Me | null>(null);
  const me = fresh ?? session.me;

  const load = useCallback(async () => {
    const r = await run(() => ipc.me());
    if (r) setFresh(r);
  }, [run]);
  useEffect(() => {
    void load();
  }, [load]);

  return (
    <>
      <FocusHeading>{t("overview.title")}</FocusHeading>
      <section aria-labelledby="who" className="card">
        <h2 id="who">{t("overview.who")}</h2>
        <dl className="facts">
          <dt>{t("overview.name")}</dt>
          <dd>{me.name}</dd>
          <dt>{t("overview.uid")}</dt>
          <dd>{me.uid}</dd>
          {me.email && (
            <>
              <dt>{t("overview.email")}</dt>
              <dd>{me.email}</dd>
            </>
          )}
          {me.roles.length > 0 && (
            <>
              <dt>{t("overview.roles")}</dt>
              <dd>{me.roles.join(", ")}</dd>
            </>
          )}
          <dt>{t("overview.level")}</dt>
          <dd>{me.acr}</dd>
          <dt>{t("overview.authTime")}</dt>
          <dd>{formatDate(me.auth_time)}</dd>
        </dl>
      </section>
      <section aria-labelledby="status" className="card">
        <h2 id="status">{t("overview.status")}</h2>
        <p data-testid="twofa-status" className={me.device_count ? "ok" : "warn"}>
          {me.device_count ? t("overview.statusOn", { count: me.device_count }) : t("overview.statusOff")}
        </p>
        {/* All codes used, or none made (apps set up during a sign-in before the provider showed codes there): say so. */}
        {me.device_count > 0 &&
          (me.recovery_codes_left > 0 ? (
            <p data-testid="recovery-status">{t("overview.recoveryLeft", { count: me.recovery_codes_left })}</p>
          ) : (
            <p data-testid="recovery-status" className="warn">
              {t("overview.recoveryNone")}
            </p>
          ))}
        <p>{t("overview.browsers", { count: me.trusted_browser_count })}</p>
        <button type="button" onClick={() => session.navigate("devices")}>
          {t("overview.manageDevices")}
        </button>
      </section>
      <ErrorNotice error={error} onRetry={() => void load()} />
    </>
  );
}
