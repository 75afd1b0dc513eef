//! The authorization request (`oidc::authorize::validate`) after a query
//! string parse, for a public client: any query is refused with an OAuth
//! error code and a description, or yields a request that keeps the
//! endpoint's promises (openid scope, S256 PKCE, bounded nonce and state).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_provider::config::Config;
use tessera_provider::oidc::authorize::validate;
use tessera_provider::store::Client;
use tessera_provider::web::Params;

const REDIRECT: &str = "http://127.0.0.1/callback";

fuzz_target!(|data: &[u8]| {
    static FIXTURE: OnceLock<(Config, Client)> = OnceLock::new();
    let (config, client) = FIXTURE.get_or_init(|| {
        let client = Client {
            client_id: "tessera-desktop".into(),
            name: "Tessera".into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec![],
            public: true,
            secret_hash: None,
            require_mfa: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        (Config::default(), client)
    });
    let Ok(params) = Params::parse(data) else {
        return;
    };
    match validate(config, client, REDIRECT, &params) {
        Ok(request) => {
            assert!(request.scope.split(' ').any(|s| s == "openid"));
            assert_eq!(request.code_challenge.len(), 43);
            assert!(request.nonce.as_ref().is_none_or(|n| n.len() <= 512));
            assert!(request.state.as_ref().is_none_or(|s| s.len() <= 2048));
            assert_eq!(request.redirect_uri, REDIRECT);
            if let Some(acr) = request.acr.emitted(true, config) {
                assert!(config.acr_level(&acr).is_some(), "emitted unoffered {acr}");
            }
        }
        Err((error, description)) => {
            assert!(!error.is_empty() && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(!description.is_empty());
        }
    }
});
