#!/usr/bin/env node
// A stand-in for the system browser, named in BROWSER during the e2e tests:
// it signs the demo user in on the provider's HTML pages with plain HTTP
// (the form fields DESIGN §4 names: username, password, otp), keeping the
// provider's cookies, and follows the redirect to the app's loopback
// callback — what a person would do in a real browser.
//
// Usage: fake-browser.mjs <authorization URL>
// Env: TESSERA_E2E_ACCOUNTS, a JSON file {"use": uid, "accounts": {uid:
// {"password", "totp_secret"}}} — the tests switch accounts by rewriting "use".
import { appendFileSync, readFileSync } from "node:fs";
import { totp } from "./totp.mjs";

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
    const res = await fetch(url, { ...init, redirect: "manual", headers: { ...init.headers, cookie: cookie() } });
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

try {
  const [, , authorize] = process.argv;
  const { use, accounts } = JSON.parse(readFileSync(process.env.TESSERA_E2E_ACCOUNTS, "utf8"));
  const account = accounts[use];
  log(`signing in as ${use}`);
  let page = await go(authorize);
  page = await submit(page, { username: use, password: account.password });
  if (!page.body.includes('name="otp"')) throw new Error(`no code asked after the password: ${page.res.status}`);
  page = await submit(page, { otp: totp(account.totp_secret) });
  log(`ended at ${page.url} with ${page.res.status}`);
  if (!new URL(page.url).pathname.endsWith("/callback")) throw new Error(`did not reach the callback: ${page.url}`);
} catch (e) {
  log(`failed: ${e.stack ?? e}`);
  process.exit(1);
}
