//! Help-desk commands (role `helpdesk`; the provider checks it and steps
//! up). Every change carries the operator's reason.

use tauri::State;
use tauri::ipc::Channel;
use tessera_api::{ActivityPage, Device, Removed, TrustedBrowser, UserSearchResults};
use tessera_client::oidc::LoginProgress;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn helpdesk_search(
    state: State<'_, AppState>,
    query: String,
) -> CommandResult<UserSearchResults> {
    state.helpdesk_search(query).await
}

#[tauri::command]
#[specta::specta]
pub async fn helpdesk_devices(
    state: State<'_, AppState>,
    uid: String,
) -> CommandResult<Vec<Device>> {
    state.helpdesk_devices(uid).await
}

#[tauri::command]
#[specta::specta]
pub async fn helpdesk_device_remove(
    state: State<'_, AppState>,
    uid: String,
    id: String,
    reason: String,
    on_progress: Channel<LoginProgress>,
) -> CommandResult<()> {
    state
        .helpdesk_device_remove(uid, id, reason, on_progress)
        .await
}

/// Removes every device of the user: signed out everywhere, they enrol again.
#[tauri::command]
#[specta::specta]
pub async fn helpdesk_devices_reset(
    state: State<'_, AppState>,
    uid: String,
    reason: String,
    on_progress: Channel<LoginProgress>,
) -> CommandResult<Removed> {
    state.helpdesk_devices_reset(uid, reason, on_progress).await
}

#[tauri::command]
#[specta::specta]
pub async fn helpdesk_browsers(
    state: State<'_, AppState>,
    uid: String,
) -> CommandResult<Vec<TrustedBrowser>> {
    state.helpdesk_browsers(uid).await
}

#[tauri::command]
#[specta::specta]
pub async fn helpdesk_browser_revoke(
    state: State<'_, AppState>,
    uid: String,
    id: String,
    reason: String,
    on_progress: Channel<LoginProgress>,
) -> CommandResult<()> {
    state
        .helpdesk_browser_revoke(uid, id, reason, on_progress)
        .await
}

#[tauri::command]
#[specta::specta]
pub async fn helpdesk_browsers_revoke_all(
    state: State<'_, AppState>,
    uid: String,
    reason: String,
    on_progress: Channel<LoginProgress>,
) -> CommandResult<Removed> {
    state
        .helpdesk_browsers_revoke_all(uid, reason, on_progress)
        .await
}

#[tauri::command]
#[specta::specta]
pub async fn helpdesk_activity(
    state: State<'_, AppState>,
    uid: String,
    cursor: Option<String>,
) -> CommandResult<ActivityPage> {
    state.helpdesk_activity(uid, cursor).await
}
