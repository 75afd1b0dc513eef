//! The `tessera-provider` command line: serve (optionally with demo
//! accounts), and manage users and clients in the configured store.
//!
//! Precedence: command-line option > environment variable
//! (`TESSERA_PROVIDER_*`) > configuration file > built-in default.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::config::{Config, StoreKind};
use crate::crypto::SecretKey;
use crate::demo;
use crate::state::{Provider, StartError};
use crate::store::{self, Store};

mod manage;

pub use manage::{ClientCommand, KeyCommand, UserCommand};

/// Tessera's OpenID Connect provider, with mandatory TOTP and trusted browsers.
///
/// Without a subcommand it serves HTTP. Every option can also be set in the
/// configuration file (same name, with underscores) or in an environment
/// variable TESSERA_PROVIDER_<NAME>. The file alone sets the acr levels
/// ([[acr]] value/requires_mfa), the MFA policy ([mfa] global, attribute),
/// token lifetimes ([tokens]) and rate limits ([rate_limit]); see the annotated
/// provider.example.toml shipped with the sources.
#[derive(Debug, Parser)]
#[command(name = "tessera-provider", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    pub options: Options,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct Options {
    /// TOML configuration file.
    #[arg(long, short = 'c', env = "TESSERA_PROVIDER_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Start with the demo client and accounts (created if missing; their
    /// passwords are reset and printed with the TOTP secrets).
    #[arg(long)]
    pub demo: bool,
    /// Which store to use: the embedded file (default) or Redis.
    #[arg(long, value_enum, env = "TESSERA_PROVIDER_STORE", global = true)]
    pub store: Option<StoreKind>,
    /// Redis URL, e.g. redis://127.0.0.1:6379/ (with --store redis).
    #[arg(long, env = "TESSERA_PROVIDER_REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// Redis Sentinel address (repeatable, or comma-separated in the
    /// environment); with it the store follows the Sentinel-elected primary.
    #[arg(
        long = "redis-sentinel",
        env = "TESSERA_PROVIDER_REDIS_SENTINELS",
        value_delimiter = ',',
        global = true
    )]
    pub redis_sentinels: Vec<String>,
    /// Service (master) name monitored by the Sentinels (default tessera).
    #[arg(long, env = "TESSERA_PROVIDER_REDIS_SENTINEL_SERVICE", global = true)]
    pub redis_sentinel_service: Option<String>,
    /// Prefix of the provider's Redis keys (default "tessera:").
    #[arg(long, env = "TESSERA_PROVIDER_REDIS_PREFIX", global = true)]
    pub redis_prefix: Option<String>,
    /// Directory of the embedded store and of the generated secret key
    /// (default: the platform data directory).
    #[arg(long, env = "TESSERA_PROVIDER_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1).
    #[arg(long, env = "TESSERA_PROVIDER_LISTEN_ADDRESS")]
    pub listen_address: Option<IpAddr>,
    /// TCP port to listen on (default 8765; 0 picks a free port).
    #[arg(long, env = "TESSERA_PROVIDER_PORT")]
    pub port: Option<u16>,
    /// Public issuer URL (default http://<listen address>:<port>).
    #[arg(long, env = "TESSERA_PROVIDER_ISSUER")]
    pub issuer: Option<String>,
    /// Base64 of the 32-byte key that encrypts TOTP secrets and the signing
    /// key at rest (default: generated once into <data dir>/secret.key).
    #[arg(
        long,
        env = "TESSERA_PROVIDER_SECRET_KEY",
        hide_env_values = true,
        global = true
    )]
    pub secret_key: Option<String>,
    /// Require a second factor for every client that does not waive it
    /// (default true).
    #[arg(long, env = "TESSERA_PROVIDER_MFA_GLOBAL")]
    pub mfa_global: Option<bool>,
    /// Days a trusted browser skips the second factor (default 7).
    #[arg(long, env = "TESSERA_PROVIDER_TRUSTED_BROWSER_DAYS")]
    pub trusted_browser_days: Option<u64>,
    /// Most authenticator apps one account may have (default 10, at most 100).
    #[arg(long, env = "TESSERA_PROVIDER_MAX_DEVICES_PER_USER")]
    pub max_devices_per_user: Option<u32>,
    /// Audience of access tokens (default <issuer>/api).
    #[arg(long, env = "TESSERA_PROVIDER_API_AUDIENCE")]
    pub api_audience: Option<String>,
    /// PEM certificate chain; with --tls-key the provider serves HTTPS itself.
    #[arg(long, env = "TESSERA_PROVIDER_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "TESSERA_PROVIDER_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OpenID Connect clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the keys that sign ID and access tokens.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// Configuration from file, environment and command line.
