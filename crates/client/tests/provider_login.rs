//! Full sign-ins against the project's own provider over real HTTP on
//! 127.0.0.1: the browser is a stand-in program run the way `BROWSER` is
//! (tests/support/browser_standin.py) that posts the provider's sign-in
//! forms (`username`, `password`, `otp`).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::ExposeSecret;
use support::{config, env, env_with, log_of, record_progress};
use tessera_client::{Client, ClientError, LoginProgress, MemoryTokenStore, TokenStore};

#[tokio::test]
async fn full_login_with_totp_then_refresh_and_sign_out() {
    let env = env().await;
    let store = Arc::new(MemoryTokenStore::default());
    let (client, log) = env.client("demo", store.clone(), |_| {});
    let progress = record_progress(&client);

    let info = client
        .login()
        .await
        .unwrap_or_else(|e| panic!("login failed: {e}\n{}", log_of(&log)));
    assert_eq!(info.subject, "demo");
    assert_eq!(
        info.acr, "eidas1-mfa",
        "the first requested acr the provider offers"
    );
    let log_text = log_of(&log);
    assert!(
        log_text.contains("password form") && log_text.contains("otp form"),
        "{log_text}"
    );

    let steps: Vec<String> = progress
        .lock()
        .unwrap()
        .iter()
        .map(|p| {
            serde_json::to_value(p).unwrap()["step"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        steps,
        ["discovering", "waiting_for_browser", "exchanging", "done"]
    );
    let url = match &progress.lock().unwrap()[1] {
        LoginProgress::WaitingForBrowser { url } => url.clone(),
        other => panic!("{other:?}"),
    };
    let url = url::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(
        q["state"].len() >= 43 && q["nonce"].len() >= 43,
        "32 random bytes each"
    );
    let claims: serde_json::Value = serde_json::from_str(&q["claims"]).unwrap();
    assert_eq!(claims["id_token"]["acr"]["essential"], true);
    let asked: Vec<&str> = claims["id_token"]["acr"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(asked.contains(&"eidas1-mfa"));
    assert!(
        !asked.contains(&"eidas2"),
        "values the provider does not offer are not requested"
    );

    // Stored, and usable by a fresh client on the same store.
    let stored = store.load().unwrap().expect("tokens stored");
    assert_eq!(stored.acr, "eidas1-mfa");
    let again = Client::new(config(&env.provider.issuer, |_| {}), store.clone()).unwrap();
    assert_eq!(again.session().await.unwrap().unwrap().subject, "demo");

    // Refresh (rotation): a new access token, still the same user.
    let before = stored.access_token.expose_secret().to_owned();
    let fresh = tessera_client::oidc::refresh(
        &reqwest::Client::new(),
        client.config(),
        &tessera_client::oidc::discover(&reqwest::Client::new(), client.config())
            .await
            .unwrap(),
        &stored,
    )
    .await
    .expect("refresh works");
    assert!(
        fresh.rediscovered.is_none(),
        "the keys did not change: no second discovery"
    );
    let fresh = fresh.tokens;
    assert_ne!(fresh.access_token.expose_secret(), before);
    assert_eq!(fresh.subject, "demo");

    // Sign-out revokes at the provider and forgets locally.
    let report = client.logout().await.unwrap();
    assert!(
        report.was_signed_in && report.revoked && report.session_ended,
        "{report:?}"
    );
    assert!(store.load().unwrap().is_none());
    assert!(matches!(client.me().await, Err(ClientError::NotSignedIn)));
    // The revoked refresh token no longer works.
    let after = tessera_client::oidc::refresh(
        &reqwest::Client::new(),
        client.config(),
        &tessera_client::oidc::discover(&reqwest::Client::new(), client.config())
            .await
            .unwrap(),
        &stored,
    )
    .await;
    assert!(after.is_err(), "a revoked refresh token must be refused");
}

#[tokio::test]
async fn a_provider_without_any_accepted_acr_is_refused_before_the_browser_opens() {
    let env = env().await;
    let store = Arc::new(MemoryTokenStore::default());
    let (client, _) = env.client("demo", store.clone(), |l| {
        l.accepted_acr = Some(vec!["eidas3".into()])
    });
    let opened = Arc::new(Mutex::new(false));
    let o = opened.clone();
    client.on_open_browser(move |_| {
        *o.lock().unwrap() = true;
        Ok(())
    });
    let err = client.login().await.unwrap_err();
    match &err {
        ClientError::NoAcceptableAcr { offered, .. } => {
            assert!(offered.iter().any(|v| v == "eidas1-mfa"), "{offered:?}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("eidas1-mfa"),
        "names what the provider offers: {err}"
    );
    assert!(!*opened.lock().unwrap());
    assert!(store.load().unwrap().is_none());
}

#[tokio::test]
async fn cancelling_while_waiting_for_the_browser_stores_nothing() {
    let env = env().await;
    let store = Arc::new(MemoryTokenStore::default());
    let client =
        Arc::new(Client::new(config(&env.provider.issuer, |_| {}), store.clone()).unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = Mutex::new(Some(tx));
    client.on_open_browser(move |_| {
        // A browser that never comes back; tell the test we are waiting.
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(());
        }
        Ok(())
    });
    let c = client.clone();
    let login = tokio::spawn(async move { c.login().await });
    rx.await.unwrap();
    client.cancel_login();
    let err = tokio::time::timeout(Duration::from_secs(30), login)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), "cancelled");
    assert!(store.load().unwrap().is_none());
}

#[tokio::test]
async fn an_unreachable_provider_is_a_discovery_error_naming_it() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let client = Client::new(
        config(&issuer, |_| {}),
        Arc::new(MemoryTokenStore::default()),
    )
    .unwrap();
    let err = client.login().await.unwrap_err();
    assert_eq!(err.code(), "discovery");
    assert!(err.to_string().contains(&issuer), "{err}");
}

#[tokio::test]
async fn short_lived_access_tokens_are_refreshed_transparently() {
    // An access token that always expires within the refresh margin.
    let env = env_with(|c| c.tokens.access_token_secs = 30).await;
    let store = Arc::new(MemoryTokenStore::default());
    let (client, log) = env.client("demo", store.clone(), |_| {});
    client
        .login()
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", log_of(&log)));
    let first = store.load().unwrap().unwrap();
    assert_eq!(client.me().await.unwrap().uid, "demo");
    let second = store.load().unwrap().unwrap();
    assert_ne!(
        first.access_token.expose_secret(),
        second.access_token.expose_secret(),
        "the call refreshed and stored new tokens"
    );
    assert_ne!(
        first.refresh_token.as_ref().unwrap().expose_secret(),
        second.refresh_token.as_ref().unwrap().expose_secret(),
        "the refresh token was rotated"
    );
    assert_eq!(second.subject, "demo");
    assert_eq!(second.acr, "eidas1-mfa");
}

#[tokio::test]
async fn a_refresh_signed_with_a_rotated_key_keeps_the_session() {
    let env = env_with(|c| c.tokens.access_token_secs = 30).await;
    let store = Arc::new(MemoryTokenStore::default());
    let (client, log) = env.client("demo", store.clone(), |_| {});
    client
        .login()
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", log_of(&log)));
    let first = store.load().unwrap().unwrap();
    // The provider's keys rotate after the sign-in (which fetched the JWKS).
    let app = &env.provider.app;
    let before = app.keys();
    let keep = tessera_provider::keyring::retired_key_use(&app.config);
    let now = time::OffsetDateTime::now_utc();
    tessera_provider::keyring::rotate(&*app.store, &app.secret_key, now, keep, false)
        .await
        .unwrap();
    assert!(app.reload_keys().await.unwrap());
    // The call refreshes; the new ID token names a key the JWKS fetched at
    // sign-in does not publish.
    assert_eq!(client.me().await.unwrap().uid, "demo");
    let second = store.load().unwrap().unwrap();
    assert_ne!(
        first.access_token.expose_secret(),
        second.access_token.expose_secret()
    );
    let id_token = second.id_token.expose_secret();
    assert_eq!(
        before.verify(id_token, None).unwrap_err(),
        tessera_provider::jwt::JwtError::UnknownKey,
        "signed with the new key"
    );
    assert_eq!(second.subject, "demo");
    // And the next refresh uses the document fetched again.
    assert_eq!(client.me().await.unwrap().uid, "demo");
}

#[tokio::test]
async fn a_revoked_session_ends_cleanly_and_asks_to_sign_in_again() {
    let env = env_with(|c| c.tokens.access_token_secs = 30).await;
    let store = Arc::new(MemoryTokenStore::default());
    let (client, log) = env.client("demo", store.clone(), |_| {});
    client
        .login()
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", log_of(&log)));
    // Another client on the same tokens signs out (revoking the refresh token).
    let other = Client::new(config(&env.provider.issuer, |_| {}), store.clone()).unwrap();
    let saved = store.load().unwrap().unwrap();
    other.logout().await.unwrap();
    store.save(&saved).unwrap();
    // The next call must refresh, is refused, and the session is forgotten.
    let err = client.me().await.unwrap_err();
    assert_eq!(err.code(), "session_expired", "{err}");
    assert!(store.load().unwrap().is_none());
}

#[tokio::test]
async fn sign_out_forgets_the_tokens_even_when_the_provider_is_gone() {
    let env = env().await;
    let store = Arc::new(MemoryTokenStore::default());
    let (client, log) = env.client("demo", store.clone(), |_| {});
    client
        .login()
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", log_of(&log)));
    drop(env);
    let report = client.logout().await.unwrap();
    assert!(report.was_signed_in);
    assert!(!report.revoked && !report.session_ended);
    assert!(!report.warnings.is_empty(), "says what failed: {report:?}");
    assert!(store.load().unwrap().is_none());
}
