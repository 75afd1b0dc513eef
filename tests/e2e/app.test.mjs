// End-to-end: the built desktop app under Xvfb, driven by tauri-driver and
// WebKitWebDriver. Started by tests/e2e/run.sh, which builds the app, points
// HOME and XDG_* at a temporary directory with a user config naming the
// provider, and runs this inside a D-Bus session with gnome-keyring.
//
// Env: TESSERA_APP (the binary), TESSERA_E2E_ISSUER (the configured
// provider), TESSERA_E2E_STEP_UP_MAX_AGE (the provider's step-up window, s),
// TESSERA_E2E_ACCOUNTS and TESSERA_E2E_BROWSER_LOG (shared with
// fake-browser.mjs), ARTIFACTS (where screenshots go), TAURI_DRIVER,
// WEBKIT_DRIVER.
//
// The tests run in order on one app session and build on each other: the
// demo user signs in, adds, renames and deletes apps and revokes browsers;
// then the help-desk user removes and resets the demo user's apps; last, the
// demo user signs in again (setting up a new app on the provider's page) and
// reads the reset in their own activity.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer } from "node:net";
import { WebDriver } from "./webdriver.mjs";
import { totp } from "./totp.mjs";

const APP = process.env.TESSERA_APP;
const ISSUER = process.env.TESSERA_E2E_ISSUER;
const ARTIFACTS = process.env.ARTIFACTS ?? "artifacts/e2e";
const TAURI_DRIVER = process.env.TAURI_DRIVER ?? "tauri-driver";
const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER ?? "/usr/bin/WebKitWebDriver";
const STEP_UP_MAX_AGE = Number(process.env.TESSERA_E2E_STEP_UP_MAX_AGE);
const BROWSER_LOG = process.env.TESSERA_E2E_BROWSER_LOG;
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForDriver(base, child, ms = 20000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`tauri-driver exited with ${child.exitCode}`);
    try {
      await fetch(`${base}/status`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error("tauri-driver did not start");
}

let driver;
let wd;

before(async () => {
  assert.ok(APP, "TESSERA_APP must name the built app (tests/e2e/run.sh sets it)");
  assert.ok(ISSUER, "TESSERA_E2E_ISSUER must name the configured provider");
  assert.ok(STEP_UP_MAX_AGE > 0, "TESSERA_E2E_STEP_UP_MAX_AGE must give the provider's step-up window");
  assert.ok(BROWSER_LOG, "TESSERA_E2E_BROWSER_LOG must name the fake browser's log");
  await mkdir(ARTIFACTS, { recursive: true });
  const port = await freePort();
  const nativePort = await freePort();
  driver = spawn(TAURI_DRIVER, ["--port", String(port), "--native-port", String(nativePort), "--native-driver", WEBKIT_DRIVER], {
    // Not inherited: the app and WebKitWebDriver outlive a killed
    // tauri-driver for a moment and would hold the test runner's pipes.
    stdio: "ignore",
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForDriver(base, driver);
  wd = await WebDriver.start(base, APP);
});

after(async () => {
  await wd?.quit();
  driver?.kill();
});

async function shot(name) {
  await writeFile(join(ARTIFACTS, `${name}.png`), await wd.screenshot());
}

test("the app starts on the sign-in screen and shows the configured provider", async () => {
  // The first screen is "loading" until the settings and the keyring answer.
  const provider = await wd.waitFor("[data-testid=provider]");
  assert.equal(await wd.text(provider), ISSUER);
  const h1 = await wd.waitFor("h1");
  const expected = await wd.execute("return document.documentElement.lang === 'fr' ? 'Connexion' : 'Sign in';");
  assert.equal(await wd.text(h1), expected);
  // No error on a fresh start: the keyring answered "no session".
  const alerts = await wd.execute("return [...document.querySelectorAll('[role=alert]')].map(a => a.textContent).join('');");
  assert.equal(alerts, "");
  await shot("sign-in");
});

test("the web view runs without what a browser enables and this page never uses", async () => {
  // src-tauri/src/webview.rs: WebGL and Web Audio off in the created view.
  const exposed = await wd.execute(`
    const canvas = document.createElement('canvas');
    return {
      webgl: canvas.getContext('webgl') !== null || canvas.getContext('webgl2') !== null,
      audio: typeof AudioContext !== 'undefined',
      canvas2d: canvas.getContext('2d') !== null,
    };`);
  assert.deepEqual(exposed, { webgl: false, audio: false, canvas2d: true });
  // JavaScriptCore's JIT off in the app's own web process, from the
  // environment the app sets before WebKitGTK starts it.
  const all = await processes();
  const app = appProcess(all);
  const webProcesses = all.filter((p) => p.ppid === app.pid && p.name === "WebKitWebProces").map((p) => p.pid);
  assert.ok(webProcesses.length > 0, "the app has a WebKit web process");
  for (const pid of webProcesses) {
    const environ = (await readFile(`/proc/${pid}/environ`, "latin1")).split("\0");
    assert.ok(environ.includes("JSC_useJIT=0"), `web process ${pid} runs without the JIT`);
    assert.ok(environ.includes("WEBKIT_DISABLE_DMABUF_RENDERER=1"), `web process ${pid} uses the shared-memory renderer`);
    assert.ok(
      !environ.some((v) => v.startsWith("__EGL_VENDOR_LIBRARY_FILENAMES=")),
      `web process ${pid} may load its GL driver`,
    );
  }
  // The app's own process only copies the web process's frames to the
  // window: no GL driver (GTK's GLX or WebKit's EGL) is loaded into it.
  const maps = await readFile(`/proc/${app.pid}/maps`, "latin1");
  const drivers = [...new Set(maps.match(/[^/\s]*(libEGL_|libGLX_|_dri\.so|libLLVM)[^/\s]*/g) ?? [])];
  assert.deepEqual(drivers, [], "the app's process loads no GL driver");
});

/** /proc/PID/stat's name and parent pid. */
async function stat(pid) {
  const text = await readFile(`/proc/${pid}/stat`, "latin1");
  const close = text.lastIndexOf(")");
  return { name: text.slice(text.indexOf("(") + 1, close), ppid: Number(text.slice(close + 2).split(" ")[1]) };
}

async function processes() {
  const all = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      all.push({ pid: Number(entry), ...(await stat(entry)) });
    } catch {
      // Gone meanwhile.
    }
  }
  return all;
}

/** The app under test, among `all`: the process running TESSERA_APP. */
function appProcess(all) {
  const name = APP.split("/").pop().slice(0, 15);
  const found = all.filter((p) => p.name === name);
  assert.equal(found.length, 1, `one ${name} process runs`);
  return found[0];
}

test("the settings open in place and show the provider as editable", async () => {
  const toggle = await wd.waitFor("button.link[aria-expanded]");
  await wd.click(toggle);
  const field = await wd.waitFor("input[type=url]");
  assert.equal(await wd.property(field, "value"), ISSUER);
  await shot("sign-in-settings");
});

/** Clicks the navigation entry named `name` and waits for its heading. */
async function open(name) {
  await wd.click(await wd.waitForXPath(`//nav//button[normalize-space()='${name}']`));
  await wd.waitForXPath(`//main//h1[normalize-space()='${name}']`);
}

/** Leaves the screen `name` and comes back, so that it reloads from the provider. */
async function reopen(name) {
  await open("Overview");
  await open(name);
}

/** The times of the fake browser's completed sign-ins as `uid`, oldest first. */
async function signIns(uid) {
  const lines = (await readFile(BROWSER_LOG, "utf8")).split("\n");
  return lines.filter((l) => l.endsWith(` signed in as ${uid}`)).map((l) => new Date(l.slice(0, l.indexOf(" "))));
}

/** Waits (up to `ms`) until the fake browser has completed `count` sign-ins as `uid`. */
async function signInsReach(uid, count, ms = 10000) {
  const until = Date.now() + ms;
  let seen = [];
  while (Date.now() < until) {
    seen = await signIns(uid);
    if (seen.length >= count) return seen;
    await delay(200);
  }
  return seen;
}

/** The text of each element matching a CSS selector. */
function texts(css) {
  return wd.execute("return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);", [css]);
}

/** Runs the add-app wizard for `name`, typing the code computed from the secret shown. */
async function addApp(name, shots = {}) {
  await open("Authenticator apps");
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Add an authenticator app']"));
  const field = await wd.waitFor("#device-name");
  await wd.cmd("POST", `/element/${field}/value`, { text: name });
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Next']"));
  const qr = await wd.waitFor("img.qr");
  assert.match(await wd.property(qr, "src"), /^data:image\/png;base64,/);
  assert.ok((await wd.property(qr, "naturalWidth")) > 100, "the QR code image decodes");
  const secret = await wd.text(await wd.waitFor("[data-testid=secret]"));
  assert.match(secret, /^([A-Z2-7]{4} ?)+$/);
  if (shots.qr) await shot(shots.qr);

  // The code the new app would show, from the secret on screen.
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Next']"));
  const code = await wd.waitFor("#device-code");
  await wd.cmd("POST", `/element/${code}/value`, { text: totp(secret.replace(/\s/g, "")) });
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Confirm']"));
  await wd.waitForXPath("//main//h2[normalize-space()='All set']");
  if (shots.done) await shot(shots.done);
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Back to the list']"));
  await wd.waitForXPath(`//main//table//th[normalize-space()='${name}']`);
}

test("signing in through the browser lands on the overview, with who is signed in", async () => {
  // BROWSER is tests/e2e/fake-browser.mjs: it signs the demo user in on the
  // provider's pages (password, then a TOTP code) like a person would.
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Sign in with the browser']"));
  const who = await wd.waitFor(".who", 60000);
  assert.equal(await wd.text(who), "Signed in as Demo User");
  assert.equal((await signIns("demo")).length, 1, "the fake browser signed the demo user in once");
  await wd.waitForXPath("//main//h1[normalize-space()='Overview']");
  const status = await wd.waitFor("[data-testid=twofa-status]");
  assert.match(await wd.text(status), /^On: [1-9]\d* authenticator app/);
  await shot("overview");
});

test("the account's screens show its data from the account API", async () => {
  await open("Authenticator apps");
  const firstDevice = await wd.waitFor("table.list tbody th");
  assert.notEqual(await wd.text(firstDevice), "");
  await shot("devices");

  // The fake browser ticked "trust this browser" on the code form.
  await open("Trusted browsers");
  await wd.waitForXPath("//main//table//th[normalize-space()='Firefox on Linux']");
  await shot("browsers");

  await open("Activity");
  const signIn = await wd.waitForXPath("//main//table//td[normalize-space()='Signed in']");
  assert.ok(signIn);
  await shot("activity");

  await open("Settings");
  await wd.waitFor("main select");
  await shot("settings");
});

test("the add-app wizard shows a QR code rendered by Rust and the grouped secret", async () => {
  await addApp("E2E phone", { qr: "add-app-qr", done: "add-app-done" });
});

test("renaming an app shows the new name, also when the list comes back from the provider", async () => {
  await open("Authenticator apps");
  await wd.click(await wd.waitForXPath("//button[@aria-label='Rename E2E phone']"));
  const field = await wd.waitFor("main table input[id^='rename-']");
  assert.equal(await wd.property(field, "value"), "E2E phone");
  await wd.cmd("POST", `/element/${field}/clear`, {});
  await wd.cmd("POST", `/element/${field}/value`, { text: "E2E tablet" });
  assert.equal(await wd.property(field, "value"), "E2E tablet");
  await shot("device-rename");
  await wd.click(await wd.waitForXPath("//main//table//form//button[normalize-space()='Save']"));
  await wd.waitForXPath("//p[@role='status'][normalize-space()='Renamed to E2E tablet.']");
  await wd.waitForXPath("//main//table//th[normalize-space()='E2E tablet']");
  await shot("device-renamed");

  await reopen("Authenticator apps");
  await wd.waitForXPath("//main//table//th[normalize-space()='E2E tablet']");
  const names = await texts("main table.list tbody th");
  assert.ok(!names.includes("E2E phone"), `the old name is still listed: ${names}`);
});

test("a second app is added the same way (the help desk removes it later)", async () => {
  await addApp("E2E spare");
  const names = await texts("main table.list tbody th");
  assert.ok(names.includes("E2E tablet") && names.includes("E2E spare"), `listed: ${names}`);
});

test("deleting an app asks first; with a sign-in older than the step-up window, the app signs in again, then the provider removes it", async () => {
  // Let the provider's step-up window (RFC 9470) pass since the last sign-in:
  // the delete is then refused with step_up_required, and the app must run a
  // new sign-in in the browser by itself and retry.
  const before = await signIns("demo");
  assert.ok(before.length >= 1, "the demo user signed in through the fake browser");
  const ready = before.at(-1).getTime() + (STEP_UP_MAX_AGE + 2) * 1000;
  if (ready > Date.now()) await delay(ready - Date.now());

  await open("Authenticator apps");
  await wd.click(await wd.waitForXPath("//button[@aria-label='Delete E2E tablet']"));
  await shot("delete-confirmation");
  await wd.click(await wd.waitForXPath("//form[contains(@class,'confirm')]//button[normalize-space()='Delete E2E tablet']"));
  // A step-up sign-in may wait up to 30 s for a fresh TOTP window.
  await wd.waitForXPath("//p[@role='status'][normalize-space()='E2E tablet was deleted.']", 90000);
  const after = await signInsReach("demo", before.length + 1);
  assert.equal(after.length, before.length + 1, "the delete went through exactly one new sign-in (the step-up)");
  assert.ok(after.at(-1) > before.at(-1));
  await shot("delete-done");
  // And the list from the provider no longer has it; the other apps stay.
  await reopen("Authenticator apps");
  await wd.waitForXPath("//main//table//th[normalize-space()='E2E spare']");
  const names = await texts("main table.list tbody th");
  assert.ok(!names.includes("E2E tablet"), `still listed: ${names}`);
});

test("the trusted browsers of each sign-in are listed; revoking one, then all, removes them at the provider", async () => {
  const rows = async () => (await texts("main table.list tbody th")).length;
  await open("Trusted browsers");
  await wd.waitForXPath("//main//table//th[normalize-space()='Firefox on Linux']");
  // One per sign-in so far: the first one and the step-up.
  const signedIn = (await signIns("demo")).length;
  const listed = await rows();
  assert.equal(listed, signedIn, `one trusted browser per sign-in (${signedIn}), listed ${listed}`);
  assert.ok(listed >= 2);
  await shot("browsers-trusted");

  await wd.click(await wd.waitForXPath("(//main//table//button[@aria-label='Revoke Firefox on Linux'])[1]"));
  await wd.waitForXPath("//p[@role='status'][normalize-space()='Firefox on Linux is no longer trusted.']", 90000);
  // A step-up the revocation needed (on a slow machine) trusts one more browser.
  const extra = (await signIns("demo")).length - signedIn;
  assert.equal(await rows(), listed - 1);
  await shot("browser-revoked");
  await reopen("Trusted browsers");
  await wd.waitForXPath("//main//table//th[normalize-space()='Firefox on Linux']");
  assert.equal(await rows(), listed - 1 + extra, "the provider lists one browser less");

  await wd.click(await wd.waitForXPath("//main//button[normalize-space()='Revoke all']"));
  await shot("browsers-revoke-all-confirmation");
  await wd.click(await wd.waitForXPath("//form[contains(@class,'confirm')]//button[normalize-space()='Revoke all browsers']"));
  await wd.waitForXPath("//p[@role='status'][normalize-space()='No browser is trusted any more.']", 90000);
  await reopen("Trusted browsers");
  await wd.waitFor("main [data-testid=browsers-empty]");
  await shot("browsers-none");
});

test("the activity screen shows each change, as the provider recorded it", async () => {
  await open("Activity");
  for (const what of [
    "Browser trusted",
    "Authenticator app added",
    "Authenticator app renamed",
    "Authenticator app removed",
    "Trusted browser revoked",
    "All trusted browsers revoked",
  ]) {
    await wd.waitForXPath(`//main//table//td[starts-with(normalize-space(), '${what}')]`);
  }
  await shot("activity-changes");
});

test("signing out returns to the sign-in screen", async () => {
  await open("Settings");
  await wd.click(await wd.waitForXPath("//main//section//button[normalize-space()='Sign out']"));
  await wd.waitForXPath("//main//h1[normalize-space()='Sign in']");
  await shot("signed-out");
});

/** Which demo account the fake browser signs in as next. */
async function useAccount(uid) {
  const path = process.env.TESSERA_E2E_ACCOUNTS;
  const file = JSON.parse(await readFile(path, "utf8"));
  await writeFile(path, JSON.stringify({ ...file, use: uid }));
}

test("the help desk finds a user and removes a device with a reason", async () => {
  await useAccount("helpdesk");
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Sign in with the browser']"));
  assert.equal(await wd.text(await wd.waitFor(".who", 60000)), "Signed in as Help Desk");
  await open("Help desk");
  const search = await wd.waitFor("#hd-query");
  await wd.cmd("POST", `/element/${search}/value`, { text: "dem" });
  await wd.click(await wd.waitForXPath("//form[@role='search']//button"));
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Demo User (demo)']"));
  await wd.waitForXPath("//main//h1[normalize-space()='Demo User (demo)']");
  await wd.waitForXPath("//section[@aria-labelledby='hd-devices']//th[normalize-space()='E2E spare']");
  await shot("helpdesk-user");

  await wd.click(await wd.waitForXPath("//button[@aria-label='Remove E2E spare']"));
  const reason = await wd.waitFor("form.confirm textarea");
  await wd.cmd("POST", `/element/${reason}/value`, { text: "E2E: phone lost, ticket 1" });
  await shot("helpdesk-reason");
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Confirm with this reason']"));
  await wd.waitForXPath("//p[@role='status'][normalize-space()='E2E spare was removed.']", 90000);
  // The audit trail, read back through the help-desk activity, carries the reason.
  await wd.waitForXPath("//section[@aria-labelledby='hd-activity']//td[contains(., 'E2E: phone lost, ticket 1')]");
  const left = await texts("section[aria-labelledby=hd-devices] tbody th");
  assert.ok(left.length >= 1 && !left.includes("E2E spare"), `listed: ${left}`);
  await shot("helpdesk-removed");
});

test("the help desk resets all of a user's apps, only with a reason, and the reset shows in that user's activity", async () => {
  const devices = "//section[@aria-labelledby='hd-devices']";
  const remaining = await texts("section[aria-labelledby=hd-devices] tbody th");
  assert.ok(remaining.length >= 1, "the demo user still has an app to reset");
  await wd.click(await wd.waitForXPath(`${devices}//button[normalize-space()='Reset all authenticator apps']`));
  await wd.waitForXPath("//form[contains(@class,'confirm')]//p[normalize-space()='Remove every authenticator app of Demo User (demo)? They will be signed out everywhere and set one up again at their next sign-in.']");
  // No reason, no reset: the form says why and nothing is sent.
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Confirm with this reason']"));
  await wd.waitForXPath("//form[contains(@class,'confirm')]//textarea[@aria-invalid='true']");
  await wd.waitForXPath("//form[contains(@class,'confirm')]//*[normalize-space()='Give a reason: every help-desk change is recorded with one.']");
  assert.deepEqual(await texts("section[aria-labelledby=hd-devices] tbody th"), remaining);
  await shot("helpdesk-reset-no-reason");

  const reason = await wd.waitFor("form.confirm textarea");
  await wd.cmd("POST", `/element/${reason}/value`, { text: "E2E: new phone, ticket 2" });
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Confirm with this reason']"));
  await wd.waitForXPath("//p[@role='status'][normalize-space()='The authenticator apps of Demo User (demo) were reset.']", 90000);
  // The list, reloaded from the provider, is empty.
  await wd.waitForXPath(`${devices}//p[normalize-space()='No authenticator app is registered.']`);
  // The demo user's activity, read through the help-desk view, has the reset
  // with who did it and why.
  const entry = await wd.waitForXPath(
    "//section[@aria-labelledby='hd-activity']//td[starts-with(normalize-space(), 'Authenticator apps reset')][contains(., 'E2E: new phone, ticket 2')]",
  );
  assert.match(await wd.text(entry), /by helpdesk/);
  await shot("helpdesk-reset");
});

test("the user, signed in again, sets up a new app on the provider's page and sees the help desk's reset in their activity", async () => {
  await open("Settings");
  await wd.click(await wd.waitForXPath("//main//section//button[normalize-space()='Sign out']"));
  await wd.waitForXPath("//main//h1[normalize-space()='Sign in']");
  await useAccount("demo");
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Sign in with the browser']"));
  assert.equal(await wd.text(await wd.waitFor(".who", 90000)), "Signed in as Demo User");
  // With no app left, the provider's code form was an enrolment.
  assert.match(await readFile(BROWSER_LOG, "utf8"), /setting up a new authenticator for demo on the sign-in page/);
  // …which showed its recovery codes: the overview counts them.
  assert.match(await readFile(BROWSER_LOG, "utf8"), /10 recovery codes shown; saved, continuing/);
  await wd.waitForXPath("//p[@data-testid='recovery-status'][normalize-space()='10 unused recovery code(s) left.']");
  await open("Activity");
  const entry = await wd.waitForXPath(
    "//main//table//td[starts-with(normalize-space(), 'Authenticator apps reset')][contains(., 'E2E: new phone, ticket 2')]",
  );
  assert.match(await wd.text(entry), /by helpdesk/);
  await shot("activity-after-reset");
});
