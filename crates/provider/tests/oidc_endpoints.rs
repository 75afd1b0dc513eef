//! Protocol endpoints over real HTTP on 127.0.0.1, on both stores:
//! discovery, JWKS, token (code and refresh), revocation, userinfo, logout.

mod rp;
mod support;

use reqwest::StatusCode;
use rp::{
    AuthRequest, Authenticator, Browser, Env, MFA_CLAIMS, claims, each_env, exchange,
    exchange_with, post_form,
};
use serde_json::Value;

/// The providers' secret key where a test needs it fixed (to read what one
/// provider sealed with another, or to seal by hand).
const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Signs the demo user in with a code; returns the browser, the request and the token response.
async fn signed_in(env: &Env, app: &mut Authenticator) -> (Browser, AuthRequest, Value) {
    let issuer = env.issuer();
    let browser = Browser::new(issuer);
    let req = AuthRequest::new();
    let code = app.fresh_code().await;
    let step = env
        .demo_sign_in(
            &browser,
            &req.url(issuer, &[("claims", MFA_CLAIMS)]),
            Some(&code),
        )
        .await;
    let (status, tokens) = exchange(issuer, &req, &step.callback()["code"]).await;
    assert_eq!(status, StatusCode::OK, "{}: {tokens}", env.store_name);
    (browser, req, tokens)
}

/// The demo user signed in, and a new authorization code (and its request)
/// from that browser session.
async fn signed_in_with_code(env: &Env) -> (Browser, AuthRequest, String) {
    let mut app = Authenticator::new(&env.demo_secret());
    let (browser, _, _) = signed_in(env, &mut app).await;
    let req = AuthRequest::new();
    let code = code_from_session(env, &browser, &req).await;
    (browser, req, code)
}

/// An authorization code for the demo user from an existing browser session.
async fn code_from_session(env: &Env, browser: &Browser, req: &AuthRequest) -> String {
    browser.get(&req.url(env.issuer(), &[])).await.callback()["code"].clone()
}

#[tokio::test]
async fn discovery_and_jwks_describe_the_provider_and_the_key_survives_restarts() {
    for (name, store, _guard) in support::each_store().await {
        let config = tessera_provider::config::Config {
            secret_key: Some(SECRET.into()),
            ..Default::default()
        };
        let provider =
            tessera_provider::testing::TestProvider::start(store.clone(), config.clone()).await;
        let issuer = provider.issuer.clone();
        let doc: Value = reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["issuer"], issuer.as_str(), "{name}");
        assert_eq!(doc["claims_parameter_supported"], true);
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            doc["acr_values_supported"],
            serde_json::json!([
                "eidas1",
                "eidas1-mfa",
                "https://proconnect.gouv.fr/assurance/self-asserted-2fa",
                "https://refeds.org/profile/mfa"
            ])
        );
        for endpoint in [
            "end_session_endpoint",
            "revocation_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "token_endpoint",
        ] {
            assert!(
                doc[endpoint].as_str().unwrap().starts_with(&issuer),
                "{endpoint}"
            );
        }
        let jwks: Value = reqwest::get(doc["jwks_uri"].as_str().unwrap())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["crv"], "P-256");
        assert_eq!(key["alg"], "ES256");
        assert!(key.get("d").is_none(), "no private part");
        let kid = key["kid"].clone();
        drop(provider);

        // A restart on the same store keeps the key and its id.
        let again = tessera_provider::testing::TestProvider::start(store.clone(), config).await;
        let jwks2: Value = reqwest::get(format!("{}/jwks", again.issuer))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(jwks2["keys"][0]["kid"], kid, "{name}");
        // The health check and a problem+json 404.
        let health: Value = reqwest::get(format!("{}/healthz", again.issuer))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "ok");
        let missing = reqwest::get(format!("{}/nothing-here", again.issuer))
            .await
            .unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            missing.headers()["content-type"],
            "application/problem+json"
        );
        assert_eq!(missing.json::<Value>().await.unwrap()["code"], "not_found");
    }
}

