//! Commands the front end may invoke, by domain. Each is listed in
//! `crate::bindings::specta_builder` (which also feeds Tauri's invoke
//! handler), declared in the app manifest (build.rs) and granted in
//! capabilities/default.json. They only unpack arguments and call
//! `AppState`, which wires to tessera-client.

pub mod app;
pub mod browsers;
pub mod clipboard;
pub mod devices;
pub mod helpdesk;
pub mod session;
