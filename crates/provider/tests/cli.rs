//! The `tessera-provider` binary as a user runs it: help, user and client
//! management on both stores, and `--demo` serving over real HTTP.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_tessera-provider");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("TESSERA_PROVIDER_CONFIG")
        .output()
        .expect("run tessera-provider")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_explains_every_option_and_its_environment_variable() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for option in [
        "--config",
        "--demo",
        "--store",
        "--redis-url",
        "--data-dir",
        "--port",
        "--issuer",
        "--secret-key",
        "--mfa-global",
        "--trusted-browser-days",
        "--listen-address",
        "--redis-sentinel",
        "--redis-prefix",
        "--tls-cert",
    ] {
        assert!(help.contains(option), "{option} missing from:\n{help}");
    }
    for var in [
        "TESSERA_PROVIDER_STORE",
        "TESSERA_PROVIDER_REDIS_URL",
        "TESSERA_PROVIDER_PORT",
        "TESSERA_PROVIDER_DATA_DIR",
    ] {
        assert!(help.contains(var), "{var} missing");
    }
    assert!(help.contains("user") && help.contains("client") && help.contains("key"));
}

/// user add/list/disable and client add/list against the given store options.
fn manage_users_and_clients(store_args: &[&str]) {
    let with = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(store_args);
        run(&all)
    };
    let out = with(&[
        "user",
        "add",
        "alice",
        "--email",
        "alice@example.org",
        "--name",
        "Alice A",
        "--role",
        "helpdesk",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("password: "),
        "a generated password is printed once"
    );
    let out = with(&["user", "add", "alice", "--email", "other@example.org"]);
    assert!(!out.status.success(), "duplicate uid refused");
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = with(&[
        "user",
        "add",
        "bob",
        "--email",
        "not-an-email",
        "--password",
        "x",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not an email"), "{}", stderr(&out));

    let list = stdout(&with(&["user", "list"]));
    assert!(
        list.contains("alice\talice@example.org\tAlice A\troles=helpdesk\tdevices=0"),
        "{list}"
    );
    assert!(with(&["user", "disable", "alice"]).status.success());
    assert!(stdout(&with(&["user", "list"])).contains("DISABLED"));
    let out = with(&["user", "disable", "nobody"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no user \"nobody\""),
        "{}",
        stderr(&out)
    );

    let out = with(&[
        "client",
        "add",
        "app",
        "--redirect-uri",
        "http://127.0.0.1/cb",
        "--require-mfa",
        "true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = with(&[
        "client",
        "add",
        "svc",
        "--redirect-uri",
        "https://svc.example/cb",
        "--confidential",
    ]);
    assert!(stdout(&out).contains("client secret (shown once): "));
    let out = with(&["client", "add", "bad", "--redirect-uri", "not a uri"]);
    assert!(!out.status.success());
    let list = stdout(&with(&["client", "list"]));
    assert!(
        list.contains("app\tapp\tpublic\tredirect_uris=http://127.0.0.1/cb\trequire_mfa=true"),
        "{list}"
    );
    assert!(list.contains("svc\tsvc\tconfidential"), "{list}");
    assert!(!list.contains("bad"), "nothing stored for a refused client");
}

/// The lines of `key list` (or the error) for the store in `data_dir`.
fn key_list(data_dir: &str) -> Vec<String> {
    let out = run(&["key", "list", "--data-dir", data_dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().map(str::to_owned).collect()
}

#[test]
fn signing_keys_are_listed_and_rotated_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    // The first command creates the key, as the first start would.
    let first = key_list(data_dir);
    assert_eq!(first.len(), 1, "{first:?}");
    let kid1 = first[0].strip_prefix("signing\t").unwrap().to_owned();
    assert_eq!(kid1.len(), 43);
    assert_eq!(key_list(data_dir), first, "listing changes nothing");

    let out = run(&["key", "rotate", "--data-dir", data_dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains(&format!("retired key {kid1}")), "{said}");
    let listed = key_list(data_dir);
    let kid2 = listed[0].strip_prefix("signing\t").unwrap().to_owned();
    assert_ne!(kid2, kid1);
    assert!(said.contains(&format!("signing key {kid2}")), "{said}");
    assert!(
        listed[1].starts_with(&format!("retired\t{kid1}\tretired ")),
        "{listed:?}"
    );

    // Again at once: the retired key may still verify live tokens.
    let out = run(&["key", "rotate", "--data-dir", data_dir]);
    assert!(!out.status.success());
    let why = stderr(&out);
    assert!(
        why.contains(&kid1) && why.contains("--discard-old-key"),
        "{why}"
    );
    assert_eq!(
        key_list(data_dir),
        listed,
        "a refused rotation changes nothing"
    );

    let out = run(&["key", "rotate", "--discard-old-key", "--data-dir", data_dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains(&format!("dropped key {kid1}")), "{said}");
    assert!(said.contains(&format!("dropped key {kid2}")), "{said}");
    let last = key_list(data_dir);
    assert_eq!(last.len(), 1, "no retired key: {last:?}");
    assert!(!last[0].contains(&kid1) && !last[0].contains(&kid2));
}

#[test]
fn users_and_clients_are_managed_in_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    manage_users_and_clients(&["--data-dir", dir.path().to_str().unwrap()]);
}

#[test]
fn users_and_clients_are_managed_in_redis() {
    let redis = support::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    manage_users_and_clients(&[
        "--store",
        "redis",
        "--redis-url",
        &url,
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    // Another key prefix is another provider's data: nothing of the above shows.
    let other = run(&[
        "user",
        "list",
        "--store",
        "redis",
        "--redis-url",
        &url,
        "--redis-prefix",
        "other:",
    ]);
    assert!(other.status.success(), "{}", stderr(&other));
    assert_eq!(stdout(&other), "");
    let same = run(&[
        "user",
        "list",
        "--store",
        "redis",
        "--redis-url",
        &url,
        "--redis-prefix",
        "tessera:",
    ]);
    assert!(stdout(&same).contains("alice"));
}

/// Starts `--demo` on a free port; returns the child and the lines it printed
/// up to the last demo line.
fn start_demo(data_dir: &str) -> (std::process::Child, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(["--demo", "--port", "0", "--data-dir", data_dir])
        .env_remove("TESSERA_PROVIDER_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "demo ended early: {lines:?}"
        );
        let done = line.starts_with("help-desk user TOTP:");
        lines.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    (child, lines)
}

fn line<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in {lines:?}"))
}

#[tokio::test]
async fn demo_prints_how_to_sign_in_and_keeps_its_key_and_devices_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let (mut child, lines) = start_demo(&data_dir);
    let issuer = line(&lines, "issuer: ").to_owned();
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    let demo_pw = line(&lines, "demo user: demo / password ").to_owned();
    let helpdesk_pw = line(&lines, "help-desk user: helpdesk / password ").to_owned();
    let uri = line(&lines, "demo user TOTP: ").to_owned();
    assert!(uri.starts_with("otpauth://totp/Tessera:demo?"), "{uri}");
    assert!(demo_pw.len() >= 12 && helpdesk_pw.len() >= 12 && demo_pw != helpdesk_pw);
    // The embedded store has one process at a time: a command says why it
    // cannot run beside the provider, and changes nothing.
    let busy = run(&["key", "rotate", "--data-dir", &data_dir]);
    assert!(!busy.status.success());
    assert!(
        stderr(&busy).contains("is in use by a running provider: stop it first"),
        "{}",
        stderr(&busy)
    );
    let doc: serde_json::Value = reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], issuer.as_str());
    let kid = reqwest::get(format!("{issuer}/jwks"))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["keys"][0]["kid"]
        .clone();
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut again, lines2) = start_demo(&data_dir);
    let issuer2 = line(&lines2, "issuer: ").to_owned();
    assert_eq!(line(&lines2, "demo user TOTP: "), uri, "same device secret");
    let kid2 = reqwest::get(format!("{issuer2}/jwks"))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["keys"][0]["kid"]
        .clone();
    assert_eq!(kid, kid2, "signing key persisted");
    again.kill().unwrap();
    again.wait().unwrap();
    assert!(dir.path().join("secret.key").exists());
}

#[tokio::test]
async fn with_a_certificate_the_provider_serves_https_itself() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, &cert_pem).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(BIN)
        .args([
            "--demo",
            "--port",
            "0",
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .args([
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ])
        .env_remove("TESSERA_PROVIDER_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut issuer = String::new();
    while issuer.is_empty() {
        let mut l = String::new();
        assert!(
            reader.read_line(&mut l).unwrap() > 0,
            "provider ended early"
        );
        if let Some(i) = l.trim_end().strip_prefix("issuer: ") {
            issuer = i.to_owned();
        }
    }
    assert!(issuer.starts_with("https://127.0.0.1:"), "{issuer}");
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let doc: serde_json::Value = https
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], issuer.as_str());
    assert!(
        doc["token_endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    // Over https every cookie is Secure.
    let no_redirect = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = format!(
        "{issuer}/authorize?response_type=code&client_id=tessera-desktop&scope=openid\
         &redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback&state=s\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    );
    let resp = no_redirect.get(authorize).send().await.unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("tessera_signin=") && cookie.contains("Secure"),
        "{cookie}"
    );
    // Plain HTTP on the TLS port gets no answer.
    let plain = issuer.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/healthz")).await.is_err());
    // A certificate without its key is refused at start with the reason.
    let out = run(&[
        "--port",
        "0",
        "--data-dir",
        data.to_str().unwrap(),
        "--tls-cert",
        cert_path.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--tls-key"), "{}", stderr(&out));
    let out = run(&[
        "--port",
        "0",
        "--data-dir",
        data.to_str().unwrap(),
        "--tls-cert",
        key_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("TLS certificate"), "{}", stderr(&out));
    // A stop (SIGTERM) closes the idle keep-alive connections and ends
    // the process with success.
    #[cfg(unix)]
    {
        let status = support::stop(&mut child);
        assert_eq!(status.code(), Some(0), "{status:?}");
    }
    let _ = child.kill();
    child.wait().unwrap();
}
