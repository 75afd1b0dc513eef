//! The desktop shell: Tauri commands wired to `tessera-client`, nothing more.

pub mod commands;

/// Builds the app with its commands; shared by `run` and the tests.
pub fn builder<R: tauri::Runtime>() -> tauri::Builder<R> {
    tauri::Builder::<R>::new().invoke_handler(tauri::generate_handler![commands::version])
}

pub fn run() {
    builder::<tauri::Wry>()
        .run(tauri::generate_context!())
        .expect("error while running the Tessera desktop app");
}
