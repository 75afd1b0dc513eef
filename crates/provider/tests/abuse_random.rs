//! 1,000 random and malformed requests per store across every endpoint
//! (authorize, sign-in forms, token, revocation, userinfo, end-session,
//! discovery, every account API route) with odd ids, bodies, headers and
//! tokens, from a seeded generator. No request may get a 5xx or go
//! unanswered, no handler may panic, every refusal must be the endpoint's
//! documented kind of error (problem+json with a `code` on the API, an OAuth
//! `error` on the token and revocation endpoints, a Bearer challenge on
//! userinfo), and the stored devices stay whole.
//!
//! The seed is printed; rerun a failure with `TESSERA_ABUSE_SEED=<seed>`.

mod rp;
mod support;

use std::collections::BTreeMap;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_api::paths;

use rp::{AuthRequest, Authenticator, Browser, Env, MFA_CLAIMS, Step, each_env, exchange, sign_in};

const REQUESTS_PER_STORE: usize = 1000;
const DEFAULT_SEED: u64 = 0x7E55_E8A0_2026_0001;

/// Panics anywhere in the process (handlers run on the runtime's threads).
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

fn seed() -> u64 {
    match std::env::var("TESSERA_ABUSE_SEED") {
        Ok(s) => {
            let s = s.trim();
            s.strip_prefix("0x")
                .map(|h| u64::from_str_radix(h, 16))
                .unwrap_or_else(|| s.parse())
                .expect("TESSERA_ABUSE_SEED is a decimal or 0x-hex u64")
        }
        Err(_) => DEFAULT_SEED,
    }
}

/// splitmix64: small, seedable, reproducible everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// A string of printable ASCII, control characters or any Unicode.
    fn text(&mut self, max: usize) -> String {
        let n = self.below(max + 1);
        match self.below(3) {
            0 => (0..n)
                .map(|_| (b' ' + (self.next() % 95) as u8) as char)
                .collect(),
            1 => (0..n).map(|_| (self.next() % 32) as u8 as char).collect(),
            _ => (0..n)
                .map(|_| char::from_u32((self.next() % 0x11_0000) as u32).unwrap_or('\u{fffd}'))
                .collect(),
        }
    }

    /// A random JSON value, nested at most a few levels.
    fn json(&mut self, depth: usize) -> Value {
        match self.below(if depth > 3 { 5 } else { 8 }) {
            0 => Value::Null,
            1 => json!(self.chance(50)),
            2 => json!(self.next() as i64),
            3 => json!(f64::from_bits(self.next()).is_finite().then_some(1.5e300)),
            4 => json!(self.text(40)),
            5 => Value::Array((0..self.below(4)).map(|_| self.json(depth + 1)).collect()),
            _ => {
                let mut map = serde_json::Map::new();
                for _ in 0..self.below(4) {
                    let key = self
                        .pick(&["name", "code", "reason", "id", "q", "x", ""])
                        .to_string();
                    map.insert(key, self.json(depth + 1));
                }
                Value::Object(map)
            }
        }
    }
}

/// Valid material the generator mutates: real tokens, ids, a live sign-in.
struct Material {
    access: String,
    helpdesk_access: String,
    refresh: String,
    id_token: String,
    device_id: String,
    pending_id: String,
    /// tx and csrf of a sign-in page in progress.
    signin_fields: Vec<(String, String)>,
    /// Cookies of a browser that signed in (session) and has a pending sign-in.
    browser: reqwest::Client,
    plain: reqwest::Client,
    code_challenge: String,
}

/// What an endpoint must answer when it refuses a request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Account API: `application/problem+json` with `code`, `status`, `detail`.
    Api,
    /// Token and revocation endpoints: JSON `{"error": …}`.
    OAuth,
    /// Userinfo: a Bearer challenge or JSON `{"error": …}`.
    Userinfo,
    /// Pages (authorize, sign-in, logout) and static documents.
    Page,
    /// No such route: a 404 problem (or 405 on a known path).
    Unknown,
}

struct Endpoint {
    methods: &'static [&'static str],
    template: &'static str,
    kind: Kind,
}

const fn ep(methods: &'static [&'static str], template: &'static str, kind: Kind) -> Endpoint {
    Endpoint {
        methods,
        template,
        kind,
    }
}

