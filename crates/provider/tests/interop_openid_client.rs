//! Interoperability: the provider against a certified relying-party library,
//! openid-client (npm), which validates everything a careful client checks
//! (ES256 ID token signature from the JWKS, iss, aud, nonce, RFC 9207 `iss`).
//!
//! Needs `node` (env TESSERA_NODE, default `node` on PATH) and the
//! dependencies of tests/interop (`npm ci --prefix crates/provider/tests/interop`).
//! Missing either fails the test with that instruction; it never skips.

mod support;

use std::path::PathBuf;
use std::process::Command;

use tessera_provider::config::Config;
use tessera_provider::testing::TestProvider;

#[tokio::test]
async fn openid_client_signs_in_with_mfa_refreshes_revokes_and_logs_out() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/openid-client").is_dir(),
        "openid-client is not installed: run `npm ci --prefix {}`",
        dir.display()
    );
    let node = std::env::var("TESSERA_NODE").unwrap_or_else(|_| "node".into());
    for (name, store, _guard) in support::each_store().await {
        let provider = TestProvider::start(store, Config::default()).await;
        let accounts = provider.seed_demo().await;
        let issuer = provider.issuer.clone();
        let password = secrecy::ExposeSecret::expose_secret(&accounts.demo.password).to_owned();
        let secret = secrecy::ExposeSecret::expose_secret(&accounts.demo.totp_secret).to_owned();
        let node = node.clone();
        let script = dir.join("rp.mjs");
        // The script talks to this process's provider: run it off the runtime's threads.
        let out = tokio::task::spawn_blocking(move || {
            Command::new(&node)
                .arg(script)
                .env("ISSUER", issuer)
                .env("PASSWORD", password)
                .env("TOTP_SECRET", secret)
                .output()
                .unwrap_or_else(|e| {
                    panic!("cannot run {node}: {e} (install Node.js or set TESSERA_NODE)")
                })
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{name}: openid-client failed:\n{stderr}"
        );
        let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{name}: bad output {e}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        assert_eq!(result["sub"], "demo", "{name}");
        assert_eq!(result["acr"], "eidas1-mfa");
        assert_eq!(result["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        assert!(result["auth_time"].as_i64().unwrap() > 0);
        assert_eq!(result["userinfo_email"], "demo@example.org");
        assert_eq!(result["refreshed_acr"], "eidas1-mfa");
        assert_eq!(result["revoked_refresh_refused"], true);
        assert_eq!(result["logout_state"], "bye");
    }
}
