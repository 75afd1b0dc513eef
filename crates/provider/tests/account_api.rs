//! The account API over real HTTP on 127.0.0.1, on both stores (embedded and
//! a real redis-server): every route's success path, every error code, IDOR
//! attempts, token abuse, step-up, help-desk rules, concurrency, audit, and
//! every response checked against the served OpenAPI document.
//!
//! Tokens are minted with the provider's own signing key through its token
//! module (the code path of the token endpoint); one test goes through the
//! real sign-in pages and token endpoint.

mod rp;
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_api::paths;
use tessera_provider::config::Config;
use tessera_provider::store::{
    Device, EncryptedSecret, PasswordHash, PendingEnrollment, Store, TrustedBrowser, User,
};
use tessera_provider::testing::TestProvider;
use tessera_provider::tokens::{self, AccessClaims, Grant};
use time::OffsetDateTime;

use rp::Authenticator;
use support::StoreGuard;

const UA: &str = "account-api-tests/1.0";

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

struct Env {
    name: &'static str,
    provider: TestProvider,
    store: Arc<dyn Store>,
    guard: StoreGuard,
    http: reqwest::Client,
    /// The served OpenAPI document, against which every response is checked.
    doc: Value,
}

/// A provider on each store with users `alice` (two devices), `bob` (one
/// device), `newbie` (none), `agent` (role helpdesk, one device).
async fn each_env() -> Vec<Env> {
    each_env_with(|_| {}).await
}

async fn each_env_with(tune: impl Fn(&mut Config)) -> Vec<Env> {
    let mut envs = Vec::new();
    for (name, store, guard) in support::each_store().await {
        let mut config = Config::default();
        tune(&mut config);
        let provider = TestProvider::start(store.clone(), config).await;
        provider.seed_demo().await;
        let http = reqwest::Client::builder().user_agent(UA).build().unwrap();
        let doc: Value = http
            .get(format!("{}{}", provider.issuer, paths::OPENAPI))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let env = Env {
            name,
            provider,
            store,
            guard,
            http,
            doc,
        };
        env.add_user("alice", &[], &["alice-phone", "alice-tablet"])
            .await;
        env.add_user("bob", &[], &["bob-phone"]).await;
        env.add_user("newbie", &[], &[]).await;
        env.add_user("agent", &["helpdesk"], &["agent-phone"]).await;
        envs.push(env);
    }
    envs
}

/// The TOTP secret of test device `id` (deterministic, 20 bytes).
fn secret_of(id: &str) -> Vec<u8> {
    format!("{id:-<20}").as_bytes()[..20].to_vec()
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Resp {
    #[track_caller]
    fn code(&self) -> &str {
        self.body["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no problem code in {}", self.body))
    }

    #[track_caller]
    fn problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.code(), code, "{}", self.body);
        assert_eq!(self.headers["content-type"], "application/problem+json");
        assert_eq!(self.body["status"], status);
        assert!(!self.body["detail"].as_str().unwrap().is_empty());
        self
    }

    #[track_caller]
    fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        &self.body
    }

    fn challenge(&self) -> &str {
        self.headers
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

impl Env {
    fn issuer(&self) -> &str {
        &self.provider.issuer
    }

    async fn add_user(&self, uid: &str, roles: &[&str], devices: &[&str]) {
        let now = OffsetDateTime::now_utc();
        let user = User {
            uid: uid.into(),
            email: format!("{uid}@example.org"),
            display_name: format!("{uid} Example"),
            password_hash: PasswordHash(tessera_provider::password::hash(&format!("pw-{uid}"))),
            roles: roles
                .iter()
                .map(|r| (*r).to_owned())
                .collect::<BTreeSet<_>>(),
            attributes: Default::default(),
            disabled: false,
            created_at: now,
            devices_reset_at: None,
        };
        self.store.create_user(&user).await.unwrap();
        self.add_devices(uid, devices).await;
    }

    /// Devices `ids` of `uid`, with the secrets of [`secret_of`].
    async fn add_devices(&self, uid: &str, devices: &[&str]) {
        let now = OffsetDateTime::now_utc();
        for (i, id) in devices.iter().enumerate() {
            let device = Device {
                id: (*id).into(),
                uid: uid.into(),
                name: format!("Device {i}"),
                secret: EncryptedSecret(self.provider.app.secret_key.seal(&secret_of(id), uid)),
                registered_at: now + time::Duration::seconds(i as i64),
                last_used_at: None,
            };
            self.store.create_device(&device).await.unwrap();
        }
    }

    async fn mint(
        &self,
        uid: &str,
        auth_age_secs: i64,
        amr: &[&str],
        issued_ago_secs: i64,
    ) -> String {
        self.mint_for(rp::CLIENT_ID, uid, auth_age_secs, amr, issued_ago_secs)
            .await
    }

    /// [`Self::mint`] for the client `client_id`.
    async fn mint_for(
        &self,
        client_id: &str,
        uid: &str,
        auth_age_secs: i64,
        amr: &[&str],
        issued_ago_secs: i64,
    ) -> String {
        let user = self
            .store
            .get_user(uid)
            .await
            .unwrap()
            .expect("user exists");
        let now = OffsetDateTime::now_utc();
        let grant = Grant {
            client_id: client_id.into(),
            scope: "openid profile email".into(),
            acr: Some("eidas1-mfa".into()),
            amr: amr.iter().map(|s| (*s).to_owned()).collect(),
            auth_time: now - time::Duration::seconds(auth_age_secs),
            nonce: None,
        };
        tokens::access_token(
            &self.provider.app,
            &user,
            &grant,
            now - time::Duration::seconds(issued_ago_secs),
        )
        .0
    }

    /// A token of a sign-in that just happened with password and code.
    async fn fresh(&self, uid: &str) -> String {
        self.mint(uid, 5, &["pwd", "otp", "mfa"], 0).await
    }

    /// A valid token whose sign-in is too old for destructive changes.
    async fn stale(&self, uid: &str) -> String {
        self.mint(uid, 3600, &["pwd", "otp", "mfa"], 0).await
    }

    /// Calls `method template` (placeholders filled from `params`) and checks
    /// the answer against the OpenAPI document: its status must be documented
    /// for this operation and its body must validate against the schema.
    async fn call(
        &self,
        method: Method,
        template: &str,
        params: &[(&str, &str)],
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let path = paths::fill(template, params);
        self.call_path(method, template, &path, token, body).await
    }

    async fn call_path(
        &self,
        method: Method,
        template: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.issuer()));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        check_against_document(&self.doc, &method, template, status, &headers, &body);
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, template: &str, params: &[(&str, &str)], token: &str) -> Resp {
        self.call(Method::GET, template, params, Some(token), None)
            .await
    }

    async fn device_ids(&self, uid: &str) -> Vec<String> {
        self.store
            .list_devices(uid)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect()
    }

    async fn trust_browser(&self, uid: &str, id: &str) {
        let now = OffsetDateTime::now_utc();
        self.store
            .create_trusted_browser(&TrustedBrowser {
                id: id.into(),
                uid: uid.into(),
                name: "Firefox on Linux".into(),
                token_hash: tessera_provider::store::hash_token(format!("cookie-{id}").as_bytes()),
                created_at: now,
                last_used_at: None,
                expires_at: now + time::Duration::days(7),
            })
            .await
            .unwrap();
    }
}

/// The response schema the document gives for this operation and status,
/// with the document's components so that `$ref`s resolve.
#[track_caller]
fn check_against_document(
    doc: &Value,
    method: &Method,
    template: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &Value,
) {
    let op = &doc["paths"][template][method.as_str().to_lowercase()];
    assert!(
        op.is_object(),
        "{method} {template} is not in the OpenAPI document"
    );
    let response = &op["responses"][status.as_str()];
    assert!(
        response.is_object(),
        "{method} {template} answered {status}, which the document does not list: {body}"
    );
    let Some(content) = response["content"].as_object() else {
        assert!(
            body.is_null(),
            "{method} {template} {status}: undocumented body {body}"
        );
        return;
    };
    let ct = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap())
        .unwrap_or("");
    let (_, media) = content
        .iter()
        .find(|(name, _)| ct.starts_with(name.as_str()))
        .unwrap_or_else(|| {
            panic!("{method} {template} {status}: content type {ct:?} not documented")
        });
    let mut schema = media["schema"].clone();
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    schema["components"] = doc["components"].clone();
    let validator = jsonschema::validator_for(&schema).expect("the document's schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {template} {status}: body {body} does not match its schema: {errors:?}"
    );
}

fn problem_json() -> &'static str {
    "application/problem+json"
}

// ---------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------

