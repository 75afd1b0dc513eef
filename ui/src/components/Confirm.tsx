import { useEffect, useId, useRef, useState } from "react";
import type { FormEvent } from "react";
import { useI18n } from "../i18n/I18n";

/**
 * An inline confirmation: the question, an optional required reason, and
 * confirm / cancel. Focus moves to it when it opens; Escape cancels.
 */
export function Confirm({
  question,
  confirmLabel,
  onConfirm,
  onCancel,
  busy = false,
  requireReason = false,
}: {
  question: string;
  confirmLabel: string;
  onConfirm: (reason: string) => void;
  onCancel: () => void;
  busy?: boolean;
  requireReason?: boolean;
}) {
  const { t } = useI18n();
  const id = useId();
  const ref = useRef<HTMLFormElement>(null);
  const reasonRef = useRef<HTMLTextAreaElement>(null);
  const [reason, setReason] = useState("");
  const [reasonError, setReasonError] = useState(false);

  useEffect(() => {
    if (requireReason) reasonRef.current?.focus();
    else ref.current?.querySelector<HTMLButtonElement>("button[data-confirm]")?.focus();
  }, [requireReason]);

  // Escape cancels from anywhere inside the confirmation.
  useEffect(() => {
    const form = ref.current;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onCancel();
    };
    form?.addEventListener("keydown", onKey);
    return () => form?.removeEventListener("keydown", onKey);
  }, [onCancel]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (requireReason && reason.trim() === "") {
      setReasonError(true);
      reasonRef.current?.focus();
      return;
    }
    onConfirm(reason.trim());
  };

  return (
    <form
      ref={ref}
      className="confirm"
      aria-labelledby={`${id}-q`}
      onSubmit={submit}
      noValidate
    >
      <p id={`${id}-q`} className="confirm-question">
        {question}
      </p>
      {requireReason && (
        <div className="field">
          <label htmlFor={`${id}-reason`}>{t("common.reason")}</label>
          <textarea
            id={`${id}-reason`}
            ref={reasonRef}
            value={reason}
            required
            aria-invalid={reasonError}
            aria-describedby={reasonError ? `${id}-reason-error` : undefined}
            onChange={(e) => {
              setReason(e.target.value);
              setReasonError(false);
            }}
          />
          {reasonError && (
            <p id={`${id}-reason-error`} className="field-error">
              {t("common.reasonRequired")}
            </p>
          )}
        </div>
      )}
      <div className="actions">
        <button type="submit" className="danger" data-confirm disabled={busy}>
          {confirmLabel}
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          {t("common.cancel")}
        </button>
      </div>
    </form>
  );
}
