use std::io::IsTerminal;

use clap::Parser;
use tessera_provider::cli::{Cli, run};

// mimalloc rather than the system allocator: a request allocates and frees
// many small buffers on two worker threads while the password verifiers
// hold large ones; glibc's malloc spent a sixth of the provider's request
// CPU in allocation and consolidation (benchmark profile, see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Colours only on a terminal (not in journald or files, nor with NO_COLOR);
    // journald stamps each line itself.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        subscriber.without_time().init();
    } else {
        subscriber.init();
    }
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera-provider: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