#[tokio::test]
async fn id_token_signature_verifies_with_the_published_key() {
    for env in each_env(|_| {}).await {
        let mut app = Authenticator::new(&env.demo_secret());
        let (_, _, tokens) = signed_in(&env, &mut app).await;
        let id = tokens["id_token"].as_str().unwrap();
        // Verify with a key rebuilt from the public JWKS alone.
        let jwks: Value = reqwest::get(format!("{}/jwks", env.issuer()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let jwk = &jwks["keys"][0];
        let b64 = |v: &Value| {
            base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                v.as_str().unwrap(),
            )
            .unwrap()
        };
        let mut sec1 = vec![4u8];
        sec1.extend(b64(&jwk["x"]));
        sec1.extend(b64(&jwk["y"]));
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let (input, sig) = id.rsplit_once('.').unwrap();
        let sig = p256::ecdsa::Signature::from_slice(&b64(&Value::String(sig.into()))).unwrap();
        use p256::ecdsa::signature::Verifier;
        assert!(
            key.verify(input.as_bytes(), &sig).is_ok(),
            "{}",
            env.store_name
        );
        assert_eq!(rp::header(id)["kid"], jwk["kid"]);
        assert_eq!(rp::header(id)["alg"], "ES256");
    }
}

#[tokio::test]
async fn a_code_works_once_and_its_reuse_revokes_the_tokens_it_gave() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let (_, req, code) = signed_in_with_code(&env).await;
        let (status, tokens) = exchange(issuer, &req, &code).await;
        assert_eq!(status, StatusCode::OK);
        let (status, err) = exchange(issuer, &req, &code).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}", env.store_name);
        assert_eq!(err["error"], "invalid_grant");
        // The refresh token obtained with the code is dead now.
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let (status, err) = rp::refresh(issuer, refresh, rp::CLIENT_ID).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert_eq!(err["error"], "invalid_grant");
    }
}

#[tokio::test]
async fn concurrent_exchanges_of_one_code_give_one_set_of_tokens_then_revoke_it() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let (_, req, code) = signed_in_with_code(&env).await;
        let (req, code) = (std::sync::Arc::new(req), std::sync::Arc::new(code));
        let exchanges: Vec<_> = (0..8)
            .map(|_| {
                let (issuer, req, code) = (issuer.to_owned(), req.clone(), code.clone());
                tokio::spawn(async move { exchange(&issuer, &req, &code).await })
            })
            .collect();
        let mut answers = Vec::new();
        for exchange in exchanges {
            answers.push(exchange.await.unwrap());
        }
        let granted: Vec<&Value> = answers
            .iter()
            .filter(|(status, _)| *status == StatusCode::OK)
            .map(|(_, body)| body)
            .collect();
        assert_eq!(granted.len(), 1, "{}: {answers:?}", env.store_name);
        for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
            assert_eq!(
                (*status, body["error"].as_str()),
                (StatusCode::BAD_REQUEST, Some("invalid_grant")),
                "{body}"
            );
        }
        // The code was presented again after it was redeemed: the tokens it
        // gave are revoked, whichever exchange won.
        let refresh = granted[0]["refresh_token"].as_str().unwrap();
        let (status, err) = rp::refresh(issuer, refresh, rp::CLIENT_ID).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {err}", env.store_name);
        assert_eq!(err["error"], "invalid_grant");
    }
}

