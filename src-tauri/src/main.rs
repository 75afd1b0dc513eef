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
    tessera_desktop_lib::run()
}
