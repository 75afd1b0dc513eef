//! Fault injection against the real `tessera-provider` binary, on loopback:
//!
//! - `kill -9` of the provider while users enrol and delete authenticator apps
//!   through the account API, then a restart on the same data (embedded store
//!   and Redis): every listed device authenticates, every device that
//!   authenticates is listed, and no confirmed device is lost (DESIGN §5).
//! - `redis-server` killed and restarted under load: during the outage every
//!   request is a clear 503 (`unavailable` problem on the account API,
//!   `temporarily_unavailable` on the OAuth endpoints), and the same provider
//!   process serves again once Redis is back.
//!
//! Every wait is bounded; nothing is timed.

mod rp;
mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_api::paths;

use rp::{AuthRequest, Authenticator, Browser, Step, decode_b32, exchange, sign_in, unix_now};

const BIN: &str = env!("CARGO_BIN_EXE_tessera-provider");

/// Lock-out limits high enough that the checks below (which try secrets that
/// must NOT authenticate) never lock an account.
const CONFIG: &str =
    "[rate_limit]\naccount_failures = 10000\nip_failures = 100000\nwindow_secs = 900\n";

// ---------------------------------------------------------------------------
// The provider as a child process
// ---------------------------------------------------------------------------

/// A running `tessera-provider --demo` child and what it printed.
struct ProviderProcess {
    child: Child,
    issuer: String,
    demo_password: String,
    helpdesk_password: String,
    demo_secret: Vec<u8>,
    helpdesk_secret: Vec<u8>,
}

impl ProviderProcess {
    /// Starts the binary with `--demo --port 0` and `args`, and reads its
    /// start-up lines. Its stdout is drained afterwards so it never blocks.
    fn start(dir: &Path, args: &[&str]) -> ProviderProcess {
        Self::start_on(dir, 0, args)
    }

    /// [`Self::start`] on `port` (0: any free one).
    fn start_on(dir: &Path, port: u16, args: &[&str]) -> ProviderProcess {
        let config = dir.join("provider.toml");
        std::fs::write(&config, CONFIG).unwrap();
        let mut child = Command::new(BIN)
            .args(["--demo", "--port", &port.to_string(), "--data-dir"])
            .arg(dir.join("data"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env_remove("TESSERA_PROVIDER_STORE")
            .env_remove("TESSERA_PROVIDER_REDIS_URL")
            .env_remove("TESSERA_PROVIDER_SECRET_KEY")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tessera-provider");
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).unwrap();
            assert!(n > 0, "tessera-provider ended early: {lines:?}");
            let done = line.starts_with("help-desk user TOTP:");
            lines.push(line.trim_end().to_owned());
            if done {
                break;
            }
        }
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        let find = |prefix: &str| -> String {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("no {prefix:?} in {lines:?}"))
                .to_owned()
        };
        let secret = |uri: String| {
            let url = url::Url::parse(&uri).unwrap();
            let (_, b32) = url
                .query_pairs()
                .find(|(k, _)| k == "secret")
                .expect("otpauth URI with a secret");
            decode_b32(&b32)
        };
        ProviderProcess {
            issuer: find("issuer: "),
            demo_password: find("demo user: demo / password "),
            helpdesk_password: find("help-desk user: helpdesk / password "),
            demo_secret: secret(find("demo user TOTP: ")),
            helpdesk_secret: secret(find("help-desk user TOTP: ")),
            child,
        }
    }

    fn password(&self, uid: &str) -> &str {
        match uid {
            "demo" => &self.demo_password,
            _ => &self.helpdesk_password,
        }
    }

    fn secret(&self, uid: &str) -> &[u8] {
        match uid {
            "demo" => &self.demo_secret,
            _ => &self.helpdesk_secret,
        }
    }

    /// SIGKILL, as a crash or `kill -9` would.
    fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL the provider");
        self.child.wait().unwrap();
    }

    /// SIGTERM, as a service manager's stop would; how it exited.
    #[cfg(unix)]
    fn stop(&mut self) -> std::process::ExitStatus {
        support::stop(&mut self.child)
    }

    #[track_caller]
    fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the provider process exited"
        );
    }
}

impl Drop for ProviderProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
}