#[tokio::test]
async fn pkce_redirect_uri_and_client_are_bound_to_the_code() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let (browser, req, code) = signed_in_with_code(&env).await;
        let wrong_verifier = "x".repeat(43);
        let (status, err) = exchange_with(
            issuer,
            rp::CLIENT_ID,
            &req.redirect_uri,
            &wrong_verifier,
            &code,
        )
        .await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{}",
            env.store_name
        );
        // The failed attempt consumed the code.
        assert_eq!(
            exchange(issuer, &req, &code).await.0,
            StatusCode::BAD_REQUEST
        );

        let req = AuthRequest::new();
        let code = code_from_session(&env, &browser, &req).await;
        let (status, err) = exchange_with(
            issuer,
            rp::CLIENT_ID,
            "http://127.0.0.1:49322/callback",
            &req.verifier,
            &code,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            err["error_description"]
                .as_str()
                .unwrap()
                .contains("redirect_uri"),
            "{err}"
        );

        let req = AuthRequest::new();
        let code = code_from_session(&env, &browser, &req).await;
        let invalid_grant = (StatusCode::BAD_REQUEST, "invalid_grant");
        exchange_refused(issuer, rp::PASSWORD_ONLY_CLIENT, &req, &code, invalid_grant).await;
        let invalid_client = (StatusCode::UNAUTHORIZED, "invalid_client");
        exchange_refused(issuer, "unknown-client", &req, "abc", invalid_client).await;
        // A live code presented by a client that does not authenticate is
        // refused as such, and left to its own client (the token endpoint
        // reads it while the client authenticates, and nothing more).
        let req = AuthRequest::new();
        let code = code_from_session(&env, &browser, &req).await;
        exchange_refused(issuer, "unknown-client", &req, &code, invalid_client).await;
        let (status, tokens) = exchange_with(
            issuer,
            rp::CLIENT_ID,
            &req.redirect_uri,
            &req.verifier,
            &code,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert!(tokens["id_token"].is_string(), "{tokens}");
        let (status, err) = post_form(
            issuer,
            "/token",
            &[("grant_type", "password"), ("client_id", rp::CLIENT_ID)],
        )
        .await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
        );
        let (status, err) = post_form(
            issuer,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("grant_type", "x"),
                ("client_id", rp::CLIENT_ID),
            ],
        )
        .await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request"))
        );
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let (_, _, tokens) = signed_in(&env, &mut app).await;
        let first = tokens["refresh_token"].as_str().unwrap().to_owned();
        let refresh = |t: String| async move { rp::refresh(issuer, &t, rp::CLIENT_ID).await };
        let (status, second) = refresh(first.clone()).await;
        assert_eq!(status, StatusCode::OK, "{}: {second}", env.store_name);
        let second_token = second["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(second_token, first);
        let id = claims(second["id_token"].as_str().unwrap());
        assert_eq!(id["acr"], "eidas1-mfa", "acr kept across refresh");
        assert_eq!(
            id["auth_time"],
            claims(tokens["id_token"].as_str().unwrap())["auth_time"]
        );

        // Reusing the first token: refused, and the second dies with it.
        let (status, err) = refresh(first).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        let (status, _) = refresh(second_token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "family revoked");

        // Another client cannot use the demo client's refresh token.
        let (_, _, tokens) = signed_in(&env, &mut app).await;
        let t = tokens["refresh_token"].as_str().unwrap();
        let (status, _) = rp::refresh(issuer, t, rp::PASSWORD_ONLY_CLIENT).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = rp::refresh(issuer, t, rp::CLIENT_ID).await;
        assert_eq!(status, StatusCode::OK, "the failed attempt left it usable");
    }
}

