//! Wire types of the Tessera account API.
//!
//! This crate is the single place where the JSON exchanged between the
//! provider's account API and its clients is declared. It performs no I/O and
//! never depends on Tauri, axum or an HTTP client, so that the provider, the
//! client core, the CLI and the desktop shell can all share it.

pub mod problem;

pub use problem::{ErrorCode, Problem};
