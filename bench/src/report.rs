//! Figures of one run, the `redis-benchmark` peer, and BENCHMARKS.md with
//! ratios and regression call-outs against the previous file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use crate::desktop::DesktopFigures;
use crate::load::Stats;

/// One scenario's result.
#[derive(Debug, Clone, Default)]
pub struct Measure {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub clients: usize,
    /// Why there is no figure, when there is none.
    pub missing: Option<String>,
}

impl Measure {
    pub fn rate_only(rate: f64) -> Measure {
        Measure {
            rate,
            ..Measure::default()
        }
    }

    /// Runs of the same peer around what is compared with it (before,
    /// between and after its slices, so that a machine slowing down or
    /// speeding up meanwhile weighs on both sides): mean rate and
    /// percentiles, the largest maximum. A missing run makes the result
    /// missing.
    pub fn mean(runs: Vec<Measure>) -> Measure {
        if let Some(missing) = runs.iter().find(|m| m.missing.is_some()) {
            return missing.clone();
        }
        let n = runs.len().max(1) as f64;
        let mean = |f: fn(&Measure) -> f64| runs.iter().map(f).sum::<f64>() / n;
        Measure {
            rate: mean(|m| m.rate),
            p50_ms: mean(|m| m.p50_ms),
            p99_ms: mean(|m| m.p99_ms),
            max_ms: runs.iter().map(|m| m.max_ms).fold(0.0, f64::max),
            errors: runs.iter().map(|m| m.errors).sum(),
            clients: runs.first().map_or(0, |m| m.clients),
            missing: None,
        }
    }

    pub fn from_stats(s: &Stats, clients: usize) -> Measure {
        Measure {
            rate: s.per_sec(),
            p50_ms: s.p50_ms(),
            p99_ms: s.p99_ms(),
            max_ms: s.max_ms(),
            errors: s.errors,
            clients,
            missing: None,
        }
    }
}

#[derive(Debug, Default)]
pub struct Figures {
    pub load_at_start: String,
    /// Mean of every floor measurement of the run.
    pub argon2_floor: Measure,
    /// Floor around each sign-in run (mean of just before and just after).
    pub floor_embedded: Measure,
    pub floor_redis: Measure,
    pub signin_embedded: Measure,
    pub signin_redis: Measure,
    /// Cores used by the provider and by the load generator during each sign-in run.
    pub signin_cpu_embedded: crate::cpu::CpuShares,
    pub signin_cpu_redis: crate::cpu::CpuShares,
    /// The embedded store's commits per sign-in during its run (started
    /// sign-ins), when measured.
    pub signin_commits_embedded: Option<CommitsPerSignIn>,
    /// Each sign-in slice's ratio to its floor ([`slice_ratios`]).
    pub signin_embedded_slices: Vec<f64>,
    pub signin_redis_slices: Vec<f64>,
    pub redis_get: Measure,
    pub healthz: Measure,
    pub devices_redis: Measure,
    /// Each Redis read slice's ratio to `redis-benchmark` ([`slice_ratios`]).
    pub devices_redis_slices: Vec<f64>,
    /// The same Redis reads behind a handler that does nothing else (`bare`).
    pub bare_redis: Measure,
    pub devices_embedded: Measure,
    pub refresh_embedded: Measure,
    pub refresh_redis: Measure,
    pub userinfo_embedded: Measure,
    pub userinfo_redis: Measure,
    /// Node `oidc-provider` on the same machine (the peer of DESIGN §8).
    pub peer_refresh: Measure,
    pub peer_userinfo: Measure,
    pub desktop: DesktopFigures,
}

/// The embedded store's committer's work per sign-in.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommitsPerSignIn {
    pub commits: f64,
    pub durable: f64,
    /// Lazy commits run by the request itself (counted in its handling).
    pub by_caller: f64,
    /// Durable commits of nothing, made on the committer's period for lazy
    /// commits no durable one followed (not counted in `commits`).
    pub flushes: f64,
    pub writes: f64,
}