/// Signs `uid` in through the real pages with `code`; the tokens on success,
/// the last step (a page) otherwise.
async fn sign_in_with(issuer: &str, uid: &str, password: &str, code: &str) -> Result<Value, Step> {
    let browser = Browser::new(issuer);
    let req = AuthRequest::new();
    let step = sign_in(
        &browser,
        &req.url(issuer, &[]),
        uid,
        password,
        Some(code),
        false,
    )
    .await;
    let Step::Callback { params, .. } = &step else {
        return Err(step);
    };
    let code = params.get("code").unwrap_or_else(|| panic!("{params:?}"));
    let (status, tokens) = exchange(issuer, &req, code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    Ok(tokens)
}

/// Does a code of `secret` complete a sign-in of `uid`? (A wrong code is
/// answered by the code form again, with 401.) Codes of `refused_through`
/// and earlier steps are not tried.
async fn authenticates(
    issuer: &str,
    uid: &str,
    password: &str,
    secret: &[u8],
    refused_through: Option<u64>,
) -> bool {
    let mut app = Authenticator::new(secret);
    if let Some(step) = refused_through {
        app.skip_through(step);
    }
    let code = app.fresh_code().await;
    match sign_in_with(issuer, uid, password, &code).await {
        Ok(_) => true,
        Err(step) => {
            let (status, html) = step.page();
            assert_eq!(*status, StatusCode::UNAUTHORIZED, "{html}");
            assert!(html.contains("name=\"otp\""), "{html}");
            false
        }
    }
}

// ---------------------------------------------------------------------------
// kill -9 during enrolments and deletions
// ---------------------------------------------------------------------------

/// What a request's client saw: an answer, or nothing (connection cut).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Seen {
    NotSent,
    Answered(u16),
    Cut,
}

#[derive(Debug)]
struct Enrolment {
    uid: &'static str,
    id: String,
    secret: Vec<u8>,
    confirm: Seen,
    delete: Seen,
}

type Log = Arc<Mutex<Vec<Enrolment>>>;

const WORKERS_PER_USER: usize = 3;
/// Enrolments per worker: 3 × 6 = 18 stays under the 20 starts per user and
/// rate-limit window that the account API allows.
const ROUNDS: usize = 6;
/// The provider is killed once this many confirms were answered 201 and
/// this many deletions 204 (so both directions of the invariant are tested).
const KILL_AFTER_CONFIRMS: usize = 8;
const KILL_AFTER_DELETES: usize = 2;

