import { useId, useState } from "react";
import { useI18n } from "../i18n/I18n";
import { ipc, toAppError } from "../ipc";
import type { AppError } from "../ipc";
import { CopyButton } from "./CopyButton";
import { ErrorNotice } from "./ErrorNotice";
import { Status } from "./Status";

/** Recovery codes, shown once, with copy and save (the file is written by Rust). */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const { t } = useI18n();
  const id = useId();
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<AppError | null>(null);

  // Saving also makes the Rust side forget the codes, so once saved (or while
  // saving) the button is off: a second save could only answer `not_found`.
  // aria-disabled rather than disabled keeps the focus on the button.
  const [saving, setSaving] = useState(false);
  const done = saved !== null;

  const save = async () => {
    if (done || saving) return;
    setError(null);
    setSaving(true);
    try {
      const path = await ipc.recoveryCodesSave();
      setSaved(t("enrol.recoverySaved", { path }));
    } catch (e) {
      setError(toAppError(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <div className="recovery">
      <p>{t("enrol.recoveryIntro")}</p>
      <h3 id={`${id}-codes`}>{t("enrol.recoveryLabel")}</h3>
      <ol className="codes" aria-labelledby={`${id}-codes`} data-testid="recovery-codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div className="actions">
        <CopyButton text={codes.join("\n")} label={`${t("common.copy")} — ${t("enrol.recoveryLabel")}`} secret />
        <button type="button" onClick={() => void save()} aria-disabled={done || saving}>
          {t("common.save")}
        </button>
      </div>
      <Status message={saved} />
      <ErrorNotice error={error} />
      <div className="actions">
        <button type="button" className="primary" onClick={onDone}>
          {t("enrol.recoveryAck")}
        </button>
      </div>
    </div>
  );
}
