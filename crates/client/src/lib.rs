//! Tessera's client core, shared by the desktop shell and the `tessera` CLI.
//!
//! Nothing here depends on Tauri: the same core drives the CLI, the tests and
//! the app unchanged.

pub mod issuer;
