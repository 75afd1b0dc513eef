//! Signing in and out. The browser is opened by the client core; the web
//! view only hears progress steps and who signed in, never a token.

use tauri::State;
use tauri::ipc::Channel;
use tessera_api::Me;
use tessera_client::client::{SessionInfo, SignOutReport};
use tessera_client::oidc::LoginProgress;

use crate::error::CommandResult;
use crate::state::AppState;

/// Signs in through the system browser (opened by the client core),
/// streaming progress on `on_progress`. The tokens go to the keyring; the
/// web view gets only who and at which level.
#[tauri::command]
#[specta::specta]
pub async fn sign_in(
    state: State<'_, AppState>,
    on_progress: Channel<LoginProgress>,
) -> CommandResult<SessionInfo> {
    state.sign_in(on_progress).await
}

/// Abandons the sign-in (or step-up) in progress; it fails with `cancelled`.
#[tauri::command]
#[specta::specta]
pub async fn cancel_sign_in(state: State<'_, AppState>) -> CommandResult<()> {
    state.cancel_sign_in().await
}

/// Revokes the refresh token, ends the provider session, clears the keyring.
#[tauri::command]
#[specta::specta]
pub async fn sign_out(state: State<'_, AppState>) -> CommandResult<SignOutReport> {
    state.sign_out().await
}

/// Who is signed in; `not_signed_in` when no session is kept.
#[tauri::command]
#[specta::specta]
pub async fn me(state: State<'_, AppState>) -> CommandResult<Me> {
    state.me().await
}
