// An in-memory stand-in for the Rust commands, for component tests and for
// the `mock` build the accessibility scan serves. It answers exactly the
// commands of bindings.ts and rejects like the Rust side: `{ code, message }`.
import type { Channel } from "@tauri-apps/api/core";
import type {
  AuditEvent,
  LoginProgress,
  Device,
  EnrolmentView,
  Me,
  SettingsView,
  TrustedBrowser,
  UserSummary,
} from "../bindings";

export type MockHandler = (args: Record<string, unknown>) => unknown;

export interface MockOptions {
  signedIn?: boolean;
  helpdesk?: boolean;
  /** Code the sign-in fails with, after reporting progress. */
  signInError?: string;
  /** The browser cannot be opened: the user must open the address. */
  browserNotOpened?: boolean;
  /** Leave sign-in waiting for the browser until cancelled. */
  signInHangs?: boolean;
  settings?: Partial<SettingsView>;
  devices?: Device[];
  /** Replace the answer of single commands. */
  overrides?: Record<string, MockHandler>;
}

const reject = (code: string, message = `mock: ${code}`) => {
  throw { code, message };
};

export const demoMe = (helpdesk = false): Me => ({
  uid: "alice",
  name: "Alice Martin",
  email: "alice@example.org",
  roles: helpdesk ? ["helpdesk"] : [],
  acr: "eidas1-mfa",
  amr: ["pwd", "otp", "mfa"],
  auth_time: "2026-11-23T09:12:00Z",
  mfa_required: true,
  device_count: 2,
  recovery_codes_left: 10,
  trusted_browser_count: 2,
});

export const demoDevices = (): Device[] => [
  { id: "dev-1", name: "Work phone", registered_at: "2026-10-01T08:00:00Z", last_used_at: "2026-11-23T09:12:00Z" },
  { id: "dev-2", name: "Tablet", registered_at: "2026-10-12T14:30:00Z", last_used_at: null },
];

const demoBrowsers = (): TrustedBrowser[] => [
  { id: "br-1", name: "Firefox on Linux", created_at: "2026-11-20T08:00:00Z", last_used_at: "2026-11-23T08:00:00Z", expires_at: "2026-11-27T08:00:00Z" },
  { id: "br-2", name: "Chrome on Windows", created_at: "2026-11-18T10:00:00Z", last_used_at: null, expires_at: "2026-11-25T10:00:00Z" },
];

const ACTIONS: AuditEvent["action"][] = ["sign_in", "device_enrolled", "trusted_browser_added", "second_factor_failed", "devices_reset", "other"];

const demoActivity = (uid = "alice"): AuditEvent[] =>
  Array.from({ length: 24 }, (_, i) => {
    const action = ACTIONS[i % ACTIONS.length];
    const byHelpdesk = action === "devices_reset";
    return {
      id: `ev-${i}`,
      time: new Date(Date.UTC(2026, 10, 23, 9, 0) - i * 3_600_000).toISOString(),
      actor: byHelpdesk ? "helen" : uid,
      subject: uid,
      action,
      reason: byHelpdesk ? "Lost phone, ticket 4242" : null,
      ip: "192.0.2.10",
      user_agent: "Firefox on Linux",
    };
  });

const users: UserSummary[] = [
  { uid: "bob", name: "Bob Durand", email: "bob@example.org", roles: [], mfa_required: true, device_count: 2, trusted_browser_count: 2 },
  { uid: "bea", name: "Béatrice Roy", email: null, roles: [], mfa_required: true, device_count: 0, trusted_browser_count: 0 },
];

// A 1×1 PNG: the real QR code is rendered by the Rust side.
const PNG =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABc3UBGAAAAABJRU5ErkJggg==";

const PAGE = 10;

function page(events: AuditEvent[], cursor: unknown) {
  const start = typeof cursor === "string" ? Number(cursor) : 0;
  const next = start + PAGE < events.length ? String(start + PAGE) : null;
  return { events: events.slice(start, start + PAGE), next_cursor: next };
}

function send(args: Record<string, unknown>, p: LoginProgress) {
  const ch = args.onProgress as Channel<LoginProgress> | undefined;
  ch?.onmessage(p);
}