const ENDPOINTS: &[Endpoint] = &[
    ep(&["GET"], "/authorize", Kind::Page),
    ep(&["GET", "POST"], "/signin", Kind::Page),
    ep(&["POST"], "/token", Kind::OAuth),
    ep(&["POST"], "/revoke", Kind::OAuth),
    ep(&["GET", "POST"], "/userinfo", Kind::Userinfo),
    ep(&["GET", "POST"], "/logout", Kind::Page),
    ep(&["GET"], "/.well-known/openid-configuration", Kind::Page),
    ep(&["GET"], "/jwks", Kind::Page),
    ep(&["GET"], "/healthz", Kind::Page),
    ep(&["GET"], "/static/style.css", Kind::Page),
    ep(&["GET"], paths::OPENAPI, Kind::Page),
    ep(&["GET"], paths::ME, Kind::Api),
    ep(&["GET", "POST"], paths::MY_DEVICES, Kind::Api),
    ep(&["PATCH", "DELETE"], paths::MY_DEVICE, Kind::Api),
    ep(&["POST"], paths::MY_ENROLLMENT_CONFIRM, Kind::Api),
    ep(&["GET", "DELETE"], paths::MY_TRUSTED_BROWSERS, Kind::Api),
    ep(&["DELETE"], paths::MY_TRUSTED_BROWSER, Kind::Api),
    ep(&["POST"], paths::MY_RECOVERY_CODES, Kind::Api),
    ep(&["GET"], paths::MY_ACTIVITY, Kind::Api),
    ep(&["GET"], paths::USERS, Kind::Api),
    ep(&["GET", "DELETE"], paths::USER_DEVICES, Kind::Api),
    ep(&["DELETE"], paths::USER_DEVICE, Kind::Api),
    ep(&["GET", "DELETE"], paths::USER_TRUSTED_BROWSERS, Kind::Api),
    ep(&["DELETE"], paths::USER_TRUSTED_BROWSER, Kind::Api),
    ep(&["GET"], paths::USER_ACTIVITY, Kind::Api),
    ep(&["GET", "POST"], "/api/v1/nope/{id}", Kind::Unknown),
    ep(&["GET", "POST"], "/{id}", Kind::Unknown),
];

const PARAM_NAMES: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "claims",
    "acr_values",
    "prompt",
    "max_age",
    "ui_locales",
    "login_hint",
    "id_token_hint",
    "post_logout_redirect_uri",
    "grant_type",
    "code",
    "code_verifier",
    "refresh_token",
    "token",
    "token_type_hint",
    "client_secret",
    "username",
    "password",
    "otp",
    "trust_browser",
    "tx",
    "csrf",
    "confirm",
    "q",
    "limit",
    "cursor",
    "",
];

impl Material {
    /// An id or uid for a path segment, already percent-encoded when needed.
    fn segment(&self, rng: &mut Rng) -> String {
        let raw: String = match rng.below(14) {
            0 => "demo".into(),
            1 => "helpdesk".into(),
            2 => self.device_id.clone(),
            3 => self.pending_id.clone(),
            4 => format!("{}.{}", rng.next(), rng.next() as i64),
            5 => "x".repeat(rng.below(3000) + 1),
            6 => {
                return rng
                    .pick(&["%00", "%ff", "%2e%2e", "..%2f..", "%", "%zz", "a%2Fb", "-1"])
                    .to_string();
            }
            7 => self.access.clone(),
            8 => "null".into(),
            9 => rng.next().to_string(),
            _ => rng.text(40),
        };
        paths::fill("{s}", &[("s", &raw)])
    }

    fn token(&self, rng: &mut Rng) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        match rng.below(12) {
            0 => self.access.clone(),
            1 => self.helpdesk_access.clone(),
            2 => self.refresh.clone(),
            3 => self.id_token.clone(),
            4 => {
                // One character of the token changed.
                let mut t = self.access.clone().into_bytes();
                let i = rng.below(t.len());
                t[i] = if t[i] == b'A' { b'B' } else { b'A' };
                String::from_utf8(t).unwrap()
            }
            5 => self.access[..rng.below(self.access.len())].to_owned(),
            6 => {
                // alg "none" with the real claims.
                let claims = self.access.split('.').nth(1).unwrap();
                format!(
                    "{}.{claims}.",
                    b64.encode(br#"{"alg":"none","typ":"at+jwt"}"#)
                )
            }
            7 => {
                let parts: Vec<&str> = self.access.split('.').collect();
                format!("{}.{}.{}", parts[0], b64.encode(rng.bytes(200)), parts[2])
            }
            8 => String::new(),
            _ => rng.text(60),
        }
    }

