//! The desktop shell: Tauri commands wired to `tessera-client`, nothing more.
//! No protocol logic lives here; the web view never sees a token.

pub mod bindings;
pub mod clipboard;
pub mod commands;
pub mod error;
pub mod recovery_file;
pub mod state;
pub mod views;
pub mod webview;

#[cfg(test)]
mod ipc_tests;

/// Adds the commands and the state to `base`; shared by `run` and the tests
/// (which start from `tauri::test::mock_builder()`).
pub fn setup<R: tauri::Runtime>(
    base: tauri::Builder<R>,
    state: state::AppState,
) -> tauri::Builder<R> {
    let specta = bindings::specta_builder::<R>();
    base.manage(state).invoke_handler(specta.invoke_handler())
}

pub fn run() {
    setup(
        tauri::Builder::<tauri::Wry>::new(),
        state::AppState::from_platform(),
    )
    .setup(|app| {
        #[cfg(target_os = "linux")]
        {
            use tauri::Manager;
            for window in app.webview_windows().into_values() {
                window.with_webview(|view| webview::restrict(&view.inner()))?;
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = app;
        Ok(())
    })
    .build(tauri::generate_context!())
    .expect("error while running the Tessera desktop app")
    .run(|app, event| {
        if let tauri::RunEvent::Exit = event {
            // The process ends without dropping the state: a copied secret
            // still waiting for its 30 s leaves the clipboard now.
            use tauri::Manager;
            let _ = app.state::<state::AppState>().clipboard_forget_now();
        }
    });
}
