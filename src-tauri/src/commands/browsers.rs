//! Trusted browsers and activity of the signed-in user.

use tauri::State;
use tauri::ipc::Channel;
use tessera_api::{ActivityPage, Removed, TrustedBrowser};
use tessera_client::oidc::LoginProgress;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn browsers_list(state: State<'_, AppState>) -> CommandResult<Vec<TrustedBrowser>> {
    state.browsers_list().await
}

/// Revokes one trusted browser, and only that one; the client steps up
/// (browser sign-in) when the provider asks.
#[tauri::command]
#[specta::specta]
pub async fn browser_revoke(
    state: State<'_, AppState>,
    id: String,
    on_progress: Channel<LoginProgress>,
) -> CommandResult<()> {
    state.browser_revoke(id, on_progress).await
}

#[tauri::command]
#[specta::specta]
pub async fn browsers_revoke_all(
    state: State<'_, AppState>,
    on_progress: Channel<LoginProgress>,
) -> CommandResult<Removed> {
    state.browsers_revoke_all(on_progress).await
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
