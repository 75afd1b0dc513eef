// A relying party built on openid-client (panva, OpenID certified) against
// the Tessera provider: discovery, authorization code + PKCE + claims (MFA
// acr), the sign-in forms posted like a browser would, the code exchange with
// full ID token validation (ES256 signature from the JWKS, iss, aud, nonce,
// RFC 9207 iss), userinfo, refresh, revocation and the end-session URL.
//
// Usage: ISSUER=… PASSWORD=… TOTP_SECRET=<base32> node rp.mjs
// Prints one JSON object on success; exits non-zero with the reason otherwise.

import crypto from 'node:crypto'
import * as client from 'openid-client'

const issuer = process.env.ISSUER
const password = process.env.PASSWORD
const totpSecret = process.env.TOTP_SECRET
const redirectUri = 'http://127.0.0.1:49400/callback'
const claims = {
  id_token: {
    acr: { essential: true, values: ['eidas1-mfa', 'https://refeds.org/profile/mfa'] },
    amr: { essential: true },
  },
}

function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = ''
  for (const c of s.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0')
  const bytes = []
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2))
  return Buffer.from(bytes)
}

// RFC 6238 with SHA-1, 6 digits, 30-second steps, independent of the provider's code.
function totp(secret, step) {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(step))
  const mac = crypto.createHmac('sha1', secret).update(counter).digest()
  const offset = mac[mac.length - 1] & 0x0f
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000
  return String(value).padStart(6, '0')
}

// A minimal browser: a cookie jar and manual redirects within the provider.
const jar = new Map()
async function browse(url, init = {}) {
  for (;;) {
    const headers = { ...(init.headers || {}), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') }
    const res = await fetch(url, { ...init, headers, redirect: 'manual' })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const [name, value] = pair.split('=')
      if (value === '') jar.delete(name)
      else jar.set(name, value)
    }
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location'), url)
      if (next.origin !== new URL(issuer).origin) return { callback: next }
      url = next
      init = {}
      continue
    }
    return { status: res.status, html: await res.text(), url }
  }
}

function hiddenInputs(html) {
  const out = {}
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) out[m[1]] = m[2]
  return out
}

async function post(page, fields) {
  const body = new URLSearchParams({ ...hiddenInputs(page.html), ...fields })
  return browse(new URL('/signin', issuer), {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
}

function fail(message) {
  console.error(message)
  process.exit(1)
}

const config = await client.discovery(new URL(issuer), 'tessera-desktop', undefined, client.None(), {
  execute: [client.allowInsecureRequests],
})
const meta = config.serverMetadata()
if (!meta.acr_values_supported?.includes('eidas1-mfa')) fail('eidas1-mfa not offered')

const codeVerifier = client.randomPKCECodeVerifier()
const state = client.randomState()
const nonce = client.randomNonce()
const authUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email',
  code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
  code_challenge_method: 'S256',
  state,
  nonce,
  claims: JSON.stringify(claims),
})

const login = await browse(authUrl)
if (!login.html?.includes('name="password"')) fail(`no password form: ${login.status}`)
const second = await post(login, { username: 'demo', password })
if (!second.html?.includes('name="otp"')) fail(`no code form: ${second.status}`)
const done = await post(second, { otp: totp(base32Decode(totpSecret), Math.floor(Date.now() / 1000 / 30)) })
if (!done.callback) fail(`no redirect to the client: ${done.status} ${done.html}`)

const tokens = await client.authorizationCodeGrant(config, done.callback, {
  pkceCodeVerifier: codeVerifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
})
const idClaims = tokens.claims()
const userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' })
let reuseRefused = false
try {
  await client.refreshTokenGrant(config, refreshed.refresh_token)
} catch (e) {
  reuseRefused = e.error === 'invalid_grant'
}
const endSession = client.buildEndSessionUrl(config, {
  id_token_hint: tokens.id_token,
  post_logout_redirect_uri: 'http://127.0.0.1:49400/logout',
  state: 'bye',
})
const logout = await browse(endSession)

console.log(
  JSON.stringify({
    sub: idClaims.sub,
    acr: idClaims.acr,
    amr: idClaims.amr,
    auth_time: idClaims.auth_time,
    userinfo_email: userinfo.email,
    refreshed_acr: refreshed.claims()?.acr,
    revoked_refresh_refused: reuseRefused,
    logout_state: logout.callback?.searchParams.get('state') ?? null,
  }),
)