    fn value(&self, rng: &mut Rng, name: &str) -> String {
        if rng.chance(45) {
            let max = *rng.pick(&[8, 64, 600]);
            return rng.text(max);
        }
        match name {
            "response_type" => rng
                .pick(&["code", "token", "code id_token", ""])
                .to_string(),
            "client_id" => rng
                .pick(&[
                    rp::CLIENT_ID,
                    rp::PASSWORD_ONLY_CLIENT,
                    "nope",
                    "tessera-desktop\0",
                ])
                .to_string(),
            "redirect_uri" | "post_logout_redirect_uri" => rng
                .pick(&[
                    rp::REDIRECT_URI,
                    "http://127.0.0.1/logout",
                    "http://evil.example/callback",
                    "http://127.0.0.1:99999/callback",
                    "javascript:alert(1)",
                    "http://[::1/callback",
                ])
                .to_string(),
            "scope" => rng
                .pick(&["openid", "openid profile email", "email", ""])
                .to_string(),
            "code_challenge" => self.code_challenge.clone(),
            "code_challenge_method" => rng.pick(&["S256", "plain", "s256"]).to_string(),
            "claims" => match rng.below(4) {
                0 => MFA_CLAIMS.to_owned(),
                1 => "[".repeat(rng.below(5000)),
                2 => rng.json(0).to_string(),
                _ => r#"{"id_token":{"acr":{"essential":true,"values":[1,null,{}]}}}"#.into(),
            },
            "acr_values" => rng
                .pick(&["eidas1-mfa", "eidas3", "eidas1 eidas1-mfa", ""])
                .to_string(),
            "prompt" => rng
                .pick(&["none", "login", "consent", "none login"])
                .to_string(),
            "max_age" => rng
                .pick(&["0", "-1", "99999999999999999999999", "1e9", "600"])
                .to_string(),
            "grant_type" => rng
                .pick(&[
                    "authorization_code",
                    "refresh_token",
                    "password",
                    "client_credentials",
                ])
                .to_string(),
            "refresh_token" | "token" | "id_token_hint" | "code" => self.token(rng),
            "tx" | "csrf" => {
                let wanted = rng.pick(&["tx", "csrf"]).to_string();
                self.signin_fields
                    .iter()
                    .find(|(k, _)| *k == wanted)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            }
            "username" => rng
                .pick(&["demo", "helpdesk", "nobody", "demo\0"])
                .to_string(),
            "otp" => format!("{:06}", rng.next() % 1_000_000),
            "limit" => rng.pick(&["0", "1", "50", "201", "-5", "abc"]).to_string(),
            "cursor" => rng
                .pick(&["0", "18446744073709551615", "-1", "x"])
                .to_string(),
            _ => rng.text(30),
        }
    }

    fn params(&self, rng: &mut Rng) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if rng.chance(30) {
            // Mostly valid authorization request, then a few changes.
            let req = AuthRequest::new();
            let url = req.url("http://x", &[("claims", MFA_CLAIMS)]);
            out.extend(url::Url::parse(&url).unwrap().query_pairs().into_owned());
        }
        for _ in 0..rng.below(7) {
            let name = *rng.pick(PARAM_NAMES);
            out.push((name.to_owned(), self.value(rng, name)));
        }
        out
    }
}

/// One generated request, described well enough to reproduce it by hand.
struct Generated {
    method: Method,
    kind: Kind,
    url: String,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    with_cookies: bool,
}