/// `redis-benchmark -c <clients> -n <requests> -t get --csv` against the
/// same redis-server the provider uses.
impl Figures {
    /// Gives every scenario without a figure a reason, so that a partial run
    /// (`--only`) renders "not measured" instead of zero rates.
    pub fn mark_not_run(&mut self, why: &str) {
        for m in [
            &mut self.argon2_floor,
            &mut self.floor_embedded,
            &mut self.floor_redis,
            &mut self.signin_embedded,
            &mut self.signin_redis,
            &mut self.redis_get,
            &mut self.healthz,
            &mut self.devices_redis,
            &mut self.bare_redis,
            &mut self.devices_embedded,
            &mut self.refresh_embedded,
            &mut self.refresh_redis,
            &mut self.userinfo_embedded,
            &mut self.userinfo_redis,
            &mut self.peer_refresh,
            &mut self.peer_userinfo,
        ] {
            if m.rate == 0.0 && m.missing.is_none() {
                m.missing = Some(why.to_owned());
            }
        }
        if self.desktop.launches_ms.is_empty() && self.desktop.missing.is_none() {
            self.desktop.missing = Some(why.to_owned());
        }
    }
}

pub fn redis_benchmark(port: u16, clients: usize, requests: usize) -> Measure {
    let binary = std::env::var("TESSERA_REDIS_BENCHMARK").unwrap_or("redis-benchmark".into());
    let out = Command::new(&binary)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-c", &clients.to_string(), "-n", &requests.to_string()])
        .args(["-t", "get", "--csv"])
        .output();
    let missing = |why: String| Measure {
        missing: Some(why),
        ..Measure::default()
    };
    let out = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            return missing(format!(
                "{binary} failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Err(e) => return missing(format!("cannot run {binary}: {e}")),
    };
    let rows: Vec<Vec<String>> = out
        .lines()
        .map(|l| {
            l.split(',')
                .map(|f| f.trim_matches('"').to_owned())
                .collect()
        })
        .collect();
    let (Some(header), Some(row)) = (rows.first(), rows.iter().find(|r| r[0] == "GET")) else {
        return missing(format!("unexpected redis-benchmark output: {out}"));
    };
    let field = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .and_then(|i| row.get(i))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Measure {
        rate: field("rps"),
        p50_ms: field("p50_latency_ms"),
        p99_ms: field("p99_latency_ms"),
        max_ms: field("max_latency_ms"),
        errors: 0,
        clients,
        missing: None,
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn machine(cores: usize) -> String {
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kib: f64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    format!(
        "{cores} cores (`nproc`), {model}, {:.1} GiB memory, Linux {}",
        mem_kib / 1024.0 / 1024.0,
        read("/proc/sys/kernel/osrelease").trim()
    )
}

pub fn load_average() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A "(context)" row of the goals table: `rate` against a reference of the
/// same run, no target.
fn context_ratio(out: &mut String, what: &str, rate: f64, (reference, of): (&str, f64)) {
    let _ = writeln!(
        out,
        "| (context) {what} | {rate:.0} req/s | {reference} {of:.0}/s | {} | — | — |",
        pct(rate, of)
    );
}

fn pct(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.0} %", 100.0 * a / b)
    } else {
        "n/a".into()
    }
}

/// Each slice's rate against its reference, the mean of the reference
/// measured just before and just after that slice (`references` has one
/// more figure than `rates`; a missing or zero reference gives no ratio).
pub fn slice_ratios(rates: &[f64], references: &[f64]) -> Vec<f64> {
    rates
        .iter()
        .zip(references.windows(2))
        .filter_map(|(rate, around)| {
            let reference = (around[0] + around[1]) / 2.0;
            (reference > 0.0).then(|| rate / reference)
        })
        .collect()
}

/// A ratio with the range of its slices' ratios, which shows how much the
/// machine moved during the run.
fn pct_with_slices(a: f64, b: f64, slices: &[f64]) -> String {
    let ratio = pct(a, b);
    if b <= 0.0 || slices.len() < 2 {
        return ratio;
    }
    let low = slices.iter().copied().fold(f64::INFINITY, f64::min);
    let high = slices.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{ratio} (its {} slices {:.0}–{:.0} %)",
        slices.len(),
        100.0 * low,
        100.0 * high
    )
}

