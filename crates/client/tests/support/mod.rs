//! Shared by the integration tests that sign in against the project's
//! provider: an in-process provider on 127.0.0.1 (embedded store) with the
//! demo accounts, and clients whose "browser" is the stand-in program
//! `browser_standin.py`, run the way a `BROWSER` command is. `fake_op`
//! stands in for a provider that says what a test needs it to say.
#![allow(dead_code)]

pub mod fake_op;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use secrecy::ExposeSecret;
use tessera_client::config::{Layer, Sources};
use tessera_client::{Client, Config, LoginProgress, TokenStore};
use tessera_provider::demo::DemoAccounts;
use tessera_provider::store::{EmbeddedStore, Store};
use tessera_provider::testing::TestProvider;

pub struct Env {
    pub provider: TestProvider,
    pub accounts: DemoAccounts,
    pub dir: tempfile::TempDir,
}

pub async fn env() -> Env {
    env_with(|_| {}).await
}

pub async fn env_with(tune: impl FnOnce(&mut tessera_provider::config::Config)) -> Env {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory().expect("in-memory store"));
    let mut config = tessera_provider::config::Config::default();
    tune(&mut config);
    let provider = TestProvider::start(store, config).await;
    let accounts = provider.seed_demo().await;
    Env {
        provider,
        accounts,
        dir: tempfile::tempdir().unwrap(),
    }
}

pub fn config(issuer: &str, tune: impl FnOnce(&mut Layer)) -> Config {
    let mut flags = Layer {
        issuer: Some(issuer.to_owned()),
        language: Some("en".into()),
        ..Layer::default()
    };
    tune(&mut flags);
    Config::load(&Sources {
        system_file: None,
        user_file: None,
        env: Layer::default(),
        flags,
    })
    .unwrap()
}

impl Env {
    /// A `BROWSER` value running the stand-in as `uid` (demo or helpdesk),
    /// and the file it logs to.
    pub fn browser_spec(&self, uid: &str) -> (String, PathBuf) {
        let account = if uid == "helpdesk" {
            &self.accounts.helpdesk
        } else {
            &self.accounts.demo
        };
        let params = self.dir.path().join(format!("{uid}.json"));
        let log = self.dir.path().join(format!("{uid}.log"));
        let body = serde_json::json!({
            "username": account.uid,
            "password": account.password.expose_secret(),
            "totp_secret": account.totp_secret.expose_secret(),
            "log": log,
        });
        std::fs::write(&params, body.to_string()).unwrap();
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/browser_standin.py");
        assert!(
            !params.display().to_string().contains(':'),
            "BROWSER entries are split on ':'"
        );
        (
            format!("python3 {} {} %s", script.display(), params.display()),
            log,
        )
    }

    /// A client for `uid` whose browser is the stand-in.
    pub fn client(
        &self,
        uid: &str,
        store: Arc<dyn TokenStore>,
        tune: impl FnOnce(&mut Layer),
    ) -> (Client, PathBuf) {
        let client = Client::new(config(&self.provider.issuer, tune), store).unwrap();
        let (spec, log) = self.browser_spec(uid);
        client
            .on_open_browser(move |url| tessera_client::browser::open_with_browser_var(&spec, url));
        (client, log)
    }
}

pub fn record_progress(client: &Client) -> Arc<Mutex<Vec<LoginProgress>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    client.on_progress(move |p| s.lock().unwrap().push(p));
    seen
}

pub fn log_of(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|_| "(the browser stand-in wrote nothing)".into())
}

/// The current TOTP code of a base32 secret, computed with totp-rs
/// (independent of the provider's TOTP code).
pub fn totp_now(secret_b32: &str, offset_steps: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_owned())
        .to_bytes()
        .expect("base32 secret");
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        String::new(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate((now as i64 + offset_steps * 30) as u64)
}
