//! The app itself: version and settings.

use tauri::State;

use crate::error::CommandResult;
use crate::state::AppState;
use crate::views::{AppVersion, SettingsUpdate, SettingsView};

/// The app's version, shown in the settings screen.
#[tauri::command]
#[specta::specta]
pub fn version() -> AppVersion {
    AppVersion {
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// The effective settings and which of them the organisation manages.
#[tauri::command]
#[specta::specta]
pub async fn settings_get(state: State<'_, AppState>) -> CommandResult<SettingsView> {
    state.settings().await
}

/// Saves the user's own settings (never a managed one) and answers the new view.
#[tauri::command]
#[specta::specta]
pub async fn settings_set(
    state: State<'_, AppState>,
    update: SettingsUpdate,
) -> CommandResult<SettingsView> {
    state.set_settings(update).await
}
