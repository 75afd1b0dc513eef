//! `tessera-bench`: measures the provider on this machine and writes
//! BENCHMARKS.md (DESIGN §8). Every figure is compared with a floor or a
//! peer measured in the same run, so the ratios mean something on any
//! machine. Run through `bash scripts/bench` (release build); never part of
//! the tests.
//!
//! ```text
//! tessera-bench [--out BENCHMARKS.md] [--quick] [--command "bash scripts/bench"]
//!               [--desktop-app target/release/tessera-desktop] [--launches 5]
//!               [--only signin,devices,refresh,desktop,peer]
//! ```
//!
//! `--only signin-embedded` or `--only signin-redis` runs the sign-in on one
//! store (for profiling).

mod bare;
mod cpu;
mod desktop;
mod http1;
mod load;
mod peer;
mod report;
mod server;
mod signin;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tessera_api::paths;

// The provider's allocator (crates/provider/src/main.rs), so that the
// provider served in this process allocates as it does in production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use load::{Stats, closed_loop};

/// The sign-in run's slices, alternating with floor measurements: twice
/// the other scenarios' measuring time ([`signin_slice`]), since a sign-in
/// ratio moves by a few points between runs on a shared machine.
const SIGNIN_SLICES: u32 = 8;

/// One sign-in slice: a quarter of the other scenarios' measuring time.
fn signin_slice(measure: Duration) -> Duration {
    measure / 4
}
/// The Redis account API reads' slices, alternating with `redis-benchmark`.
const READ_SLICES: u32 = 4;
/// Time for the requests of a slice after the first to fill the pipeline
/// again before they are counted.
const REFILL: Duration = Duration::from_millis(500);
use report::{Figures, Measure};
use server::{PASSWORD, RedisProcess, Server, StoreKind};

struct Options {
    out: String,
    command: String,
    warmup: Duration,
    measure: Duration,
    /// The desktop app to launch (a custom-protocol release build).
    desktop_app: String,
    launches: usize,
    /// Scenarios to run (`--only signin,devices,refresh,desktop,peer`); all when empty.
    only: Vec<String>,
}

impl Options {
    fn runs(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }
}

fn options() -> Options {
    let mut o = Options {
        out: "BENCHMARKS.md".into(),
        command: "bash scripts/bench".into(),
        warmup: Duration::from_secs(2),
        measure: Duration::from_secs(8),
        desktop_app: "target/release/tessera-desktop".into(),
        launches: 5,
        only: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => o.out = args.next().expect("--out PATH"),
            "--command" => o.command = args.next().expect("--command TEXT"),
            "--desktop-app" => o.desktop_app = args.next().expect("--desktop-app PATH"),
            "--launches" => {
                o.launches = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--launches N")
            }
            "--only" => {
                o.only = args
                    .next()
                    .expect("--only signin,devices,refresh,desktop,peer")
                    .split(',')
                    .map(str::to_owned)
                    .collect()
            }
            "--quick" => {
                o.warmup = Duration::from_millis(500);
                o.measure = Duration::from_secs(2);
            }
            "-h" | "--help" => {
                println!(
                    "tessera-bench [--out BENCHMARKS.md] [--quick] [--command TEXT]\n\
                     \x20             [--desktop-app PATH] [--launches N]\n\
                     \x20             [--only signin,devices,refresh,desktop,peer]\n\
                     Measures sign-in, account API reads, refresh and userinfo against\n\
                     floors and peers measured in the same run, and the desktop app's\n\
                     launch, idle memory and installers; writes the report."
                );
                std::process::exit(0);
            }
            other => {
                eprintln!("unknown argument {other:?} (see --help)");
                std::process::exit(2);
            }
        }
    }
    o
}

/// Thread names of the provider (its runtime with its blocking pool, its
/// password verifiers, the embedded store's committer) and of the load
/// generator, for [`cpu::CpuWindow`].
const PROVIDER_RUNTIME: &str = "provider";
pub const PROVIDER_THREADS: &[&str] = &[
    PROVIDER_RUNTIME,
    tessera_provider::password::VERIFIER_THREADS,
    tessera_provider::store::embedded::COMMIT_THREAD,
];
const LOAD_RUNTIME: &str = "load";
pub const LOAD_THREADS: &[&str] = &[LOAD_RUNTIME];

