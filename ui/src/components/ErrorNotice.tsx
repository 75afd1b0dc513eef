import { useI18n } from "../i18n/I18n";
import type { AppError } from "../ipc";
import { explain } from "../errors";

/** An error said in the user's language, announced at once (role=alert). */
export function ErrorNotice({
  error,
  title,
  onRetry,
}: {
  error: AppError | null;
  title?: string;
  onRetry?: () => void;
}) {
  const { t } = useI18n();
  // The alert container stays mounted so that assistive technology announces
  // the message when it appears.
  const e = error ? explain(t, error) : null;
  return (
    <div role="alert" className={e ? "notice notice-error" : "notice-empty"} data-code={error?.code}>
      {e && (
        <>
          {title && <p className="notice-title">{title}</p>}
          <p>{e.text}</p>
          {e.detail && <p className="notice-detail">{e.detail}</p>}
          {onRetry && (
            <button type="button" onClick={onRetry}>
              {t("common.retry")}
            </button>
          )}
        </>
      )}
    </div>
  );
}
