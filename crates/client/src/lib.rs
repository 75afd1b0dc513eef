//! Tessera's client core, shared by the desktop shell and the `tessera` CLI.
//!
//! Nothing here depends on Tauri: the same core drives the CLI, the tests and
//! the app unchanged.

pub mod config;
pub mod error;
pub mod i18n;
pub mod issuer;
pub mod policy;

pub use config::{Config, ConfigError, Setting, Sources};
pub use error::{ClientError, ErrorPayload, Result};
pub use i18n::Lang;
pub mod browser;
pub mod callback;
pub mod loopback;
pub mod tokens;
pub mod www_auth;
