// End-to-end: the built desktop app under Xvfb, driven by tauri-driver and
// WebKitWebDriver. Started by tests/e2e/run.sh, which builds the app, points
// HOME and XDG_* at a temporary directory with a user config naming the
// provider, and runs this inside a D-Bus session with gnome-keyring.
//
// Env: TESSERA_APP (the binary), TESSERA_E2E_ISSUER (the configured
// provider), ARTIFACTS (where screenshots go), TAURI_DRIVER, WEBKIT_DRIVER.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer } from "node:net";
import { WebDriver } from "./webdriver.mjs";
import { totp } from "./totp.mjs";

const APP = process.env.TESSERA_APP;
const ISSUER = process.env.TESSERA_E2E_ISSUER;
const ARTIFACTS = process.env.ARTIFACTS ?? "artifacts/e2e";
const TAURI_DRIVER = process.env.TAURI_DRIVER ?? "tauri-driver";
const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER ?? "/usr/bin/WebKitWebDriver";

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

test("signing in through the browser lands on the overview, with who is signed in", async () => {
  // BROWSER is tests/e2e/fake-browser.mjs: it signs the demo user in on the
  // provider's pages (password, then a TOTP code) like a person would.
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Sign in with the browser']"));
  const who = await wd.waitFor(".who", 60000);
  assert.equal(await wd.text(who), "Signed in as Demo User");
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

  await open("Trusted browsers");
  await wd.waitForXPath("//main//p[@data-testid='browsers-empty'] | //main//table");
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
  await open("Authenticator apps");
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Add an authenticator app']"));
  const name = await wd.waitFor("#device-name");
  await wd.cmd("POST", `/element/${name}/value`, { text: "E2E phone" });
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Next']"));
  const qr = await wd.waitFor("img.qr");
  assert.match(await wd.property(qr, "src"), /^data:image\/png;base64,/);
  assert.ok((await wd.property(qr, "naturalWidth")) > 100, "the QR code image decodes");
  const secret = await wd.text(await wd.waitFor("[data-testid=secret]"));
  assert.match(secret, /^([A-Z2-7]{4} ?)+$/);
  await shot("add-app-qr");

  // The code the new app would show, from the secret on screen.
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Next']"));
  const code = await wd.waitFor("#device-code");
  await wd.cmd("POST", `/element/${code}/value`, { text: totp(secret.replace(/\s/g, "")) });
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Confirm']"));
  await wd.waitForXPath("//main//h2[normalize-space()='All set']");
  await shot("add-app-done");
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Back to the list']"));
  await wd.waitForXPath("//main//table//th[normalize-space()='E2E phone']");
});

test("deleting an app asks first, then removes it at the provider", async () => {
  await wd.click(await wd.waitForXPath("//button[@aria-label='Delete E2E phone']"));
  await shot("delete-confirmation");
  await wd.click(await wd.waitForXPath("//form[contains(@class,'confirm')]//button[normalize-space()='Delete E2E phone']"));
  await wd.waitForXPath("//p[@role='status'][normalize-space()='E2E phone was deleted.']");
  // And the list from the provider no longer has it.
  await open("Overview");
  await open("Authenticator apps");
  await wd.waitFor("table.list tbody th");
  const names = await wd.execute("return [...document.querySelectorAll('table.list tbody th')].map(t => t.textContent);");
  assert.ok(!names.includes("E2E phone"), `still listed: ${names}`);
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
  const device = await wd.text(await wd.waitFor("table.list tbody th"));
  await shot("helpdesk-user");

  await wd.click(await wd.waitForXPath(`//button[@aria-label='Remove ${device}']`));
  const reason = await wd.waitFor("form.confirm textarea");
  await wd.cmd("POST", `/element/${reason}/value`, { text: "E2E: phone lost, ticket 1" });
  await shot("helpdesk-reason");
  await wd.click(await wd.waitForXPath("//button[normalize-space()='Confirm with this reason']"));
  await wd.waitForXPath(`//p[@role='status'][normalize-space()='${device} was removed.']`);
  // The audit trail, read back through the help-desk activity, carries the reason.
  await wd.waitForXPath("//section[@aria-labelledby='hd-activity']//td[contains(., 'E2E: phone lost, ticket 1')]");
  await shot("helpdesk-removed");
});
