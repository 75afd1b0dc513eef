//! Interoperability: tessera-client against a third-party, OpenID-certified
//! provider (panva's `oidc-provider` on Node.js, tests/interop/op.mjs) over
//! real HTTP: RS256 ID tokens, RFC 9207 `iss`, PKCE, the `claims` parameter,
//! refresh, revocation and end-session. Also the case the design warns
//! about: a provider that ignores `claims` (its ID token then carries no
//! accepted acr) — refused, nothing stored.
//!
//! Needs `node` and `npm`; installs tests/interop/node_modules from its
//! lock file (`npm ci`) on first run. A missing tool FAILS the test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use secrecy::ExposeSecret;
use tessera_client::config::{Layer, Sources};
use tessera_client::{Client, ClientError, Config, MemoryTokenStore, TokenStore};

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// `npm ci` once per checkout (several tests may race: a lock file orders them).
fn ensure_node_modules() {
    let dir = interop_dir();
    let lock =
        std::fs::File::create(std::env::temp_dir().join("tessera-interop-npm.lock")).unwrap();
    lock.lock().unwrap();
    if dir
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .unwrap_or_else(|e| {
            panic!("npm is required for the interoperability test (Node.js 20+): {e}")
        });
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

/// The provider process, killed on drop.
struct Op {
    child: Child,
    issuer: String,
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_op(envs: &[(&str, &str)]) -> Op {
    ensure_node_modules();
    let mut child = Command::new("node")
        .arg("op.mjs")
        .current_dir(interop_dir())
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("node is required for the interoperability test: {e}"));
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // Keep draining: oidc-provider prints notices, and a closed pipe kills it.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let v: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("op.mjs did not start ({e}): {line:?}"));
    Op {
        child,
        issuer: v["issuer"].as_str().unwrap().to_owned(),
    }
}

fn client(op: &Op, store: Arc<dyn TokenStore>, dir: &Path) -> (Client, PathBuf) {
    let flags = Layer {
        issuer: Some(op.issuer.clone()),
        language: Some("en".into()),
        login_timeout_secs: Some(60),
        ..Layer::default()
    };
    let config = Config::load(&Sources {
        system_file: None,
        user_file: None,
        env: Layer::default(),
        flags,
    })
    .unwrap();
    let client = Client::new(config, store).unwrap();
    // The stand-in browser only follows redirects here: op.mjs has no forms.
    let params = dir.join("browser.json");
    let log = dir.join("browser.log");
    std::fs::write(
        &params,
        serde_json::json!({"username": "-", "password": "-", "totp_secret": "A", "log": log})
            .to_string(),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/browser_standin.py");
    let spec = format!("python3 {} {} %s", script.display(), params.display());
    client.on_open_browser(move |url| tessera_client::browser::open_with_browser_var(&spec, url));
    (client, log)
}

#[tokio::test]
async fn sign_in_refresh_and_sign_out_against_oidc_provider() {
    let op = start_op(&[]);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryTokenStore::default());
    let (client, log) = client(&op, store.clone(), dir.path());

    let info = client.login().await.unwrap_or_else(|e| {
        panic!(
            "login: {e}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    assert_eq!(info.subject, "interop-user");
    assert_eq!(info.acr, "eidas1-mfa");

    let tokens = store.load().unwrap().expect("stored");
    let refreshed = tessera_client::oidc::refresh(
        &reqwest::Client::new(),
        client.config(),
        &tessera_client::oidc::discover(&reqwest::Client::new(), client.config())
            .await
            .unwrap(),
        &tokens,
    )
    .await
    .expect("refresh with oidc-provider")
    .tokens;
    assert_ne!(
        refreshed.access_token.expose_secret(),
        tokens.access_token.expose_secret()
    );
    assert_eq!(refreshed.acr, "eidas1-mfa");

    let report = client.logout().await.unwrap();
    assert!(report.revoked && report.session_ended, "{report:?}");
    assert!(store.load().unwrap().is_none());
}

#[tokio::test]
async fn a_provider_ignoring_the_claims_request_is_refused_and_nothing_is_stored() {
    let op = start_op(&[("OP_CLAIMS", "off"), ("OP_ACR", "eidas1")]);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryTokenStore::default());
    let (client, log) = client(&op, store.clone(), dir.path());

    let err = client.login().await.unwrap_err();
    match &err {
        // oidc-provider leaves acr out of the ID token when nothing asked for
        // it: no proof of a second factor either way.
        ClientError::AcrRefused { acr } => {
            assert!(acr.is_none() || acr.as_deref() == Some("eidas1"), "{acr:?}")
        }
        other => panic!(
            "{other:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        ),
    }
    assert!(
        err.message(tessera_client::Lang::Fr)
            .starts_with(tessera_client::error::NO_2FA_FR)
    );
    assert!(store.load().unwrap().is_none(), "nothing stored");
    assert!(client.session().await.unwrap().is_none());
}