fn met(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

/// Machine-readable figures, kept in the report for the next run's
/// comparison. Keys ending in `_ms` are better lower, the others higher.
fn data(f: &Figures) -> BTreeMap<String, f64> {
    let mut d = BTreeMap::new();
    let mut put = |name: &str, m: &Measure| {
        if m.missing.is_none() {
            d.insert(format!("{name}_rate"), m.rate);
            if m.p99_ms > 0.0 {
                d.insert(format!("{name}_p99_ms"), m.p99_ms);
            }
        }
    };
    put("argon2_floor", &f.argon2_floor);
    put("signin_embedded", &f.signin_embedded);
    put("signin_redis", &f.signin_redis);
    put("redis_get", &f.redis_get);
    put("healthz", &f.healthz);
    put("devices_redis", &f.devices_redis);
    put("bare_redis", &f.bare_redis);
    put("devices_embedded", &f.devices_embedded);
    put("refresh_embedded", &f.refresh_embedded);
    put("refresh_redis", &f.refresh_redis);
    put("userinfo_embedded", &f.userinfo_embedded);
    put("userinfo_redis", &f.userinfo_redis);
    put("oidc_provider_refresh", &f.peer_refresh);
    put("oidc_provider_userinfo", &f.peer_userinfo);
    if f.peer_refresh.missing.is_none() && f.peer_refresh.rate > 0.0 {
        d.insert(
            "refresh_vs_oidc_provider_ratio".into(),
            f.refresh_embedded.rate / f.peer_refresh.rate,
        );
        d.insert(
            "refresh_redis_vs_oidc_provider_ratio".into(),
            f.refresh_redis.rate / f.peer_refresh.rate,
        );
    }
    if f.peer_userinfo.missing.is_none() && f.peer_userinfo.rate > 0.0 {
        d.insert(
            "userinfo_vs_oidc_provider_ratio".into(),
            f.userinfo_embedded.rate / f.peer_userinfo.rate,
        );
        d.insert(
            "userinfo_redis_vs_oidc_provider_ratio".into(),
            f.userinfo_redis.rate / f.peer_userinfo.rate,
        );
    }
    if f.desktop.missing.is_none() && !f.desktop.launches_ms.is_empty() {
        d.insert("desktop_launch_p50_ms".into(), f.desktop.launch_p50_ms());
        d.insert("desktop_idle_pss_mib".into(), f.desktop.idle_pss_mib);
        d.insert(
            "desktop_idle_pss_anon_mib".into(),
            f.desktop.idle_pss_anon_mib,
        );
        d.insert("desktop_idle_pss_gl_mib".into(), f.desktop.idle_pss_gl_mib);
    }
    for (name, mib) in &f.desktop.installers {
        let kind = name.rsplit('.').next().unwrap_or("file");
        d.insert(format!("installer_{kind}_mib"), *mib);
    }
    if f.floor_embedded.rate > 0.0 && f.floor_redis.rate > 0.0 {
        d.insert(
            "signin_embedded_ratio".into(),
            f.signin_embedded.rate / f.floor_embedded.rate,
        );
        d.insert(
            "signin_redis_ratio".into(),
            f.signin_redis.rate / f.floor_redis.rate,
        );
    }
    if f.redis_get.rate > 0.0 {
        d.insert(
            "devices_redis_ratio".into(),
            f.devices_redis.rate / f.redis_get.rate,
        );
    }
    d
}

const DATA_MARK: &str = "<!-- tessera-bench-data ";

fn previous_data(previous: &str) -> Option<BTreeMap<String, f64>> {
    let start = previous.find(DATA_MARK)? + DATA_MARK.len();
    let end = previous[start..].find(" -->")? + start;
    let v: serde_json::Value = serde_json::from_str(&previous[start..end]).ok()?;
    Some(
        v.as_object()?
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
            .collect(),
    )
}

/// Lines calling out every figure more than 20 % worse than last time.
fn regressions(now: &BTreeMap<String, f64>, before: &BTreeMap<String, f64>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, &new) in now {
        let Some(&old) = before.get(k) else { continue };
        if old <= 0.0 {
            continue;
        }
        let lower_is_better = k.ends_with("_ms") || k.ends_with("_mib");
        let worse = if lower_is_better {
            new > old * 1.2
        } else {
            new < old * 0.8
        };
        if worse {
            out.push(format!(
                "- **Regression**: `{k}` went from {old:.3} to {new:.3} ({:+.0} %)",
                100.0 * (new - old) / old
            ));
        }
    }
    out
}

