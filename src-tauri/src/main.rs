// Keeps a console window from opening next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Answered before any window or display is needed (installer tests, support).
    if std::env::args()
        .skip(1)
        .any(|arg| arg == "--version" || arg == "-V")
    {
        println!("tessera-desktop {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    #[cfg(target_os = "linux")]
    set_engine_environment();
    tessera_desktop_lib::run()
}

/// WebKitGTK's settings that only the environment carries
/// (`tessera_desktop_lib::webview::ENGINE_ENVIRONMENT` says which and why).
#[cfg(target_os = "linux")]
fn set_engine_environment() {
    let to_set = tessera_desktop_lib::webview::engine_environment_to_set(|name| {
        std::env::var_os(name).is_some()
    });
    for (name, value) in to_set {
        // SAFETY: called first thing in `main`, before any other thread
        // exists, so nothing reads the environment concurrently.
        unsafe { std::env::set_var(name, value) };
    }
}
