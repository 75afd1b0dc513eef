//! The keyring token store against the real Secret Service.
//!
//! Run inside a D-Bus session with an unlocked gnome-keyring and
//! `TESSERA_TEST_SECRET_SERVICE=1` (scripts/test does). With the variable
//! set, an unavailable Secret Service FAILS the test. Without it the test
//! says why it does nothing and passes.

use secrecy::{ExposeSecret, SecretString};
use tessera_client::tokens::{KeyringTokenStore, TokenSet, TokenStore};

fn required() -> bool {
    match std::env::var("TESSERA_TEST_SECRET_SERVICE") {
        Ok(v) if v == "1" => true,
        _ => {
            eprintln!(
                "secret_service: TESSERA_TEST_SECRET_SERVICE is not 1, so the real Secret Service \
                 test is not run; run it with: dbus-run-session -- sh -c 'printf %s pw | \
                 gnome-keyring-daemon --unlock --components=secrets; \
                 TESSERA_TEST_SECRET_SERVICE=1 cargo test -p tessera-client --test secret_service'"
            );
            false
        }
    }
}

fn available(store: &KeyringTokenStore) {
    store.clear().unwrap_or_else(|e| {
        panic!("TESSERA_TEST_SECRET_SERVICE=1 but the Secret Service is unavailable: {e}")
    });
}

fn tokens(access: &str, refresh: Option<&str>) -> TokenSet {
    TokenSet {
        // Large enough to look like real JWTs.
        access_token: SecretString::from(format!("{access}.{}", "a".repeat(1200))),
        refresh_token: refresh.map(|r| SecretString::from(r.to_owned())),
        id_token: SecretString::from(format!("id.{}", "b".repeat(1500))),
        expires_at: time::macros::datetime!(2031-05-06 07:08:09 UTC),
        subject: "alice".into(),
        acr: "eidas1-mfa".into(),
        auth_time: None,
    }
}

#[test]
fn keyring_store_round_trip_on_the_real_secret_service() {
    if !required() {
        return;
    }
    let issuer = format!("http://127.0.0.1:1/test-{}", std::process::id());
    let store = KeyringTokenStore::new(&issuer, "tessera-test");
    let other = KeyringTokenStore::new(&issuer, "another-client");

    available(&store);
    assert!(
        store.load().unwrap().is_none(),
        "a fresh account has no session"
    );

    store.save(&tokens("first", Some("rt-1"))).unwrap();
    let got = store.load().unwrap().expect("saved session");
    assert!(got.access_token.expose_secret().starts_with("first."));
    assert_eq!(got.refresh_token.as_ref().unwrap().expose_secret(), "rt-1");
    assert_eq!(
        got.expires_at,
        time::macros::datetime!(2031-05-06 07:08:09 UTC)
    );
    assert_eq!(got.acr, "eidas1-mfa");
    assert!(other.load().unwrap().is_none(), "accounts are separate");

    // A rotation without refresh token removes the old one.
    store.save(&tokens("second", None)).unwrap();
    let got = store.load().unwrap().unwrap();
    assert!(got.access_token.expose_secret().starts_with("second."));
    assert!(got.refresh_token.is_none());

    // A new store object (next process start) reads the same session.
    let again = KeyringTokenStore::new(&issuer, "tessera-test");
    assert!(again.load().unwrap().is_some());

    store.clear().unwrap();
    assert!(store.load().unwrap().is_none());
    assert!(again.load().unwrap().is_none());
}

#[test]
fn half_written_session_reads_as_signed_out() {
    if !required() {
        return;
    }
    let issuer = format!("http://127.0.0.1:1/partial-{}", std::process::id());
    let store = KeyringTokenStore::new(&issuer, "tessera-test");
    available(&store);
    store.save(&tokens("x", Some("rt"))).unwrap();
    // Remove one token behind the store's back.
    keyring::Entry::new("tessera", &format!("{issuer} tessera-test id_token"))
        .unwrap()
        .delete_credential()
        .unwrap();
    assert!(store.load().unwrap().is_none());
    // And everything else went with it.
    assert!(matches!(
        keyring::Entry::new("tessera", &format!("{issuer} tessera-test access_token"))
            .unwrap()
            .get_password(),
        Err(keyring::Error::NoEntry)
    ));
}