pub fn load_config(o: &Options) -> Result<Config, StartError> {
    let mut c = match &o.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(v) = o.store {
        c.store = v;
    }
    if let Some(v) = &o.redis_url {
        c.redis_url = v.clone();
    }
    if !o.redis_sentinels.is_empty() {
        c.redis_sentinels = o.redis_sentinels.clone();
    }
    if let Some(v) = &o.redis_sentinel_service {
        c.redis_sentinel_service = v.clone();
    }
    if let Some(v) = &o.redis_prefix {
        c.redis_prefix = v.clone();
    }
    if let Some(v) = &o.data_dir {
        c.data_dir = Some(v.clone());
    }
    if let Some(v) = o.listen_address {
        c.listen_address = v;
    }
    if let Some(v) = o.port {
        c.port = v;
    }
    if let Some(v) = &o.issuer {
        c.issuer = Some(v.clone());
    }
    if let Some(v) = &o.secret_key {
        c.secret_key = Some(v.clone());
    }
    if let Some(v) = o.mfa_global {
        c.mfa.global = v;
    }
    if let Some(v) = o.trusted_browser_days {
        c.trusted_browser_days = v;
    }
    if let Some(v) = o.max_devices_per_user {
        c.max_devices_per_user = v;
    }
    if let Some(v) = &o.api_audience {
        c.api_audience = Some(v.clone());
    }
    if let Some(v) = &o.tls_cert {
        c.tls_cert = Some(v.clone());
    }
    if let Some(v) = &o.tls_key {
        c.tls_key = Some(v.clone());
    }
    Ok(c)
}

/// The configured key, or the one in `<data dir>/secret.key` (created on
/// first use, readable by the owner only).
pub fn secret_key(config: &Config) -> Result<SecretKey, StartError> {
    if let Some(k) = &config.secret_key {
        return SecretKey::from_base64(k).map_err(|e| StartError::Io(format!("secret_key: {e}")));
    }
    let dir = config.data_dir()?;
    let path = dir.join("secret.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return SecretKey::from_base64(&text)
            .map_err(|e| StartError::Io(format!("{}: {e}", path.display())));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| StartError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let key = SecretKey::generate();
    write_private(&path, key.to_base64().expose_secret())
        .map_err(|e| StartError::Io(format!("cannot write {}: {e}", path.display())))?;
    Ok(key)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(text.as_bytes())
}

pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    Ok(match config.store {
        StoreKind::Embedded => Arc::new(store::EmbeddedStore::open(&config.data_dir()?)?),
        StoreKind::Redis if !config.redis_sentinels.is_empty() => Arc::new(
            store::RedisStore::connect_sentinel(
                &config.redis_sentinels,
                &config.redis_sentinel_service,
                &config.redis_prefix,
            )
            .await?,
        ),
        StoreKind::Redis => {
            Arc::new(store::RedisStore::connect(&config.redis_url, &config.redis_prefix).await?)
        }
    })
}

/// Runs the command line; the error is printed by `main`.
pub async fn run(cli: Cli) -> Result<(), StartError> {
    let config = load_config(&cli.options)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config, cli.options.demo).await,
        Command::User(cmd) => manage::user(&*open_store(&config).await?, cmd).await,
        Command::Client(cmd) => manage::client(&*open_store(&config).await?, cmd).await,
        Command::Key(cmd) => {
            let store = open_store(&config).await?;
            manage::key(&*store, &secret_key(&config)?, &config, cmd).await
        }
    }
}

async fn serve(mut config: Config, demo: bool) -> Result<(), StartError> {
    config.validate()?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            Some(crate::tls::acceptor(cert, key).map_err(|e| StartError::Io(e.to_string()))?)
        }
        _ => None,
    };
    let store = open_store(&config).await?;
    let key = secret_key(&config)?;
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::new(config.listen_address, config.port))
            .await
            .map_err(|e| {
                StartError::Io(format!(
                    "cannot listen on {}:{}: {e}",
                    config.listen_address, config.port
                ))
            })?;
    // With port 0 the issuer follows the port actually bound.
    let bound = listener
        .local_addr()
        .map_err(|e| StartError::Io(e.to_string()))?;
    config.port = bound.port();
    let store_desc = match config.store {
        StoreKind::Embedded => format!("embedded ({})", config.data_dir()?.display()),
        StoreKind::Redis => "redis".to_owned(),
    };
    let app = Arc::new(Provider::new(config, store, key).await?);
    println!("Tessera provider listening on {bound}");
    println!("issuer: {}", app.issuer);
    println!("store: {store_desc}");
    if demo {
        let accounts = demo::seed(&app).await?;
        println!(
            "client: {} (public, PKCE S256, loopback redirect on any port)",
            demo::DESKTOP_CLIENT_ID
        );
        for (label, a) in [
            ("demo user", &accounts.demo),
            ("help-desk user", &accounts.helpdesk),
        ] {
            println!(
                "{label}: {} / password {}",
                a.uid,
                a.password.expose_secret()
            );
            println!("{label} TOTP: {}", a.otpauth_uri.expose_secret());
        }
    }
    let _ = std::io::stdout().flush();
    match tls {
        Some(acceptor) => {
            crate::tls::serve(listener, acceptor, app, crate::stop::requested()).await
        }
        None => crate::serve(listener, app, crate::stop::requested()).await,
    }
    .map_err(|e| StartError::Io(e.to_string()))
}
