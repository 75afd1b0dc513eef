#!/usr/bin/env node
// A stand-in for the system browser, named in BROWSER during the e2e tests:
// it signs the demo user in on the provider's HTML pages with plain HTTP
// (the form fields DESIGN §4 names: username, password, otp, trust_browser),
// keeping the provider's cookies, and follows the redirect to the app's
// loopback callback — what a person would do in a real browser.
//
// Like a person at their own computer, it ticks "trust this browser" on the
// code form, so the provider records a trusted browser at each sign-in. Each
// run is a fresh browser (no cookie survives it), so the provider never
// recognises one and always asks for the code.
//
// An account left without an authenticator sets one up on the code form
// (the secret shown there becomes the account's, in the accounts file).
//
// The provider refuses a code already used (replay): before typing one, the
// fake browser waits for the next 30-s window if the last code it typed from
// this secret came from the current one (kept in <accounts file>.steps, by a
// hash of the secret).
//
// Usage: fake-browser.mjs <authorization URL>
// Env: TESSERA_E2E_ACCOUNTS, a JSON file {"use": uid, "accounts": {uid:
// {"password", "totp_secret"}}} — the tests switch accounts by rewriting "use".
// TESSERA_E2E_BROWSER_LOG: where each request and outcome is logged; each
// successful sign-in ends with the line "signed in as <uid>".
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { STEP_SECS, totp } from "./totp.mjs";

// The provider names trusted browsers from this ("Firefox on Linux").
const USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 tessera-e2e";

const LOG = process.env.TESSERA_E2E_BROWSER_LOG;
// Codes and states are single-use and short-lived, but artefacts are kept: redact them.
const redact = (m) => String(m).replace(/([?&](code|state|nonce|code_challenge)=)[^&\s]+/g, "$1…");
const log = (m) => LOG && appendFileSync(LOG, `${new Date().toISOString()} ${redact(m)}\n`);

const jar = new Map();
function remember(res) {
  for (const c of res.headers.getSetCookie?.() ?? []) {
    const [pair] = c.split(";");
    const i = pair.indexOf("=");
    jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
  }
}
const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");

/** Follows redirects by hand so cookies are kept; stops at the loopback callback. */
async function go(url, init = {}) {
  for (let hops = 0; hops < 10; hops++) {
    log(`${init.method ?? "GET"} ${url}`);
    const res = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: { ...init.headers, cookie: cookie(), "user-agent": USER_AGENT },
    });
    remember(res);
    const next = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && next) {
      url = new URL(next, url).toString();
      init = {};
      continue;
    }
    return { url, res, body: await res.text() };
  }
  throw new Error("too many redirects");
}

const field = (html, name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1] ?? "";

async function submit(page, fields) {
  const body = new URLSearchParams({ tx: field(page.body, "tx"), csrf: field(page.body, "csrf"), ...fields });
  return go(new URL("/signin", page.url).toString(), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body,
  });
}

/** The TOTP time step of `at` (ms). */
const stepOf = (at) => Math.floor(at / 1000 / STEP_SECS);

/** The last TOTP step used per secret, shared by every fake-browser run. */
const stepsFile = `${process.env.TESSERA_E2E_ACCOUNTS}.steps`;
const usedSteps = () => (existsSync(stepsFile) ? JSON.parse(readFileSync(stepsFile, "utf8")) : {});
const secretKey = (secret) => createHash("sha256").update(secret).digest("hex").slice(0, 16);

/** A code of `uid`'s `secret` from a window not used yet, waiting for the next one if needed. */
async function freshCode(uid, secret) {
  const last = usedSteps()[secretKey(secret)];
  if (last !== undefined && stepOf(Date.now()) <= last) {
    const until = (last + 1) * STEP_SECS * 1000 + 200;
    log(`waiting ${Math.ceil((until - Date.now()) / 1000)} s for a TOTP window not used yet by ${uid}`);
    await new Promise((r) => setTimeout(r, until - Date.now()));
  }
  const now = Date.now();
  return { code: totp(secret, now), step: stepOf(now) };
}

try {
  const [, , authorize] = process.argv;
  const { use, accounts } = JSON.parse(readFileSync(process.env.TESSERA_E2E_ACCOUNTS, "utf8"));
  const account = accounts[use];
  log(`signing in as ${use}`);
  let page = await go(authorize);
  page = await submit(page, { username: use, password: account.password });
  if (!page.body.includes('name="otp"')) throw new Error(`no code asked after the password: ${page.res.status}`);
  if (!page.body.includes('name="trust_browser"')) throw new Error("the code form offers no \"trust this browser\"");
  // An account without an authenticator (reset by the help desk) sets one up
  // on the code form: the secret is on the page; from now on it is the
  // account's secret.
  const enrolSecret = page.body.match(/<code id="secret">([A-Z2-7 ]+)<\/code>/)?.[1].replace(/ /g, "");
  if (enrolSecret) {
    log(`setting up a new authenticator for ${use} on the sign-in page`);
    const file = JSON.parse(readFileSync(process.env.TESSERA_E2E_ACCOUNTS, "utf8"));
    file.accounts[use].totp_secret = enrolSecret;
    writeFileSync(process.env.TESSERA_E2E_ACCOUNTS, JSON.stringify(file), { mode: 0o600 });
  }
  const secret = enrolSecret ?? account.totp_secret;
  const { code, step } = await freshCode(use, secret);
  page = await submit(page, { otp: code, trust_browser: "on" });
  if (enrolSecret) {
    // A first app comes with recovery codes, shown once before the sign-in
    // completes; a person saves them and says so.
    const codes = [...page.body.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].length;
    if (!page.body.includes('id="recovery-codes"') || codes !== 10)
      throw new Error(`no recovery codes after setting up an app (${codes} codes, ${page.res.status})`);
    log(`${codes} recovery codes shown; saved, continuing`);
    page = await submit(page, { saved: "1" });
  }
  log(`ended at ${page.url} with ${page.res.status}`);
  if (!new URL(page.url).pathname.endsWith("/callback")) throw new Error(`did not reach the callback: ${page.url}`);
  writeFileSync(stepsFile, JSON.stringify({ ...usedSteps(), [secretKey(secret)]: step }));
  log(`signed in as ${use}`);
} catch (e) {
  log(`failed: ${e.stack ?? e}`);
  process.exit(1);
}
