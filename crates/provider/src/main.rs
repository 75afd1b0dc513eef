use std::net::{Ipv4Addr, SocketAddr};

use clap::Parser;

/// Tessera's OpenID Connect provider.
#[derive(Debug, Parser)]
#[command(name = "tessera-provider", version)]
struct Args {
    /// Start with demo accounts on the embedded store.
    #[arg(long)]
    demo: bool,
    /// TCP port to listen on, on 127.0.0.1.
    #[arg(long, env = "TESSERA_PROVIDER_PORT", default_value_t = 8765)]
    port: u16,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    println!("Tessera provider on http://{addr}");
    tessera_provider::serve(addr).await
}
