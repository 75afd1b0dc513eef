import { useRef, useState } from "react";
import type { FormEvent } from "react";
import { FocusHeading } from "../components/Heading";
import { CopyButton } from "../components/CopyButton";
import { ErrorNotice } from "../components/ErrorNotice";
import { RecoveryCodes } from "../components/RecoveryCodes";
import { Status } from "../components/Status";
import { useI18n } from "../i18n/I18n";
import { ipc } from "../ipc";
import type { EnrolmentView } from "../ipc";
import { useAction } from "../session";

type Step =
  | { kind: "name" }
  | { kind: "scan"; enrolment: EnrolmentView }
  | { kind: "code"; enrolment: EnrolmentView }
  | { kind: "recovery"; codes: string[] }
  | { kind: "done" };

/**
 * Adding an authenticator app: name → QR code and secret → code → recovery
 * codes (first device only) → done. Each step's heading takes the focus.
 */
export function AddDevice({ onFinished }: { onFinished: () => void }) {
  const { t, formatDate } = useI18n();
  const { run, busy, error, setError, progress, onProgress } = useAction();
  const [step, setStep] = useState<Step>({ kind: "name" });
  const [name, setName] = useState("");
  const [nameMissing, setNameMissing] = useState(false);
  const [code, setCode] = useState("");
  const [doneName, setDoneName] = useState<string | null>(null);
  const [codeBad, setCodeBad] = useState(false);
  const codeRef = useRef<HTMLInputElement>(null);
  const nameRef = useRef<HTMLInputElement>(null);

  const startEnrolment = async (e: FormEvent) => {
    e.preventDefault();
    if (name.trim() === "") {
      setNameMissing(true);
      nameRef.current?.focus();
      return;
    }
    // An account that has an app may be asked to sign in again first: the
    // progress says so while the browser is open.
    const enrolment = await run(() => ipc.deviceEnrolStart(name.trim(), onProgress));
    if (enrolment) setStep({ kind: "scan", enrolment });
  };

  const confirm = async (e: FormEvent, enrolment: EnrolmentView) => {
    e.preventDefault();
    if (!/^\d{6}$/.test(code.trim())) {
      setCodeBad(true);
      codeRef.current?.focus();
      return;
    }
    const done = await run(() => ipc.deviceEnrolConfirm(enrolment.enrollment_id, code.trim()));
    if (done) {
      setDoneName(done.device.name);
      setStep(done.recovery_codes?.length ? { kind: "recovery", codes: done.recovery_codes } : { kind: "done" });
    } else {
      setCode("");
      codeRef.current?.focus();
    }
  };

  const restart = () => {
    setError(null);
    setCode("");
    setStep({ kind: "name" });
  };

  return (
    <section aria-labelledby="enrol-title" className="wizard">
      <h2 id="enrol-title" className="visually-hidden">
        {t("enrol.title")}
      </h2>
      {step.kind === "name" && (
        <form onSubmit={(e) => void startEnrolment(e)} noValidate>
          <FocusHeading level={2}>{t("enrol.stepName")}</FocusHeading>
          <div className="field">
            <label htmlFor="device-name">{t("enrol.nameLabel")}</label>
            <input
              id="device-name"
              ref={nameRef}
              value={name}
              maxLength={64}
              required
              aria-invalid={nameMissing}
              aria-describedby={nameMissing ? "device-name-hint device-name-error" : "device-name-hint"}
              onChange={(e) => {
                setName(e.target.value);
                setNameMissing(false);
              }}
            />
            <p id="device-name-hint" className="hint">
              {t("enrol.nameHint")}
            </p>
            {nameMissing && (
              <p id="device-name-error" className="field-error">
                {t("enrol.nameRequired")}
              </p>
            )}
          </div>
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              {t("enrol.next")}
            </button>
            <button type="button" onClick={onFinished}>
              {t("common.cancel")}
            </button>
          </div>
          <Status message={progress} />
        </form>
      )}

      {step.kind === "scan" && (
        <div>
          <FocusHeading level={2}>{t("enrol.stepScan")}</FocusHeading>
          <p>{t("enrol.scanIntro")}</p>
          <img className="qr" src={step.enrolment.qr_png_data_uri} alt={t("enrol.qrAlt")} width={220} height={220} />
          <p id="secret-intro">{t("enrol.secretIntro")}</p>
          <p className="secret">
            <span className="visually-hidden">{t("enrol.secretLabel")}: </span>
            <code data-testid="secret">
              {step.enrolment.secret_groups.map((g, i) => (
                <span key={i} className="secret-group">
                  {g}
                </span>
              ))}
            </code>{" "}
            <CopyButton
              text={step.enrolment.secret_groups.join("")}
              label={`${t("common.copy")} — ${t("enrol.secretLabel")}`}
              secret
            />
          </p>
          <p className="hint">{t("enrol.expires", { time: formatDate(step.enrolment.expires_at) })}</p>
          <div className="actions">
            <button type="button" className="primary" onClick={() => setStep({ kind: "code", enrolment: step.enrolment })}>
              {t("enrol.next")}
            </button>
            <button type="button" onClick={onFinished}>
              {t("common.cancel")}
            </button>
          </div>
        </div>
      )}

      {step.kind === "code" && (
        <form onSubmit={(e) => void confirm(e, step.enrolment)} noValidate>
          <FocusHeading level={2}>{t("enrol.stepCode")}</FocusHeading>
          <div className="field">
            <label htmlFor="device-code">{t("enrol.codeLabel")}</label>
            <input
              id="device-code"
              ref={codeRef}
              value={code}
              inputMode="numeric"
              autoComplete="one-time-code"
              maxLength={6}
              aria-invalid={codeBad || error?.code === "invalid_code"}
              aria-describedby={codeBad ? "device-code-error" : undefined}
              onChange={(e) => {
                setCode(e.target.value.replace(/\s/g, ""));
                setCodeBad(false);
              }}
            />
            {codeBad && (
              <p id="device-code-error" className="field-error">
                {t("enrol.codeInvalidFormat")}
              </p>
            )}
          </div>
          <div className="actions">
            {error?.code === "enrollment_expired" ? (
              <button type="button" className="primary" onClick={restart}>
                {t("common.retry")}
              </button>
            ) : (
              <button type="submit" className="primary" disabled={busy}>
                {t("enrol.confirm")}
              </button>
            )}
            <button type="button" onClick={() => setStep({ kind: "scan", enrolment: step.enrolment })}>
              {t("enrol.showQr")}
            </button>
          </div>
        </form>
      )}

      {step.kind === "recovery" && (
        <div>
          <FocusHeading level={2}>{t("enrol.stepRecovery")}</FocusHeading>
          <RecoveryCodes codes={step.codes} onDone={() => setStep({ kind: "done" })} />
        </div>
      )}

      {step.kind === "done" && (
        <div>
          <FocusHeading level={2}>{t("enrol.doneTitle")}</FocusHeading>
          <p>{t("enrol.done", { name: doneName ?? name.trim() })}</p>
          <button type="button" className="primary" onClick={onFinished}>
            {t("enrol.back")}
          </button>
        </div>
      )}
      <ErrorNotice error={error} />
    </section>
  );
}
