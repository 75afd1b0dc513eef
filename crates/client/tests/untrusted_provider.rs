//! What a provider's discovery document names is not taken on trust: the
//! client's own handling of its endpoints, checked against a stand-in
//! provider (support/fake_op.rs) that says what each test needs.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secrecy::SecretString;
use support::config;
use support::fake_op::{FakeOp, closed_port_url};
use tessera_client::{Client, Lang, MemoryTokenStore, TokenSet, TokenStore};

const ID_TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.the-id-token-payload.the-signature";

fn signed_in_store() -> Arc<MemoryTokenStore> {
    let store = Arc::new(MemoryTokenStore::default());
    store
        .save(&TokenSet {
            access_token: SecretString::from("the-access-token"),
            refresh_token: Some(SecretString::from("the-refresh-token")),
            id_token: SecretString::from(ID_TOKEN),
            expires_at: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
            subject: "demo".into(),
            acr: "eidas1-mfa".into(),
            auth_time: None,
        })
        .unwrap();
    store
}

#[tokio::test]
async fn an_unreachable_end_session_endpoint_is_reported_without_the_id_token() {
    let gone = closed_port_url();
    let op = FakeOp::start(|_, doc| {
        doc["end_session_endpoint"] = format!("{gone}/end-session").into();
        doc["revocation_endpoint"] = format!("{gone}/revoke").into();
    })
    .await;
    let store = signed_in_store();
    let client = Client::new(config(&op.issuer, |_| {}), store.clone()).unwrap();
    let tokens = store.load().unwrap().unwrap();
    let meta = tessera_client::oidc::discover(&reqwest::Client::new(), client.config())
        .await
        .unwrap();

    let err =
        tessera_client::oidc::end_session(&reqwest::Client::new(), client.config(), &meta, &tokens)
            .await
            .unwrap_err();
    assert_eq!(err.code(), "network");
    for text in [err.to_string(), err.message(Lang::Fr), format!("{err:?}")] {
        assert!(!text.contains("the-id-token-payload"), "{text}");
        assert!(!text.contains("id_token_hint"), "{text}");
        assert!(text.contains(&format!("{gone}/end-session")), "{text}");
    }

    let report = client.logout().await.unwrap();
    assert!(
        !report.session_ended && report.warnings.len() == 2,
        "{report:?}"
    );
    for warning in &report.warnings {
        assert!(!warning.contains("the-id-token-payload"), "{warning}");
        assert!(!warning.contains("the-refresh-token"), "{warning}");
    }
    assert!(store.load().unwrap().is_none(), "signed out locally anyway");
}

#[tokio::test]
async fn a_plain_http_endpoint_on_another_host_stops_the_sign_in_before_the_browser() {
    for (endpoint, url) in [
        ("token_endpoint", "http://id.example.org/token"),
        ("authorization_endpoint", "http://id.example.org/authorize"),
        ("authorization_endpoint", "file:///tmp/authorize"),
        ("end_session_endpoint", "http://10.0.0.1/end-session"),
    ] {
        let op = FakeOp::start(|_, doc| doc[endpoint] = url.into()).await;
        let store = Arc::new(MemoryTokenStore::default());
        let client = Client::new(config(&op.issuer, |_| {}), store.clone()).unwrap();
        let opened = Arc::new(AtomicBool::new(false));
        let o = opened.clone();
        client.on_open_browser(move |_| {
            o.store(true, Ordering::SeqCst);
            Ok(())
        });
        let err = tokio::time::timeout(Duration::from_secs(10), client.login())
            .await
            .expect("refused at once, not left waiting for a browser")
            .unwrap_err();
        assert_eq!(err.code(), "insecure_endpoint", "{endpoint}: {err}");
        assert!(err.to_string().contains(url), "{err}");
        assert!(err.message(Lang::Fr).contains(endpoint), "{err}");
        assert!(!opened.load(Ordering::SeqCst), "{endpoint}");
        assert!(store.load().unwrap().is_none());
    }
}
