import { useCallback, useEffect, useState } from "react";
import type { FormEvent } from "react";
import { FocusHeading } from "../components/Heading";
import { ActivityList } from "../components/ActivityList";
import { Confirm } from "../components/Confirm";
import { ErrorNotice } from "../components/ErrorNotice";
import { Status } from "../components/Status";
import { useI18n } from "../i18n/I18n";
import { ipc } from "../ipc";
import type { Device, TrustedBrowser, UserSummary } from "../ipc";
import { useAction } from "../session";

/** Help-desk staff: find a user, see and reset their second factor, with a reason. */
export function Helpdesk() {
  const { t } = useI18n();
  const { run, busy, error } = useAction();
  const [query, setQuery] = useState("");
  const [searched, setSearched] = useState<string | null>(null);
  const [results, setResults] = useState<UserSummary[] | null>(null);
  const [user, setUser] = useState<UserSummary | null>(null);

  const search = async (e: FormEvent) => {
    e.preventDefault();
    const q = query.trim();
    if (!q) return;
    const found = await run(() => ipc.helpdeskSearch(q));
    if (found) {
      setResults(found.users);
      setSearched(q);
    }
  };

  if (user) return <HelpdeskUser user={user} onBack={() => setUser(null)} />;

  return (
    <>
      <FocusHeading>{t("helpdesk.title")}</FocusHeading>
      <p>{t("helpdesk.intro")}</p>
      <form role="search" onSubmit={(e) => void search(e)} className="inline">
          <label htmlFor="hd-query">{t("helpdesk.searchLabel")}</label>
          <input id="hd-query" type="search" value={query} required onChange={(e) => setQuery(e.target.value)} />
          <button type="submit" disabled={busy}>
            {t("helpdesk.search")}
          </button>
      </form>
      {results && (
        <section aria-labelledby="hd-results">
          <h2 id="hd-results">{t("helpdesk.results")}</h2>
          {results.length === 0 ? (
            <p role="status">{t("helpdesk.noResults", { query: searched ?? "" })}</p>
          ) : (
            <ul className="results">
              {results.map((u) => (
                <li key={u.uid}>
                  <button type="button" className="link" onClick={() => setUser(u)}>
                    {t("helpdesk.user", { name: u.name, uid: u.uid })}
                  </button>
                  {u.email && <span className="detail"> {u.email}</span>}
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
      <ErrorNotice error={error} />
    </>
  );
}

type Pending =
  | { kind: "remove"; device: Device }
  | { kind: "reset" }
  | { kind: "revoke"; browser: TrustedBrowser }
  | { kind: "revokeAll" }
  | null;

function HelpdeskUser({ user, onBack }: { user: UserSummary; onBack: () => void }) {
  const { t, formatDate } = useI18n();
  const { run: runLoad, error: loadError } = useAction();
  const { run, busy, error, progress, onProgress } = useAction();
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [browsers, setBrowsers] = useState<TrustedBrowser[] | null>(null);
  const [pending, setPending] = useState<Pending>(null);
  const [status, setStatus] = useState<string | null>(null);
  // Bumped after each change so the activity list reloads and shows it.
  const [changes, setChanges] = useState(0);
  const who = t("helpdesk.user", { name: user.name, uid: user.uid });
  // Stable, so that the activity list does not refetch on every render.
  const fetchActivity = useCallback((cursor: string | null) => ipc.helpdeskActivity(user.uid, cursor), [user.uid]);

  const load = useCallback(async () => {
    const r = await runLoad(() => Promise.all([ipc.helpdeskDevices(user.uid), ipc.helpdeskBrowsers(user.uid)]));
    if (r) {
      setDevices(r[0]);
      setBrowsers(r[1]);
    }
  }, [runLoad, user.uid]);
  useEffect(() => {
    void load();
  }, [load]);

  const act = async (action: () => Promise<unknown>, done: string) => {
    const ok = await run(async () => {
      await action();
      return true;
    });
    setPending(null);
    if (ok) {
      setStatus(done);
      setChanges((n) => n + 1);
    }
    void load();
  };

  const confirmFor = (p: NonNullable<Pending>) => {
    switch (p.kind) {
      case "remove":
        return {
          question: t("helpdesk.removeConfirm", { name: p.device.name, user: who }),
          go: (reason: string) =>
            act(() => ipc.helpdeskDeviceRemove(user.uid, p.device.id, reason, onProgress), t("helpdesk.removed", { name: p.device.name })),
        };
      case "reset":
        return {
          question: t("helpdesk.resetConfirm", { user: who }),
          go: (reason: string) =>
            act(() => ipc.helpdeskDevicesReset(user.uid, reason, onProgress), t("helpdesk.resetDone", { user: who })),
        };
      case "revoke":
        return {
          question: t("helpdesk.revokeConfirm", { name: p.browser.name, user: who }),
          go: (reason: string) =>
            act(() => ipc.helpdeskBrowserRevoke(user.uid, p.browser.id, reason, onProgress), t("browsers.revoked", { name: p.browser.name })),
        };
      case "revokeAll":
        return {
          question: t("helpdesk.revokeAllConfirm", { user: who }),
          go: (reason: string) =>
            act(() => ipc.helpdeskBrowsersRevokeAll(user.uid, reason, onProgress), t("browsers.revokedAll")),
        };
    }
  };
  const confirm = pending ? confirmFor(pending) : null;

  return (
    <>
      <FocusHeading>{who}</FocusHeading>
      <button type="button" className="link" onClick={onBack}>
        {t("helpdesk.back")}
      </button>
      {confirm && (
        <Confirm
          question={confirm.question}
          confirmLabel={t("helpdesk.confirm")}
          requireReason
          busy={busy}
          onConfirm={(reason) => void confirm.go(reason)}
          onCancel={() => setPending(null)}
        />
      )}
      <Status message={progress ?? status} />
      <ErrorNotice error={error ?? loadError} />

      <section aria-labelledby="hd-devices" className="card">
        <h2 id="hd-devices">{t("helpdesk.devices")}</h2>
        {devices === null ? (
          <p>{t("app.loading")}</p>
        ) : devices.length === 0 ? (
          <p>{t("devices.empty")}</p>
        ) : (
          <>
            <table className="list">
              <caption className="visually-hidden">{t("helpdesk.devices")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("devices.name")}</th>
                  <th scope="col">{t("devices.added")}</th>
                  <th scope="col">{t("devices.lastUsed")}</th>
                  <th scope="col">{t("devices.actions")}</th>
                </tr>
              </thead>
              <tbody>
                {devices.map((d) => (
                  <tr key={d.id}>
                    <th scope="row">{d.name}</th>
                    <td>{formatDate(d.registered_at)}</td>
                    <td>{formatDate(d.last_used_at)}</td>
                    <td>
                      <button
                        type="button"
                        className="danger"
                        aria-label={t("helpdesk.removeLabel", { name: d.name })}
                        onClick={() => setPending({ kind: "remove", device: d })}
                      >
                        {t("helpdesk.remove")}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <button type="button" className="danger" onClick={() => setPending({ kind: "reset" })}>
              {t("helpdesk.reset")}
            </button>
          </>
        )}
      </section>

      <section aria-labelledby="hd-browsers" className="card">
        <h2 id="hd-browsers">{t("helpdesk.browsers")}</h2>
        {browsers === null ? (
          <p>{t("app.loading")}</p>
        ) : browsers.length === 0 ? (
          <p>{t("browsers.empty")}</p>
        ) : (
          <>
            <ul className="results">
              {browsers.map((b) => (
                <li key={b.id}>
                  {b.name} <span className="detail">({t("browsers.expires")} {formatDate(b.expires_at)})</span>{" "}
                  <button
                    type="button"
                    aria-label={t("browsers.revokeLabel", { name: b.name })}
                    onClick={() => setPending({ kind: "revoke", browser: b })}
                  >
                    {t("browsers.revoke")}
                  </button>
                </li>
              ))}
            </ul>
            <button type="button" className="danger" onClick={() => setPending({ kind: "revokeAll" })}>
              {t("browsers.revokeAll")}
            </button>
          </>
        )}
      </section>

      <section aria-labelledby="hd-activity" className="card">
        <h2 id="hd-activity">{t("helpdesk.activity")}</h2>
        <ActivityList key={changes} fetchPage={fetchActivity} label={t("helpdesk.activity")} />
      </section>
    </>
  );
}
