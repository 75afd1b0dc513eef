// The single typed IPC layer: every screen reaches the Rust side through here.
// The web view never talks to the provider and never sees a token; it only
// invokes the app's own commands, whose signatures are generated into
// bindings.ts from the Rust code.
import { Channel } from "@tauri-apps/api/core";
import { commands } from "./bindings";
import type { ErrorPayload, LoginProgress } from "./bindings";

export type * from "./bindings";

/** A failed command, carrying the stable machine `code` the UI branches on. */
export class AppError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "AppError";
    this.code = code;
  }
}

function isErrorPayload(e: unknown): e is ErrorPayload {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as ErrorPayload).code === "string" &&
    typeof (e as ErrorPayload).message === "string"
  );
}

/** Turns whatever a rejected invoke carries into an AppError. */
export function toAppError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  if (isErrorPayload(e)) return new AppError(e.code, e.message);
  // Framework-level failures (unknown command, ACL denial) reject with a string.
  return new AppError("ipc", e instanceof Error ? e.message : String(e));
}

async function call<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw toAppError(e);
  }
}

/** A channel the Rust side reports sign-in (and step-up) progress on. */
function progressChannel(onProgress: (p: LoginProgress) => void): Channel<LoginProgress> {
  return new Channel<LoginProgress>(onProgress);
}

type Progress = (p: LoginProgress) => void;
const ignore: Progress = () => {};

export const ipc = {
  version: () => call(commands.version()),
  settingsGet: () => call(commands.settingsGet()),
  settingsSet: (...a: Parameters<typeof commands.settingsSet>) => call(commands.settingsSet(...a)),
  signIn: (onProgress: Progress) => call(commands.signIn(progressChannel(onProgress))),
  cancelSignIn: () => call(commands.cancelSignIn()),
  signOut: () => call(commands.signOut()),
  me: () => call(commands.me()),
  devicesList: () => call(commands.devicesList()),
  deviceEnrolStart: (name: string, onProgress: Progress = ignore) =>
    call(commands.deviceEnrolStart(name, progressChannel(onProgress))),
  deviceEnrolConfirm: (enrolmentId: string, code: string) =>
    call(commands.deviceEnrolConfirm(enrolmentId, code)),
  deviceRename: (id: string, name: string) => call(commands.deviceRename(id, name)),
  deviceDelete: (id: string, onProgress: Progress = ignore) =>
    call(commands.deviceDelete(id, progressChannel(onProgress))),
  recoveryCodesRegenerate: (onProgress: Progress = ignore) =>
    call(commands.recoveryCodesRegenerate(progressChannel(onProgress))),
  recoveryCodesSave: () => call(commands.recoveryCodesSave()),
  secretCopy: (value: string) => call(commands.secretCopy(value)),
  secretForget: () => call(commands.secretForget()),
  browsersList: () => call(commands.browsersList()),
  browserRevoke: (id: string, onProgress: Progress = ignore) =>
    call(commands.browserRevoke(id, progressChannel(onProgress))),
  browsersRevokeAll: (onProgress: Progress = ignore) =>
    call(commands.browsersRevokeAll(progressChannel(onProgress))),
  activityPage: (cursor: string | null) => call(commands.activityPage(cursor)),
  helpdeskSearch: (query: string) => call(commands.helpdeskSearch(query)),
  helpdeskDevices: (uid: string) => call(commands.helpdeskDevices(uid)),
  helpdeskDeviceRemove: (uid: string, id: string, reason: string, onProgress: Progress = ignore) =>
    call(commands.helpdeskDeviceRemove(uid, id, reason, progressChannel(onProgress))),
  helpdeskDevicesReset: (uid: string, reason: string, onProgress: Progress = ignore) =>
    call(commands.helpdeskDevicesReset(uid, reason, progressChannel(onProgress))),
  helpdeskBrowsers: (uid: string) => call(commands.helpdeskBrowsers(uid)),
  helpdeskBrowserRevoke: (uid: string, id: string, reason: string, onProgress: Progress = ignore) =>
    call(commands.helpdeskBrowserRevoke(uid, id, reason, progressChannel(onProgress))),
  helpdeskBrowsersRevokeAll: (uid: string, reason: string, onProgress: Progress = ignore) =>
    call(commands.helpdeskBrowsersRevokeAll(uid, reason, progressChannel(onProgress))),
  helpdeskActivity: (uid: string, cursor: string | null) =>
    call(commands.helpdeskActivity(uid, cursor)),
};