async fn userinfo(issuer: &str, token: Option<&str>) -> (StatusCode, Option<String>, Value) {
    let mut req = reqwest::Client::new().get(format!("{issuer}/userinfo"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, challenge, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn userinfo_answers_a_valid_token_and_refuses_bad_expired_forged_and_revoked_ones() {
    for env in each_env(|c| c.tokens.access_token_secs = 600).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let (_, _, tokens) = signed_in(&env, &mut app).await;
        let access = tokens["access_token"].as_str().unwrap();
        let (status, _, body) = userinfo(issuer, Some(access)).await;
        assert_eq!(status, StatusCode::OK, "{}", env.store_name);
        assert_eq!(body["sub"], "demo");
        assert_eq!(body["email"], "demo@example.org");

        let (status, challenge, _) = userinfo(issuer, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(challenge.unwrap().starts_with("Bearer"));
        let (status, challenge, body) = userinfo(issuer, Some("not-a-jwt")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(challenge.unwrap().contains("invalid_token"));
        assert_eq!(body["error"], "invalid_token");

        // Forged: claims changed, signature kept.
        let parts: Vec<&str> = access.split('.').collect();
        let mut forged_claims = claims(access);
        forged_claims["sub"] = "helpdesk".into();
        let forged_payload = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            forged_claims.to_string(),
        );
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(
            userinfo(issuer, Some(&forged)).await.0,
            StatusCode::UNAUTHORIZED
        );
        // Signed by another key.
        let other = tessera_provider::jwt::SigningKeys::generate();
        let foreign = other.sign("at+jwt", &claims(access));
        assert_eq!(
            userinfo(issuer, Some(&foreign)).await.0,
            StatusCode::UNAUTHORIZED
        );
        // Expired (signed with the provider's own key, as if issued long ago).
        let mut old = claims(access);
        old["exp"] = (old["iat"].as_i64().unwrap() - 10).into();
        let expired = env.provider.app.keys().sign("at+jwt", &old);
        let (status, _, body) = userinfo(issuer, Some(&expired)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("expired")
        );
        // An ID token is not an access token.
        assert_eq!(
            userinfo(issuer, Some(tokens["id_token"].as_str().unwrap()))
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );

        // Revoked (RFC 7009): refused afterwards; the revocation answers 200.
        let (status, _) = rp::revoke(issuer, access, rp::CLIENT_ID).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            userinfo(issuer, Some(access)).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn revoking_a_refresh_token_kills_its_family_and_unknown_tokens_answer_200() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let (_, _, tokens) = signed_in(&env, &mut app).await;
        let refresh = tokens["refresh_token"].as_str().unwrap();
        // Another client cannot revoke it.
        let (status, _) = rp::revoke(issuer, refresh, rp::PASSWORD_ONLY_CLIENT).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = post_form(
            issuer,
            "/revoke",
            &[
                ("token", refresh),
                ("client_id", rp::CLIENT_ID),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}", env.store_name);
        let (status, err) = rp::refresh(issuer, refresh, rp::CLIENT_ID).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        let (status, _) = rp::revoke(issuer, "unknown", rp::CLIENT_ID).await;
        assert_eq!(status, StatusCode::OK);
        let (status, err) = post_form(issuer, "/revoke", &[("client_id", rp::CLIENT_ID)]).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request"))
        );
        let (status, err) = post_form(issuer, "/revoke", &[("token", refresh)]).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client"))
        );
    }
}

/// `client` exchanging `code` (of `req`) is refused with `expected`.
async fn exchange_refused(
    issuer: &str,
    client: &str,
    req: &AuthRequest,
    code: &str,
    expected: (StatusCode, &str),
) {
    let (status, err) = exchange_with(issuer, client, &req.redirect_uri, &req.verifier, code).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (expected.0, Some(expected.1)),
        "{err}"
    );
}

/// A logout request at `url` is refused with a page and the browser's
/// session still answers an authorization request.
async fn refused_and_still_signed_in(env: &Env, browser: &Browser, url: &str) {
    let step = browser.get(url).await;
    assert_eq!(
        *step.page().0,
        StatusCode::BAD_REQUEST,
        "{}: {url}",
        env.store_name
    );
    assert!(
        code_from_session(env, browser, &AuthRequest::new())
            .await
            .len()
            > 20,
        "still signed in after {url}"
    );
}

#[tokio::test]
async fn logout_ends_the_session_and_only_redirects_to_registered_uris() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let (browser, _, tokens) = signed_in(&env, &mut app).await;
        let id_token = tokens["id_token"].as_str().unwrap();

        // Unregistered post-logout URI: refused with a page, session kept.
        let bad = format!(
            "{issuer}/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"
        );
        refused_and_still_signed_in(&env, &browser, &bad).await;

        // The user's access token, signed by the same key, is not an ID
        // token: as a hint it would end the session without confirmation.
        let access_token = tokens["access_token"].as_str().unwrap();
        let hint = format!("{issuer}/logout?id_token_hint={access_token}");
        refused_and_still_signed_in(&env, &browser, &hint).await;

        // Without a hint the user confirms on a page first.
        let confirm = browser.get(&format!("{issuer}/logout")).await;
        assert!(
            confirm.html().contains("name=\"csrf\""),
            "{}",
            confirm.html()
        );

        // With the hint and a registered (loopback, any port) URI: redirected with state.
        let good = format!(
            "{issuer}/logout?id_token_hint={id_token}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Flogout&state=bye"
        );
        let step = browser.get(&good).await;
        let params = step.callback();
        assert_eq!(params["state"], "bye");
        // The session is gone: authorize asks for the password again.
        let step = browser.get(&AuthRequest::new().url(issuer, &[])).await;
        assert!(step.html().contains("name=\"password\""));
        // A forged hint is refused.
        let forged = format!("{issuer}/logout?id_token_hint={}x", id_token);
        assert_eq!(
            *browser.get(&forged).await.page().0,
            StatusCode::BAD_REQUEST
        );
    }
}

