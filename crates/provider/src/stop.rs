//! Stopping the provider. On SIGTERM (what a service manager sends) or
//! Ctrl-C it stops accepting connections, lets the requests in progress
//! finish, and returns from `serve`, so that the store is closed cleanly:
//! redb's close makes the embedded store's lazy writes durable (sign-ins in
//! progress, rate-limit counts, used-code markers), and the next start needs
//! no repair of the file. A `kill -9` skips all of this: the crash case,
//! which the store's commits are built for.

use std::future::Future;
use std::time::Duration;

/// How long the requests in progress get to finish once a stop is asked.
pub const GRACE: Duration = Duration::from_secs(10);

/// Resolves when the process is asked to stop: SIGTERM (on Unix) or
/// Ctrl-C. A signal that cannot be watched never resolves it.
pub async fn requested() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// A stop for a server run in-process (tests, benchmarks): the future
/// resolves when the handle is dropped, with whatever holds the server.
pub fn on_drop() -> (
    tokio::sync::oneshot::Sender<()>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (handle, dropped) = tokio::sync::oneshot::channel::<()>();
    (handle, async move {
        let _ = dropped.await;
    })
}

/// Splits `stop` into the signal a server stops on and a deadline that
/// passes [`GRACE`] after it (never, if `stop` never resolves): a server
/// still waiting for its requests then is given up on.
pub(crate) fn with_deadline(
    stop: impl Future<Output = ()> + Send + 'static,
) -> (
    impl Future<Output = ()> + Send + 'static,
    impl Future<Output = ()> + Send + 'static,
) {
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        stop.await;
        tracing::info!("stopping: finishing the requests in progress");
        let _ = stopping.send(());
    };
    let deadline = async move {
        if stopped.await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(GRACE).await;
        tracing::warn!(
            grace_secs = GRACE.as_secs(),
            "requests still in progress: stopping without them"
        );
    };
    (signal, deadline)
}
