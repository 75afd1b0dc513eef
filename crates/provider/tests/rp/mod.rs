//! A relying party and a form-posting "browser" over real HTTP, to drive the
//! provider's sign-in the way any HTTP client can: follow redirects within
//! the provider, read the hidden inputs of the form, post the fields
//! `username`, `password`, `otp`, `trust_browser`, and stop at the client's
//! redirect URI (nothing listens there; the URL is all we need).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tessera_provider::config::Config;
use tessera_provider::demo::DemoAccounts;
use tessera_provider::store::{Client, Device, EncryptedSecret, PasswordHash, Store, User};
use tessera_provider::testing::TestProvider;
use time::OffsetDateTime;
use url::Url;

use crate::support::{self, StoreGuard};

pub const CLIENT_ID: &str = "tessera-desktop";
pub const PASSWORD_ONLY_CLIENT: &str = "password-only-app";
/// The client's loopback callback; the port is arbitrary (RFC 8252 §7.3).
pub const REDIRECT_URI: &str = "http://127.0.0.1:49321/callback";
pub const MFA_CLAIMS: &str = r#"{"id_token":{"acr":{"essential":true,"values":["eidas1-mfa","https://refeds.org/profile/mfa"]},"amr":{"essential":true}}}"#;

/// One provider on one store, with the demo accounts.
pub struct Env {
    pub store_name: &'static str,
    pub provider: TestProvider,
    pub accounts: DemoAccounts,
    pub store: Arc<dyn Store>,
    _guard: StoreGuard,
}

/// A provider on each store (embedded, then Redis), configured by `tune`.
pub async fn each_env(tune: impl Fn(&mut Config)) -> Vec<Env> {
    let mut envs = Vec::new();
    for (store_name, store, guard) in support::each_store().await {
        let mut config = Config::default();
        tune(&mut config);
        let provider = TestProvider::start(store.clone(), config).await;
        let accounts = provider.seed_demo().await;
        let now = OffsetDateTime::now_utc();
        store
            .create_client(&Client {
                client_id: PASSWORD_ONLY_CLIENT.into(),
                name: "Password-only app".into(),
                redirect_uris: vec!["http://127.0.0.1/callback".into()],
                post_logout_redirect_uris: vec!["http://127.0.0.1/bye".into()],
                public: true,
                secret_hash: None,
                require_mfa: Some(false),
                created_at: now,
            })
            .await
            .unwrap();
        envs.push(Env {
            store_name,
            provider,
            accounts,
            store,
            _guard: guard,
        });
    }
    envs
}

impl Env {
    pub fn issuer(&self) -> &str {
        &self.provider.issuer
    }

    /// Signs the demo user in (see [`sign_in`]), without trusting the browser.
    pub async fn demo_sign_in(
        &self,
        browser: &Browser,
        authorize_url: &str,
        code: Option<&str>,
    ) -> Step {
        sign_in(
            browser,
            authorize_url,
            "demo",
            &self.demo_password(),
            code,
            false,
        )
        .await
    }

    /// A browser in which the demo user signed in with `app`'s next code
    /// and chose to trust it; `authorize_url`'s sign-in completed.
    pub async fn trusted_browser(&self, app: &mut Authenticator, authorize_url: &str) -> Browser {
        let browser = Browser::new(self.issuer());
        let code = app.fresh_code().await;
        let password = self.demo_password();
        let first = sign_in(
            &browser,
            authorize_url,
            "demo",
            &password,
            Some(&code),
            true,
        )
        .await;
        assert!(
            first.callback().contains_key("code"),
            "{}: the first sign-in did not complete",
            self.store_name
        );
        browser
    }

    pub fn demo_password(&self) -> String {
        secrecy::ExposeSecret::expose_secret(&self.accounts.demo.password).to_owned()
    }

    pub fn demo_secret(&self) -> Vec<u8> {
        decode_b32(secrecy::ExposeSecret::expose_secret(
            &self.accounts.demo.totp_secret,
        ))
    }

    /// Adds a user (password "pw-<uid>"), with a TOTP device if `secret` is given.
    pub async fn add_user(
        &self,
        uid: &str,
        secret: Option<&[u8]>,
        attributes: &[(&str, &str)],
    ) -> String {
        let password = format!("pw-{uid}");
        let now = OffsetDateTime::now_utc();
        let user = User {
            uid: uid.into(),
            email: format!("{uid}@example.org"),
            display_name: uid.into(),
            password_hash: PasswordHash(tessera_provider::password::hash(&password)),
            roles: BTreeSet::new(),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).into(), vec![(*v).into()]))
                .collect::<BTreeMap<_, _>>(),
            disabled: false,
            created_at: now,
            devices_reset_at: None,
        };
        self.store.create_user(&user).await.unwrap();
        if let Some(secret) = secret {
            let device = Device {
                id: format!("dev-{uid}"),
                uid: uid.into(),
                name: "test".into(),
                secret: EncryptedSecret(self.provider.app.secret_key.seal(secret, uid)),
                registered_at: now,
                last_used_at: None,
            };
            self.store.create_device(&device).await.unwrap();
        }
        password
    }
}