/// One client: enrol (start + confirm with a computed code), and every
/// second round delete the device it confirmed the round before. Stops at
/// the first request that gets no answer (the provider is gone).
async fn enrol_and_delete(
    issuer: String,
    token: String,
    uid: &'static str,
    worker: usize,
    log: Log,
    confirmed: Arc<AtomicUsize>,
    deleted: Arc<AtomicUsize>,
) {
    let http = http();
    let mut mine: Vec<usize> = Vec::new();
    for round in 0..ROUNDS {
        let started = http
            .post(format!("{issuer}{}", paths::MY_DEVICES))
            .bearer_auth(&token)
            .json(&json!({ "name": format!("w{worker}-r{round}") }))
            .send()
            .await;
        let Ok(started) = started else { return };
        assert_eq!(started.status(), StatusCode::CREATED, "enrolment start");
        let Ok(body) = started.json::<Value>().await else {
            return;
        };
        let id = body["enrollment_id"].as_str().unwrap().to_owned();
        let secret = decode_b32(body["secret"].as_str().unwrap());
        let code = Authenticator::new(&secret).fresh_code().await;
        let index = {
            let mut log = log.lock().unwrap();
            log.push(Enrolment {
                uid,
                id: id.clone(),
                secret,
                confirm: Seen::Cut,
                delete: Seen::NotSent,
            });
            log.len() - 1
        };
        let answer = http
            .post(format!("{issuer}{}", paths::my_enrollment_confirm(&id)))
            .bearer_auth(&token)
            .json(&json!({ "code": code }))
            .send()
            .await;
        let Ok(answer) = answer else { return };
        let status = answer.status().as_u16();
        log.lock().unwrap()[index].confirm = Seen::Answered(status);
        if status == 201 {
            confirmed.fetch_add(1, Ordering::SeqCst);
            mine.push(index);
        }
        if round % 2 == 1
            && let Some(victim) = mine.first().copied()
        {
            mine.remove(0);
            let victim_id = {
                let mut log = log.lock().unwrap();
                log[victim].delete = Seen::Cut;
                log[victim].id.clone()
            };
            let answer = http
                .delete(format!("{issuer}{}", paths::my_device(&victim_id)))
                .bearer_auth(&token)
                .send()
                .await;
            let Ok(answer) = answer else { return };
            let status = answer.status().as_u16();
            log.lock().unwrap()[victim].delete = Seen::Answered(status);
            if status == 204 {
                deleted.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

async fn listed_device_ids(issuer: &str, token: &str) -> BTreeSet<String> {
    let resp = http()
        .get(format!("{issuer}{}", paths::MY_DEVICES))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let list: Vec<Value> = resp.json().await.unwrap();
    list.iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The whole scenario on one store: `store_args` select it, `dir` keeps the
/// data directory across the restart.
/// A stop (SIGTERM) lets the provider finish and close its store: it exits
/// with success, and what it had written without waiting for the disk (a
/// sign-in's transaction, saved lazily at the password step) is there
/// after a restart, where a crash could have lost it.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_provider_exits_cleanly_and_a_sign_in_begun_before_goes_on_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut provider = tokio::task::block_in_place(|| ProviderProcess::start(dir.path(), &[]));
    let issuer = provider.issuer.clone();
    let port = url::Url::parse(&issuer).unwrap().port().unwrap();
    let browser = Browser::new(&provider.issuer);
    let req = AuthRequest::new();
    let form = browser.get(&req.url(&provider.issuer, &[])).await;
    let code_form = browser
        .submit(
            &form,
            &[("username", "demo"), ("password", &provider.demo_password)],
        )
        .await;
    assert!(
        code_form.html().contains("name=\"otp\""),
        "{}",
        code_form.html()
    );
    let status = tokio::task::block_in_place(|| provider.stop());
    assert_eq!(status.code(), Some(0), "{status:?}");

    let provider = tokio::task::block_in_place(|| ProviderProcess::start_on(dir.path(), port, &[]));
    assert_eq!(provider.issuer, issuer, "the same address");
    let code = Authenticator::new(&provider.demo_secret).fresh_code().await;
    let done = browser.submit(&code_form, &[("otp", &code)]).await;
    // A lost transaction would answer with the sign-in's expiry page.
    let code = done.callback()["code"].clone();
    let (status, tokens) = exchange(&provider.issuer, &req, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
}

async fn kill_9_during_enrolments_keeps_listed_iff_authenticates(
    store: &str,
    dir: &Path,
    store_args: &[&str],
) {
    let mut provider = tokio::task::block_in_place(|| ProviderProcess::start(dir, store_args));
    let users: [&'static str; 2] = ["demo", "helpdesk"];
    // One authenticator app per user for the whole test: a code accepted at
    // sign-in stays used across the restart.
    let mut apps: Vec<Authenticator> = users
        .iter()
        .map(|uid| Authenticator::new(provider.secret(uid)))
        .collect();
    let secrets: Vec<Vec<u8>> = users.iter().map(|u| provider.secret(u).to_vec()).collect();
    let mut originals = Vec::new();
    let mut tokens = Vec::new();
    for (u, uid) in users.iter().copied().enumerate() {
        let code = apps[u].fresh_code().await;
        let t = sign_in_with(&provider.issuer, uid, provider.password(uid), &code)
            .await
            .unwrap_or_else(|step| panic!("{store}: {uid} signs in: {step:?}"));
        let token = t["access_token"].as_str().unwrap().to_owned();
        let before = listed_device_ids(&provider.issuer, &token).await;
        assert_eq!(before.len(), 1, "{store}: the demo device only");
        originals.push(before.into_iter().next().unwrap());
        tokens.push(token);
    }

    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let confirmed = Arc::new(AtomicUsize::new(0));
    let deleted = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for (u, uid) in users.iter().enumerate() {
        for w in 0..WORKERS_PER_USER {
            workers.spawn(enrol_and_delete(
                provider.issuer.clone(),
                tokens[u].clone(),
                uid,
                u * WORKERS_PER_USER + w,
                log.clone(),
                confirmed.clone(),
                deleted.clone(),
            ));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while confirmed.load(Ordering::SeqCst) < KILL_AFTER_CONFIRMS
        || deleted.load(Ordering::SeqCst) < KILL_AFTER_DELETES
    {
        assert!(
            !workers.is_empty() && Instant::now() < deadline,
            "{store}: only {} confirms and {} deletions before the workers stopped",
            confirmed.load(Ordering::SeqCst),
            deleted.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    provider.kill_9();
    while let Some(joined) = workers.join_next().await {
        joined.expect("a client task panicked (an unexpected answer)");
    }

    let log = std::mem::take(&mut *log.lock().unwrap());
    let cut = log
        .iter()
        .filter(|e| e.confirm == Seen::Cut || e.delete == Seen::Cut)
        .count();
    eprintln!(
        "{store}: {} enrolments started, {} confirmed before the kill, {cut} requests cut by it",
        log.len(),
        confirmed.load(Ordering::SeqCst)
    );
    for e in &log {
        assert!(
            matches!(e.confirm, Seen::Answered(201) | Seen::Cut),
            "{store}: a live provider refused a valid confirm: {e:?}"
        );
        assert!(
            matches!(e.delete, Seen::Answered(204) | Seen::Cut | Seen::NotSent),
            "{store}: a live provider refused a delete: {e:?}"
        );
    }

    // Both directions of the invariant get exercised: devices that must be
    // listed and authenticate, and deleted ones that must do neither.
    assert!(
        log.iter().any(|e| e.delete == Seen::Answered(204)),
        "{store}: no deletion completed before the kill"
    );

    // Restart on the same data.
    let restarting = unix_now();
    let provider = tokio::task::block_in_place(|| ProviderProcess::start(dir, store_args));
    let issuer = provider.issuer.clone();
    // The embedded store takes the kill for a crash, in which used-code
    // markers written without waiting for the disk may have been lost:
    // every code that could have been accepted before it reopened is
    // refused, even one never used (Redis keeps what its persistence keeps).
    let refused_through = (store == "embedded").then(|| unix_now() / 30 + 1);
    if let Some(through) = refused_through {
        // Any step that verifies now, bar the ones handed out before.
        let never_used = (restarting / 30 - 1..=unix_now() / 30 + 1)
            .find_map(|step| apps[0].unused_code_of_step(step))
            .expect("a step not handed out");
        let refused = sign_in_with(&issuer, users[0], provider.password(users[0]), &never_used)
            .await
            .expect_err("a code from before the crash is refused");
        let (status, html) = refused.page();
        assert_eq!(*status, StatusCode::UNAUTHORIZED, "{html}");
        assert!(html.contains("already used"), "{html}");
        for app in &mut apps {
            app.skip_through(through);
        }
    }
    for (u, uid) in users.iter().copied().enumerate() {
        let password = provider.password(uid).to_owned();
        assert_eq!(
            provider.secret(uid),
            secrets[u],
            "{store}: same demo device"
        );
        let code = apps[u].fresh_code().await;
        let t = sign_in_with(&issuer, uid, &password, &code)
            .await
            .unwrap_or_else(|step| panic!("{store}: {uid} signs in after restart: {step:?}"));
        let listed = listed_device_ids(&issuer, t["access_token"].as_str().unwrap()).await;
        assert!(
            listed.contains(&originals[u]),
            "{store}: {uid}'s own device"
        );
        let known: BTreeSet<&str> = log
            .iter()
            .filter(|e| e.uid == uid)
            .map(|e| e.id.as_str())
            .chain([originals[u].as_str()])
            .collect();
        for id in &listed {
            assert!(
                known.contains(id.as_str()),
                "{store}: {uid} lists {id}, which no client ever enrolled"
            );
        }
        let mut checks = tokio::task::JoinSet::new();
        let gate = Arc::new(tokio::sync::Semaphore::new(3));
        for e in log.iter().filter(|e| e.uid == uid) {
            let is_listed = listed.contains(&e.id);
            // A deletion cut by the kill may or may not have happened; the
            // listed ⇔ authenticates check below covers that case.
            if e.confirm == Seen::Answered(201) && e.delete == Seen::NotSent {
                assert!(is_listed, "{store}: confirmed device lost: {e:?}");
            }
            if e.delete == Seen::Answered(204) {
                assert!(!is_listed, "{store}: deleted device listed again: {e:?}");
            }
            let (issuer, password, secret, gate) = (
                issuer.clone(),
                password.clone(),
                e.secret.clone(),
                gate.clone(),
            );
            let what = format!("{e:?}");
            checks.spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                let works = authenticates(&issuer, uid, &password, &secret, refused_through).await;
                (is_listed, works, what)
            });
        }
        while let Some(joined) = checks.join_next().await {
            let (is_listed, works, what) = joined.unwrap();
            assert_eq!(
                is_listed, works,
                "{store}: listed={is_listed} but authenticates={works}: {what}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_provider_on_the_embedded_store_loses_no_device_and_resurrects_none() {
    let dir = tempfile::tempdir().unwrap();
    kill_9_during_enrolments_keeps_listed_iff_authenticates("embedded", dir.path(), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_provider_on_redis_loses_no_device_and_resurrects_none() {
    let redis = tokio::task::block_in_place(support::RedisServer::start);
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    kill_9_during_enrolments_keeps_listed_iff_authenticates(
        "redis",
        dir.path(),
        &["--store", "redis", "--redis-url", &url],
    )
    .await;
}

// ---------------------------------------------------------------------------
// redis-server restarted under load
// ---------------------------------------------------------------------------

/// Asks the test's redis-server to write its snapshot (`SAVE`), so that the
/// restarted server (same directory) loads the data again, as a production
/// Redis with persistence would.
fn redis_save(port: u16) {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"SAVE\r\n").unwrap();
    let mut reply = [0u8; 5];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+OK\r\n");
}

// Phases, set BEFORE each disruption starts and after it is complete, so a
// request that started and ended in one phase saw only that phase.
const BEFORE: u8 = 0;
const OUTAGE: u8 = 1;
const RESTARTING: u8 = 2;
const AFTER: u8 = 3;
const STOPPING: u8 = 4;

#[derive(Debug)]
struct Sample {
    started: u8,
    ended: u8,
    /// `None`: no HTTP answer at all.
    status: Option<u16>,
    content_type: String,
    body: Value,
}

/// GETs `path` with the bearer token until `stop` is set, recording what
/// each request got and in which phase it started and ended.
async fn load(
    url: String,
    token: String,
    phase: Arc<AtomicU8>,
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicU8>,
) {
    let http = http();
    while stop.load(Ordering::SeqCst) == 0 {
        let started = phase.load(Ordering::SeqCst);
        let resp = http.get(&url).bearer_auth(&token).send().await;
        let sample = match resp {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let content_type = resp
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap_or("").to_owned())
                    .unwrap_or_default();
                let text = resp.text().await.unwrap_or_default();
                Sample {
                    started,
                    ended: phase.load(Ordering::SeqCst),
                    status: Some(status),
                    content_type,
                    body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
                }
            }
            Err(_) => Sample {
                started,
                ended: phase.load(Ordering::SeqCst),
                status: None,
                content_type: String::new(),
                body: Value::Null,
            },
        };
        samples.lock().unwrap().push(sample);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn count(samples: &Mutex<Vec<Sample>>, f: impl Fn(&Sample) -> bool) -> usize {
    samples.lock().unwrap().iter().filter(|s| f(s)).count()
}

/// Waits (bounded) until `f` holds.
async fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn refresh(issuer: &str, refresh_token: &str) -> (StatusCode, Value) {
    rp::post_form(
        issuer,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", rp::CLIENT_ID),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_under_load_is_a_clear_503_and_the_same_process_recovers() {
    let mut redis = tokio::task::block_in_place(support::RedisServer::start);
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let mut provider = tokio::task::block_in_place(|| {
        ProviderProcess::start(dir.path(), &["--store", "redis", "--redis-url", &url])
    });
    let issuer = provider.issuer.clone();
    let mut demo_app = Authenticator::new(&provider.demo_secret);
    let code = demo_app.fresh_code().await;
    let tokens = sign_in_with(&issuer, "demo", &provider.demo_password, &code)
        .await
        .expect("demo signs in");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let devices_before = listed_device_ids(&issuer, &access).await;

    let phase = Arc::new(AtomicU8::new(BEFORE));
    let stop = Arc::new(AtomicU8::new(0));
    let api = Arc::new(Mutex::new(Vec::new()));
    let userinfo = Arc::new(Mutex::new(Vec::new()));
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..6 {
        let (samples, path) = if i == 0 {
            (userinfo.clone(), "/userinfo")
        } else {
            (api.clone(), paths::MY_DEVICES)
        };
        clients.spawn(load(
            format!("{issuer}{path}"),
            access.clone(),
            phase.clone(),
            samples,
            stop.clone(),
        ));
    }
    let ok_in = |samples: &Arc<Mutex<Vec<Sample>>>, p: u8| {
        let samples = samples.clone();
        move || count(&samples, |s| s.started == p && s.status == Some(200)) >= 30
    };
    wait_for("answers before the outage", ok_in(&api, BEFORE)).await;

    phase.store(STOPPING, Ordering::SeqCst);
    tokio::task::block_in_place(|| {
        redis_save(redis.port());
        redis.stop();
    });
    phase.store(OUTAGE, Ordering::SeqCst);
    let in_outage = |samples: &Arc<Mutex<Vec<Sample>>>| {
        let samples = samples.clone();
        move || count(&samples, |s| s.started == OUTAGE && s.ended == OUTAGE) >= 30
    };
    wait_for("answers during the outage", in_outage(&api)).await;
    wait_for("userinfo answers during the outage", in_outage(&userinfo)).await;
    let (status, body) = refresh(&issuer, &refresh_token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    let page = Browser::new(&issuer)
        .get(&AuthRequest::new().url(&issuer, &[]))
        .await;
    assert_eq!(*page.page().0, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.html().contains("temporarily unavailable"),
        "{}",
        page.html()
    );

    phase.store(RESTARTING, Ordering::SeqCst);
    tokio::task::block_in_place(|| redis.restart());
    phase.store(AFTER, Ordering::SeqCst);
    wait_for("answers after the restart", ok_in(&api, AFTER)).await;
    wait_for(
        "userinfo answers after the restart",
        ok_in(&userinfo, AFTER),
    )
    .await;
    stop.store(1, Ordering::SeqCst);
    while let Some(joined) = clients.join_next().await {
        joined.unwrap();
    }
    provider.assert_alive();

    for (name, samples, problem) in [("account API", &api, true), ("userinfo", &userinfo, false)] {
        let samples = samples.lock().unwrap();
        for s in samples.iter() {
            // Whatever the phase: an answer, and only 200 or a clear 503.
            let status = s
                .status
                .unwrap_or_else(|| panic!("{name}: no answer: {s:?}"));
            match status {
                200 => assert!(s.started != OUTAGE || s.ended != OUTAGE, "{name}: {s:?}"),
                503 if problem => {
                    assert_eq!(s.content_type, "application/problem+json", "{s:?}");
                    assert_eq!(s.body["code"], "unavailable", "{s:?}");
                    assert_eq!(s.body["status"], 503, "{s:?}");
                    assert!(!s.body["detail"].as_str().unwrap_or("").is_empty(), "{s:?}");
                }
                503 => assert_eq!(s.body["error"], "temporarily_unavailable", "{s:?}"),
                _ => panic!("{name}: unexpected answer {s:?}"),
            }
            if s.started == BEFORE && s.ended == BEFORE {
                assert_eq!(status, 200, "{name}: {s:?}");
            }
        }
        // Once Redis answers again, it keeps answering: after the first
        // success that started after the restart, everything succeeds.
        let after: Vec<&Sample> = samples.iter().filter(|s| s.started == AFTER).collect();
        let first_ok = after.iter().position(|s| s.status == Some(200)).unwrap();
        for s in &after[first_ok..] {
            assert_eq!(s.status, Some(200), "{name}: failure after recovery: {s:?}");
        }
        let outage = samples
            .iter()
            .filter(|s| s.started == OUTAGE && s.ended == OUTAGE)
            .count();
        eprintln!(
            "{name}: {} requests, {outage} during the outage, {} after it",
            samples.len(),
            after.len()
        );
    }

    // Same data, same provider process: the devices, the refresh token and a
    // new sign-in all work again.
    assert_eq!(listed_device_ids(&issuer, &access).await, devices_before);
    let (status, body) = refresh(&issuer, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let code = demo_app.fresh_code().await;
    sign_in_with(&issuer, "demo", &provider.demo_password, &code)
        .await
        .expect("sign-in after the outage");
    provider.assert_alive();
}
