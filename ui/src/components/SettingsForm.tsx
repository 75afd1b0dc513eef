import { useId, useState } from "react";
import type { FormEvent } from "react";
import { useI18n } from "../i18n/I18n";
import { ipc, toAppError } from "../ipc";
import type { AppError, Lang, SettingsView } from "../ipc";
import { ErrorNotice } from "./ErrorNotice";
import { Status } from "./Status";

/**
 * Provider and language. Settings the organisation manages (system-wide
 * file) are shown read-only and marked as managed.
 */
export function SettingsForm({
  settings,
  onSaved,
}: {
  settings: SettingsView;
  onSaved: (s: SettingsView) => void;
}) {
  const { t, setPreference } = useI18n();
  const id = useId();
  const [issuer, setIssuer] = useState(settings.issuer ?? "");
  const [language, setLanguage] = useState<Lang | "system">(settings.language ?? "system");
  const [error, setError] = useState<AppError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      const next = await ipc.settingsSet({
        issuer: settings.issuer_managed ? null : issuer.trim() || null,
        language: language === "system" ? null : language,
      });
      setPreference(next.language);
      onSaved(next);
      setSaved(t("settings.saved"));
    } catch (err) {
      setError(toAppError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} className="settings-form">
      <div className="field">
        <label htmlFor={`${id}-issuer`}>{t("settings.provider")}</label>
        {settings.issuer_managed ? (
          <p id={`${id}-issuer`} className="managed-value">
            <span>{settings.issuer ?? t("settings.notSet")}</span>{" "}
            <span className="badge">{t("settings.managed")}</span>
          </p>
        ) : (
          <>
            <input
              id={`${id}-issuer`}
              type="url"
              inputMode="url"
              autoComplete="url"
              value={issuer}
              aria-describedby={`${id}-issuer-hint`}
              onChange={(e) => setIssuer(e.target.value)}
            />
            <p id={`${id}-issuer-hint`} className="hint">
              {t("settings.providerHint")}
            </p>
          </>
        )}
      </div>
      <dl className="facts">
        <dt>{t("settings.clientId")}</dt>
        <dd>
          {settings.client_id ?? t("settings.notSet")}
          {settings.client_id_managed && <span className="badge">{t("settings.managed")}</span>}
        </dd>
        <dt>{t("settings.acr")}</dt>
        <dd>
          {settings.acr_values.join(", ")}
          {settings.acr_values_managed && <span className="badge">{t("settings.managed")}</span>}
        </dd>
      </dl>
      <div className="field">
        <label htmlFor={`${id}-lang`}>{t("settings.language")}</label>
        <select
          id={`${id}-lang`}
          value={language}
          onChange={(e) => setLanguage(e.target.value as Lang | "system")}
        >
          <option value="system">{t("settings.langSystem")}</option>
          <option value="fr" lang="fr">
            {t("settings.langFr")}
          </option>
          <option value="en" lang="en">
            {t("settings.langEn")}
          </option>
        </select>
      </div>
      <div className="actions">
        <button type="submit" disabled={busy}>
          {t("common.save")}
        </button>
      </div>
      <ErrorNotice error={error} />
      <Status message={saved} />
    </form>
  );
}
