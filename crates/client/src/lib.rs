//! Tessera's client core, shared by the desktop shell and the `tessera` CLI.
//!
//! Nothing here depends on Tauri: the same core drives the CLI, the tests and
//! the app unchanged. The entry point is [`Client`]: build it from a
//! [`Config`] (see [`config`] for the layering and the managed settings),
//! then `login`, call the account API methods (refresh and RFC 9470 step-up
//! happen inside), and `logout`.

pub mod account;
pub mod browser;
pub mod callback;
pub mod client;
pub mod config;
mod endpoints;
pub mod error;
pub mod i18n;
pub mod issuer;
mod lifetimes;
pub mod loopback;
pub mod oidc;
pub mod policy;
pub mod qr;
pub mod tokens;
pub mod www_auth;

pub use client::{Client, SessionInfo, SignOutReport};
pub use config::{Config, ConfigError, Layer, Origin, Setting, Sources};
pub use error::{ClientError, ErrorPayload, Result};
pub use i18n::Lang;
pub use oidc::{LoginProgress, StepUp};
pub use tessera_api as api;
pub use tokens::{KeyringTokenStore, MemoryTokenStore, TokenSet, TokenStore};
pub use tokio_util::sync::CancellationToken;
