// How a failed command is explained. The UI branches on the stable `code`
// only; the Rust message is shown as a detail when the code is not one the
// catalogue knows.
import type { AppError } from "./ipc";
import type { MessageKey } from "./i18n/en";
import { en } from "./i18n/en";
import type { Translate } from "./i18n/I18n";

/** Codes meaning "there is no usable session any more": back to sign-in. */
export const SESSION_ENDED = new Set(["not_signed_in", "unauthorized", "session_expired"]);

export function knownErrorKey(code: string): MessageKey | null {
  const key = `error.${code}`;
  return key in en ? (key as MessageKey) : null;
}

/** The sentence shown for an error, and whether the raw message is worth adding. */
/** Codes whose Rust message names the specific value or place at fault. */
const WITH_DETAIL = new Set([
  "config",
  "discovery",
  "network",
  "provider_error",
  "bad_request",
  "server_error",
  "io",
  "internal",
  "insecure_endpoint",
  "wrong_user",
  "bad_enrollment",
  "unsafe_file",
]);

export function explain(t: Translate, err: AppError): { text: string; detail: string | null } {
  const key = knownErrorKey(err.code);
  if (key) {
    const detail = WITH_DETAIL.has(err.code) && err.message ? t("error.details", { message: err.message }) : null;
    return { text: t(key), detail };
  }
  return {
    text: t("error.unknown"),
    detail: err.message ? t("error.details", { message: err.message }) : null,
  };
}
