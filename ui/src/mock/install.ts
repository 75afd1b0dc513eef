// Installs the mock backend before the app renders, in the `mock` build only
// (vite --mode mock), which the accessibility scan serves. The scenario comes
// from the query string, e.g. ?signedIn=0&signInError=acr_refused.
import { mockIPC } from "@tauri-apps/api/mocks";
import { mockBackend } from "./backend";

export function installFromQuery(search: string) {
  const q = new URLSearchParams(search);
  const { handler } = mockBackend({
    signedIn: q.get("signedIn") !== "0",
    helpdesk: q.get("helpdesk") === "1",
    signInError: q.get("signInError") ?? undefined,
    signInHangs: q.get("signInHangs") === "1",
    browserNotOpened: q.get("browserNotOpened") === "1",
    devices: q.get("devices") === "0" ? [] : undefined,
    settings: {
      ...(q.get("managed") === "1" ? { issuer_managed: true } : {}),
      ...(q.get("lang") === "fr" || q.get("lang") === "en" ? { language: q.get("lang") as "fr" | "en" } : {}),
      ...(q.get("noIssuer") === "1"
        ? { issuer: null, problem: { code: "config", message: "no `issuer` is configured: set it in ~/.config/tessera/config.toml, with TESSERA_ISSUER or with --issuer" } }
        : {}),
    },
  });
  mockIPC(handler);
}