fn runtime(threads: usize, name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn http(pool: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(pool)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// Runs `request` closed-loop in `slices` slices of `slice` each with
/// `concurrency` clients (the first after `warmup`, the others after
/// [`REFILL`]), calling `after_each` after every slice: what the run is
/// compared with is measured between and after its slices. Returns the
/// slices' merged statistics, and each slice's CPU shares and rate (and
/// prints the CPU per request of each slice).
fn in_slices<F, Fut>(
    client_rt: &tokio::runtime::Runtime,
    redis_pid: u32,
    (concurrency, warmup, slice, slices): (usize, Duration, Duration, u32),
    request: F,
    mut after_each: impl FnMut(),
) -> (Stats, Vec<cpu::CpuShares>, Vec<f64>)
where
    F: Fn(usize, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let mut stats: Option<Stats> = None;
    let mut shares = Vec::new();
    let mut rates = Vec::new();
    for n in 0..slices {
        let warm = if n == 0 { warmup } else { REFILL };
        let cpu = cpu::CpuWindow::start(redis_pid);
        let slice_stats =
            client_rt.block_on(closed_loop(concurrency, warm, slice, request.clone()));
        let share = cpu.stop();
        eprintln!("  {}", share.per_request(slice_stats.per_sec()));
        shares.push(share);
        rates.push(slice_stats.per_sec());
        match &mut stats {
            Some(all) => all.merge(slice_stats),
            None => stats = Some(slice_stats),
        }
        after_each();
    }
    (stats.expect("at least one slice"), shares, rates)
}

/// The floor of a sign-in: Argon2id verifications of the provider's own
/// parameters, on every core, nothing else running.
fn argon2_floor(measure: Duration, threads: usize) -> Measure {
    let phc = tessera_provider::password::hash(PASSWORD);
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + measure;
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (phc, count) = (&phc, count.clone());
            s.spawn(move || {
                while Instant::now() < deadline {
                    assert!(tessera_provider::password::verify(PASSWORD, phc));
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    Measure::rate_only(count.load(Ordering::Relaxed) as f64 / secs)
}

fn main() {
    let o = options();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_rt = runtime(cores, PROVIDER_RUNTIME);
    let client_rt = runtime(cores, LOAD_RUNTIME);
    if std::env::var_os("TESSERA_BENCH_PEER_ONLY").is_some() {
        // Debugging aid: only the oidc-provider peer, printed.
        let r = peer::measure(&client_rt, 4 * cores, o.warmup, o.measure);
        println!("{r:?}");
        return;
    }
    let redis = RedisProcess::start();
    let mut figures = Figures {
        load_at_start: report::load_average(),
        ..Figures::default()
    };
    let (warmup, measure) = (o.warmup, o.measure);

    // Full sign-in on each store: distinct users, since a code is accepted
    // once per device and step. The sign-ins run in slices, with the floor
    // measured before, between and after them and averaged: a shared
    // machine's speed moves by tens of percent within a minute, and this
    // way it weighs on both sides of the ratio alike.
    let mut floors = Vec::new();
    // `--only signin` runs both stores, `--only signin-redis` one of them.
    let signin_kinds = [StoreKind::Embedded, StoreKind::Redis]
        .into_iter()
        .filter(|kind| o.runs("signin") || o.runs(&format!("signin-{}", kind.name())));
    for kind in signin_kinds {
        eprintln!(
            "sign-in ({}), alternating with the argon2 floor…",
            kind.name()
        );
        let slice = signin_slice(measure);
        let mut floor_rates = vec![argon2_floor(slice, cores).rate];
        let url = redis.url();
        let srv = server_rt.block_on(Server::start(kind, Some(&url)));
        let busy = warmup + slice * SIGNIN_SLICES + REFILL * SIGNIN_SLICES;
        let expected = (floor_rates[0] * busy.as_secs_f64() * 2.0) as usize;
        let users = Arc::new(server_rt.block_on(srv.add_users("signin", expected.max(200), 1)));
        let next = Arc::new(AtomicUsize::new(0));
        let commits_before = srv.commits();
        let started = next.clone();
        let issuer = srv.issuer.clone();
        let concurrency = 4 * cores;
        let client = Arc::new(http1::Client::new(&issuer, concurrency).expect("provider address"));
        let sign_in = move |w, _| {
            let (users, next, client, issuer) =
                (users.clone(), next.clone(), client.clone(), issuer.clone());
            async move {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(u) = users.get(i) else {
                    return Err("done: no unused user left".into());
                };
                signin::sign_in(&client, w, &issuer, &u.uid, PASSWORD, &u.secret)
                    .await
                    .map(|_| ())
            }
        };
        let (stats, shares, rates) = in_slices(
            &client_rt,
            redis.pid(),
            (concurrency, warmup, slice, SIGNIN_SLICES),
            sign_in,
            || floor_rates.push(argon2_floor(slice, cores).rate),
        );
        report_errors("sign-in", &stats);
        // Per sign-in started (warm-up included, as the commits are).
        let commits = commits_before.zip(srv.commits()).map(|(before, after)| {
            let per = |n: u64| n as f64 / started.load(Ordering::Relaxed).max(1) as f64;
            report::CommitsPerSignIn {
                commits: per(after.batches - before.batches),
                durable: per(after.durable - before.durable),
                by_caller: per(after.by_caller - before.by_caller),
                flushes: per(after.flushes - before.flushes),
                writes: per(after.writes - before.writes),
            }
        });
        let m = Measure::from_stats(&stats, concurrency);
        drop(srv);
        let floor = Measure::rate_only(floor_rates.iter().sum::<f64>() / floor_rates.len() as f64);
        floors.push(floor.rate);
        let shares = cpu::CpuShares::mean(&shares);
        let slices = report::slice_ratios(&rates, &floor_rates);
        match kind {
            StoreKind::Embedded => {
                (figures.signin_embedded, figures.floor_embedded) = (m, floor);
                figures.signin_cpu_embedded = shares;
                figures.signin_commits_embedded = commits;
                figures.signin_embedded_slices = slices;
            }
            StoreKind::Redis => {
                (figures.signin_redis, figures.floor_redis) = (m, floor);
                figures.signin_cpu_redis = shares;
                figures.signin_redis_slices = slices;
            }
        }
    }
    if !floors.is_empty() {
        figures.argon2_floor = Measure::rate_only(floors.iter().sum::<f64>() / floors.len() as f64);
    }

    // The bare HTTP round trip of this client and server (a route that does
    // nothing), as the context of the account API figures.
    if o.runs("devices") {
        eprintln!("GET /healthz…");
        let url = redis.url();
        let srv = server_rt.block_on(Server::start(StoreKind::Embedded, Some(&url)));
        let url = format!("{}/healthz", srv.issuer);
        figures.healthz = gets(&client_rt, &redis, ("healthz", &url, b""), &o);
        drop(srv);
    }

    // Account API reads: 200 clients, each its own user (two devices) and token.
    let device_kinds = if o.runs("devices") {
        &[StoreKind::Redis, StoreKind::Embedded][..]
    } else {
        &[]
    };
    for &kind in device_kinds {
        eprintln!("GET /api/v1/me/devices ({})…", kind.name());
        let url = redis.url();
        let srv = server_rt.block_on(Server::start(kind, Some(&url)));
        let users = server_rt.block_on(srv.add_users("reader", 200, 2));
        let tokens: Vec<String> = users
            .iter()
            .map(|u| server_rt.block_on(srv.mint_access_token(&u.uid)))
            .collect();
        let url = format!("{}{}", srv.issuer, paths::MY_DEVICES);
        let getter = Arc::new(http1::Getter::new(&url, 200, &tokens).expect("devices URL"));
        let read = move |w: usize, _: u64| {
            let getter = getter.clone();
            async move { getter.expect(w, b"[{").await }
        };
        // On Redis, the reads run in slices alternating with
        // `redis-benchmark` (before, between and after them): the machine's
        // speed drifts within seconds, and the ratio compares the two.
        let slices = match kind {
            StoreKind::Redis => READ_SLICES,
            StoreKind::Embedded => 1,
        };
        let redis_get = || report::redis_benchmark(redis.port, 200, 100_000);
        let mut peer = Vec::new();
        if kind == StoreKind::Redis {
            peer.push(redis_get());
        }
        let (stats, _, rates) = in_slices(
            &client_rt,
            redis.pid(),
            (200, warmup, measure / slices, slices),
            read,
            || {
                if kind == StoreKind::Redis {
                    peer.push(redis_get());
                }
            },
        );
        report_errors("devices", &stats);
        let m = Measure::from_stats(&stats, 200);
        match kind {
            StoreKind::Redis => {
                figures.devices_redis = m;
                let peer_rates: Vec<f64> = peer.iter().map(|p| p.rate).collect();
                figures.devices_redis_slices = report::slice_ratios(&rates, &peer_rates);
                figures.redis_get = Measure::mean(peer);
                figures.bare_redis =
                    bare_reads(&server_rt, &client_rt, &srv, &users[0].uid, &o, &redis);
            }
            StoreKind::Embedded => figures.devices_embedded = m,
        }
        drop(srv);
    }

    // Refresh-token grant and userinfo, after real sign-ins.
    let refresh_kinds = if o.runs("refresh") {
        &[StoreKind::Embedded, StoreKind::Redis][..]
    } else {
        &[]
    };
    for &kind in refresh_kinds {
        eprintln!("refresh and userinfo ({})…", kind.name());
        let url = redis.url();
        let srv = server_rt.block_on(Server::start(kind, Some(&url)));
        let clients = 4 * cores;
        let users = server_rt.block_on(srv.add_users("rp", clients, 1));
        let client = http(64);
        let issuer = srv.issuer.clone();
        let browser = http1::Client::new(&issuer, 1).expect("provider address");
        let signed: Vec<serde_json::Value> = users
            .iter()
            .map(|u| {
                client_rt
                    .block_on(signin::sign_in(
                        &browser, 0, &issuer, &u.uid, PASSWORD, &u.secret,
                    ))
                    .expect("sign-in for the refresh benchmark")
            })
            .collect();
        let refresh_tokens: Arc<Vec<std::sync::Mutex<String>>> = Arc::new(
            signed
                .iter()
                .map(|t| std::sync::Mutex::new(t["refresh_token"].as_str().unwrap().to_owned()))
                .collect(),
        );
        let access: Vec<String> = signed
            .iter()
            .map(|t| t["access_token"].as_str().unwrap().to_owned())
            .collect();
        let (c2, i2) = (client.clone(), issuer.clone());
        let stats = client_rt.block_on(closed_loop(clients, warmup, measure, move |w, _| {
            let (client, issuer, tokens) = (c2.clone(), i2.clone(), refresh_tokens.clone());
            async move {
                let current = tokens[w].lock().unwrap().clone();
                let body = signin::token(
                    &client,
                    &issuer,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &current),
                        ("client_id", signin::CLIENT_ID),
                    ],
                )
                .await
                .map_err(|e| format!("stop: {e}"))?;
                let next = body["refresh_token"]
                    .as_str()
                    .ok_or("stop: no refresh token")?;
                *tokens[w].lock().unwrap() = next.to_owned();
                Ok(())
            }
        }));
        report_errors("refresh", &stats);
        let refresh = Measure::from_stats(&stats, clients);
        let url = format!("{issuer}/userinfo");
        let getter = Arc::new(http1::Getter::new(&url, clients, &access).expect("userinfo URL"));
        let stats = client_rt.block_on(closed_loop(clients, warmup, measure, move |w, _| {
            let getter = getter.clone();
            async move { getter.expect(w, b"{").await }
        }));
        report_errors("userinfo", &stats);
        let userinfo = Measure::from_stats(&stats, clients);
        match kind {
            StoreKind::Embedded => {
                figures.refresh_embedded = refresh;
                figures.userinfo_embedded = userinfo;
            }
            StoreKind::Redis => {
                figures.refresh_redis = refresh;
                figures.userinfo_redis = userinfo;
            }
        }
        drop(srv);
    }

    if o.runs("desktop") {
        eprintln!("desktop app launches…");
        let url = redis.url();
        let srv = server_rt.block_on(Server::start(StoreKind::Embedded, Some(&url)));
        let app = std::path::Path::new(&o.desktop_app);
        figures.desktop = client_rt.block_on(desktop::measure(app, &srv.issuer, o.launches));
        if let Some(why) = &figures.desktop.missing {
            eprintln!("desktop not measured: {why}");
        }
        drop(srv);
    }
    drop(server_rt);

    let peer = if o.runs("peer") {
        eprintln!("oidc-provider (Node) refresh and userinfo…");
        peer::measure(&client_rt, 4 * cores, warmup, measure)
    } else {
        Err("not run (--only)".to_owned())
    };
    match peer {
        Ok((refresh, userinfo)) => {
            figures.peer_refresh = refresh;
            figures.peer_userinfo = userinfo;
        }
        Err(why) => {
            eprintln!("oidc-provider not measured: {why}");
            figures.peer_refresh.missing = Some(why.clone());
            figures.peer_userinfo.missing = Some(why);
        }
    }

    if !o.only.is_empty() {
        figures.mark_not_run("not run (--only)");
    }
    let previous = std::fs::read_to_string(&o.out).ok();
    let text = report::render(&figures, &o.command, previous.as_deref(), measure, cores);
    std::fs::write(&o.out, &text).unwrap_or_else(|e| panic!("cannot write {}: {e}", o.out));
    println!("{text}");
    eprintln!("wrote {}", o.out);
}

fn report_errors(what: &str, stats: &Stats) {
    if stats.errors > 0 {
        eprintln!(
            "{what}: {} errors, first: {}",
            stats.errors,
            stats.first_error.as_deref().unwrap_or("?")
        );
    }
}

/// The ceiling of the account API read (see `bare`): the same Redis reads,
/// on records copied from `uid`'s, behind a handler that does nothing else.
fn bare_reads(
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
    srv: &Server,
    uid: &str,
    o: &Options,
    redis: &RedisProcess,
) -> Measure {
    eprintln!("bare handler, the same Redis reads…");
    let (user, devices) = server_rt.block_on(async {
        let user = srv
            .app
            .store
            .get_user(uid)
            .await
            .expect("read user")
            .expect("user");
        let devices = srv.app.store.list_devices(uid).await.expect("read devices");
        (user, devices)
    });
    let user = serde_json::to_vec(&user).expect("user record");
    let devices = devices
        .iter()
        .map(|d| (d.id.clone(), serde_json::to_vec(d).expect("device record")))
        .collect();
    let bare = server_rt.block_on(bare::start(&redis.url(), user, devices));
    gets(client_rt, redis, ("bare", &bare.url, b"{"), o)
}

/// `GET url` from 200 closed-loop clients without credentials, each answer
/// a 200 whose body starts with `prefix`; prints the CPU per request.
fn gets(
    client_rt: &tokio::runtime::Runtime,
    redis: &RedisProcess,
    (what, url, prefix): (&str, &str, &'static [u8]),
    o: &Options,
) -> Measure {
    let getter = Arc::new(http1::Getter::new(url, 200, &[]).expect("a URL of this machine"));
    let cpu = cpu::CpuWindow::start(redis.pid());
    let stats = client_rt.block_on(closed_loop(200, o.warmup, o.measure, move |w, _| {
        let getter = getter.clone();
        async move { getter.expect(w, prefix).await }
    }));
    eprintln!("  {}", cpu.stop().per_request(stats.per_sec()));
    report_errors(what, &stats);
    Measure::from_stats(&stats, 200)
}