fn row(out: &mut String, name: &str, m: &Measure, unit: &str) {
    if let Some(why) = &m.missing {
        let _ = writeln!(out, "| {name} | | not measured: {why} | | | | |");
        return;
    }
    let lat = |v: f64| {
        if v > 0.0 {
            format!("{v:.2} ms")
        } else {
            "—".into()
        }
    };
    let _ = writeln!(
        out,
        "| {name} | {} | {:.1} {unit} | {} | {} | {} | {} |",
        if m.clients > 0 {
            m.clients.to_string()
        } else {
            "—".into()
        },
        m.rate,
        lat(m.p50_ms),
        lat(m.p99_ms),
        lat(m.max_ms),
        m.errors
    );
}

/// Desktop rows of the goals table (DESIGN §8: interactive within 1 s,
/// single-digit MB installers, modest idle memory).
fn desktop_goals(out: &mut String, d: &DesktopFigures) {
    match &d.missing {
        Some(why) => {
            let _ = writeln!(
                out,
                "| Desktop window interactive within 1 s of launch | | not measured: {why} | — | < 1 s | n/a |"
            );
        }
        None => {
            let p50 = d.launch_p50_ms();
            let _ = writeln!(
                out,
                "| Desktop window interactive within 1 s of launch (p50 of {} launches; max {:.0} ms) | {p50:.0} ms | — | — | < 1 s | {} |",
                d.launches_ms.len(),
                d.launch_max_ms(),
                met(p50 > 0.0 && p50 < 1000.0)
            );
            let _ = writeln!(
                out,
                "| Desktop idle memory (PSS of {} processes: app, WebKit web and network processes) | {:.0} MiB | — | — | < 200 MiB | {} |",
                d.processes,
                d.idle_pss_mib,
                met(d.idle_pss_mib > 0.0 && d.idle_pss_mib < 200.0)
            );
            let _ = writeln!(
                out,
                "| (context) of which anonymous memory (heaps and stacks; the rest is library and data file pages shared with other programs) | {:.0} MiB | — | — | — | — |",
                d.idle_pss_anon_mib
            );
            let _ = writeln!(
                out,
                "| (context) of which the GL driver's libraries (Mesa's DRI driver and its LLVM, loaded by WebKitGTK's web process only, the app's own process draws without GL; software rendering under Xvfb here, a GPU driver on a desktop) | {:.0} MiB | — | — | — | — |",
                d.idle_pss_gl_mib
            );
        }
    }
    if d.installers.is_empty() {
        let _ = writeln!(
            out,
            "| Installers in single-digit MB | | not measured: no installer in artifacts/installers (run `bash scripts/package` first) | — | < 10 MiB | n/a |"
        );
    }
    for (name, mib) in &d.installers {
        let _ = writeln!(
            out,
            "| Installer `{name}` in single-digit MB | {mib:.1} MiB | — | — | < 10 MiB | {} |",
            met(*mib < 10.0)
        );
    }
}

