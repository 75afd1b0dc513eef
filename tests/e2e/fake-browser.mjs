#!/usr/bin/env node
// A stand-in for the system browser, named in BROWSER during the e2e tests:
// it signs the demo user in on the provider's HTML pages with plain HTTP
// (the form fields DESIGN §4 names: username, password, otp), keeping the
// provider's cookies, and follows the redirect to the app's loopback
// callback — what a person would do in a real browser.
//
// Usage: fake-browser.mjs <authorization URL>
// Env: TESSERA_E2E_USER, TESSERA_E2E_PASSWORD, TESSERA_E2E_TOTP_SECRET (base32).
import { createHmac } from "node:crypto";
import { appendFileSync } from "node:fs";

const LOG = process.env.TESSERA_E2E_BROWSER_LOG;
// Codes and states are single-use and short-lived, but artefacts are kept: redact them.
const redact = (m) => String(m).replace(/([?&](code|state|nonce|code_challenge)=)[^&\s]+/g, "$1…");
const log = (m) => LOG && appendFileSync(LOG, `${new Date().toISOString()} ${redact(m)}\n`);

function base32(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of s.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238 TOTP, SHA-1, 6 digits, 30 s. */
function totp(secret, at = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac("sha1", base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, "0");
}

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
  let page = await go(authorize);
  page = await submit(page, { username: process.env.TESSERA_E2E_USER, password: process.env.TESSERA_E2E_PASSWORD });
  if (!page.body.includes('name="otp"')) throw new Error(`no code asked after the password: ${page.res.status}`);
  page = await submit(page, { otp: totp(process.env.TESSERA_E2E_TOTP_SECRET) });
  log(`ended at ${page.url} with ${page.res.status}`);
  if (!new URL(page.url).pathname.endsWith("/callback")) throw new Error(`did not reach the callback: ${page.url}`);
} catch (e) {
  log(`failed: ${e.stack ?? e}`);
  process.exit(1);
}