#[tokio::test]
async fn me_describes_the_bearer_and_their_factors() {
    for env in each_env().await {
        let token = env.fresh("alice").await;
        let me = env.get(paths::ME, &[], &token).await;
        let me = me.ok(200);
        assert_eq!(me["uid"], "alice", "{}", env.name);
        assert_eq!(me["name"], "alice Example");
        assert_eq!(me["email"], "alice@example.org");
        assert_eq!(me["acr"], "eidas1-mfa");
        assert_eq!(me["amr"], json!(["pwd", "otp", "mfa"]));
        assert_eq!(me["mfa_required"], true);
        assert_eq!(me["device_count"], 2);
        assert_eq!(me["recovery_codes_left"], 0);
        assert_eq!(me["trusted_browser_count"], 0);
        assert_eq!(me["roles"], json!([]));
        let auth_time = OffsetDateTime::parse(
            me["auth_time"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!((OffsetDateTime::now_utc() - auth_time).whole_seconds() < 120);

        let agent = env.get(paths::ME, &[], &env.fresh("agent").await).await;
        assert_eq!(agent.ok(200)["roles"], json!(["helpdesk"]));
    }
}

#[tokio::test]
async fn missing_expired_forged_and_misdirected_tokens_are_refused() {
    for env in each_env().await {
        let app = &env.provider.app;
        // No token at all: a bare challenge (RFC 6750 §3.1).
        let r = env.call(Method::GET, paths::ME, &[], None, None).await;
        r.problem(401, "unauthorized");
        assert_eq!(r.challenge(), r#"Bearer realm="tessera""#, "{}", env.name);

        let user = env.store.get_user("alice").await.unwrap().unwrap();
        let now = OffsetDateTime::now_utc();
        let good = |claims: &AccessClaims| app.keys().sign(tokens::ACCESS_TOKEN_TYP, claims);
        let (_, base) = tokens::access_token(
            app,
            &user,
            &Grant {
                client_id: rp::CLIENT_ID.into(),
                scope: "openid".into(),
                acr: None,
                amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
                auth_time: now,
                nonce: None,
            },
            now,
        );
        let other_key = tessera_provider::jwt::SigningKeys::generate();
        let forged_payload = {
            // alice's valid token with bob as subject, signature kept.
            let t = good(&base);
            let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
            let evil = AccessClaims {
                sub: "bob".into(),
                ..base.clone()
            };
            parts[1] = tessera_provider::crypto::b64url(&serde_json::to_vec(&evil).unwrap());
            parts.join(".")
        };
        let cases: Vec<(&str, String)> = vec![
            (
                "expired",
                env.mint("alice", 7200, &["pwd", "otp", "mfa"], 3600).await,
            ),
            (
                "other audience",
                good(&AccessClaims {
                    aud: "https://elsewhere.example/api".into(),
                    ..base.clone()
                }),
            ),
            (
                "other issuer",
                good(&AccessClaims {
                    iss: "https://evil.example".into(),
                    ..base.clone()
                }),
            ),
            (
                "signed by another key",
                other_key.sign(tokens::ACCESS_TOKEN_TYP, &base),
            ),
            ("payload swapped", forged_payload),
            ("an ID token (typ JWT)", app.keys().sign("JWT", &base)),
            ("garbage", "not-a-jwt".into()),
            (
                "unknown user",
                good(&AccessClaims {
                    sub: "ghost".into(),
                    ..base.clone()
                }),
            ),
        ];
        for (what, token) in cases {
            let r = env.get(paths::MY_DEVICES, &[], &token).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{}: {what}: {}",
                env.name,
                r.body
            );
            r.problem(401, "unauthorized");
            assert!(
                r.challenge().contains(r#"error="invalid_token""#),
                "{what}: {}",
                r.challenge()
            );
        }
        // Basic credentials are not a bearer token.
        let r = env
            .http
            .get(format!("{}{}", env.issuer(), paths::ME))
            .basic_auth("alice", Some("pw-alice"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()["content-type"], problem_json());
    }
}

#[tokio::test]
async fn revoked_tokens_and_disabled_accounts_are_refused_even_after_a_cached_success() {
    for env in each_env().await {
        let token = env.fresh("alice").await;
        env.get(paths::ME, &[], &token).await.ok(200);
        // userinfo shares the cache of verified tokens.
        let userinfo = || {
            env.http
                .get(format!("{}/userinfo", env.issuer()))
                .bearer_auth(&token)
                .send()
        };
        let r = userinfo().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["sub"], "alice");
        // Revoked through the provider's RFC 7009 endpoint, as a client would.
        let (status, body) = rp::post_form(
            env.issuer(),
            "/revoke",
            &[
                ("token", token.as_str()),
                ("token_type_hint", "access_token"),
                ("client_id", rp::CLIENT_ID),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", env.name);
        let r = env.get(paths::ME, &[], &token).await;
        r.problem(401, "unauthorized");
        assert!(
            r.body["detail"].as_str().unwrap().contains("revoked"),
            "{}",
            env.name
        );
        let r = userinfo().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let challenge = r.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );

        let bob = env.fresh("bob").await;
        env.get(paths::ME, &[], &bob).await.ok(200);
        env.store.set_user_disabled("bob", true).await.unwrap();
        env.get(paths::ME, &[], &bob)
            .await
            .problem(401, "unauthorized");
    }
}

#[tokio::test]
async fn a_store_that_is_down_answers_503_unavailable() {
    let envs = each_env().await;
    for mut env in envs {
        let token = env.fresh("alice").await;
        let Some(redis) = env.guard.redis() else {
            continue;
        };
        redis.stop();
        let r = env.get(paths::MY_DEVICES, &[], &token).await;
        r.problem(503, "unavailable");
        // A change attempted while the store is down changes nothing and says so.
        env.call(
            Method::DELETE,
            paths::MY_DEVICE,
            &[("id", "alice-tablet")],
            Some(&token),
            None,
        )
        .await
        .problem(503, "unavailable");

        // Redis comes back (empty: the test server keeps no data): the API
        // reconnects by itself.
        env.guard.redis().unwrap().restart();
        env.add_user("alice", &[], &["alice-phone"]).await;
        let mut answered = None;
        for _ in 0..50 {
            let r = env.get(paths::MY_DEVICES, &[], &token).await;
            if r.status != StatusCode::SERVICE_UNAVAILABLE {
                answered = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let r = answered.expect("the API answers again after Redis restarts");
        assert_eq!(r.ok(200)[0]["id"], "alice-phone");
    }
}

// ---------------------------------------------------------------------------
// Enrolment
// ---------------------------------------------------------------------------

#[tokio::test]
async fn enrolment_starts_pending_then_a_valid_code_stores_the_device_and_first_gives_recovery_codes()
 {
    for env in each_env().await {
        let token = env.fresh("newbie").await;
        let started = env
            .call(
                Method::POST,
                paths::MY_DEVICES,
                &[],
                Some(&token),
                Some(json!({"name": "  My phone "})),
            )
            .await;
        assert_eq!(
            started.headers["cache-control"], "no-store",
            "secrets are not cached"
        );
        let listed = env
            .call(Method::GET, paths::MY_DEVICES, &[], Some(&token), None)
            .await;
        assert_eq!(
            listed.headers["cache-control"], "no-store",
            "personal reads are not cached either"
        );
        let started = started.ok(201).clone();
        let id = started["enrollment_id"].as_str().unwrap().to_owned();
        assert_eq!(started["name"], "My phone", "{}", env.name);
        let secret_b32 = started["secret"].as_str().unwrap();
        let uri = started["otpauth_uri"].as_str().unwrap();
        assert!(uri.starts_with("otpauth://totp/Tessera:newbie?"), "{uri}");
        assert!(
            uri.contains(&format!("secret={secret_b32}")) && uri.contains("issuer=Tessera"),
            "{uri}"
        );
        let expires = OffsetDateTime::parse(
            started["expires_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!(expires > OffsetDateTime::now_utc());
        // Nothing is a device yet.
        assert!(
            env.get(paths::MY_DEVICES, &[], &token)
                .await
                .ok(200)
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert!(env.device_ids("newbie").await.is_empty());

        // A wrong code is refused and changes nothing.
        let mut authenticator = Authenticator::new(&rp::decode_b32(secret_b32));
        let right = authenticator.fresh_code().await;
        let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
        let r = env
            .call(
                Method::POST,
                paths::MY_ENROLLMENT_CONFIRM,
                &[("id", &id)],
                Some(&token),
                Some(json!({"code": wrong})),
            )
            .await;
        r.problem(400, "invalid_code");
        assert!(env.device_ids("newbie").await.is_empty());

        // The right code stores the device and, on a first device, gives codes.
        let r = env
            .call(
                Method::POST,
                paths::MY_ENROLLMENT_CONFIRM,
                &[("id", &id)],
                Some(&token),
                Some(json!({"code": right})),
            )
            .await;
        let confirmed = r.ok(201).clone();
        assert_eq!(confirmed["device"]["id"], id.as_str());
        assert_eq!(confirmed["device"]["name"], "My phone");
        let codes = confirmed["recovery_codes"].as_array().unwrap();
        assert_eq!(codes.len(), 10);
        assert_eq!(env.store.count_recovery_codes("newbie").await.unwrap(), 10);
        let listed = env.get(paths::MY_DEVICES, &[], &token).await;
        assert_eq!(listed.ok(200).as_array().unwrap().len(), 1);
        assert_eq!(listed.body[0]["id"], id.as_str());

        // The confirming code was not recorded as used: the next sign-in may
        // use it (the CAS defect). Proven on the replay marker itself.
        let code_id = tessera_provider::totp::used_code_id("newbie", &right);
        assert!(
            env.store
                .mark_code_used(&code_id, Duration::from_secs(90))
                .await
                .unwrap(),
            "the confirming code must not be marked used"
        );

        // Confirming again: the enrolment is gone.
        env.call(
            Method::POST,
            paths::MY_ENROLLMENT_CONFIRM,
            &[("id", &id)],
            Some(&token),
            Some(json!({"code": right})),
        )
        .await
        .problem(404, "not_found");

        // A second device: no new recovery codes.
        let second = env
            .call(
                Method::POST,
                paths::MY_DEVICES,
                &[],
                Some(&token),
                Some(json!({"name": "Tablet"})),
            )
            .await
            .ok(201)
            .clone();
        let code = Authenticator::new(&rp::decode_b32(second["secret"].as_str().unwrap()))
            .fresh_code()
            .await;
        let r = env
            .call(
                Method::POST,
                paths::MY_ENROLLMENT_CONFIRM,
                &[("id", second["enrollment_id"].as_str().unwrap())],
                Some(&token),
                Some(json!({"code": code})),
            )
            .await;
        assert!(r.ok(201).get("recovery_codes").is_none(), "{}", r.body);
        assert_eq!(env.device_ids("newbie").await.len(), 2);
        assert_eq!(
            env.store.count_recovery_codes("newbie").await.unwrap(),
            10,
            "first set kept"
        );
    }
}

#[tokio::test]
async fn enrolment_errors_are_specific_and_owned() {
    for env in each_env().await {
        let alice = env.fresh("alice").await;
        let bob = env.fresh("bob").await;
        let code = json!({"code": "123456"});
        // Bad names.
        for name in ["", "   ", &"x".repeat(65), "tab\there"] {
            env.call(
                Method::POST,
                paths::MY_DEVICES,
                &[],
                Some(&alice),
                Some(json!({"name": name})),
            )
            .await
            .problem(400, "bad_request");
        }
        // Missing or malformed bodies.
        env.call(Method::POST, paths::MY_DEVICES, &[], Some(&alice), None)
            .await
            .problem(400, "bad_request");
        env.call(
            Method::POST,
            paths::MY_DEVICES,
            &[],
            Some(&alice),
            Some(json!({"nom": "x"})),
        )
        .await
        .problem(400, "bad_request");
        // Unknown enrolment.
        env.call(
            Method::POST,
            paths::MY_ENROLLMENT_CONFIRM,
            &[("id", "nope")],
            Some(&alice),
            Some(code.clone()),
        )
        .await
        .problem(404, "not_found");
        // Another user's pending enrolment is not found, and stays pending.
        let started = env
            .call(
                Method::POST,
                paths::MY_DEVICES,
                &[],
                Some(&bob),
                Some(json!({"name": "Bob's"})),
            )
            .await
            .ok(201)
            .clone();
        let bob_id = started["enrollment_id"].as_str().unwrap().to_owned();
        let bob_code = Authenticator::new(&rp::decode_b32(started["secret"].as_str().unwrap()))
            .fresh_code()
            .await;
        env.call(
            Method::POST,
            paths::MY_ENROLLMENT_CONFIRM,
            &[("id", &bob_id)],
            Some(&alice),
            Some(json!({"code": bob_code})),
        )
        .await
        .problem(404, "not_found");
        assert!(
            !env.device_ids("alice").await.contains(&bob_id),
            "{}",
            env.name
        );
        assert!(
            env.store
                .get_pending_enrollment("bob", &bob_id)
                .await
                .unwrap()
                .is_some()
        );

        // An expired enrolment says so.
        let now = OffsetDateTime::now_utc();
        let expires_at = now + time::Duration::seconds(1);
        let expired_id = format!("expiring.{}", expires_at.unix_timestamp());
        env.store
            .put_pending_enrollment(&PendingEnrollment {
                id: expired_id.clone(),
                uid: "alice".into(),
                name: "Late".into(),
                secret: EncryptedSecret(
                    env.provider
                        .app
                        .secret_key
                        .seal(&secret_of("late"), "alice"),
                ),
                created_at: now,
                expires_at,
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let late_code = Authenticator::new(&secret_of("late")).fresh_code().await;
        env.call(
            Method::POST,
            paths::MY_ENROLLMENT_CONFIRM,
            &[("id", &expired_id)],
            Some(&alice),
            Some(json!({"code": late_code})),
        )
        .await
        .problem(410, "enrollment_expired");
        assert!(!env.device_ids("alice").await.contains(&expired_id));
    }
}

#[tokio::test]
async fn wrong_confirmation_codes_are_rate_limited() {
    for env in each_env_with(|c| c.rate_limit.account_failures = 3).await {
        let token = env.fresh("newbie").await;
        let started = env
            .call(
                Method::POST,
                paths::MY_DEVICES,
                &[],
                Some(&token),
                Some(json!({"name": "Phone"})),
            )
            .await
            .ok(201)
            .clone();
        let id = started["enrollment_id"].as_str().unwrap();
        let right = Authenticator::new(&rp::decode_b32(started["secret"].as_str().unwrap()))
            .fresh_code()
            .await;
        let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 7) % 1_000_000);
        // Confirming an enrolment that does not exist checks no code and
        // counts nothing.
        for _ in 0..4 {
            env.call(
                Method::POST,
                paths::MY_ENROLLMENT_CONFIRM,
                &[("id", "no-such-enrolment")],
                Some(&token),
                Some(json!({"code": wrong})),
            )
            .await
            .problem(404, "not_found");
        }
        // Ten wrong codes at once: three are checked, the others refused
        // before their check.
        let env_ref = &env;
        let answers = futures_join_all((0..10).map(|_| {
            let (token, wrong) = (token.clone(), wrong.clone());
            async move {
                env_ref
                    .call(
                        Method::POST,
                        paths::MY_ENROLLMENT_CONFIRM,
                        &[("id", id)],
                        Some(&token),
                        Some(json!({"code": wrong})),
                    )
                    .await
            }
        }))
        .await;
        let codes: Vec<String> = answers.iter().map(|r| r.code().to_owned()).collect();
        let checked = codes.iter().filter(|c| *c == "invalid_code").count();
        let refused = codes.iter().filter(|c| *c == "rate_limited").count();
        assert_eq!((checked, refused), (3, 7), "{}: {codes:?}", env.name);
        // Locked: even the right code waits for the window to end.
        let r = env
            .call(
                Method::POST,
                paths::MY_ENROLLMENT_CONFIRM,
                &[("id", id)],
                Some(&token),
                Some(json!({"code": right})),
            )
            .await;
        r.problem(429, "rate_limited");
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=15 * 60).contains(&retry), "{retry}");
        assert!(env.device_ids("newbie").await.is_empty(), "{}", env.name);
    }
}

// ---------------------------------------------------------------------------
// Rename and delete
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rename_changes_only_the_callers_device() {
    for env in each_env().await {
        let alice = env.fresh("alice").await;
        let r = env
            .call(
                Method::PATCH,
                paths::MY_DEVICE,
                &[("id", "alice-phone")],
                Some(&alice),
                Some(json!({"name": "Work phone"})),
            )
            .await;
        assert_eq!(r.ok(200)["name"], "Work phone", "{}", env.name);
        let listed = env.get(paths::MY_DEVICES, &[], &alice).await;
        let names: Vec<&str> = listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["Work phone", "Device 1"],
            "renamed in place, not duplicated"
        );

        env.call(
            Method::PATCH,
            paths::MY_DEVICE,
            &[("id", "alice-phone")],
            Some(&alice),
            Some(json!({"name": ""})),
        )
        .await
        .problem(400, "bad_request");
        // IDOR: bob's device through alice's token.
        env.call(
            Method::PATCH,
            paths::MY_DEVICE,
            &[("id", "bob-phone")],
            Some(&alice),
            Some(json!({"name": "Mine now"})),
        )
        .await
        .problem(404, "not_found");
        assert_eq!(
            env.store
                .get_device("bob", "bob-phone")
                .await
                .unwrap()
                .unwrap()
                .name,
            "Device 0"
        );
        env.call(
            Method::PATCH,
            paths::MY_DEVICE,
            &[("id", "nope")],
            Some(&alice),
            Some(json!({"name": "x"})),
        )
        .await
        .problem(404, "not_found");
    }
}

/// Adding an app to an account that has one needs a recent sign-in with it,
/// as deleting one does: a stolen session or refresh token must not let its
/// holder add a second factor of their own. A first app needs none.
#[tokio::test]
async fn adding_an_app_to_a_protected_account_needs_step_up() {
    for env in each_env().await {
        let start = |token: String| {
            let env = &env;
            async move {
                env.call(
                    Method::POST,
                    paths::MY_DEVICES,
                    &[],
                    Some(&token),
                    Some(json!({ "name": "Attacker's phone" })),
                )
                .await
            }
        };
        let r = start(env.stale("alice").await).await;
        r.problem(401, "step_up_required");
        assert!(r.challenge().contains("max_age=600"), "{}", r.challenge());
        let r = start(env.mint("alice", 5, &["pwd"], 0).await).await;
        r.problem(401, "step_up_required");
        assert!(
            r.challenge().contains(r#"acr_values="eidas1-mfa"#),
            "{}: {}",
            env.name,
            r.challenge()
        );
        // Nothing was started: no pending enrolment, no audit entry.
        let trail = env
            .get(paths::MY_ACTIVITY, &[], &env.fresh("alice").await)
            .await
            .ok(200)
            .clone();
        assert!(
            trail["events"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["action"] != "enrollment_started"),
            "{trail}"
        );
        // A remembered browser is not a code typed now: a stolen laptop with
        // a saved password must not be enough to add an app.
        let r = start(env.mint("alice", 5, &["pwd", "mfa"], 0).await).await;
        r.problem(401, "step_up_required");
        assert!(
            r.challenge().contains(r#"acr_values="eidas1-mfa"#),
            "{}: {}",
            env.name,
            r.challenge()
        );
        // A recovery code typed now is (the user who lost their phone adds
        // the new one), as is a recent sign-in with the app.
        start(env.mint("alice", 5, &["pwd", "otp", "mfa"], 0).await)
            .await
            .ok(201);
        start(env.fresh("alice").await).await.ok(201);
        // An account without an app sets up its first one without stepping up.
        start(env.stale("newbie").await).await.ok(201);
        start(env.mint("newbie", 5, &["pwd"], 0).await)
            .await
            .ok(201);
    }
}

#[tokio::test]
async fn delete_needs_step_up_owns_its_target_and_keeps_the_last_factor() {
    for env in each_env().await {
        // Stale sign-in: RFC 9470 challenge.
        let stale = env.stale("alice").await;
        let r = env
            .call(
                Method::DELETE,
                paths::MY_DEVICE,
                &[("id", "alice-tablet")],
                Some(&stale),
                None,
            )
            .await;
        r.problem(401, "step_up_required");
        assert_eq!(
            r.challenge(),
            r#"Bearer realm="tessera", error="insufficient_user_authentication", error_description="This action needs a sign-in from the last 10 minutes; sign in again and retry.", max_age=600"#,
            "{}",
            env.name
        );
        // A password-only sign-in of a user with an authenticator: step up to MFA.
        let pwd_only = env.mint("alice", 5, &["pwd"], 0).await;
        let r = env
            .call(
                Method::DELETE,
                paths::MY_DEVICE,
                &[("id", "alice-tablet")],
                Some(&pwd_only),
                None,
            )
            .await;
        r.problem(401, "step_up_required");
        assert!(
            r.challenge().contains(r#"acr_values="eidas1-mfa"#),
            "{}",
            r.challenge()
        );
        assert_eq!(env.device_ids("alice").await.len(), 2);

        let alice = env.fresh("alice").await;
        // IDOR: bob's device.
        env.call(
            Method::DELETE,
            paths::MY_DEVICE,
            &[("id", "bob-phone")],
            Some(&alice),
            None,
        )
        .await
        .problem(404, "not_found");
        assert_eq!(env.device_ids("bob").await, ["bob-phone"]);

        env.call(
            Method::DELETE,
            paths::MY_DEVICE,
            &[("id", "alice-tablet")],
            Some(&alice),
            None,
        )
        .await
        .ok(204);
        assert_eq!(env.device_ids("alice").await, ["alice-phone"]);
        // Its code no longer signs in: the store lists exactly what authenticates.
        assert!(
            env.store
                .get_device("alice", "alice-tablet")
                .await
                .unwrap()
                .is_none()
        );

        // The last one stays.
        env.call(
            Method::DELETE,
            paths::MY_DEVICE,
            &[("id", "alice-phone")],
            Some(&alice),
            None,
        )
        .await
        .problem(409, "last_factor");
        assert_eq!(env.device_ids("alice").await, ["alice-phone"]);
    }
}

#[tokio::test]
async fn the_last_device_may_go_when_the_user_need_not_use_a_second_factor() {
    for env in each_env_with(|c| {
        c.mfa.global = false;
        c.account_api_clients.push("no-such-client".into());
    })
    .await
    {
        // The token's client (one the account API is open to) waives MFA too.
        let user = env.store.get_user("bob").await.unwrap().unwrap();
        let now = OffsetDateTime::now_utc();
        let grant = Grant {
            client_id: "no-such-client".into(),
            scope: "openid".into(),
            acr: Some("eidas1".into()),
            amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
            auth_time: now,
            nonce: None,
        };
        let token = tokens::access_token(&env.provider.app, &user, &grant, now).0;
        assert_eq!(
            env.get(paths::ME, &[], &token).await.ok(200)["mfa_required"],
            false
        );
        env.call(
            Method::DELETE,
            paths::MY_DEVICE,
            &[("id", "bob-phone")],
            Some(&token),
            None,
        )
        .await
        .ok(204);
        assert!(env.device_ids("bob").await.is_empty(), "{}", env.name);
    }
}

#[tokio::test]
async fn concurrent_deletes_of_one_device_succeed_exactly_once() {
    for env in each_env().await {
        let token = env.fresh("alice").await;
        let env_ref = &env;
        let results = futures_join_all((0..8).map(|_| {
            let token = token.clone();
            async move {
                env_ref
                    .call(
                        Method::DELETE,
                        paths::MY_DEVICE,
                        &[("id", "alice-tablet")],
                        Some(&token),
                        None,
                    )
                    .await
            }
        }))
        .await;
        let ok = results
            .iter()
            .filter(|r| r.status == StatusCode::NO_CONTENT)
            .count();
        let not_found = results
            .iter()
            .filter(|r| r.status == StatusCode::NOT_FOUND && r.code() == "not_found")
            .count();
        assert_eq!((ok, not_found), (1, 7), "{}", env.name);
        assert_eq!(env.device_ids("alice").await, ["alice-phone"]);
    }
}

#[tokio::test]
async fn concurrent_deletes_of_the_last_two_devices_leave_one() {
    for env in each_env().await {
        let token = env.fresh("alice").await;
        let (a, b) = tokio::join!(
            env.call(
                Method::DELETE,
                paths::MY_DEVICE,
                &[("id", "alice-phone")],
                Some(&token),
                None
            ),
            env.call(
                Method::DELETE,
                paths::MY_DEVICE,
                &[("id", "alice-tablet")],
                Some(&token),
                None
            ),
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [204, 409], "{}", env.name);
        assert_eq!(env.device_ids("alice").await.len(), 1);
    }
}

/// `join_all` without the futures crate: spawn-free, polls in turn.
async fn futures_join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out = Vec::new();
    let mut pending: Vec<_> = set.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    for r in results {
        out.push(r.expect("every future completed"));
    }
    out
}

// ---------------------------------------------------------------------------
// Trusted browsers and recovery codes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn trusted_browsers_are_listed_and_revoked_one_at_a_time_by_their_owner() {
    for env in each_env().await {
        env.trust_browser("alice", "tb-a1").await;
        env.trust_browser("alice", "tb-a2").await;
        env.trust_browser("alice", "tb-a3").await;
        env.trust_browser("bob", "tb-b1").await;
        let alice = env.fresh("alice").await;
        let listed = env.get(paths::MY_TRUSTED_BROWSERS, &[], &alice).await;
        let ids: Vec<&str> = listed
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 3, "{}", env.name);
        assert_eq!(listed.body[0]["name"], "Firefox on Linux");

        // Step-up on both revocations.
        let stale = env.stale("alice").await;
        env.call(
            Method::DELETE,
            paths::MY_TRUSTED_BROWSER,
            &[("id", "tb-a1")],
            Some(&stale),
            None,
        )
        .await
        .problem(401, "step_up_required");
        env.call(
            Method::DELETE,
            paths::MY_TRUSTED_BROWSERS,
            &[],
            Some(&stale),
            None,
        )
        .await
        .problem(401, "step_up_required");

        // IDOR.
        env.call(
            Method::DELETE,
            paths::MY_TRUSTED_BROWSER,
            &[("id", "tb-b1")],
            Some(&alice),
            None,
        )
        .await
        .problem(404, "not_found");
        assert_eq!(
            env.store.list_trusted_browsers("bob").await.unwrap().len(),
            1
        );

        env.call(
            Method::DELETE,
            paths::MY_TRUSTED_BROWSER,
            &[("id", "tb-a1")],
            Some(&alice),
            None,
        )
        .await
        .ok(204);
        let left: Vec<String> = env
            .store
            .list_trusted_browsers("alice")
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.id)
            .collect();
        assert_eq!(left.len(), 2, "only that one is revoked");
        assert!(!left.contains(&"tb-a1".to_owned()));
        env.call(
            Method::DELETE,
            paths::MY_TRUSTED_BROWSER,
            &[("id", "tb-a1")],
            Some(&alice),
            None,
        )
        .await
        .problem(404, "not_found");

        let r = env
            .call(
                Method::DELETE,
                paths::MY_TRUSTED_BROWSERS,
                &[],
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(r.ok(200)["removed"], 2);
        assert!(
            env.store
                .list_trusted_browsers("alice")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            env.store.list_trusted_browsers("bob").await.unwrap().len(),
            1,
            "bob's untouched"
        );
    }
}

#[tokio::test]
async fn recovery_codes_are_regenerated_with_step_up_and_void_the_old_set() {
    for env in each_env().await {
        env.call(
            Method::POST,
            paths::MY_RECOVERY_CODES,
            &[],
            Some(&env.stale("alice").await),
            None,
        )
        .await
        .problem(401, "step_up_required");
        let alice = env.fresh("alice").await;
        let first = env
            .call(
                Method::POST,
                paths::MY_RECOVERY_CODES,
                &[],
                Some(&alice),
                None,
            )
            .await
            .ok(200)
            .clone();
        let old: Vec<String> = first["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(old.len(), 10, "{}", env.name);
        assert_eq!(
            old.iter().collect::<BTreeSet<_>>().len(),
            10,
            "all different"
        );
        let second = env
            .call(
                Method::POST,
                paths::MY_RECOVERY_CODES,
                &[],
                Some(&alice),
                None,
            )
            .await
            .ok(200)
            .clone();
        let new = second["codes"][0].as_str().unwrap();
        assert!(
            !tessera_provider::recovery::consume(
                &*env.store,
                &env.provider.app.secret_key,
                "alice",
                &old[0]
            )
            .await
            .unwrap(),
            "old set void"
        );
        assert!(
            tessera_provider::recovery::consume(
                &*env.store,
                &env.provider.app.secret_key,
                "alice",
                new
            )
            .await
            .unwrap()
        );
        assert_eq!(
            env.get(paths::ME, &[], &alice).await.ok(200)["recovery_codes_left"],
            9
        );

        // No authenticator, no recovery codes.
        env.call(
            Method::POST,
            paths::MY_RECOVERY_CODES,
            &[],
            Some(&env.fresh("newbie").await),
            None,
        )
        .await
        .problem(409, "conflict");
    }
}

// ---------------------------------------------------------------------------
// Activity
// ---------------------------------------------------------------------------

#[tokio::test]
async fn activity_lists_the_users_own_changes_newest_first_in_pages() {
    for env in each_env().await {
        let alice = env.fresh("alice").await;
        for name in ["One", "Two", "Three"] {
            env.call(
                Method::PATCH,
                paths::MY_DEVICE,
                &[("id", "alice-phone")],
                Some(&alice),
                Some(json!({"name": name})),
            )
            .await
            .ok(200);
        }
        env.call(
            Method::DELETE,
            paths::MY_DEVICE,
            &[("id", "alice-tablet")],
            Some(&alice),
            None,
        )
        .await
        .ok(204);
        // Bob's change is not in alice's trail.
        let bob = env.fresh("bob").await;
        env.call(
            Method::PATCH,
            paths::MY_DEVICE,
            &[("id", "bob-phone")],
            Some(&bob),
            Some(json!({"name": "B"})),
        )
        .await
        .ok(200);

        let first = env
            .call_path(
                Method::GET,
                paths::MY_ACTIVITY,
                &format!("{}?limit=2", paths::MY_ACTIVITY),
                Some(&alice),
                None,
            )
            .await;
        let first = first.ok(200).clone();
        let events = first["events"].as_array().unwrap();
        assert_eq!(events.len(), 2, "{}", env.name);
        assert_eq!(events[0]["action"], "device_removed");
        assert_eq!(events[0]["target"], "alice-tablet");
        assert_eq!(events[0]["actor"], "alice");
        assert_eq!(events[0]["subject"], "alice");
        assert_eq!(events[0]["ip"], "127.0.0.1");
        assert_eq!(events[0]["user_agent"], UA);
        assert_eq!(events[1]["action"], "device_renamed");
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = env
            .call_path(
                Method::GET,
                paths::MY_ACTIVITY,
                &format!("{}?limit=2&cursor={cursor}", paths::MY_ACTIVITY),
                Some(&alice),
                None,
            )
            .await
            .ok(200)
            .clone();
        let more = second["events"].as_array().unwrap();
        assert_eq!(more.len(), 2);
        assert!(
            more.iter()
                .all(|e| e["action"] == "device_renamed" && e["subject"] == "alice")
        );
        let ids: Vec<u64> = events
            .iter()
            .chain(more)
            .map(|e| e["id"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
        let all = env
            .get(paths::MY_ACTIVITY, &[], &alice)
            .await
            .ok(200)
            .clone();
        assert!(
            all["events"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["subject"] == "alice")
        );
        assert!(all["next_cursor"].is_null());

        for bad in ["limit=0", "limit=100000", "cursor=abc", "limit=x"] {
            env.call_path(
                Method::GET,
                paths::MY_ACTIVITY,
                &format!("{}?{bad}", paths::MY_ACTIVITY),
                Some(&alice),
                None,
            )
            .await
            .problem(400, "bad_request");
        }
    }
}

// ---------------------------------------------------------------------------
// Help desk
// ---------------------------------------------------------------------------

/// A request: method, route template, its parameters, body.
type Call<'a> = (Method, &'a str, Vec<(&'a str, &'a str)>, Option<Value>);

fn reason(r: &str) -> Option<Value> {
    Some(json!({ "reason": r }))
}

#[tokio::test]
async fn helpdesk_routes_need_the_role() {
    for env in each_env().await {
        let alice = env.fresh("alice").await;
        let calls: Vec<Call> = vec![
            (Method::GET, paths::USERS, vec![], None),
            (Method::GET, paths::USER_DEVICES, vec![("uid", "bob")], None),
            (
                Method::DELETE,
                paths::USER_DEVICE,
                vec![("uid", "bob"), ("id", "bob-phone")],
                reason("x"),
            ),
            (
                Method::DELETE,
                paths::USER_DEVICES,
                vec![("uid", "bob")],
                reason("x"),
            ),
            (
                Method::GET,
                paths::USER_TRUSTED_BROWSERS,
                vec![("uid", "bob")],
                None,
            ),
            (
                Method::DELETE,
                paths::USER_TRUSTED_BROWSER,
                vec![("uid", "bob"), ("id", "x")],
                reason("x"),
            ),
            (
                Method::DELETE,
                paths::USER_TRUSTED_BROWSERS,
                vec![("uid", "bob")],
                reason("x"),
            ),
            (
                Method::GET,
                paths::USER_ACTIVITY,
                vec![("uid", "bob")],
                None,
            ),
        ];
        for (method, template, params, body) in calls {
            let path = if template == paths::USERS {
                format!("{template}?q=b")
            } else {
                paths::fill(template, &params)
            };
            let r = env
                .call_path(method.clone(), template, &path, Some(&alice), body.clone())
                .await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{}: {method} {template}: {}",
                env.name,
                r.body
            );
            r.problem(403, "forbidden");
            let r = env
                .call_path(method.clone(), template, &path, None, body)
                .await;
            r.problem(401, "unauthorized");
        }
        assert_eq!(env.device_ids("bob").await, ["bob-phone"]);
    }
}

#[tokio::test]
async fn helpdesk_searches_and_reads_a_users_devices_browsers_and_activity() {
    for env in each_env().await {
        let agent = env.fresh("agent").await;
        env.trust_browser("bob", "tb-b1").await;
        let found = env
            .call_path(
                Method::GET,
                paths::USERS,
                "/api/v1/users?q=BO",
                Some(&agent),
                None,
            )
            .await;
        let found = found.ok(200).clone();
        let users = found["users"].as_array().unwrap();
        assert_eq!(users.len(), 1, "{}: {found}", env.name);
        assert_eq!(users[0]["uid"], "bob");
        assert_eq!(users[0]["device_count"], 1);
        assert_eq!(users[0]["trusted_browser_count"], 1);
        assert_eq!(users[0]["mfa_required"], true);
        assert_eq!(found["truncated"], false);
        let by_email = env
            .call_path(
                Method::GET,
                paths::USERS,
                "/api/v1/users?q=alice%40ex",
                Some(&agent),
                None,
            )
            .await;
        assert_eq!(by_email.ok(200)["users"][0]["uid"], "alice");
        let limited = env
            .call_path(
                Method::GET,
                paths::USERS,
                "/api/v1/users?q=a&limit=1",
                Some(&agent),
                None,
            )
            .await;
        assert_eq!(limited.ok(200)["users"].as_array().unwrap().len(), 1);
        assert_eq!(limited.body["truncated"], true, "alice and agent match");
        // Each user's summary is their own (summaries are read concurrently).
        let several = env
            .call_path(
                Method::GET,
                paths::USERS,
                "/api/v1/users?q=a",
                Some(&agent),
                None,
            )
            .await;
        let several = several.ok(200)["users"].as_array().unwrap().clone();
        assert!(several.len() >= 2, "{}: {several:?}", env.name);
        for summary in &several {
            let uid = summary["uid"].as_str().unwrap();
            let devices = env.get(paths::USER_DEVICES, &[("uid", uid)], &agent).await;
            let browsers = env
                .get(paths::USER_TRUSTED_BROWSERS, &[("uid", uid)], &agent)
                .await;
            assert_eq!(
                summary["device_count"],
                devices.ok(200).as_array().unwrap().len(),
                "{uid}"
            );
            assert_eq!(
                summary["trusted_browser_count"],
                browsers.ok(200).as_array().unwrap().len(),
                "{uid}"
            );
        }
        let alice_summary = several.iter().find(|u| u["uid"] == "alice").unwrap();
        assert_eq!(alice_summary["device_count"], 2);
        for bad in [
            "/api/v1/users",
            "/api/v1/users?q=",
            "/api/v1/users?q=a&limit=0",
            "/api/v1/users?q=a&limit=51",
        ] {
            env.call_path(Method::GET, paths::USERS, bad, Some(&agent), None)
                .await
                .problem(400, "bad_request");
        }

        let devices = env
            .get(paths::USER_DEVICES, &[("uid", "alice")], &agent)
            .await;
        assert_eq!(devices.ok(200).as_array().unwrap().len(), 2);
        let browsers = env
            .get(paths::USER_TRUSTED_BROWSERS, &[("uid", "bob")], &agent)
            .await;
        assert_eq!(browsers.ok(200)[0]["id"], "tb-b1");
        let alice = env.fresh("alice").await;
        env.call(
            Method::PATCH,
            paths::MY_DEVICE,
            &[("id", "alice-phone")],
            Some(&alice),
            Some(json!({"name": "P"})),
        )
        .await
        .ok(200);
        let activity = env
            .get(paths::USER_ACTIVITY, &[("uid", "alice")], &agent)
            .await;
        assert_eq!(activity.ok(200)["events"][0]["action"], "device_renamed");
        for template in [
            paths::USER_DEVICES,
            paths::USER_TRUSTED_BROWSERS,
            paths::USER_ACTIVITY,
        ] {
            env.get(template, &[("uid", "ghost")], &agent)
                .await
                .problem(404, "not_found");
        }
    }
}

#[tokio::test]
async fn helpdesk_changes_need_step_up_and_a_reason_and_are_audited() {
    for env in each_env().await {
        let stale = env.stale("agent").await;
        let agent = env.fresh("agent").await;
        let one = [("uid", "bob"), ("id", "bob-phone")];
        env.call(
            Method::DELETE,
            paths::USER_DEVICE,
            &one,
            Some(&stale),
            reason("lost phone"),
        )
        .await
        .problem(401, "step_up_required");
        // A remembered browser is not a code typed now.
        let remembered = env.mint("agent", 5, &["pwd", "mfa"], 0).await;
        env.call(
            Method::DELETE,
            paths::USER_DEVICE,
            &one,
            Some(&remembered),
            reason("lost phone"),
        )
        .await
        .problem(401, "step_up_required");
        // An agent without an app of their own (signed in through a client
        // that waives 2FA) cannot act with a password alone, and stepping up
        // would not help: refused outright.
        env.add_user("agent2", &["helpdesk"], &[]).await;
        let r = env
            .call(
                Method::DELETE,
                paths::USER_DEVICE,
                &one,
                Some(&env.mint("agent2", 5, &["pwd"], 0).await),
                reason("lost phone"),
            )
            .await;
        r.problem(403, "forbidden");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("authenticator app on your own account"),
            "{}",
            r.body
        );
        for body in [
            None,
            Some(json!({})),
            reason(""),
            reason("   \t "),
            reason(&"x".repeat(501)),
        ] {
            let r = env
                .call(
                    Method::DELETE,
                    paths::USER_DEVICE,
                    &one,
                    Some(&agent),
                    body.clone(),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{}: {body:?}: {}",
                env.name,
                r.body
            );
            r.problem(400, "bad_request");
        }
        assert_eq!(env.device_ids("bob").await, ["bob-phone"]);

        // IDOR: alice's device under bob's uid.
        env.call(
            Method::DELETE,
            paths::USER_DEVICE,
            &[("uid", "bob"), ("id", "alice-phone")],
            Some(&agent),
            reason("x"),
        )
        .await
        .problem(404, "not_found");
        assert_eq!(env.device_ids("alice").await.len(), 2);
        env.call(
            Method::DELETE,
            paths::USER_DEVICE,
            &[("uid", "ghost"), ("id", "x")],
            Some(&agent),
            reason("x"),
        )
        .await
        .problem(404, "not_found");
        // Not on their own account.
        env.call(
            Method::DELETE,
            paths::USER_DEVICES,
            &[("uid", "agent")],
            Some(&agent),
            reason("x"),
        )
        .await
        .problem(403, "forbidden");

        // The last device may go: the help desk is the way back.
        env.call(
            Method::DELETE,
            paths::USER_DEVICE,
            &one,
            Some(&agent),
            reason("lost phone"),
        )
        .await
        .ok(204);
        assert!(env.device_ids("bob").await.is_empty());
        let trail = env
            .get(paths::USER_ACTIVITY, &[("uid", "bob")], &agent)
            .await
            .ok(200)
            .clone();
        let ev = &trail["events"][0];
        assert_eq!(ev["action"], "device_removed", "{trail}");
        assert_eq!(ev["actor"], "agent");
        assert_eq!(ev["subject"], "bob");
        assert_eq!(ev["reason"], "lost phone");
        assert_eq!(ev["target"], "bob-phone");
        assert_eq!(ev["ip"], "127.0.0.1");
        // Bob sees it too.
        let bobs = env
            .get(paths::MY_ACTIVITY, &[], &env.fresh("bob").await)
            .await
            .ok(200)
            .clone();
        assert_eq!(bobs["events"][0]["reason"], "lost phone");
    }
}

#[tokio::test]
async fn helpdesk_reset_removes_every_device_and_recovery_code() {
    for env in each_env().await {
        let alice = env.fresh("alice").await;
        env.call(
            Method::POST,
            paths::MY_RECOVERY_CODES,
            &[],
            Some(&alice),
            None,
        )
        .await
        .ok(200);
        let agent = env.fresh("agent").await;
        let r = env
            .call(
                Method::DELETE,
                paths::USER_DEVICES,
                &[("uid", "alice")],
                Some(&agent),
                reason("new phone"),
            )
            .await;
        assert_eq!(r.ok(200)["removed"], 2, "{}", env.name);
        assert!(env.device_ids("alice").await.is_empty());
        assert_eq!(env.store.count_recovery_codes("alice").await.unwrap(), 0);
        assert_eq!(
            env.device_ids("bob").await,
            ["bob-phone"],
            "nobody else touched"
        );
        let trail = env
            .get(paths::USER_ACTIVITY, &[("uid", "alice")], &agent)
            .await
            .ok(200)
            .clone();
        assert_eq!(trail["events"][0]["action"], "devices_reset");
        assert_eq!(trail["events"][0]["reason"], "new phone");

        // Alice enrols again at her next sign-in: the sign-in shows enrolment.
        let req = rp::AuthRequest::new();
        let step = rp::sign_in(
            &rp::Browser::new(env.issuer()),
            &req.url(env.issuer(), &[("claims", rp::MFA_CLAIMS)]),
            "alice",
            "pw-alice",
            None,
            false,
        )
        .await;
        let html = step.html();
        assert!(
            html.contains("name=\"otp\"") && html.contains("data:image/svg+xml;base64,"),
            "{html}"
        );
    }
}

/// A reset answers a lost or stolen phone: what a sign-in before it proved
/// (the browser session, the access and refresh tokens, a trusted browser)
/// goes with the devices, also once a new phone is set up; sign-ins after it
/// work as usual.
#[tokio::test]
async fn a_helpdesk_reset_ends_what_earlier_sign_ins_proved() {
    for env in each_env().await {
        let issuer = env.issuer();
        let browser = rp::Browser::new(issuer);
        let req = rp::AuthRequest::new();
        let authorize = req.url(issuer, &[("claims", rp::MFA_CLAIMS)]);
        let sign_in = |device: &'static str, trust: bool| {
            let (browser, authorize) = (&browser, &authorize);
            async move {
                let code = Authenticator::new(&secret_of(device)).fresh_code().await;
                rp::sign_in(browser, authorize, "alice", "pw-alice", Some(&code), trust).await
            }
        };
        let tokens_of = |step: rp::Step| {
            let req = &req;
            async move {
                let (status, tokens) = rp::exchange(issuer, req, &step.callback()["code"]).await;
                assert_eq!(status, StatusCode::OK, "{tokens}");
                let token = |name: &str| tokens[name].as_str().unwrap().to_owned();
                (token("access_token"), token("refresh_token"))
            }
        };
        let (access, refresh) = tokens_of(sign_in("alice-phone", true).await).await;
        env.get(paths::MY_DEVICES, &[], &access).await.ok(200);

        // Tokens tell sign-in times to the second: the reset comes in a
        // later one.
        let into_second = OffsetDateTime::now_utc().nanosecond() as u64;
        tokio::time::sleep(Duration::from_nanos(1_000_000_000 - into_second)).await;
        let agent = env.fresh("agent").await;
        env.call(
            Method::DELETE,
            paths::USER_DEVICES,
            &[("uid", "alice")],
            Some(&agent),
            reason("phone stolen"),
        )
        .await
        .ok(200);
        // The browser trusted with the lost phone is gone from the lists.
        let browsers = env
            .get(paths::USER_TRUSTED_BROWSERS, &[("uid", "alice")], &agent)
            .await
            .ok(200)
            .clone();
        assert_eq!(browsers, serde_json::json!([]), "{}", env.name);

        // The tokens of that sign-in are refused everywhere...
        let r = env.get(paths::MY_DEVICES, &[], &access).await;
        r.problem(401, "unauthorized");
        assert!(
            r.challenge().contains(r#"error="invalid_token""#),
            "{}",
            env.name
        );
        let userinfo = env
            .http
            .get(format!("{issuer}/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
        let (status, body) = rp::refresh(issuer, &refresh, rp::CLIENT_ID).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_grant");
        // ...its browser session asks for the password again, and cannot
        // answer a silent request...
        let step = browser.get(&authorize).await;
        assert!(step.html().contains("name=\"password\""), "{}", step.html());
        let silent = browser
            .get(&req.url(issuer, &[("prompt", "none"), ("claims", rp::MFA_CLAIMS)]))
            .await;
        assert_eq!(silent.callback()["error"], "login_required");
        // ...and with a new phone set up, the browser trusted before the
        // reset is asked for a code like any other.
        env.add_devices("alice", &["alice-new-phone"]).await;
        let step = browser.get(&authorize).await;
        let step = browser
            .submit(&step, &[("username", "alice"), ("password", "pw-alice")])
            .await;
        assert!(step.html().contains("name=\"otp\""), "{}", step.html());

        // A sign-in after the reset: its tokens work and refresh.
        let (access, refresh) = tokens_of(sign_in("alice-new-phone", false).await).await;
        let listed = env
            .get(paths::MY_DEVICES, &[], &access)
            .await
            .ok(200)
            .clone();
        assert_eq!(listed[0]["id"], "alice-new-phone", "{}", env.name);
        let (status, body) = rp::refresh(issuer, &refresh, rp::CLIENT_ID).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[tokio::test]
async fn helpdesk_revokes_a_users_trusted_browsers_with_a_reason() {
    for env in each_env().await {
        env.trust_browser("bob", "tb-b1").await;
        env.trust_browser("bob", "tb-b2").await;
        env.trust_browser("alice", "tb-a1").await;
        let agent = env.fresh("agent").await;
        let stale = env.stale("agent").await;
        env.call(
            Method::DELETE,
            paths::USER_TRUSTED_BROWSER,
            &[("uid", "bob"), ("id", "tb-b1")],
            Some(&stale),
            reason("x"),
        )
        .await
        .problem(401, "step_up_required");
        env.call(
            Method::DELETE,
            paths::USER_TRUSTED_BROWSERS,
            &[("uid", "bob")],
            Some(&agent),
            None,
        )
        .await
        .problem(400, "bad_request");
        // IDOR: alice's browser under bob.
        env.call(
            Method::DELETE,
            paths::USER_TRUSTED_BROWSER,
            &[("uid", "bob"), ("id", "tb-a1")],
            Some(&agent),
            reason("x"),
        )
        .await
        .problem(404, "not_found");
        assert_eq!(
            env.store
                .list_trusted_browsers("alice")
                .await
                .unwrap()
                .len(),
            1,
            "{}",
            env.name
        );
        env.call(
            Method::DELETE,
            paths::USER_TRUSTED_BROWSER,
            &[("uid", "bob"), ("id", "tb-b1")],
            Some(&agent),
            reason("stolen laptop"),
        )
        .await
        .ok(204);
        assert_eq!(
            env.store.list_trusted_browsers("bob").await.unwrap().len(),
            1
        );
        let r = env
            .call(
                Method::DELETE,
                paths::USER_TRUSTED_BROWSERS,
                &[("uid", "bob")],
                Some(&agent),
                reason("all of them"),
            )
            .await;
        assert_eq!(r.ok(200)["removed"], 1);
        assert_eq!(
            env.store
                .list_trusted_browsers("alice")
                .await
                .unwrap()
                .len(),
            1
        );
        let trail = env
            .get(paths::USER_ACTIVITY, &[("uid", "bob")], &agent)
            .await
            .ok(200)
            .clone();
        assert_eq!(trail["events"][0]["action"], "trusted_browsers_revoked");
        assert_eq!(trail["events"][1]["action"], "trusted_browser_revoked");
        assert_eq!(trail["events"][1]["reason"], "stolen laptop");
        assert_eq!(trail["events"][1]["target"], "tb-b1");
    }
}

#[tokio::test]
async fn helpdesk_cannot_enrol_a_device_for_someone_else() {
    for env in each_env().await {
        let agent = env.fresh("agent").await;
        for (method, path) in [
            (Method::POST, "/api/v1/users/bob/devices"),
            (Method::PUT, "/api/v1/users/bob/devices/x"),
            (Method::PATCH, "/api/v1/users/bob/devices/bob-phone"),
        ] {
            let r = env
                .http
                .request(method.clone(), format!("{}{path}", env.issuer()))
                .bearer_auth(&agent)
                .json(&json!({"name": "planted"}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{}: {method} {path}",
                env.name
            );
            assert_eq!(r.headers()["content-type"], problem_json());
            let allow = r.headers()["allow"].to_str().unwrap().to_owned();
            assert!(!allow.contains("POST") && !allow.contains("PUT"), "{allow}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["status"], 405);
            assert_eq!(body["title"], "method not allowed");
        }
        assert_eq!(env.device_ids("bob").await, ["bob-phone"]);
        assert_eq!(
            env.store
                .get_device("bob", "bob-phone")
                .await
                .unwrap()
                .unwrap()
                .name,
            "Device 0"
        );
    }
}

// ---------------------------------------------------------------------------
// Through the real sign-in and token endpoint
// ---------------------------------------------------------------------------

#[tokio::test]
async fn tokens_from_the_real_token_endpoint_work_and_the_confirming_code_signs_in_next() {
    for env in each_env().await {
        // newbie: no device yet, so the sign-in enrols one; sign in with a
        // client that waives MFA is not available here, so start from a
        // minted token to enrol through the API, then sign in for real.
        let minted = env.fresh("newbie").await;
        let started = env
            .call(
                Method::POST,
                paths::MY_DEVICES,
                &[],
                Some(&minted),
                Some(json!({"name": "Phone"})),
            )
            .await
            .ok(201)
            .clone();
        let mut app = Authenticator::new(&rp::decode_b32(started["secret"].as_str().unwrap()));
        let code = app.fresh_code().await;
        env.call(
            Method::POST,
            paths::MY_ENROLLMENT_CONFIRM,
            &[("id", started["enrollment_id"].as_str().unwrap())],
            Some(&minted),
            Some(json!({"code": code})),
        )
        .await
        .ok(201);

        // The very code that confirmed the device completes a sign-in.
        let req = rp::AuthRequest::new();
        let step = rp::sign_in(
            &rp::Browser::new(env.issuer()),
            &req.url(env.issuer(), &[("claims", rp::MFA_CLAIMS)]),
            "newbie",
            "pw-newbie",
            Some(&code),
            false,
        )
        .await;
        let params = step.callback();
        let (status, tokens) = rp::exchange(env.issuer(), &req, &params["code"]).await;
        assert_eq!(status, StatusCode::OK, "{}: {tokens}", env.name);
        let access = tokens["access_token"].as_str().unwrap();
        let me = env.get(paths::ME, &[], access).await;
        assert_eq!(me.ok(200)["uid"], "newbie");
        assert_eq!(me.body["acr"], "eidas1-mfa");
        assert_eq!(me.body["device_count"], 1);
        // A fresh real sign-in satisfies step-up.
        env.call(
            Method::POST,
            paths::MY_RECOVERY_CODES,
            &[],
            Some(access),
            None,
        )
        .await
        .ok(200);
        // And the ID token is not an access token.
        env.get(paths::ME, &[], tokens["id_token"].as_str().unwrap())
            .await
            .problem(401, "unauthorized");
        // The trail has the API's changes and the sign-in, newest first.
        let trail = env
            .get(paths::MY_ACTIVITY, &[], access)
            .await
            .ok(200)
            .clone();
        let actions: Vec<&str> = trail["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        let pos = |a: &str| {
            actions
                .iter()
                .position(|x| *x == a)
                .unwrap_or_else(|| panic!("{a} in {actions:?}"))
        };
        assert_eq!(actions[0], "recovery_codes_generated", "{actions:?}");
        assert!(pos("sign_in") < pos("device_enrolled"), "{actions:?}");
        assert!(
            pos("device_enrolled") < pos("enrollment_started"),
            "enrolment start is older: {actions:?}"
        );
    }
}

#[tokio::test]
async fn odd_ids_on_every_id_route_are_not_found_never_errors() {
    for env in each_env().await {
        let alice = env.fresh("alice").await;
        let agent = env.fresh("agent").await;
        let long = "x".repeat(3000);
        // ("." and ".." are dot segments that the client's URL parser
        // resolves before sending, so they are not tried here.)
        let odd = [
            "../alice-phone",
            "alice-phone/",
            "é✓",
            "%00",
            "alice-phone\u{0}",
            " ",
            long.as_str(),
            "bob-phone' OR '1'='1",
            "*",
        ];
        for id in odd {
            let p = [("id", id)];
            let name = Some(json!({"name": "n"}));
            let code = Some(json!({"code": "123456"}));
            let checks = [
                env.call(Method::PATCH, paths::MY_DEVICE, &p, Some(&alice), name)
                    .await,
                env.call(Method::DELETE, paths::MY_DEVICE, &p, Some(&alice), None)
                    .await,
                env.call(
                    Method::POST,
                    paths::MY_ENROLLMENT_CONFIRM,
                    &p,
                    Some(&alice),
                    code,
                )
                .await,
                env.call(
                    Method::DELETE,
                    paths::MY_TRUSTED_BROWSER,
                    &p,
                    Some(&alice),
                    None,
                )
                .await,
                env.call(
                    Method::DELETE,
                    paths::USER_DEVICE,
                    &[("uid", "bob"), ("id", id)],
                    Some(&agent),
                    reason("r"),
                )
                .await,
                env.call(
                    Method::DELETE,
                    paths::USER_TRUSTED_BROWSER,
                    &[("uid", "bob"), ("id", id)],
                    Some(&agent),
                    reason("r"),
                )
                .await,
                env.call(
                    Method::GET,
                    paths::USER_DEVICES,
                    &[("uid", id)],
                    Some(&agent),
                    None,
                )
                .await,
            ];
            for r in checks {
                assert_eq!(
                    r.status,
                    StatusCode::NOT_FOUND,
                    "{}: id {id:?}: {}",
                    env.name,
                    r.body
                );
                r.problem(404, "not_found");
            }
        }
        assert_eq!(env.device_ids("alice").await.len(), 2);
        assert_eq!(env.device_ids("bob").await, ["bob-phone"]);
    }
}

#[tokio::test]
async fn oversized_and_non_json_bodies_are_refused_as_problems() {
    for env in each_env().await {
        let alice = env.fresh("alice").await;
        let url = format!("{}{}", env.issuer(), paths::MY_DEVICES);
        let huge = json!({ "name": "x".repeat(200 * 1024) });
        let r = env
            .http
            .post(&url)
            .bearer_auth(&alice)
            .json(&huge)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{}", env.name);
        assert_eq!(r.headers()["content-type"], problem_json());
        let r = env
            .call(Method::POST, paths::MY_DEVICES, &[], Some(&alice), None)
            .await;
        r.problem(400, "bad_request");
        let r = env
            .http
            .post(&url)
            .bearer_auth(&alice)
            .header("content-type", "application/json")
            .body("{\"name\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "bad_request");
        assert!(env.store.list_devices("alice").await.unwrap().len() == 2);
    }
}

// ---------------------------------------------------------------------------
// OpenAPI document
// ---------------------------------------------------------------------------

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[tokio::test]
async fn the_openapi_document_covers_exactly_the_served_routes() {
    for env in each_env().await {
        let doc = &env.doc;
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        let documented: BTreeSet<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let expected: BTreeSet<&str> = paths::ALL.iter().copied().collect();
        assert_eq!(documented, expected, "{}", env.name);
        assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");

        // Every documented operation is served (no token: 401 problem, never
        // 404/405), and every other method on those paths is not (405).
        for template in &expected {
            let path = paths::fill(template, &[("id", "x"), ("uid", "someone")]);
            for method in METHODS {
                let documented = doc["paths"][template][method].is_object();
                let r = env
                    .http
                    .request(
                        method.to_uppercase().parse().unwrap(),
                        format!("{}{path}", env.issuer()),
                    )
                    .send()
                    .await
                    .unwrap();
                let want = if documented {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::METHOD_NOT_ALLOWED
                };
                assert_eq!(r.status(), want, "{method} {template}");
                assert_eq!(
                    r.headers()["content-type"],
                    problem_json(),
                    "{method} {template}"
                );
                if documented {
                    let op = &doc["paths"][template][method];
                    assert!(op["responses"]["401"].is_object(), "{method} {template}");
                    // Path parameters are exactly the template's placeholders;
                    // every other parameter is in the query.
                    let params = op["parameters"].as_array().cloned().unwrap_or_default();
                    let in_path: BTreeSet<&str> = params
                        .iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect();
                    let placeholders: BTreeSet<&str> = ["id", "uid"]
                        .into_iter()
                        .filter(|n| template.contains(&format!("{{{n}}}")))
                        .collect();
                    assert_eq!(in_path, placeholders, "{method} {template}");
                    assert!(
                        params
                            .iter()
                            .all(|p| p["in"] == "path" || p["in"] == "query"),
                        "{method} {template}"
                    );
                    // Only the search text is a required query parameter.
                    for p in params.iter().filter(|p| p["in"] == "query") {
                        let required = p["required"].as_bool().unwrap_or(false);
                        assert_eq!(
                            required,
                            p["name"] == "q",
                            "{method} {template} {}",
                            p["name"]
                        );
                    }
                    assert!(
                        !doc["paths"][template][method]["security"].is_null(),
                        "{method} {template}"
                    );
                }
            }
        }
        // Operation ids are unique (OpenAPI 3.1 §4.8.10.1; code generators need them).
        let mut ids = BTreeSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for method in METHODS {
                if let Some(id) = item[method]["operationId"].as_str() {
                    assert!(ids.insert(id.to_owned()), "operationId {id} repeated");
                }
            }
        }
        assert_eq!(ids.len(), 19, "{ids:?}");
        // Something under /api that is not a route: a problem, not a page.
        let r = env
            .http
            .get(format!("{}/api/v1/nothing", env.issuer()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()["content-type"], problem_json());
        // The document is the same as the one generated in-process.
        let generated =
            serde_json::to_value(tessera_provider::account::openapi::document()).unwrap();
        assert_eq!(&generated, doc);
    }
}

#[tokio::test]
async fn the_step_up_age_comes_from_the_configuration() {
    for env in each_env_with(|c| c.step_up_max_age_secs = 60).await {
        let two_minutes = env.mint("alice", 120, &["pwd", "otp", "mfa"], 0).await;
        let r = env
            .call(
                Method::DELETE,
                paths::MY_DEVICE,
                &[("id", "alice-tablet")],
                Some(&two_minutes),
                None,
            )
            .await;
        r.problem(401, "step_up_required");
        assert!(
            r.challenge().ends_with("max_age=60"),
            "{}: {}",
            env.name,
            r.challenge()
        );
        let recent = env.mint("alice", 30, &["pwd", "otp", "mfa"], 0).await;
        env.call(
            Method::DELETE,
            paths::MY_DEVICE,
            &[("id", "alice-tablet")],
            Some(&recent),
            None,
        )
        .await
        .ok(204);
    }
}

#[tokio::test]
async fn the_number_of_apps_per_account_is_bounded_at_start_and_at_confirmation() {
    for env in each_env_with(|c| c.max_devices_per_user = 1).await {
        let token = env.fresh("newbie").await;
        let start = || async {
            env.call(
                Method::POST,
                paths::MY_DEVICES,
                &[],
                Some(&token),
                Some(json!({"name": "Phone"})),
            )
            .await
        };
        let (env, token) = (&env, &token);
        let confirm = |started: Value| async move {
            let secret = rp::decode_b32(started["secret"].as_str().unwrap());
            let code = Authenticator::new(&secret).fresh_code().await;
            env.call(
                Method::POST,
                paths::MY_ENROLLMENT_CONFIRM,
                &[("id", started["enrollment_id"].as_str().unwrap())],
                Some(token),
                Some(json!({ "code": code })),
            )
            .await
        };
        // Two enrolments started while the account has room for one.
        let first = start().await.ok(201).clone();
        let second = start().await.ok(201).clone();
        confirm(first).await.ok(201);
        let r = confirm(second.clone()).await;
        r.problem(409, "too_many_devices");
        assert!(
            r.body["detail"].as_str().unwrap().contains("(1)"),
            "{}: {}",
            env.name,
            r.body
        );
        assert_eq!(env.device_ids("newbie").await.len(), 1, "{}", env.name);
        let kept = second["enrollment_id"].as_str().unwrap();
        assert!(
            env.store
                .get_pending_enrollment("newbie", kept)
                .await
                .unwrap()
                .is_some(),
            "the refused enrolment is kept for when there is room"
        );
        // A full account cannot even start one.
        start().await.problem(409, "too_many_devices");
    }
}

#[tokio::test]
async fn enrolment_starts_are_rate_limited_per_user() {
    for env in each_env().await {
        let token = env.fresh("newbie").await;
        for _ in 0..20 {
            env.call(
                Method::POST,
                paths::MY_DEVICES,
                &[],
                Some(&token),
                Some(json!({"name": "Phone"})),
            )
            .await
            .ok(201);
        }
        let r = env
            .call(
                Method::POST,
                paths::MY_DEVICES,
                &[],
                Some(&token),
                Some(json!({"name": "Phone"})),
            )
            .await;
        r.problem(429, "rate_limited");
        assert!(
            r.body["detail"].as_str().unwrap().contains("minute"),
            "{}: {}",
            env.name,
            r.body
        );
        // Another user is not affected.
        env.call(
            Method::POST,
            paths::MY_DEVICES,
            &[],
            Some(&env.fresh("alice").await),
            Some(json!({"name": "Phone"})),
        )
        .await
        .ok(201);
    }
}

/// A small deterministic generator (xorshift64*) for the fuzz test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "", " ", "a", "Phone", "123456", "\u{0}", "\t", "\n", "é", "✓", "\"", "\\", "{}", "%",
            "ñ", "\u{202e}", "0", "-1", "null",
        ];
        let n = self.below(6);
        let mut s: String = (0..n)
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect();
        if self.below(10) == 0 {
            s.push_str(&"z".repeat(self.below(700) as usize));
        }
        s
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.below(if depth > 2 { 5 } else { 8 }) {
            0 => Value::Null,
            1 => json!(self.below(2) == 0),
            2 => json!(self.next() as i64),
            3 => json!((self.next() % 1000) as f64 / 7.0),
            4 => json!(self.string()),
            5 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            _ => {
                const KEYS: &[&str] = &["name", "code", "reason", "id", "uid", "", "NAME"];
                let mut map = serde_json::Map::new();
                for _ in 0..self.below(4) {
                    let key = KEYS[self.below(KEYS.len() as u64) as usize].to_owned();
                    map.insert(key, self.value(depth + 1));
                }
                Value::Object(map)
            }
        }
    }
}

#[tokio::test]
async fn random_bodies_get_documented_answers_and_never_damage_state() {
    for env in each_env().await {
        let alice = env.fresh("alice").await;
        let agent = env.fresh("agent").await;
        let pending = env
            .call(
                Method::POST,
                paths::MY_DEVICES,
                &[],
                Some(&alice),
                Some(json!({"name": "Pending"})),
            )
            .await
            .ok(201)
            .clone();
        let pending_id = pending["enrollment_id"].as_str().unwrap().to_owned();
        let mut rng = Rng(0x5EED_0000_0000_0001);
        for round in 0..150 {
            let body = rng.value(0);
            let r = match round % 4 {
                0 => {
                    env.call(
                        Method::POST,
                        paths::MY_DEVICES,
                        &[],
                        Some(&alice),
                        Some(body.clone()),
                    )
                    .await
                }
                1 => {
                    env.call(
                        Method::POST,
                        paths::MY_ENROLLMENT_CONFIRM,
                        &[("id", &pending_id)],
                        Some(&alice),
                        Some(body.clone()),
                    )
                    .await
                }
                2 => {
                    env.call(
                        Method::PATCH,
                        paths::MY_DEVICE,
                        &[("id", "alice-phone")],
                        Some(&alice),
                        Some(body.clone()),
                    )
                    .await
                }
                _ => {
                    env.call(
                        Method::DELETE,
                        paths::USER_DEVICE,
                        &[("uid", "bob"), ("id", "nope")],
                        Some(&agent),
                        Some(body.clone()),
                    )
                    .await
                }
            };
            assert!(
                r.status.is_client_error() || r.status.is_success(),
                "{}: round {round}: {body} -> {} {}",
                env.name,
                r.status,
                r.body
            );
            if r.status.is_success() {
                // Only a well-formed name may succeed, and it is stored normalised.
                let name = body["name"].as_str().expect("success needs a name");
                let normalised = tessera_api::normalize_device_name(name).unwrap();
                assert_eq!(r.body["name"], normalised.as_str(), "round {round}");
            }
        }
        assert_eq!(env.device_ids("alice").await.len(), 2, "{}", env.name);
        assert_eq!(env.device_ids("bob").await, ["bob-phone"]);
    }
}

#[tokio::test]
async fn a_removed_helpdesk_role_takes_effect_before_the_token_expires() {
    for env in each_env().await {
        let agent = env.fresh("agent").await;
        env.get(paths::USER_DEVICES, &[("uid", "bob")], &agent)
            .await
            .ok(200);
        let mut user = env.store.get_user("agent").await.unwrap().unwrap();
        user.roles.clear();
        env.store.update_user(&user).await.unwrap();
        env.get(paths::USER_DEVICES, &[("uid", "bob")], &agent)
            .await
            .problem(403, "forbidden");
        env.call(
            Method::DELETE,
            paths::USER_DEVICES,
            &[("uid", "bob")],
            Some(&agent),
            reason("still trying"),
        )
        .await
        .problem(403, "forbidden");
        assert_eq!(env.device_ids("bob").await, ["bob-phone"], "{}", env.name);
    }
}

#[tokio::test]
async fn a_cached_token_is_refused_once_it_expires() {
    for env in each_env().await {
        // Issued 598 s ago with the default 600 s lifetime: 2 s left.
        let token = env.mint("alice", 598, &["pwd", "otp", "mfa"], 598).await;
        env.get(paths::ME, &[], &token).await.ok(200);
        tokio::time::sleep(Duration::from_millis(3100)).await;
        let r = env.get(paths::ME, &[], &token).await;
        r.problem(401, "unauthorized");
        assert!(
            r.body["detail"].as_str().unwrap().contains("expired"),
            "{}: {}",
            env.name,
            r.body
        );
    }
}

/// Every client's access token names the account API as its audience; only
/// the configured clients' are accepted there: a site the user signs in to
/// must not enrol an app, take recovery codes, or (an agent's) reset others.
#[tokio::test]
async fn only_the_configured_clients_tokens_are_accepted() {
    for env in each_env().await {
        let intranet = env
            .mint_for("intranet-app", "alice", 5, &["pwd", "otp", "mfa"], 0)
            .await;
        for (method, template, body) in [
            (Method::GET, paths::ME, None),
            (Method::POST, paths::MY_RECOVERY_CODES, None),
            (
                Method::POST,
                paths::MY_DEVICES,
                Some(json!({ "name": "Attacker's phone" })),
            ),
        ] {
            let r = env
                .call(method.clone(), template, &[], Some(&intranet), body)
                .await;
            r.problem(401, "unauthorized");
            assert!(
                r.challenge().contains(r#"error="invalid_token""#),
                "{}: {method} {template}: {}",
                env.name,
                r.challenge()
            );
        }
        assert_eq!(env.store.count_recovery_codes("alice").await.unwrap(), 0);
        // The app's own token is accepted.
        env.get(paths::ME, &[], &env.fresh("alice").await)
            .await
            .ok(200);
    }
    // Another client named in the configuration is, too.
    for env in each_env_with(|c| c.account_api_clients.push("intranet-app".into())).await {
        let intranet = env
            .mint_for("intranet-app", "alice", 5, &["pwd", "otp", "mfa"], 0)
            .await;
        env.get(paths::ME, &[], &intranet).await.ok(200);
    }
}
