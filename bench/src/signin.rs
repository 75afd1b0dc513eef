//! A minimal relying party and form-posting browser: authorize → password
//! page → code page → redirect with the code → token endpoint. Cookies are
//! carried by hand (one sign-in = one browser), redirects are followed only
//! within the provider.

use std::collections::BTreeMap;

use base64::Engine;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "tessera-desktop";
pub const REDIRECT_URI: &str = "http://127.0.0.1:49321/callback";

/// The current TOTP code of `secret` (RFC 6238, SHA-1, 6 digits, 30 s),
/// computed independently of the provider's code.
pub fn totp_code(secret: &[u8]) -> String {
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret.to_vec(),
        None,
        String::new(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    totp.generate(now)
}

struct Browser<'a> {
    http: &'a reqwest::Client,
    issuer: &'a str,
    cookies: BTreeMap<String, String>,
}

enum Step {
    Page(String),
    Callback(url::Url),
}

impl Browser<'_> {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, mut req: reqwest::RequestBuilder) -> Result<Step, String> {
        loop {
            if !self.cookies.is_empty() {
                req = req.header(COOKIE, self.cookie_header());
            }
            let resp = req.send().await.map_err(|e| format!("send: {e}"))?;
            for c in resp.headers().get_all(SET_COOKIE) {
                let c = c.to_str().unwrap_or("");
                if let Some((name, rest)) = c.split_once('=') {
                    let value = rest.split(';').next().unwrap_or("");
                    self.cookies
                        .insert(name.trim().to_owned(), value.to_owned());
                }
            }
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or("redirect without location")?;
                let url = resp
                    .url()
                    .join(location)
                    .map_err(|e| format!("location: {e}"))?;
                if !url.as_str().starts_with(self.issuer) {
                    return Ok(Step::Callback(url));
                }
                req = self.http.get(url);
                continue;
            }
            let html = resp.text().await.map_err(|e| format!("body: {e}"))?;
            if !status.is_success() {
                return Err(format!("{status}: {}", &html[..html.len().min(200)]));
            }
            return Ok(Step::Page(html));
        }
    }

    async fn submit(&mut self, page: &str, fields: &[(&str, &str)]) -> Result<Step, String> {
        let mut form: Vec<(String, String)> = hidden_inputs(page);
        form.extend(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let req = self
            .http
            .post(format!("{}/signin", self.issuer))
            .form(&form);
        self.send(req).await
    }
}

/// `(name, value)` of every `<input type="hidden" name=… value=…>`.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in html.split("<input type=\"hidden\"").skip(1) {
        let tag = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
        let attr = |name: &str| {
            let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
            let end = tag[start..].find('"')? + start;
            Some(
                tag[start..end]
                    .replace("&#x2f;", "/")
                    .replace("&#x3d;", "=")
                    .replace("&#43;", "+")
                    .replace("&amp;", "&"),
            )
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.push((n, v));
        }
    }
    out
}

fn random() -> String {
    tessera_provider::crypto::random_token(32)
}

/// One full sign-in of `uid`; the token endpoint's JSON on success.
pub async fn sign_in(
    http: &reqwest::Client,
    issuer: &str,
    uid: &str,
    password: &str,
    secret: &[u8],
) -> Result<Value, String> {
    let verifier = random();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let mut authorize =
        url::Url::parse(&format!("{issuer}/authorize")).map_err(|e| e.to_string())?;
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid profile email")
        .append_pair("state", &random())
        .append_pair("nonce", &random())
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut browser = Browser {
        http,
        issuer,
        cookies: BTreeMap::new(),
    };
    let Step::Page(page) = browser.send(http.get(authorize)).await? else {
        return Err("authorize went straight back to the client".into());
    };
    let step = browser
        .submit(&page, &[("username", uid), ("password", password)])
        .await?;
    let Step::Page(code_page) = step else {
        return Err("no code asked".into());
    };
    if !code_page.contains("name=\"otp\"") {
        return Err("the password was refused".into());
    }
    let code = totp_code(secret);
    let Step::Callback(callback) = browser.submit(&code_page, &[("otp", &code)]).await? else {
        return Err("the code was refused".into());
    };
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| format!("callback without code: {callback}"))?;
    token(
        http,
        issuer,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("code_verifier", &verifier),
        ],
    )
    .await
}

/// A token endpoint call; its JSON on 200.
pub async fn token(
    http: &reqwest::Client,
    issuer: &str,
    form: &[(&str, &str)],
) -> Result<Value, String> {
    let resp = http
        .post(format!("{issuer}/token"))
        .form(form)
        .send()
        .await
        .map_err(|e| format!("token: {e}"))?;
    let status = resp.status();
    let body: Value = resp.json().await.map_err(|e| format!("token body: {e}"))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("token {status}: {body}"))
    }
}

/// An authorization-code flow against any provider whose sign-in completes
/// through redirects alone (the `oidc-provider` peer logs its user in and
/// grants consent without a page); the token endpoint's JSON.
pub async fn code_flow_without_pages(
    http: &reqwest::Client,
    issuer: &str,
    authorization_endpoint: &str,
    token_endpoint: &str,
    scope: &str,
) -> Result<Value, String> {
    let verifier = random();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let redirect_uri = "http://127.0.0.1/callback";
    let mut authorize = url::Url::parse(authorization_endpoint).map_err(|e| e.to_string())?;
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", scope)
        .append_pair("prompt", "consent")
        .append_pair("state", &random())
        .append_pair("nonce", &random())
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    // `http` must carry a path-aware cookie store (the peer scopes its
    // interaction cookies by path); redirects are followed here.
    let mut next = authorize;
    let callback = loop {
        let resp = http
            .get(next.clone())
            .send()
            .await
            .map_err(|e| format!("send: {e}"))?;
        if !resp.status().is_redirection() {
            return Err(format!(
                "the peer answered {} instead of redirecting",
                resp.status()
            ));
        }
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or("redirect without location")?;
        next = next.join(location).map_err(|e| format!("location: {e}"))?;
        if !next.as_str().starts_with(issuer) {
            break next;
        }
    };
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| format!("callback without code: {callback}"))?;
    let resp = http
        .post(token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("client_id", CLIENT_ID),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("token: {e}"))?;
    let status = resp.status();
    let body: Value = resp.json().await.map_err(|e| format!("token body: {e}"))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("token {status}: {body}"))
    }
}
