//! Copied secrets: put on the system clipboard by the shell, which clears
//! them again (see `crate::clipboard`); the web view cannot, outside a click.

use tauri::State;

use crate::clipboard::Forgotten;
use crate::error::CommandResult;
use crate::state::AppState;

/// Puts `value` (a TOTP secret, recovery codes) on the clipboard, marked as
/// sensitive, and clears it 30 s later if the clipboard still holds it.
#[tauri::command]
#[specta::specta]
pub async fn secret_copy(state: State<'_, AppState>, value: String) -> CommandResult<()> {
    state.secret_copy(value).await
}

/// Clears the last copied secret now if the clipboard still holds it (the
/// user moved on), and says what became of it.
#[tauri::command]
#[specta::specta]
pub async fn secret_forget(state: State<'_, AppState>) -> CommandResult<Forgotten> {
    state.secret_forget().await
}
