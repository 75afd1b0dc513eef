//! A minimal relying party and form-posting browser: authorize → password
//! page → code page → redirect with the code → token endpoint. Cookies are
//! carried by hand (one sign-in = one browser), redirects are followed only
//! within the provider. It speaks HTTP through [`http1::Client`] (one
//! keep-alive connection per closed-loop worker), so that the load
//! generator takes as little of the machine as it can.

use std::collections::BTreeMap;

use base64::Engine;
use reqwest::header::LOCATION;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::http1;

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
    http: &'a http1::Client,
    /// The closed-loop worker, whose connection this browser uses.
    worker: usize,
    issuer: &'a url::Url,
    cookies: BTreeMap<String, String>,
}

enum Step {
    Page(String),
    Callback(url::Url),
}

impl Browser<'_> {
    /// `METHOD target` with this browser's cookies (and a form body).
    fn request(&self, method: &str, target: &str, form: Option<&str>) -> Vec<u8> {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", self.http.host);
        if !self.cookies.is_empty() {
            let pairs: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            head.push_str(&format!("Cookie: {}\r\n", pairs.join("; ")));
        }
        if let Some(body) = form {
            head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        } else {
            head.push_str("\r\n");
        }
        head.into_bytes()
    }

    async fn send(&mut self, mut request: Vec<u8>) -> Result<Step, String> {
        loop {
            let answer = self.http.send(self.worker, &request).await?;
            self.cookies.extend(answer.cookies);
            if (300..400).contains(&answer.status) {
                let location = answer.location.ok_or("redirect without location")?;
                let url = self
                    .issuer
                    .join(&location)
                    .map_err(|e| format!("location: {e}"))?;
                if url.origin() != self.issuer.origin() {
                    return Ok(Step::Callback(url));
                }
                request = self.request("GET", &target(&url), None);
                continue;
            }
            let html = String::from_utf8(answer.body).map_err(|e| format!("body: {e}"))?;
            if answer.status != 200 {
                return Err(format!(
                    "{}: {}",
                    answer.status,
                    &html[..html.len().min(200)]
                ));
            }
            return Ok(Step::Page(html));
        }
    }

    async fn submit(&mut self, page: &str, fields: &[(&str, &str)]) -> Result<Step, String> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(hidden_inputs(page))
            .extend_pairs(fields)
            .finish();
        let request = self.request("POST", "/signin", Some(&body));
        self.send(request).await
    }
}

/// The request target (path and query) of `url`.
fn target(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
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

/// One full sign-in of `uid` by closed-loop worker `worker`; the token
/// endpoint's JSON on success.
pub async fn sign_in(
    http: &http1::Client,
    worker: usize,
    issuer: &str,
    uid: &str,
    password: &str,
    secret: &[u8],
) -> Result<Value, String> {
    let verifier = random();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let issuer = url::Url::parse(issuer).map_err(|e| e.to_string())?;
    let mut authorize = issuer.join("/authorize").map_err(|e| e.to_string())?;
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
        worker,
        issuer: &issuer,
        cookies: BTreeMap::new(),
    };
    let request = browser.request("GET", &target(&authorize), None);
    let Step::Page(page) = browser.send(request).await? else {
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
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("code_verifier", &verifier),
        ])
        .finish();
    // The relying party's own request: none of the browser's cookies.
    browser.cookies.clear();
    let request = browser.request("POST", "/token", Some(&body));
    let answer = http.send(worker, &request).await?;
    let body: Value =
        serde_json::from_slice(&answer.body).map_err(|e| format!("token body: {e}"))?;
    if answer.status == 200 {
        Ok(body)
    } else {
        Err(format!("token {}: {body}", answer.status))
    }
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