pub fn decode_b32(s: &str) -> Vec<u8> {
    totp_rs::Secret::Encoded(s.to_owned())
        .to_bytes()
        .expect("base32 secret")
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Authenticator-app codes computed with totp-rs, independent of the
/// provider's TOTP code. Each code is handed out once: the current step,
/// then the next (still valid thanks to ±1 step of skew).
pub struct Authenticator {
    totp: totp_rs::TOTP,
    used: HashSet<u64>,
}

impl Authenticator {
    pub fn new(secret: &[u8]) -> Self {
        let totp = totp_rs::TOTP::new_unchecked(
            totp_rs::Algorithm::SHA1,
            6,
            1,
            30,
            secret.to_vec(),
            None,
            String::new(),
        );
        Authenticator {
            totp,
            used: HashSet::new(),
        }
    }

    /// A code not handed out before. Waits for the next step only when the
    /// current and next steps are both used.
    pub async fn fresh_code(&mut self) -> String {
        loop {
            let step = unix_now() / 30;
            for s in [step, step + 1] {
                if self.used.insert(s) {
                    return self.totp.generate(s * 30);
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    /// Hands out no code of `step` or earlier (a provider refuses them).
    #[allow(dead_code)] // not every test binary restarts a provider
    pub fn skip_through(&mut self, step: u64) {
        self.used.extend(step.saturating_sub(2)..=step);
    }

    /// The code of `step` if it was never handed out.
    #[allow(dead_code)]
    pub fn unused_code_of_step(&self, step: u64) -> Option<String> {
        (!self.used.contains(&step)).then(|| self.totp.generate(step * 30))
    }

    /// The code of the step most recently handed out (to replay it).
    pub fn last_code(&self) -> String {
        let s = *self.used.iter().max().expect("a code was handed out");
        self.totp.generate(s * 30)
    }
}

/// PKCE, state and nonce of one authorization request.
pub struct AuthRequest {
    pub verifier: String,
    pub state: String,
    pub nonce: String,
    pub redirect_uri: String,
    pub client_id: String,
}

impl AuthRequest {
    pub fn new() -> Self {
        Self::for_client(CLIENT_ID, REDIRECT_URI)
    }

    pub fn for_client(client_id: &str, redirect_uri: &str) -> Self {
        let rnd = |n: usize| {
            let bytes: Vec<u8> = (0..n).map(|_| rand_byte()).collect();
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        };
        AuthRequest {
            verifier: rnd(32),
            state: rnd(32),
            nonce: rnd(32),
            redirect_uri: redirect_uri.into(),
            client_id: client_id.into(),
        }
    }

    pub fn challenge(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(self.verifier.as_bytes()))
    }

    /// The authorize URL with `extra` parameters (e.g. claims, prompt).
    pub fn url(&self, issuer: &str, extra: &[(&str, &str)]) -> String {
        let mut url = Url::parse(&format!("{issuer}/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", "openid profile email")
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce)
            .append_pair("code_challenge", &self.challenge())
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            url.query_pairs_mut().append_pair(k, v);
        }
        url.to_string()
    }
}

fn rand_byte() -> u8 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: AtomicU64 = AtomicU64::new(0);
    let mut x = SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        ^ SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x as u8
}

/// Where a browser step ended.
#[derive(Debug)]
pub enum Step {
    /// A provider page (sign-in form, error page).
    Page {
        status: StatusCode,
        url: Url,
        html: String,
    },
    /// A redirect to the client's redirect URI, with its parameters.
    Callback {
        url: Url,
        params: BTreeMap<String, String>,
    },
}

impl Step {
    #[track_caller]
    pub fn page(&self) -> (&StatusCode, &str) {
        match self {
            Step::Page { status, html, .. } => (status, html),
            Step::Callback { url, .. } => panic!("expected a page, got a redirect to {url}"),
        }
    }

    #[track_caller]
    pub fn callback(&self) -> &BTreeMap<String, String> {
        match self {
            Step::Callback { params, .. } => params,
            Step::Page { status, html, url } => {
                panic!("expected a redirect to the client, got {status} {url}:\n{html}")
            }
        }
    }

    pub fn html(&self) -> &str {
        self.page().1
    }
}

/// A browser with a cookie jar that follows redirects within the provider.
pub struct Browser {
    pub http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    issuer: Url,
    pub accept_language: &'static str,
}

impl Browser {
    pub fn new(issuer: &str) -> Browser {
        Self::with_cookie(issuer, None)
    }

    /// A browser starting with one cookie for the provider (e.g. an old session).
    pub fn with_cookie(issuer: &str, cookie: Option<(&str, &str)>) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let url = Url::parse(issuer).unwrap();
        if let Some((name, value)) = cookie {
            jar.add_cookie_str(&format!("{name}={value}; Path=/"), &url);
        }
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
            .build()
            .unwrap();
        Browser {
            http,
            jar,
            issuer: url,
            accept_language: "en",
        }
    }

    /// The value of the provider's cookie `name` in this browser.
    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let header = self.jar.cookies(&self.issuer)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|c| c.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    pub async fn get(&self, url: &str) -> Step {
        let resp = self
            .http
            .get(url)
            .header("accept-language", self.accept_language)
            .send()
            .await
            .unwrap();
        self.follow(resp).await
    }

    async fn follow(&self, mut resp: reqwest::Response) -> Step {
        loop {
            if resp.status().is_redirection() {
                let location = resp.headers()["location"].to_str().unwrap().to_owned();
                let url = resp.url().join(&location).unwrap();
                if url.origin() != self.issuer.origin() {
                    let params = url.query_pairs().into_owned().collect();
                    return Step::Callback { url, params };
                }
                resp = self
                    .http
                    .get(url)
                    .header("accept-language", self.accept_language)
                    .send()
                    .await
                    .unwrap();
                continue;
            }
            let status = resp.status();
            let url = resp.url().clone();
            let html = resp.text().await.unwrap();
            return Step::Page { status, url, html };
        }
    }

    /// Posts the page's form: its hidden inputs plus `fields`.
    pub async fn submit(&self, page: &Step, fields: &[(&str, &str)]) -> Step {
        let html = page.html();
        // A field typed in replaces a hidden one of the same name (the code
        // form names its account in a hidden `username`).
        let mut form: Vec<(String, String)> = hidden_inputs(html)
            .into_iter()
            .filter(|(name, _)| !fields.iter().any(|(k, _)| k == name))
            .collect();
        for (k, v) in fields {
            form.push(((*k).into(), (*v).into()));
        }
        let action = form_action(html).expect("the page has a form");
        let url = self.issuer.join(&action).unwrap();
        let resp = self
            .http
            .post(url)
            .header("accept-language", self.accept_language)
            .form(&form)
            .send()
            .await
            .unwrap();
        self.follow(resp).await
    }
}

/// `(name, value)` of every `<input type="hidden" …>` (attribute order as
/// the provider writes them: type, name, value).
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in html.split("<input type=\"hidden\"").skip(1) {
        let tag = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
        let attr = |name: &str| {
            let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
            let end = tag[start..].find('"')? + start;
            Some(unescape(&tag[start..end]))
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.push((n, v));
        }
    }
    out
}

