import { useCallback, useEffect, useState } from "react";
import { FocusHeading } from "../components/Heading";
import { Confirm } from "../components/Confirm";
import { ErrorNotice } from "../components/ErrorNotice";
import { Status } from "../components/Status";
import { useI18n } from "../i18n/I18n";
import { ipc } from "../ipc";
import type { TrustedBrowser } from "../ipc";
import { useAction } from "../session";

/** Browsers the user told the provider to trust: revoke one, or all. */
export function Browsers() {
  const { t, formatDate } = useI18n();
  const { run: runLoad, error: loadError } = useAction();
  const { run, busy, error, progress, onProgress } = useAction();
  const [browsers, setBrowsers] = useState<TrustedBrowser[] | null>(null);
  const [confirmAll, setConfirmAll] = useState(false);
  const [status, setStatus] = useState<string | null>(null);

  const load = useCallback(async () => {
    const list = await runLoad(() => ipc.browsersList());
    if (list) setBrowsers(list);
  }, [runLoad]);
  useEffect(() => {
    void load();
  }, [load]);

  const revoke = async (b: TrustedBrowser) => {
    const ok = await run(async () => {
      await ipc.browserRevoke(b.id, onProgress);
      return true;
    });
    if (ok) {
      setBrowsers((bs) => bs?.filter((x) => x.id !== b.id) ?? null);
      setStatus(t("browsers.revoked", { name: b.name }));
    } else void load();
  };

  const revokeAll = async () => {
    const ok = await run(async () => {
      await ipc.browsersRevokeAll(onProgress);
      return true;
    });
    setConfirmAll(false);
    if (ok) {
      setBrowsers([]);
      setStatus(t("browsers.revokedAll"));
    }
  };

  return (
    <>
      <FocusHeading>{t("browsers.title")}</FocusHeading>
      <p>{t("browsers.intro")}</p>
      {browsers === null ? (
        !loadError && <p>{t("app.loading")}</p>
      ) : browsers.length === 0 ? (
        <p data-testid="browsers-empty">{t("browsers.empty")}</p>
      ) : (
        <>
          <table className="list">
            <caption className="visually-hidden">{t("browsers.title")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("browsers.name")}</th>
                <th scope="col">{t("browsers.created")}</th>
                <th scope="col">{t("browsers.lastUsed")}</th>
                <th scope="col">{t("browsers.expires")}</th>
                <th scope="col">
                  <span className="visually-hidden">{t("devices.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {browsers.map((b) => (
                <tr key={b.id}>
                  <th scope="row">{b.name}</th>
                  <td>{formatDate(b.created_at)}</td>
                  <td>{formatDate(b.last_used_at)}</td>
                  <td>{formatDate(b.expires_at)}</td>
                  <td>
                    <button
                      type="button"
                      disabled={busy}
                      aria-label={t("browsers.revokeLabel", { name: b.name })}
                      onClick={() => void revoke(b)}
                    >
                      {t("browsers.revoke")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {confirmAll ? (
            <Confirm
              question={t("browsers.revokeAllConfirm")}
              confirmLabel={t("browsers.revokeAllYes")}
              busy={busy}
              onConfirm={() => void revokeAll()}
              onCancel={() => setConfirmAll(false)}
            />
          ) : (
            <button type="button" className="danger" onClick={() => setConfirmAll(true)}>
              {t("browsers.revokeAll")}
            </button>
          )}
        </>
      )}
      <Status message={progress ?? status} />
      <ErrorNotice error={error ?? loadError} onRetry={browsers === null ? () => void load() : undefined} />
    </>
  );
}
