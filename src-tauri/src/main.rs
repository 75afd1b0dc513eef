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

/// GTK's and WebKitGTK's settings that only the environment carries
/// (`tessera_desktop_lib::webview::ENGINE_ENVIRONMENT` and `EGL_VENDOR_FILES`
/// say which and why).
#[cfg(target_os = "linux")]
fn set_engine_environment() {
    use tessera_desktop_lib::webview;
    let to_set = webview::engine_environment_to_set(|name| std::env::var_os(name).is_some());
    // SAFETY (both blocks): called first thing in `main`, before any other
    // thread exists, so nothing reads the environment concurrently.
    for (name, value) in to_set {
        unsafe { std::env::set_var(name, value) };
    }
    if webview::app_process_without_egl_driver(|name| std::env::var(name).ok()) {
        unsafe { webview::settle_egl_without_driver() };
    }
}
