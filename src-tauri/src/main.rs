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
    use_shared_memory_renderer();
    tessera_desktop_lib::run()
}

/// WebKitGTK's DMA-BUF renderer, on machines without a GPU driver for it
/// (virtual desktops, VMs, remote sessions), renders through Mesa's
/// software GL: ~65 MiB more memory in the web process for this one-screen
/// app (measured under Xvfb), and on some GPU drivers a blank window. The
/// shared-memory renderer draws the same pages. A value the user set wins.
#[cfg(target_os = "linux")]
fn use_shared_memory_renderer() {
    const VAR: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
    if std::env::var_os(VAR).is_none() {
        // SAFETY: called first thing in `main`, before any other thread
        // exists, so nothing reads the environment concurrently.
        unsafe { std::env::set_var(VAR, "1") };
    }
}
