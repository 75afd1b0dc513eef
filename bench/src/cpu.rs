//! CPU time used by this process's threads, by thread name (Linux
//! `/proc/self/task`): the provider's runtime and the load generator's
//! runtime have distinct names, so a report can say how much of the
//! machine the load generator itself took. Redis, a process of its own, is
//! counted by its pid.

use std::time::Instant;

const VERIFIERS: &[&str] = &[tessera_provider::password::VERIFIER_THREADS];
const COMMITTER: &[&str] = &[tessera_provider::store::embedded::COMMIT_THREAD];

/// Kernel clock ticks per second of `/proc/*/stat` times (USER_HZ, 100 on
/// every Linux architecture this runs on).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU seconds (user + system) of the threads whose name starts with one of
/// `prefixes`.
pub fn thread_cpu_secs(prefixes: &[&str]) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut ticks = 0u64;
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !prefixes.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        ticks += stat_cpu_ticks(&path.join("stat"));
    }
    ticks as f64 / TICKS_PER_SEC
}

/// CPU seconds (user + system) of process `pid`, all its threads; 0 when it
/// cannot be read.
pub fn process_cpu_secs(pid: u32) -> f64 {
    stat_cpu_ticks(std::path::Path::new(&format!("/proc/{pid}/stat"))) as f64 / TICKS_PER_SEC
}

/// User + system clock ticks of a `/proc/…/stat` file; 0 when it cannot be read.
fn stat_cpu_ticks(stat: &std::path::Path) -> u64 {
    let stat = std::fs::read_to_string(stat).unwrap_or_default();
    // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}

/// CPU used by two groups of threads over a stretch of wall-clock time.
pub struct CpuWindow {
    started: Instant,
    provider: f64,
    verifiers: f64,
    committer: f64,
    load: f64,
    redis_pid: u32,
    redis: f64,
}

/// Shares of the machine used during a [`CpuWindow`], in cores.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuShares {
    /// The provider, its password verifiers included.
    pub provider_cores: f64,
    /// The provider's password verifiers alone.
    pub verifier_cores: f64,
    /// The embedded store's committer alone (part of `provider_cores`).
    pub committer_cores: f64,
    pub load_cores: f64,
    /// The `redis-server` shared by the provider and `redis-benchmark`.
    pub redis_cores: f64,
}

impl CpuShares {
    /// The mean of windows of equal length.
    pub fn mean(windows: &[CpuShares]) -> CpuShares {
        let n = windows.len().max(1) as f64;
        let sum = |f: fn(&CpuShares) -> f64| windows.iter().map(f).sum::<f64>() / n;
        CpuShares {
            provider_cores: sum(|w| w.provider_cores),
            verifier_cores: sum(|w| w.verifier_cores),
            committer_cores: sum(|w| w.committer_cores),
            load_cores: sum(|w| w.load_cores),
            redis_cores: sum(|w| w.redis_cores),
        }
    }

    /// CPU microseconds per request at `rate` requests a second, by part.
    pub fn per_request(&self, rate: f64) -> String {
        let us = |cores: f64| cores / rate.max(1e-9) * 1e6;
        format!(
            "CPU per request: provider {:.1} µs, load {:.1} µs, redis-server {:.1} µs",
            us(self.provider_cores),
            us(self.load_cores),
            us(self.redis_cores)
        )
    }

    /// Cores used outside the password verifiers: the provider's other
    /// threads, the load generator and Redis.
    pub fn outside_verifiers(&self) -> f64 {
        self.provider_cores - self.verifier_cores + self.load_cores + self.redis_cores
    }
}

impl CpuWindow {
    pub fn start(redis_pid: u32) -> CpuWindow {
        CpuWindow {
            started: Instant::now(),
            provider: thread_cpu_secs(crate::PROVIDER_THREADS),
            verifiers: thread_cpu_secs(VERIFIERS),
            committer: thread_cpu_secs(COMMITTER),
            load: thread_cpu_secs(crate::LOAD_THREADS),
            redis_pid,
            redis: process_cpu_secs(redis_pid),
        }
    }

    pub fn stop(self) -> CpuShares {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        CpuShares {
            provider_cores: (thread_cpu_secs(crate::PROVIDER_THREADS) - self.provider) / secs,
            verifier_cores: (thread_cpu_secs(VERIFIERS) - self.verifiers) / secs,
            committer_cores: (thread_cpu_secs(COMMITTER) - self.committer) / secs,
            load_cores: (thread_cpu_secs(crate::LOAD_THREADS) - self.load) / secs,
            redis_cores: (process_cpu_secs(self.redis_pid) - self.redis) / secs,
        }
    }
}
