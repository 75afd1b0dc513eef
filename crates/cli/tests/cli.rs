//! The `tessera` binary end to end: against the project's provider over
//! real HTTP, the browser being the stand-in program named by `BROWSER`,
//! the tokens in the real Secret Service.
//!
//! The full-session test needs a Secret Service: it runs when
//! `TESSERA_TEST_SECRET_SERVICE=1` (scripts/test runs the suite inside
//! `dbus-run-session` with an unlocked gnome-keyring) and FAILS if the
//! service is then unavailable; without the variable it says why and passes.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;

use secrecy::ExposeSecret;
use tessera_provider::store::{EmbeddedStore, Store};
use tessera_provider::testing::TestProvider;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

struct Cli {
    issuer: String,
    browser: String,
    dir: PathBuf,
}

impl Cli {
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
        c.args(args)
            .env("TESSERA_ISSUER", &self.issuer)
            .env("TESSERA_CONFIG", self.dir.join("config.toml"))
            .env("TESSERA_LANGUAGE", "en")
            .env("BROWSER", &self.browser)
            .env_remove("TESSERA_CLIENT_ID")
            .env_remove("TESSERA_ACCOUNT_API")
            .env_remove("TESSERA_ACCEPTED_ACR")
            .stdin(Stdio::null());
        c
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.expect("run tessera")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn standin(dir: &Path, username: &str, password: &str, secret: &str) -> String {
    let params = dir.join("browser.json");
    let body = format!(
        r#"{{"username":"{username}","password":"{password}","totp_secret":"{secret}","log":"{}"}}"#,
        dir.join("browser.log").display()
    );
    std::fs::write(&params, body).unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../client/tests/support/browser_standin.py");
    format!("python3 {} {} %s", script.display(), params.display())
}

#[tokio::test]
async fn usage_and_configuration_errors_have_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        issuer: "http://example.org".into(),
        browser: "true".into(),
        dir: dir.path().into(),
    };

    let out = cli.run(&["whoami"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains("`issuer`") && err.contains("TESSERA_ISSUER") && err.contains("https"),
        "{err}"
    );

    let out = cli.run(&["--json", "whoami"]).await;
    let v: serde_json::Value = serde_json::from_str(text(&out.stderr).trim()).unwrap();
    assert_eq!(v["error"]["code"], "config");

    let out = cli.run(&["helpdesk", "reset", "demo"]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing --reason is a usage error"
    );
    assert!(text(&out.stderr).contains("--reason"));

    // `config set` works before any issuer is configured, and checks values.
    let fresh = Cli {
        issuer: String::new(),
        browser: "true".into(),
        dir: dir.path().into(),
    };
    let mut c = fresh.command(&["config", "set", "issuer", "http://plain.example"]);
    c.env_remove("TESSERA_ISSUER");
    let out = c.output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "http is refused for a remote issuer"
    );
    assert!(text(&out.stderr).contains("https"), "{}", text(&out.stderr));
    let mut c = fresh.command(&["config", "set", "issuer", "https://id.example.org"]);
    c.env_remove("TESSERA_ISSUER");
    assert!(c.output().await.unwrap().status.success());
    let mut c = fresh.command(&["--json", "config"]);
    c.env_remove("TESSERA_ISSUER");
    let out = c.output().await.unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let issuer = shown["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["setting"] == "issuer")
        .unwrap();
    assert_eq!(issuer["value"], "https://id.example.org");
    assert_eq!(issuer["managed"], false);
    let mut c = fresh.command(&["config", "set", "colour", "blue"]);
    c.env_remove("TESSERA_ISSUER");
    let out = c.output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown setting `colour`"),
        "{}",
        text(&out.stderr)
    );

    let out = cli.run(&["--help"]).await;
    assert!(text(&out.stdout).contains("4  refused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_session_on_the_real_keyring() {
    if std::env::var("TESSERA_TEST_SECRET_SERVICE").as_deref() != Ok("1") {
        eprintln!(
            "cli: TESSERA_TEST_SECRET_SERVICE is not 1, so the CLI session test (which needs a \
             Secret Service) is not run; see crates/cli/tests/cli.rs"
        );
        return;
    }
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory().unwrap());
    let provider = TestProvider::start(store, tessera_provider::config::Config::default()).await;
    let accounts = provider.seed_demo().await;
    let dir = tempfile::tempdir().unwrap();
    let demo = &accounts.demo;
    let cli = Cli {
        issuer: provider.issuer.clone(),
        browser: standin(
            dir.path(),
            &demo.uid,
            demo.password.expose_secret(),
            demo.totp_secret.expose_secret(),
        ),
        dir: dir.path().into(),
    };
    let log = || std::fs::read_to_string(dir.path().join("browser.log")).unwrap_or_default();

    let out = cli.run(&["whoami"]).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "not signed in yet (a keyring error here means the Secret Service is unavailable): {}",
        text(&out.stderr)
    );

    let out = cli.run(&["--json", "login"]).await;
    assert!(
        out.status.success(),
        "login: {}\n{}",
        text(&out.stderr),
        log()
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["subject"], "demo");
    assert!(
        text(&out.stderr).contains("Sign in in your web browser"),
        "progress is shown"
    );

    let out = cli.run(&["--json", "whoami"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let me: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(me["uid"], "demo");
    assert_eq!(me["acr"], "eidas1-mfa");

    // Enrolment, scripted: read the pending enrolment, answer with its code.
    let mut child = cli
        .command(&["--json", "devices", "add", "Phone"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let started: serde_json::Value =
        serde_json::from_str(&stdout.next_line().await.unwrap().expect("enrolment line")).unwrap();
    let secret = started["secret"].as_str().unwrap();
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    let code = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        String::new(),
    )
    .generate_current()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{code}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let confirmed: serde_json::Value = serde_json::from_str(
        &stdout
            .next_line()
            .await
            .unwrap()
            .expect("confirmation line"),
    )
    .unwrap();
    assert_eq!(confirmed["device"]["name"], "Phone");
    assert!(child.wait().await.unwrap().success());

    // The same for people: a QR code drawn in the terminal and the key in
    // groups of four, then the code typed at the prompt.
    let mut child = cli
        .command(&["devices", "add", "Tablet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut qr_lines = 0;
    let key = loop {
        let line = stdout
            .next_line()
            .await
            .unwrap()
            .expect("the enrolment screen");
        if line.chars().any(|c| matches!(c, '█' | '▀' | '▄')) {
            qr_lines += 1;
        }
        if line.starts_with("Scan this code") {
            break stdout.next_line().await.unwrap().expect("the key line");
        }
    };
    assert!(qr_lines > 10, "a QR code is drawn ({qr_lines} lines)");
    let groups: Vec<&str> = key.split_whitespace().collect();
    assert!(
        groups.len() > 1 && groups[..groups.len() - 1].iter().all(|g| g.len() == 4),
        "{key:?}"
    );
    let bytes = totp_rs::Secret::Encoded(groups.concat())
        .to_bytes()
        .unwrap();
    let code = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        String::new(),
    )
    .generate_current()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{code}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let mut rest = Vec::new();
    while let Some(line) = stdout.next_line().await.unwrap() {
        rest.push(line);
    }
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("Added: Tablet")),
        "{rest:?}"
    );

    let out = cli.run(&["devices", "list"]).await;
    assert!(out.status.success());
    let listed = text(&out.stdout);
    assert!(
        listed.contains("Phone") && listed.contains("Tablet"),
        "{listed}"
    );

    let out = cli.run(&["devices", "remove", "no-such-device"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));

    let out = cli.run(&["helpdesk", "search", "dem"]).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "forbidden for a plain user: {}",
        text(&out.stderr)
    );

    let out = cli.run(&["--json", "logout"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["revoked"], true);
    assert_eq!(report["session_ended"], true);

    let out = cli.run(&["whoami"]).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "signed out: {}",
        text(&out.stderr)
    );
}