pub fn render(
    f: &Figures,
    command: &str,
    previous: Option<&str>,
    measure: Duration,
    cores: usize,
) -> String {
    let mut out = String::new();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let _ = writeln!(out, "# Tessera benchmarks\n");
    let _ = writeln!(
        out,
        "Regenerated by `{command}`; do not edit by hand (the next run compares itself with the \
         data at the end of this file).\n"
    );
    let _ = writeln!(out, "- Date: {now}");
    let _ = writeln!(out, "- Machine: {}", machine(cores));
    let _ = writeln!(
        out,
        "- Load average when the run started: {} (other work on the machine skews absolute \
         figures; the ratios below compare figures of this same run)",
        f.load_at_start
    );
    let _ = writeln!(
        out,
        "- Build: release. The provider is served in-process on its own Tokio runtime ({cores} \
         worker threads), the load comes from a second runtime in the same process over real \
         HTTP on 127.0.0.1, with the provider binary's allocator (mimalloc); its password \
         verifiers are its own threads (one per core). Redis is a local `redis-server` without \
         persistence, shared by the provider and `redis-benchmark`; the embedded store is a \
         redb file on this machine's disk (durable commits wait for it)."
    );
    let _ = writeln!(
        out,
        "- Each scenario: closed loop (a client sends its next request when the previous one \
         is answered), warm-up then {} s measured; the sign-ins {} s, in {} slices of {} s \
         alternating with the floor, and the Redis reads in slices alternating with \
         `redis-benchmark` (each slice's ratio is to the mean of the reference just before and \
         just after it; the goals table gives their range). Latencies from HDR histograms.",
        measure.as_secs(),
        (crate::signin_slice(measure) * crate::SIGNIN_SLICES).as_secs_f64(),
        crate::SIGNIN_SLICES,
        crate::signin_slice(measure).as_secs_f64()
    );

    for (store, cpu, signin, floor, commits) in [
        (
            "embedded",
            &f.signin_cpu_embedded,
            &f.signin_embedded,
            &f.floor_embedded,
            f.signin_commits_embedded,
        ),
        (
            "Redis",
            &f.signin_cpu_redis,
            &f.signin_redis,
            &f.floor_redis,
            None,
        ),
    ] {
        if cpu.provider_cores > 0.0 {
            let _ = writeln!(
                out,
                "- CPU during the sign-in run ({store}): the provider {:.2} cores, of which its \
                 password verifiers {:.2}; the load generator {:.2} cores; Redis {:.2} cores; \
                 of {cores}.",
                cpu.provider_cores, cpu.verifier_cores, cpu.load_cores, cpu.redis_cores
            );
        }
        if cpu.provider_cores > 0.0 && signin.rate > 0.0 && floor.rate > 0.0 {
            // With every core busy, sign-ins/s = cores / (V + E), V the CPU
            // of one verification (cores / floor), E the rest of a sign-in:
            // within 10 % of the floor needs E <= V / 9.
            let verification_ms = cores as f64 / floor.rate * 1e3;
            let ms = |cores: f64| cores / signin.rate * 1e3;
            let committer = match commits {
                Some(c) => format!(
                    ", the store's committer thread {:.2} ms ({:.2} commits, {:.2} of them \
                     durable, for {:.1} writes; {:.2} lazy commits were run by the request \
                     itself, the committer being idle, and count in its handling; {:.3} periodic \
                     flushes)",
                    ms(cpu.committer_cores),
                    c.commits,
                    c.durable,
                    c.writes,
                    c.by_caller,
                    c.flushes
                ),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "- CPU per sign-in outside the password hash ({store}): {:.2} ms: the provider's \
                 request handling {:.2} ms{committer}, the load generator {:.2} ms, Redis {:.2} ms; \
                 within 10 % of the floor allows {:.2} ms (a ninth of one verification's {:.1} ms).",
                ms(cpu.outside_verifiers()),
                ms(cpu.provider_cores - cpu.verifier_cores - cpu.committer_cores),
                ms(cpu.load_cores),
                ms(cpu.redis_cores),
                verification_ms / 9.0,
                verification_ms
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## Results\n");
    let _ = writeln!(
        out,
        "| Scenario | Clients | Throughput | p50 | p99 | max | Errors |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    row(
        &mut out,
        "Argon2id verify floor (provider's parameters, all cores, nothing else; mean of the run)",
        &f.argon2_floor,
        "verifications/s",
    );
    row(
        &mut out,
        "Argon2id floor around the embedded sign-in run (mean of the slices before, between and after its sign-ins)",
        &f.floor_embedded,
        "verifications/s",
    );
    row(
        &mut out,
        "Argon2id floor around the Redis sign-in run (mean of the slices before, between and after its sign-ins)",
        &f.floor_redis,
        "verifications/s",
    );
    row(
        &mut out,
        "Full sign-in: authorize → password → code → token (embedded)",
        &f.signin_embedded,
        "sign-ins/s",
    );
    row(
        &mut out,
        "Full sign-in: authorize → password → code → token (Redis)",
        &f.signin_redis,
        "sign-ins/s",
    );
    row(
        &mut out,
        "`redis-benchmark -c 200 -t get` (peer; mean of the runs before, between and after the Redis reads' slices)",
        &f.redis_get,
        "GET/s",
    );
    row(
        &mut out,
        "`GET /healthz` (bare HTTP round trip of this client and server)",
        &f.healthz,
        "req/s",
    );
    row(
        &mut out,
        "`GET /api/v1/me/devices` (Redis)",
        &f.devices_redis,
        "req/s",
    );
    row(
        &mut out,
        "Bare handler on the same HTTP stack making the same Redis reads (user, revocation marker, devices; one round trip), nothing else",
        &f.bare_redis,
        "req/s",
    );
    row(
        &mut out,
        "`GET /api/v1/me/devices` (embedded)",
        &f.devices_embedded,
        "req/s",
    );
    row(
        &mut out,
        "Refresh-token grant with rotation (embedded)",
        &f.refresh_embedded,
        "req/s",
    );
    row(
        &mut out,
        "Refresh-token grant with rotation (Redis)",
        &f.refresh_redis,
        "req/s",
    );
    row(
        &mut out,
        "`GET /userinfo` (embedded)",
        &f.userinfo_embedded,
        "req/s",
    );
    row(
        &mut out,
        "`GET /userinfo` (Redis)",
        &f.userinfo_redis,
        "req/s",
    );
    row(
        &mut out,
        "Node `oidc-provider` 9 refresh-token grant (peer, in-memory adapter)",
        &f.peer_refresh,
        "req/s",
    );
    row(
        &mut out,
        "Node `oidc-provider` 9 userinfo (peer, in-memory adapter)",
        &f.peer_userinfo,
        "req/s",
    );

    let _ = writeln!(
        out,
        "\n## Against the goals of DESIGN §8 (ratios within this run)\n"
    );
    let _ = writeln!(
        out,
        "| Goal | Measured | Reference | Ratio | Target | Met |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for (name, m, floor, slices) in [
        (
            "embedded",
            &f.signin_embedded,
            f.floor_embedded.rate,
            &f.signin_embedded_slices,
        ),
        (
            "Redis",
            &f.signin_redis,
            f.floor_redis.rate,
            &f.signin_redis_slices,
        ),
    ] {
        let _ = writeln!(
            out,
            "| Sign-in throughput within 10 % of the password-hash floor ({name}) | {:.1}/s | Argon2id floor around that run {floor:.1}/s | {} | ≥ 90 % | {} |",
            m.rate,
            pct_with_slices(m.rate, floor, slices),
            met(floor > 0.0 && m.rate >= 0.9 * floor)
        );
    }
    if let Some(why) = &f.redis_get.missing {
        let _ = writeln!(
            out,
            "| Account API reads vs Redis round trip | | not measured: {why} | | ≥ 50 % | n/a |"
        );
    } else {
        let _ = writeln!(
            out,
            "| Account API reads close to the Redis round trip (200 clients) | {:.0} req/s | `redis-benchmark` GET {:.0}/s | {} | ≥ 50 % | {} |",
            f.devices_redis.rate,
            f.redis_get.rate,
            pct_with_slices(
                f.devices_redis.rate,
                f.redis_get.rate,
                &f.devices_redis_slices
            ),
            met(f.devices_redis.rate >= 0.5 * f.redis_get.rate)
        );
    }
    if f.bare_redis.missing.is_none() && f.redis_get.missing.is_none() {
        context_ratio(
            &mut out,
            "Ceiling of that read on this machine: the bare handler's Redis reads vs `redis-benchmark`",
            f.bare_redis.rate,
            ("`redis-benchmark` GET", f.redis_get.rate),
        );
        context_ratio(
            &mut out,
            "Account API reads (Redis) vs that ceiling (the rest is Tessera's own work per read)",
            f.devices_redis.rate,
            ("bare handler", f.bare_redis.rate),
        );
    }
    for (name, m) in [
        ("Redis", &f.devices_redis),
        ("embedded", &f.devices_embedded),
    ] {
        context_ratio(
            &mut out,
            &format!("Account API reads vs the bare HTTP round trip ({name})"),
            m.rate,
            ("`GET /healthz`", f.healthz.rate),
        );
    }
    for (name, m) in [
        ("Redis", &f.devices_redis),
        ("embedded", &f.devices_embedded),
    ] {
        let _ = writeln!(
            out,
            "| Account API p99 at 200 clients ({name}) | {:.2} ms | — | — | < 10 ms | {} |",
            m.p99_ms,
            met(m.p99_ms > 0.0 && m.p99_ms < 10.0)
        );
    }
    for (name, store, ours, theirs) in [
        (
            "Refresh-token grant",
            "embedded",
            &f.refresh_embedded,
            &f.peer_refresh,
        ),
        (
            "Refresh-token grant",
            "Redis",
            &f.refresh_redis,
            &f.peer_refresh,
        ),
        (
            "Userinfo",
            "embedded",
            &f.userinfo_embedded,
            &f.peer_userinfo,
        ),
        ("Userinfo", "Redis", &f.userinfo_redis, &f.peer_userinfo),
    ] {
        match &theirs.missing {
            Some(why) => {
                let _ = writeln!(
                    out,
                    "| {name} ≥ 5× Node `oidc-provider` ({store}) | {:.0}/s | not measured: {why} | — | ≥ 5× | n/a |",
                    ours.rate
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "| {name} ≥ 5× Node `oidc-provider` ({store} store vs its in-memory adapter) | {:.0}/s | `oidc-provider` {:.0}/s | {:.1}× | ≥ 5× | {} |",
                    ours.rate,
                    theirs.rate,
                    if theirs.rate > 0.0 {
                        ours.rate / theirs.rate
                    } else {
                        0.0
                    },
                    met(theirs.rate > 0.0 && ours.rate >= 5.0 * theirs.rate)
                );
            }
        }
    }
    desktop_goals(&mut out, &f.desktop);

    let now_data = data(f);
    let _ = writeln!(out, "\n## Changes since the previous run\n");
    match previous.and_then(previous_data) {
        None => {
            let _ = writeln!(
                out,
                "No previous BENCHMARKS.md with data: nothing to compare."
            );
        }
        Some(before) => {
            let lines = regressions(&now_data, &before);
            if lines.is_empty() {
                let _ = writeln!(
                    out,
                    "No figure is more than 20 % worse than in the previous BENCHMARKS.md."
                );
            } else {
                let _ = writeln!(
                    out,
                    "Figures more than 20 % worse than in the previous BENCHMARKS.md (absolute \
                     rates also move with the machine and its load; the `_ratio` figures do \
                     not):\n"
                );
                for l in lines {
                    let _ = writeln!(out, "{l}");
                }
            }
        }
    }

    let _ = writeln!(out, "\n## Not measured\n");
    let _ = writeln!(
        out,
        "- The `oidc-provider` peer is the client's interoperability OP \
         (crates/client/tests/interop/op.mjs: in-memory adapter, opaque tokens, its login \
         completed without a page); it keeps everything in memory, Tessera writes to its store, \
         so the comparison favours the peer. When its node_modules are missing the rows say \
         \"not measured\"."
    );
    let _ = writeln!(
        out,
        "- Desktop launch: measured from the WebDriver session request (tauri-driver starts \
         WebKitWebDriver, which starts the app) to the sign-in screen showing the configured \
         provider, under Xvfb; an upper bound of what a user sees. Idle memory is the PSS of the \
         app and its WebKit processes after 5 s on the sign-in screen (DESIGN says \"modest\"; \
         200 MiB is the bar chosen here)."
    );
    let _ = writeln!(
        out,
        "- Latency at 200 closed-loop clients is mostly queueing: by Little's law the mean is \
         200 / throughput, so p99 < 10 ms needs well over 20,000 req/s on this machine, load \
         generator included."
    );
    let _ = writeln!(
        out,
        "- The load generator shares the machine's cores with the provider and with Redis. \
         The read scenarios (`/healthz`, `/api/v1/me/devices`, userinfo, the peer's userinfo) \
         and the sign-ins (a form-posting browser with its cookies, then the relying party's \
         code exchange) use a minimal keep-alive HTTP/1.1 client (bench/src/http1.rs, one \
         connection per client), as `redis-benchmark` is a minimal Redis client; the token \
         endpoint's refresh grant uses a full HTTP client (reqwest), as does the peer's."
    );
    let json = serde_json::to_string(&now_data).unwrap_or_default();
    let _ = writeln!(out, "\n{DATA_MARK}{json} -->");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: f64, p99_ms: f64, max_ms: f64) -> Measure {
        Measure {
            rate,
            p50_ms: p99_ms / 2.0,
            p99_ms,
            max_ms,
            errors: 1,
            clients: 200,
            missing: None,
        }
    }

    #[test]
    fn the_peer_is_the_mean_of_its_runs_and_missing_if_one_is() {
        let m = Measure::mean(vec![run(100.0, 2.0, 5.0), run(200.0, 4.0, 3.0)]);
        assert_eq!((m.rate, m.p50_ms, m.p99_ms), (150.0, 1.5, 3.0));
        assert_eq!((m.max_ms, m.errors, m.clients), (5.0, 2, 200));
        assert!(m.missing.is_none());

        let absent = Measure {
            missing: Some("redis-benchmark failed".into()),
            ..Measure::default()
        };
        let m = Measure::mean(vec![run(100.0, 2.0, 5.0), absent]);
        assert_eq!(m.missing.as_deref(), Some("redis-benchmark failed"));
    }

    #[test]
    fn a_slice_is_compared_with_the_references_on_either_side_of_it() {
        // Floors 100, 120, 80 around two slices of 99 and 90 sign-ins/s.
        let ratios = slice_ratios(&[99.0, 90.0], &[100.0, 120.0, 80.0]);
        assert_eq!(ratios, vec![0.9, 0.9]);
        // A missing reference (zero) gives no ratio for its slices.
        assert_eq!(slice_ratios(&[50.0, 60.0], &[0.0, 0.0, 100.0]), vec![1.2]);
        assert!(slice_ratios(&[50.0], &[100.0]).is_empty());
    }

    #[test]
    fn a_ratio_shows_the_range_of_its_slices() {
        assert_eq!(
            pct_with_slices(88.0, 100.0, &[0.851, 0.9, 0.87]),
            "88 % (its 3 slices 85–90 %)"
        );
        // One slice, or none, is no range.
        assert_eq!(pct_with_slices(88.0, 100.0, &[0.88]), "88 %");
        assert_eq!(pct_with_slices(88.0, 100.0, &[]), "88 %");
        assert_eq!(pct_with_slices(88.0, 0.0, &[0.9, 0.8]), "n/a");
    }
}