fn form_action(html: &str) -> Option<String> {
    let start =
        html.find("<form method=\"post\" action=\"")? + "<form method=\"post\" action=\"".len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
        .replace("&#43;", "+")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Token endpoint call for an authorization code.
pub async fn exchange(issuer: &str, req: &AuthRequest, code: &str) -> (StatusCode, Value) {
    exchange_with(
        issuer,
        &req.client_id,
        &req.redirect_uri,
        &req.verifier,
        code,
    )
    .await
}

pub async fn exchange_with(
    issuer: &str,
    client_id: &str,
    redirect_uri: &str,
    verifier: &str,
    code: &str,
) -> (StatusCode, Value) {
    post_form(
        issuer,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn post_form(issuer: &str, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{issuer}{path}"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Token endpoint call for a refresh.
pub async fn refresh(issuer: &str, refresh_token: &str, client_id: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ];
    post_form(issuer, "/token", &form).await
}

/// RFC 7009 revocation by a public client.
pub async fn revoke(issuer: &str, token: &str, client_id: &str) -> (StatusCode, Value) {
    post_form(
        issuer,
        "/revoke",
        &[("token", token), ("client_id", client_id)],
    )
    .await
}

/// The claims of a JWT, unverified (the tests check the signature separately).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

pub fn header(jwt: &str) -> Value {
    let h = jwt.split('.').next().expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(h)
            .unwrap(),
    )
    .unwrap()
}

/// Signs in `uid` through the sign-in pages: password, then a code if one
/// is asked for. Returns the step after the last form.
pub async fn sign_in(
    browser: &Browser,
    authorize_url: &str,
    uid: &str,
    password: &str,
    code: Option<&str>,
    trust: bool,
) -> Step {
    let page = browser.get(authorize_url).await;
    if let Step::Callback { .. } = page {
        return page;
    }
    let after_pw = browser
        .submit(&page, &[("username", uid), ("password", password)])
        .await;
    match (&after_pw, code) {
        (Step::Page { .. }, Some(code)) if after_pw.html().contains("name=\"otp\"") => {
            let mut fields = vec![("otp", code)];
            if trust {
                fields.push(("trust_browser", "on"));
            }
            browser.submit(&after_pw, &fields).await
        }
        _ => after_pw,
    }
}