#[tokio::test]
async fn confirmed_logout_without_hint_needs_the_sessions_csrf_token() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let (browser, _, _) = signed_in(&env, &mut app).await;
        let confirm = browser.get(&format!("{issuer}/logout")).await;
        let forged = rp::Step::Page {
            status: StatusCode::OK,
            url: url::Url::parse(issuer).unwrap(),
            html: confirm
                .html()
                .replace("name=\"csrf\" value=\"", "name=\"csrf\" value=\"x"),
        };
        let step = browser.submit(&forged, &[]).await;
        assert!(
            step.html().contains("name=\"csrf\""),
            "{}: still asking",
            env.store_name
        );
        assert!(
            code_from_session(&env, &browser, &AuthRequest::new())
                .await
                .len()
                > 20
        );
        let step = browser.submit(&confirm, &[]).await;
        assert!(
            step.html().contains("You are signed out."),
            "{}",
            step.html()
        );
        let step = browser.get(&AuthRequest::new().url(issuer, &[])).await;
        assert!(step.html().contains("name=\"password\""));
    }
}

#[tokio::test]
async fn a_disabled_user_can_neither_sign_in_nor_refresh_nor_call_userinfo() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let (browser, _, tokens) = signed_in(&env, &mut app).await;
        env.store.set_user_disabled("demo", true).await.unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let (status, err) = rp::refresh(issuer, refresh, rp::CLIENT_ID).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{}",
            env.store_name
        );
        assert_eq!(
            userinfo(issuer, tokens["access_token"].as_str()).await.0,
            StatusCode::UNAUTHORIZED
        );
        // The browser session no longer answers; the password form says why.
        let page = browser.get(&AuthRequest::new().url(issuer, &[])).await;
        let step = browser
            .submit(
                &page,
                &[("username", "demo"), ("password", &env.demo_password())],
            )
            .await;
        assert_eq!(*step.page().0, StatusCode::FORBIDDEN);
        assert!(step.html().contains("disabled"));
    }
}

/// A code whose user is disabled between the sign-in and the exchange is
/// refused, and spent: the token endpoint checks the user while it redeems
/// the code, and the refresh token it stored meanwhile is gone before anyone
/// saw it (its family has nothing left to revoke); enabled again, the user
/// cannot use the code a second time.
#[tokio::test]
async fn a_code_whose_user_was_disabled_meanwhile_is_refused_and_leaves_no_token() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let (_, req, code) = signed_in_with_code(&env).await;
        env.store.set_user_disabled("demo", true).await.unwrap();
        let invalid_grant = (StatusCode::BAD_REQUEST, "invalid_grant");
        exchange_refused(issuer, rp::CLIENT_ID, &req, &code, invalid_grant).await;
        let code_hash = tessera_provider::store::hash_token(code.as_bytes());
        if let Some(family) = env.store.redeemed_code_family(&code_hash).await.unwrap() {
            assert_eq!(
                env.store.revoke_refresh_family(&family).await.unwrap(),
                0,
                "{}: a refresh token outlived the refusal",
                env.store_name
            );
        }
        env.store.set_user_disabled("demo", false).await.unwrap();
        exchange_refused(issuer, rp::CLIENT_ID, &req, &code, invalid_grant).await;
    }
}

