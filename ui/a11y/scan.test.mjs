// Accessibility scan of every screen: the `mock` build of the UI (the real
// components over the in-memory mock backend) served locally, opened in
// Debian's headless Chromium through playwright-core, checked with axe-core
// in light and dark. Fails on any serious or critical violation.
//
// Run: npm run test:a11y  (builds dist-mock first). Never downloads a browser:
// CHROMIUM (default /usr/bin/chromium) must exist, or the test fails.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile, access } from "node:fs/promises";
import { createRequire } from "node:module";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL("../dist-mock/", import.meta.url));
const AXE = require.resolve("axe-core/axe.min.js");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml" };

/** A static server for dist-mock on a free loopback port. */
function serve() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
    const file = join(ROOT, path === "/" ? "index.html" : path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const heading = (page, name) => page.getByRole("heading", { name, exact: true }).first().waitFor();
const click = (page, name) => page.getByRole("button", { name, exact: true }).first().click();
const nav = async (page, name) => {
  await heading(page, "Overview");
  await click(page, name);
};
async function addDeviceTo(page, step) {
  await nav(page, "Authenticator apps");
  await click(page, "Add an authenticator app");
  await heading(page, "Step 1 of 4: name it");
  if (step === "name") return;
  if (step === "name-error") return click(page, "Next");
  await page.getByLabel("Name of the app or phone").fill("Work phone");
  await click(page, "Next");
  await heading(page, "Step 2 of 4: scan the QR code");
  if (step === "scan") return;
  await click(page, "Next");
  await heading(page, "Step 3 of 4: enter a code");
  if (step === "code") return;
  await page.getByLabel("6-digit code shown by the app").fill(step === "code-error" ? "000000" : "123456");
  await click(page, "Confirm");
  if (step === "code-error") return page.getByText("That code is not right", { exact: false }).waitFor();
  await heading(page, step === "recovery" ? "Step 4 of 4: save your recovery codes" : "All set");
}
async function helpdeskUser(page) {
  await nav(page, "Help desk");
  await page.getByLabel("User name, email or name (beginning)").fill("b");
  await click(page, "Search");
  await click(page, "Bob Durand (bob)");
  await heading(page, "Bob Durand (bob)");
}

/** Every screen and state worth scanning: query string of the mock build, then steps. */
const SCREENS = {
  "sign-in": ["signedIn=0", (p) => heading(p, "Sign in")],
  "sign-in with settings open": ["signedIn=0", async (p) => { await heading(p, "Sign in"); await click(p, "Open the settings"); }],
  "sign-in waiting for the browser": ["signedIn=0&signInHangs=1", async (p) => { await click(p, "Sign in with the browser"); await p.getByRole("button", { name: "Cancel sign-in" }).waitFor(); }],
  "sign-in, browser not opened": ["signedIn=0&signInHangs=1&browserNotOpened=1", async (p) => { await click(p, "Sign in with the browser"); await p.getByTestId("manual-url").waitFor(); }],
  "sign-in, no provider configured": ["signedIn=0&noIssuer=1", (p) => p.getByText("The configuration cannot be used.").waitFor()],
  "sign-in refused acr (French)": ["signedIn=0&signInError=acr_refused&lang=fr", async (p) => { await click(p, "Se connecter avec le navigateur"); await p.getByText("Vous ne pouvez pas accéder", { exact: false }).waitFor(); }],
  overview: ["", (p) => heading(p, "Overview")],
  "overview (French)": ["lang=fr", (p) => heading(p, "Vue d’ensemble")],
  "authenticator apps": ["", (p) => nav(p, "Authenticator apps")],
  "authenticator apps, rename": ["", async (p) => { await nav(p, "Authenticator apps"); await click(p, "Rename Tablet"); }],
  "authenticator apps, delete confirmation": ["", async (p) => { await nav(p, "Authenticator apps"); await click(p, "Delete Tablet"); }],
  "authenticator apps, last factor refused": ["devices=0", async (p) => { await nav(p, "Authenticator apps"); await p.getByTestId("devices-empty").waitFor(); }],
  "add app: name": ["", (p) => addDeviceTo(p, "name")],
  "add app: name missing": ["", (p) => addDeviceTo(p, "name-error")],
  "add app: QR code and secret": ["", (p) => addDeviceTo(p, "scan")],
  "add app: secret copied": ["", async (p) => {
    await addDeviceTo(p, "scan");
    await click(p, "Copy — Secret key");
    await p.getByText("it will be cleared from the clipboard in 30 seconds", { exact: false }).waitFor();
  }],
  "add app: code": ["", (p) => addDeviceTo(p, "code")],
  "add app: wrong code": ["", (p) => addDeviceTo(p, "code-error")],
  "add app: recovery codes": ["devices=0", (p) => addDeviceTo(p, "recovery")],
  "add app: done": ["", (p) => addDeviceTo(p, "done")],
  "trusted browsers": ["", (p) => nav(p, "Trusted browsers")],
  "trusted browsers, revoke all confirmation": ["", async (p) => { await nav(p, "Trusted browsers"); await click(p, "Revoke all"); }],
  activity: ["", async (p) => { await nav(p, "Activity"); await click(p, "Show older events"); }],
  "help desk search": ["helpdesk=1", async (p) => { await nav(p, "Help desk"); await p.getByLabel("User name, email or name (beginning)").fill("b"); await click(p, "Search"); await p.getByRole("button", { name: "Bob Durand (bob)" }).waitFor(); }],
  "help desk user": ["helpdesk=1", helpdeskUser],
  "help desk reason required": ["helpdesk=1", async (p) => { await helpdeskUser(p); await click(p, "Remove Tablet"); await click(p, "Confirm with this reason"); await p.getByText("Give a reason", { exact: false }).first().waitFor(); }],
  settings: ["", (p) => nav(p, "Settings")],
  "settings, managed provider": ["managed=1", (p) => nav(p, "Settings")],
};

let server;
let browser;
let base;

before(async () => {
  await access(join(ROOT, "index.html")).catch(() => {
    throw new Error("dist-mock is missing: run `npx vite build --mode mock --outDir dist-mock` (npm run test:a11y does)");
  });
  await access(CHROMIUM).catch(() => {
    throw new Error(`no Chromium at ${CHROMIUM} (Debian package chromium); set CHROMIUM to another path`);
  });
  server = await serve();
  base = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
});

after(async () => {
  await browser?.close();
  server?.close();
});

for (const scheme of ["light", "dark"]) {
  describe(`${scheme} theme`, () => {
    for (const [name, [query, reach]] of Object.entries(SCREENS)) {
      test(name, async () => {
        const context = await browser.newContext({ colorScheme: scheme, locale: "en-GB", viewport: { width: 960, height: 680 } });
        const page = await context.newPage();
        const pageErrors = [];
        page.on("pageerror", (e) => pageErrors.push(e.message));
        try {
          await page.goto(`${base}?${query}`);
          await reach(page);
          await page.addScriptTag({ path: AXE });
          const result = await page.evaluate(() =>
            // eslint-disable-next-line no-undef
            axe.run(document, { resultTypes: ["violations"] }),
          );
          const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
          const report = bad
            .map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `  ${n.target.join(" ")} — ${n.failureSummary}`).join("\n")}`)
            .join("\n");
          assert.equal(bad.length, 0, `axe found serious/critical violations on "${name}" (${scheme}):\n${report}`);
          assert.deepEqual(pageErrors, [], "the page threw");
        } finally {
          await context.close();
        }
      });
    }
  });
}
