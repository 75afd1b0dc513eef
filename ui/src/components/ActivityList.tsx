import { useCallback, useEffect, useRef, useState } from "react";
import { useI18n } from "../i18n/I18n";
import type { MessageKey } from "../i18n/en";
import { en } from "../i18n/en";
import type { ActivityPage, AuditEvent } from "../ipc";
import { useAction } from "../session";
import { ErrorNotice } from "./ErrorNotice";
import { Status } from "./Status";

/** Audit events, newest first, one page at a time ("show older"). */
export function ActivityList({ fetchPage, label }: { fetchPage: (cursor: string | null) => Promise<ActivityPage>; label: string }) {
  const { t, formatDate } = useI18n();
  const { run, busy, error } = useAction();
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const firstNewRef = useRef<HTMLTableRowElement>(null);
  const [focusIndex, setFocusIndex] = useState<number | null>(null);

  const first = useCallback(async () => {
    const page = await run(() => fetchPage(null));
    if (page) {
      setEvents(page.events);
      setNext(page.next_cursor ?? null);
    }
  }, [run, fetchPage]);
  useEffect(() => {
    void first();
  }, [first]);

  useEffect(() => {
    if (focusIndex !== null) firstNewRef.current?.focus();
  }, [focusIndex]);

  const more = async () => {
    if (!next) return;
    const page = await run(() => fetchPage(next));
    if (page) {
      setFocusIndex(events?.length ?? 0);
      setEvents((es) => [...(es ?? []), ...page.events]);
      setNext(page.next_cursor ?? null);
      setStatus(page.next_cursor ? t("activity.loaded", { count: page.events.length }) : t("activity.end"));
    }
  };

  // An action newer than this app reads as "other", as the API intends.
  const action = (e: AuditEvent) => {
    const key = `event.${e.action}`;
    return t(key in en ? (key as MessageKey) : "event.other");
  };

  return (
    <div className="activity">
      {events === null ? (
        !error && <p>{t("app.loading")}</p>
      ) : events.length === 0 ? (
        <p>{t("activity.empty")}</p>
      ) : (
        <table className="list">
          <caption className="visually-hidden">{label}</caption>
          <thead>
            <tr>
              <th scope="col">{t("activity.when")}</th>
              <th scope="col">{t("activity.what")}</th>
              <th scope="col">{t("activity.from")}</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e, i) => (
              <tr key={e.id} ref={i === focusIndex ? firstNewRef : undefined} tabIndex={i === focusIndex ? -1 : undefined}>
                <td>{formatDate(e.time)}</td>
                <td>
                  {action(e)}
                  {e.actor !== e.subject && <span className="detail"> {t("event.by", { actor: e.actor })}</span>}
                  {e.reason && <span className="detail"> — {t("event.reason", { reason: e.reason })}</span>}
                </td>
                <td>
                  {e.ip ?? ""}
                  {e.user_agent && <span className="detail"> {e.user_agent}</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button type="button" onClick={() => void more()} disabled={busy}>
          {t("activity.more")}
        </button>
      )}
      <Status message={status} />
      <ErrorNotice error={error} onRetry={events === null ? () => void first() : undefined} />
    </div>
  );
}