fn generate(rng: &mut Rng, m: &Material, issuer: &str) -> Generated {
    let endpoint = rng.pick(ENDPOINTS);
    let method = if rng.chance(88) {
        *rng.pick(endpoint.methods)
    } else {
        *rng.pick(&["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
    };
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut path = endpoint.template.to_owned();
    for name in ["{id}", "{uid}"] {
        if path.contains(name) {
            path = path.replace(name, &m.segment(rng));
        }
    }
    let params = m.params(rng);
    let query = if rng.chance(60) {
        serde_urlencoded::to_string(&params).unwrap()
    } else if rng.chance(20) {
        rng.pick(&[
            "%",
            "a=%ff%fe",
            "a=1&a=2",
            "&&&=",
            "client_id=a&client_id=b",
        ])
        .to_string()
    } else {
        String::new()
    };
    let url = if query.is_empty() {
        format!("{issuer}{path}")
    } else {
        format!("{issuer}{path}?{query}")
    };

    let mut headers = HeaderMap::new();
    let mut add = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    match rng.below(6) {
        0 => {}
        1 | 2 => add("authorization", format!("Bearer {}", m.token(rng))),
        3 => add(
            "authorization",
            format!(
                "{} {}",
                rng.pick(&["bearer", "BEARER", "Basic", "DPoP", "Bearer  "]),
                m.token(rng)
            ),
        ),
        4 => add(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(rng.text(40))
            ),
        ),
        _ => add("authorization", rng.text(80)),
    }
    let content_type = rng
        .pick(&[
            "application/x-www-form-urlencoded",
            "application/json",
            "application/json; charset=utf-16",
            "text/plain",
            "multipart/form-data; boundary=x",
            "",
        ])
        .to_string();
    if !content_type.is_empty() {
        add("content-type", content_type.clone());
    }
    if rng.chance(20) {
        add("accept-language", rng.text(60));
    }
    if rng.chance(15) {
        add("x-forwarded-for", rng.text(40));
    }
    if rng.chance(15) {
        add("user-agent", rng.text(500));
    }
    if rng.chance(10) {
        add(
            "cookie",
            format!(
                "{}={}",
                rng.pick(&["tessera_session", "tessera_signin", "tessera_trusted", "x"]),
                rng.text(60)
            ),
        );
    }

    let body = match (method.as_str(), rng.below(6)) {
        ("GET" | "HEAD" | "OPTIONS", _) | (_, 0) => None,
        (_, 1) => Some(rng.bytes(300)),
        (_, 2) => Some(rng.json(0).to_string().into_bytes()),
        (_, 3) => {
            let key = *rng.pick(&["name", "code", "reason"]);
            Some(json!({ key: m.value(rng, key) }).to_string().into_bytes())
        }
        (_, 4) if rng.chance(10) => Some(vec![b'a'; 70_000]),
        _ => {
            let mut form = m.params(rng);
            if rng.chance(50) {
                form.extend(m.signin_fields.iter().cloned());
            }
            Some(serde_urlencoded::to_string(&form).unwrap().into_bytes())
        }
    };
    Generated {
        method,
        kind: endpoint.kind,
        url,
        headers,
        body,
        with_cookies: rng.chance(40),
    }
}

/// Checks the answer is the endpoint's documented kind of refusal.
fn check_answer(
    g: &Generated,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    if status.is_server_error() {
        return Err(format!("server error {status}"));
    }
    if status.is_success() || status.is_redirection() || g.method == Method::HEAD {
        return Ok(());
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let json: Option<Value> = serde_json::from_slice(body).ok();
    match g.kind {
        Kind::Api | Kind::Unknown
            if status != StatusCode::METHOD_NOT_ALLOWED || g.kind == Kind::Api =>
        {
            let problem = json.ok_or("refusal without a JSON body")?;
            if content_type != "application/problem+json" {
                return Err(format!("content-type {content_type:?}"));
            }
            if !problem["code"].is_string() || problem["status"] != status.as_u16() {
                return Err(format!("not a problem with a code: {problem}"));
            }
            if problem["detail"].as_str().unwrap_or("").is_empty() {
                return Err(format!("problem without detail: {problem}"));
            }
        }
        Kind::OAuth if g.method == Method::POST => {
            let error = json.ok_or("refusal without a JSON body")?;
            if !error["error"].is_string() {
                return Err(format!("OAuth refusal without error: {error}"));
            }
        }
        Kind::Userinfo if matches!(g.method, Method::GET | Method::POST) => {
            let challenge = headers.get("www-authenticate").is_some();
            let error = json.is_some_and(|j| j["error"].is_string());
            if !challenge && !error {
                return Err("userinfo refusal without challenge or error".into());
            }
        }
        _ => {}
    }
    Ok(())
}

async fn material(env: &Env) -> Material {
    let issuer = env.issuer();
    let mut app = Authenticator::new(&env.demo_secret());
    // Fresh connections for every request: a connection the server closes
    // after refusing an unread body must not turn the NEXT request into a
    // "no answer" on the client side.
    let client = || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
    };
    let mut browser = Browser::new(issuer);
    browser.http = client()
        .cookie_provider(std::sync::Arc::new(reqwest::cookie::Jar::default()))
        .user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
        .build()
        .unwrap();
    let req = AuthRequest::new();
    let code = app.fresh_code().await;
    let step = sign_in(
        &browser,
        &req.url(issuer, &[]),
        "demo",
        &env.demo_password(),
        Some(&code),
        false,
    )
    .await;
    let (status, tokens) = exchange(issuer, &req, &step.callback()["code"]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    let helpdesk_browser = Browser::new(issuer);
    let req2 = AuthRequest::new();
    let helpdesk_secret = rp::decode_b32(secrecy::ExposeSecret::expose_secret(
        &env.accounts.helpdesk.totp_secret,
    ));
    let code = Authenticator::new(&helpdesk_secret).fresh_code().await;
    let step = sign_in(
        &helpdesk_browser,
        &req2.url(issuer, &[]),
        "helpdesk",
        secrecy::ExposeSecret::expose_secret(&env.accounts.helpdesk.password),
        Some(&code),
        false,
    )
    .await;
    let (_, helpdesk_tokens) = exchange(issuer, &req2, &step.callback()["code"]).await;

    let plain = client().build().unwrap();
    let devices: Vec<Value> = plain
        .get(format!("{issuer}{}", paths::MY_DEVICES))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pending: Value = plain
        .post(format!("{issuer}{}", paths::MY_DEVICES))
        .bearer_auth(&access)
        .json(&json!({"name": "pending"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A second sign-in in progress in the same browser (prompt=login), so
    // its tx/csrf are live.
    let in_progress = browser
        .get(&AuthRequest::new().url(issuer, &[("prompt", "login")]))
        .await;
    let signin_fields = match &in_progress {
        Step::Page { html, .. } => rp::hidden_inputs(html),
        Step::Callback { .. } => Vec::new(),
    };
    Material {
        access,
        helpdesk_access: helpdesk_tokens["access_token"].as_str().unwrap().to_owned(),
        refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
        id_token: tokens["id_token"].as_str().unwrap().to_owned(),
        device_id: devices[0]["id"].as_str().unwrap().to_owned(),
        pending_id: pending["enrollment_id"].as_str().unwrap().to_owned(),
        signin_fields,
        browser: browser.http.clone(),
        plain,
        code_challenge: AuthRequest::new().challenge(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_malformed_requests_never_get_a_5xx_nor_panic_the_server() {
    count_panics();
    let seed = seed();
    eprintln!("abuse seed: {seed:#x} (rerun with TESSERA_ABUSE_SEED={seed:#x})");
    // High lock-out limits so random forms reach deep into the sign-in.
    for env in each_env(|c| {
        c.rate_limit.account_failures = 100_000;
        c.rate_limit.ip_failures = 100_000;
    })
    .await
    {
        let m = material(&env).await;
        let issuer = env.issuer().to_owned();
        let mut rng = Rng(seed);
        let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
        let panics_before = PANICS.load(Ordering::SeqCst);
        let mut failures = Vec::new();
        for i in 0..REQUESTS_PER_STORE {
            let g = generate(&mut rng, &m, &issuer);
            let client = if g.with_cookies { &m.browser } else { &m.plain };
            let mut request = client
                .request(g.method.clone(), &g.url)
                .headers(g.headers.clone());
            if let Some(body) = &g.body {
                request = request.body(body.clone());
            }
            let describe = || {
                format!(
                    "{} request #{i} (seed {seed:#x}): {} {} headers={:?} body={:?}",
                    env.store_name,
                    g.method,
                    &g.url[..g.url.len().min(300)],
                    g.headers,
                    g.body
                        .as_ref()
                        .map(|b| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned())
                )
            };
            let resp = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("no answer ({e:?}) to {}", describe()));
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap_or_default();
            *statuses.entry(status.as_u16()).or_default() += 1;
            if let Err(why) = check_answer(&g, status, &headers, &body) {
                failures.push(format!(
                    "{why}; answer {status} {:?} to {}",
                    String::from_utf8_lossy(&body[..body.len().min(400)]),
                    describe()
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} bad answers (seed {seed:#x}), the first ones:\n{}",
            failures.len(),
            failures[..failures.len().min(5)].join("\n\n")
        );
        eprintln!("{}: statuses {statuses:?}", env.store_name);
        assert_eq!(
            PANICS.load(Ordering::SeqCst),
            panics_before,
            "{}: a handler panicked (see the output above), seed {seed:#x}",
            env.store_name
        );
        // The generator reached past the front door: successes and several
        // distinct refusals.
        assert!(
            statuses.keys().any(|s| (200..300).contains(s)),
            "{statuses:?}"
        );
        assert!(
            statuses.keys().filter(|s| (400..500).contains(*s)).count() >= 5,
            "{statuses:?}"
        );

        // Still serving, and nothing of the demo user's was lost.
        let resp = m
            .plain
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        // (A random help-desk reset with a valid token and reason may
        // legitimately remove the demo device; whatever remains is whole.)
        for uid in ["demo", "helpdesk"] {
            for d in env.store.list_devices(uid).await.unwrap() {
                assert!(
                    env.store.get_device(uid, &d.id).await.unwrap().is_some(),
                    "{}: {uid}'s listed device {} is not whole",
                    env.store_name,
                    d.id
                );
            }
        }
        let helpdesk = env.store.list_devices("helpdesk").await.unwrap();
        assert_eq!(
            helpdesk.len(),
            1,
            "{}: the help-desk agent cannot lose its only device",
            env.store_name
        );
    }
}
