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
export function explain(t: Translate, err: AppError): { text: string; detail: string | null } {
  const key = knownErrorKey(err.code);
  if (key) return { text: t(key), detail: null };
  return {
    text: t("error.unknown"),
    detail: err.message ? t("error.details", { message: err.message }) : null,
  };
}
