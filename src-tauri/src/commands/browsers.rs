//! Trusted browsers and activity of the signed-in user.

use tauri::State;
use tessera_api::{ActivityPage, Removed, TrustedBrowser};

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn browsers_list(state: State<'_, AppState>) -> CommandResult<Vec<TrustedBrowser>> {
    state.browsers_list().await
}

/// Revokes one trusted browser, and only that one.
#[tauri::command]
#[specta::specta]
pub async fn browser_revoke(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    state.browser_revoke(id).await
}

#[tauri::command]
#[specta::specta]
pub async fn browsers_revoke_all(state: State<'_, AppState>) -> CommandResult<Removed> {
    state.browsers_revoke_all().await
}

/// One page of the user's own audit events, newest first.
#[tauri::command]
#[specta::specta]
pub async fn activity_page(
    state: State<'_, AppState>,
    cursor: Option<String>,
) -> CommandResult<ActivityPage> {
    state.activity_page(cursor).await
}
