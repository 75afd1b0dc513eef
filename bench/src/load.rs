//! A closed-loop load driver: `concurrency` tasks each run one request after
//! another until the deadline; latencies go to an HDR histogram.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// What one run measured (after its warm-up).
#[derive(Debug, Clone)]
pub struct Stats {
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub secs: f64,
    /// Latencies of successful requests, in microseconds.
    pub latency: Histogram<u64>,
}

impl Stats {
    /// Adds another run's counts, time and latencies to this one's.
    pub fn merge(&mut self, other: Stats) {
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.secs += other.secs;
        self.latency
            .add(&other.latency)
            .expect("histograms of the same bounds");
    }

    pub fn per_sec(&self) -> f64 {
        self.ok as f64 / self.secs
    }

    pub fn p50_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.50) as f64 / 1000.0
    }

    pub fn p99_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.99) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Runs `request(worker, iteration)` in `concurrency` loops for `warmup +
/// measure`; only requests that start after the warm-up are counted. A
/// request answers `Err(reason)` on failure; an `Err` starting with "stop:"
/// is a failure that also ends the worker, one starting with "done:" ends it
/// quietly (e.g. no unused test user left).
pub async fn closed_loop<F, Fut>(
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
    request: F,
) -> Stats
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let request = Arc::new(request);
    let start = Instant::now();
    let counted_from = start + warmup;
    let deadline = counted_from + measure;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let request = request.clone();
        tasks.spawn(async move {
            // Latencies are appended to a plain vector and put in the
            // histogram after the run: 200 workers each recording into its
            // own histogram (hundreds of KiB of counters each) cost the load
            // generator cache misses on every request.
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 16);
            let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None);
            let mut iteration = 0u64;
            loop {
                let began = Instant::now();
                if began >= deadline {
                    break;
                }
                let result = request(worker, iteration).await;
                iteration += 1;
                let counted = began >= counted_from;
                match result {
                    Ok(()) if counted => {
                        ok += 1;
                        let micros = began.elapsed().as_micros();
                        latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                    }
                    Ok(()) => {}
                    Err(e) if e.starts_with("done:") => break,
                    Err(e) if e.starts_with("stop:") => {
                        if counted {
                            errors += 1;
                            first_error.get_or_insert(e);
                        }
                        break;
                    }
                    Err(e) => {
                        if counted {
                            errors += 1;
                            first_error.get_or_insert(e);
                        }
                    }
                }
            }
            (latencies, ok, errors, first_error, Instant::now())
        });
    }
    let mut latency = histogram();
    let (mut ok, mut errors, mut first_error) = (0, 0, None);
    let mut last_end = counted_from;
    while let Some(joined) = tasks.join_next().await {
        let (latencies, o, e, f, ended) = joined.expect("load task");
        last_end = last_end.max(ended);
        for micros in latencies {
            latency.saturating_record(u64::from(micros).max(1));
        }
        ok += o;
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    // Workers that ran out of work early shorten the measured time.
    let secs = (last_end.min(deadline) - counted_from)
        .as_secs_f64()
        .max(1e-3);
    Stats {
        ok,
        errors,
        first_error,
        secs,
        latency,
    }
}