/** The command handler plus the state it mutates (for assertions). */
export function mockBackend(opts: MockOptions = {}) {
  const state = {
    me: opts.signedIn === false ? null : demoMe(opts.helpdesk),
    settings: {
      issuer: "https://id.example.org",
      issuer_managed: false,
      client_id: "tessera-desktop",
      client_id_managed: true,
      acr_values: ["eidas1-mfa", "eidas2", "eidas3"],
      acr_values_managed: true,
      language: null,
      problem: null,
      ...opts.settings,
    } as SettingsView,
    devices: opts.devices ?? demoDevices(),
    browsers: demoBrowsers(),
    activity: demoActivity(),
    /** Other users' devices and browsers as the help desk sees them, by uid. */
    others: new Map<string, { devices: Device[]; browsers: TrustedBrowser[] }>(),
    enrolment: null as EnrolmentView | null,
    calls: [] as { cmd: string; args: Record<string, unknown> }[],
    cancelSignIn: null as (() => void) | null,
    /** Recovery codes shown and not saved yet (the Rust side keeps them for saving). */
    recoveryCodesHeld: false,
    /**
     * The system clipboard as the Rust side sees it: `text` (set it to play
     * another application copying), whether it was `sensitive`, the secret
     * `pending` clearing, and `failClear` to make clearing fail.
     */
    clipboard: { text: null as string | null, sensitive: false, pending: null as string | null, failClear: false },
  };

  const needMe = () => state.me ?? reject("not_signed_in", "not signed in");
  /** What the provider's step-up shows: the browser asked for a fresh sign-in. */
  const askStepUp = (a: Record<string, unknown>) =>
    send(a, { step: "waiting_for_browser", url: `${state.settings.issuer}/authorize?max_age=0` });
  /** `list` without the item `id`; `not_found` when it has none. */
  const withoutId = <T extends { id: string }>(list: T[], id: unknown): T[] => {
    if (!list.some((x) => x.id === id)) reject("not_found");
    return list.filter((x) => x.id !== id);
  };
  const other = (a: Record<string, unknown>) => {
    const uid = String(a.uid);
    let user = state.others.get(uid);
    if (!user) {
      user = { devices: demoDevices(), browsers: demoBrowsers() };
      state.others.set(uid, user);
    }
    return user;
  };
  const changed = (a: Record<string, unknown>) =>
    a.reason ? other(a) : reject("bad_request", "a reason is required for every help-desk change");

  const handlers: Record<string, MockHandler> = {
    version: () => ({ version: "0.1.0-mock" }),
    settings_get: () => state.settings,
    settings_set: (a) => {
      const u = a.update as { issuer: string | null; language: SettingsView["language"] };
      if (u.issuer !== null && u.issuer !== state.settings.issuer) {
        if (state.settings.issuer_managed) reject("config", "`issuer` is managed by /etc/tessera/config.toml and cannot be changed");
        if (!/^https:\/\/|^http:\/\/(127\.0\.0\.1|localhost)/.test(u.issuer))
          reject("config", `invalid \`issuer\` in the file: \`${u.issuer}\` must use https`);
          state.settings = { ...state.settings, issuer: u.issuer, problem: null };
      }
      state.settings = { ...state.settings, language: u.language };
      return state.settings;
    },
    sign_in: (a) => {
      const url = `${state.settings.issuer}/authorize?client_id=tessera-desktop`;
      send(a, { step: "discovering", issuer: state.settings.issuer ?? "" });
      send(a, opts.browserNotOpened ? { step: "browser_not_opened", url, reason: "no browser" } : { step: "waiting_for_browser", url });
      if (opts.signInHangs) {
        return new Promise((_, rej) => {
          state.cancelSignIn = () => rej({ code: "cancelled", message: "sign-in cancelled" });
        });
      }
      if (opts.signInError) reject(opts.signInError);
      send(a, { step: "exchanging" });
      state.me = demoMe(opts.helpdesk);
      send(a, { step: "done", subject: state.me.uid, acr: state.me.acr });
      return { subject: state.me.uid, acr: state.me.acr, auth_time: state.me.auth_time, expires_at: "2026-11-23T10:12:00Z" };
    },
    cancel_sign_in: () => {
      state.cancelSignIn?.();
      return null;
    },
    sign_out: () => {
      const was = state.me !== null;
      state.me = null;
      return { was_signed_in: was, revoked: was, session_ended: was, warnings: [] };
    },
    me: () => needMe(),
    devices_list: () => (needMe(), state.devices),
    device_enrol_start: (a) => {
      needMe();
      // The provider asks an account that has an app for a recent sign-in.
      if (state.devices.length > 0) {
        askStepUp(a);
      }
      state.enrolment = {
        enrollment_id: "enr-1",
        name: String(a.name),
        qr_png_data_uri: PNG,
        secret_groups: ["JBSW", "Y3DP", "EHPK", "3PXP"],
        expires_at: "2026-11-23T09:22:00Z",
      };
      return state.enrolment;
    },
    device_enrol_confirm: (a) => {
      if (a.code !== "123456") reject("invalid_code", "wrong code");
      const first = state.devices.length === 0;
      const name = state.enrolment?.name ?? "New";
      const device: Device = { id: `dev-${state.devices.length + 10}`, name, registered_at: "2026-11-23T09:15:00Z", last_used_at: null };
      state.devices = [...state.devices, device];
      state.recoveryCodesHeld ||= first;
      return {
        device,
        recovery_codes: first ? Array.from({ length: 10 }, (_, i) => `abcd-ef${i}${i}`) : null,
      };
    },
    device_rename: (a) => {
      const d = state.devices.find((x) => x.id === a.id) ?? reject("not_found");
      const renamed = { ...d, name: a.name as string };
      state.devices = state.devices.map((x) => (x.id === a.id ? renamed : x));
      return renamed;
    },
    device_delete: (a) => {
      askStepUp(a);
      const rest = withoutId(state.devices, a.id);
      if (state.devices.length === 1) reject("last_factor", "last device");
      state.devices = rest;
      return null;
    },
    recovery_codes_regenerate: (a) => {
      askStepUp(a);
      state.recoveryCodesHeld = true;
      return { codes: Array.from({ length: 10 }, (_, i) => `wxyz-0${i}`), generated_at: "2026-11-23T09:30:00Z" };
    },
    // As the Rust side: the codes are forgotten once saved.
    recovery_codes_save: () => {
      if (!state.recoveryCodesHeld) reject("not_found", "There are no recovery codes to save: they are shown only once.");
      state.recoveryCodesHeld = false;
      return "/home/alice/Downloads/tessera-recovery-codes.txt";
    },
    // As src-tauri/src/clipboard.rs, without its 30-second timer (the web
    // view asks with secret_forget when its own 30 seconds are up).
    secret_copy: (a) => {
      Object.assign(state.clipboard, { text: String(a.value), sensitive: true, pending: String(a.value) });
      return null;
    },
    secret_forget: () => {
      const c = state.clipboard;
      if (c.pending === null) return "nothing";
      if (c.text !== c.pending) {
        c.pending = null;
        return "replaced";
      }
      if (c.failClear) reject("clipboard_not_cleared", "The clipboard could not be cleared (mock): copy some other text to replace what is in it.");
      Object.assign(c, { text: null, sensitive: false, pending: null });
      return "cleared";
    },
    browsers_list: () => (needMe(), state.browsers),
    browser_revoke: (a) => {
      askStepUp(a);
      state.browsers = withoutId(state.browsers, a.id);
      return null;
    },
    browsers_revoke_all: (a) => {
      askStepUp(a);
      const removed = state.browsers.length;
      state.browsers = [];
      return { removed };
    },
    activity_page: (a) => page(state.activity, a.cursor),
    helpdesk_search: (a) => {
      if (!state.me?.roles.includes("helpdesk")) reject("forbidden");
      const q = String(a.query).toLowerCase();
      const found = users.filter((u) => u.uid.startsWith(q) || u.name.toLowerCase().startsWith(q) || (u.email ?? "").startsWith(q));
      return { users: found, truncated: false };
    },
    helpdesk_devices: (a) => [...other(a).devices],
    helpdesk_browsers: (a) => [...other(a).browsers],
    helpdesk_activity: (a) => page(demoActivity(String(a.uid)), a.cursor),
    helpdesk_device_remove: (a) => {
      const user = changed(a);
      user.devices = withoutId(user.devices, a.id);
      return null;
    },
    // As the provider's reset: the apps, and the browsers trusted with them.
    helpdesk_devices_reset: (a) => {
      const user = changed(a);
      const removed = user.devices.length;
      user.devices = [];
      user.browsers = [];
      return { removed };
    },
    helpdesk_browser_revoke: (a) => {
      const user = changed(a);
      user.browsers = withoutId(user.browsers, a.id);
      return null;
    },
    helpdesk_browsers_revoke_all: (a) => {
      const user = changed(a);
      const removed = user.browsers.length;
      user.browsers = [];
      return { removed };
    },
    ...opts.overrides,
  };

  const handler = (cmd: string, args?: unknown) => {
    const a = (args ?? {}) as Record<string, unknown>;
    state.calls.push({ cmd, args: a });
    const h = handlers[cmd];
    if (!h) return reject("ipc", `mock: unknown command ${cmd}`);
    return h(a);
  };

  return { handler, state };
}