#[tokio::test]
async fn a_confidential_client_must_prove_its_secret() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        env.store
            .create_client(&tessera_provider::store::Client {
                client_id: "svc".into(),
                name: "Service".into(),
                redirect_uris: vec!["https://svc.example/cb".into()],
                post_logout_redirect_uris: vec![],
                public: false,
                secret_hash: Some(tessera_provider::store::PasswordHash(
                    tessera_provider::password::hash("s3cret"),
                )),
                require_mfa: Some(false),
                created_at: time::OffsetDateTime::now_utc(),
            })
            .await
            .unwrap();
        let req = AuthRequest::for_client("svc", "https://svc.example/cb");
        let step = env
            .demo_sign_in(&Browser::new(issuer), &req.url(issuer, &[]), None)
            .await;
        let code = step.callback()["code"].clone();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://svc.example/cb"),
            ("code_verifier", req.verifier.as_str()),
        ];
        let http = reqwest::Client::new();
        let wrong = http
            .post(format!("{issuer}/token"))
            .basic_auth("svc", Some("wrong"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            wrong.status(),
            StatusCode::UNAUTHORIZED,
            "{}",
            env.store_name
        );
        assert!(
            wrong.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        // Without any secret: refused too.
        let (status, _) = post_form(
            issuer,
            "/token",
            &[form[0], form[1], form[2], form[3], ("client_id", "svc")],
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // The code was not consumed by failed client authentication.
        let ok = http
            .post(format!("{issuer}/token"))
            .basic_auth("svc", Some("s3cret"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let tokens: Value = ok.json().await.unwrap();
        assert_eq!(
            claims(tokens["id_token"].as_str().unwrap())["amr"],
            serde_json::json!(["pwd"])
        );
    }
}

#[tokio::test]
async fn malformed_input_gets_a_clear_error_and_never_breaks_the_server() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let bodies: [&[u8]; 6] = [
            b"",
            b"%%%",
            b"a=1&a=2",
            &[0xff, 0xfe, 0x00, b'='],
            b"grant_type=authorization_code&code=\x00",
            &[b'x'; 70_000],
        ];
        for path in ["/token", "/revoke", "/signin", "/logout", "/userinfo"] {
            for body in bodies {
                let resp = http
                    .post(format!("{issuer}{path}"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("authorization", "Basic !!!")
                    .body(body.to_vec())
                    .send()
                    .await
                    .unwrap();
                let status = resp.status();
                if path == "/logout" && status == StatusCode::OK {
                    // Nothing to end (no session): the "you are signed out" page.
                    let html = resp.text().await.unwrap();
                    assert!(html.contains("You are signed out."), "{html}");
                    continue;
                }
                assert!(
                    status.is_client_error(),
                    "{} {path} {:?}: {status}",
                    env.store_name,
                    &body[..body.len().min(20)]
                );
            }
        }
        for query in [
            "",
            "client_id=%ff%fe",
            "client_id=tessera-desktop&redirect_uri=%00",
            "claims=%7B&client_id=x",
        ] {
            let resp = http
                .get(format!("{issuer}/authorize?{query}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{query}");
        }
        for query in ["tx=", "tx=%ff", "tx=a&tx=b"] {
            let resp = http
                .get(format!("{issuer}/signin?{query}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::GONE, "{query}");
        }
        // Too large: still an OAuth error in JSON, with 413.
        for path in ["/token", "/revoke"] {
            let resp = http
                .post(format!("{issuer}{path}"))
                .body(vec![b'a'; 70_000])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], "invalid_request", "{path}");
        }
        // Still serving.
        let resp = http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn an_authorization_code_expires() {
    for env in each_env(|c| c.tokens.auth_code_secs = 1).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let browser = signed_in_without_exchange(&env, &mut app).await;
        let req = AuthRequest::new();
        let code = code_from_session(&env, &browser, &req).await;
        // Outlive the one-second lifetime (both stores expire on read).
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        let (status, err) = exchange(issuer, &req, &code).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{}",
            env.store_name
        );
    }
}

/// Signs the demo user in, leaving the code unused (it may already have expired).
async fn signed_in_without_exchange(env: &Env, app: &mut Authenticator) -> Browser {
    let browser = Browser::new(env.issuer());
    let code = app.fresh_code().await;
    let url = AuthRequest::new().url(env.issuer(), &[]);
    let step = env.demo_sign_in(&browser, &url, Some(&code)).await;
    assert!(step.callback().contains_key("code"), "{}", env.store_name);
    browser
}

/// Two instances on one store, as behind a load balancer: a key rotated by
/// the command line is accepted by an instance that has not read the keys
/// since (the unknown key id makes it read them), the retired key still
/// verifies and is published, and discarded keys verify nothing once each
/// instance has read the keys, even tokens it had already verified.
#[tokio::test]
async fn a_rotated_key_is_accepted_by_every_instance_and_old_keys_until_discarded() {
    use tessera_api::paths;
    use tessera_provider::testing::TestProvider;
    use tessera_provider::{keyring, tokens};
    for (name, store, _guard) in support::each_store().await {
        let config = tessera_provider::config::Config {
            secret_key: Some(SECRET.into()),
            issuer: Some("https://id.example.test".into()),
            ..Default::default()
        };
        let secret = tessera_provider::crypto::SecretKey::from_base64(SECRET).unwrap();
        let a = TestProvider::start(store.clone(), config.clone()).await;
        let b = TestProvider::start(store.clone(), config.clone()).await;
        let demo = a.seed_demo().await.demo;
        let user = store.get_user(&demo.uid).await.unwrap().unwrap();
        let now = time::OffsetDateTime::now_utc();
        let grant = tokens::Grant {
            client_id: "tessera-desktop".into(),
            scope: "openid".into(),
            acr: None,
            amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
            auth_time: now,
            nonce: None,
        };
        let token_of = |p: &TestProvider| tokens::access_token(&p.app, &user, &grant, now).0;
        let http = reqwest::Client::new();
        let me = async |p: &TestProvider, token: &str| {
            http.get(format!("http://{}{}", p.addr, paths::ME))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        };
        let kids = async |p: &TestProvider| -> Vec<String> {
            let jwks: Value = http
                .get(format!("http://{}/jwks", p.addr))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect()
        };

        let first = token_of(&a);
        let key1 = a.app.keys().kid().to_owned();
        assert_eq!(me(&b, &first).await, StatusCode::OK, "{name}");

        let keep = keyring::retired_key_use(&config);
        let rotated = keyring::rotate(&*store, &secret, now, keep, false)
            .await
            .unwrap();
        assert_eq!(rotated.retired.as_deref(), Some(key1.as_str()));
        // A reads the keys (as it does every minute) and signs with the new one.
        assert!(a.app.reload_keys().await.unwrap(), "{name}");
        let second = token_of(&a);
        assert_eq!(a.app.keys().kid(), rotated.active);
        // B has not read them since it started.
        assert_eq!(b.app.keys().kid(), key1);
        // Several at once: each is served, not only the one whose read of
        // the store found the new key.
        let (r1, r2, r3, r4, r5, r6) = tokio::join!(
            me(&b, &second),
            me(&b, &second),
            me(&b, &second),
            me(&b, &second),
            me(&b, &second),
            me(&b, &second)
        );
        assert_eq!([r1, r2, r3, r4, r5, r6], [StatusCode::OK; 6], "{name}");
        assert_eq!(b.app.keys().kid(), rotated.active);
        assert_eq!(me(&b, &first).await, StatusCode::OK, "{name}: retired key");
        assert_eq!(kids(&b).await, [rotated.active.clone(), key1.clone()]);

        // Too soon for another rotation that keeps tokens alive.
        let refused = keyring::rotate(&*store, &secret, now, keep, false).await;
        assert!(
            matches!(
                refused,
                Err(keyring::KeyringError::RetiredTooRecently { .. })
            ),
            "{name}"
        );

        // The key was exposed: both old keys go at once.
        let discarded = keyring::rotate(&*store, &secret, now, keep, true)
            .await
            .unwrap();
        assert_eq!(discarded.dropped, [key1.clone(), rotated.active.clone()]);
        // B's /jwks reads the keys as the store holds them now.
        assert_eq!(kids(&b).await, vec![discarded.active.clone()], "{name}");
        assert!(!b.app.reload_keys().await.unwrap(), "already read by /jwks");
        assert!(a.app.reload_keys().await.unwrap());
        for (p, token) in [(&a, &first), (&b, &first), (&a, &second), (&b, &second)] {
            assert_eq!(
                me(p, token).await,
                StatusCode::UNAUTHORIZED,
                "{name}: a token of a discarded key"
            );
        }
        assert_eq!(me(&b, &token_of(&a)).await, StatusCode::OK, "{name}");
        assert_eq!(kids(&a).await, vec![discarded.active]);
    }
}

/// The files of a live embedded store's directory copied into a new one:
/// what a crash at this moment would leave on disk.
fn crashed_copy(live: &std::path::Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(live).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
    }
    copy
}

/// The embedded store acknowledges a code's redemption without waiting for
/// the disk, and makes it durable within `FLUSH_EVERY`: a crash can lose
/// it, so a code issued before the store recovered from one is refused,
/// while the sign-in's session, flushed meanwhile, still gives codes that
/// are exchanged.
#[tokio::test(flavor = "multi_thread")]
async fn after_a_crash_a_code_issued_before_it_is_refused_and_one_issued_after_is_exchanged() {
    use secrecy::ExposeSecret;
    use std::sync::Arc;
    use tessera_provider::config::Config;
    use tessera_provider::store::{EmbeddedStore, FLUSH_EVERY, Store};
    use tessera_provider::testing::TestProvider;

    let config = Config {
        secret_key: Some(SECRET.into()),
        ..Default::default()
    };
    let live = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(live.path()).unwrap());
    let before = TestProvider::start(store.clone(), config.clone()).await;
    let accounts = before.seed_demo().await;
    let browser = Browser::new(&before.issuer);
    let req = AuthRequest::new();
    let secret = rp::decode_b32(accounts.demo.totp_secret.expose_secret());
    let code = Authenticator::new(&secret).fresh_code().await;
    let step = rp::sign_in(
        &browser,
        &req.url(&before.issuer, &[]),
        "demo",
        accounts.demo.password.expose_secret(),
        Some(&code),
        false,
    )
    .await;
    let issued_before = step.callback()["code"].clone();
    // Nothing durable is written after the sign-in: only the period makes
    // its lazy writes (the code, the session) durable.
    tokio::time::sleep(FLUSH_EVERY * 2 + std::time::Duration::from_millis(200)).await;
    let crashed = crashed_copy(live.path());

    let recovered = Arc::new(EmbeddedStore::open(crashed.path()).unwrap());
    assert!(
        recovered.recovered_at().is_some(),
        "a copy of a live store is a crash"
    );
    let after = TestProvider::start(recovered, config).await;
    let (status, body) = exchange(&after.issuer, &req, &issued_before).await;
    // (The answer is not printed whole: it may hold tokens.)
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", body["error"]);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("before the provider recovered from a crash"),
        "the code was flushed, and refused for the crash: {body}"
    );

    // The browser's session was flushed too: a new code, issued after the
    // recovery, is exchanged.
    let req = AuthRequest::new();
    let issued_after = browser.get(&req.url(&after.issuer, &[])).await.callback()["code"].clone();
    let (status, tokens) = exchange(&after.issuer, &req, &issued_after).await;
    assert_eq!(status, StatusCode::OK, "{}", tokens["error_description"]);
    drop(before);
    drop(store);
}
