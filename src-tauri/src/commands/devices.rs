//! Authenticator apps and recovery codes of the signed-in user.

use tauri::State;
use tauri::ipc::Channel;
use tessera_api::{Device, EnrollmentConfirmed, RecoveryCodes};
use tessera_client::oidc::LoginProgress;

use crate::error::CommandResult;
use crate::state::AppState;

use crate::views::EnrolmentView;

#[tauri::command]
#[specta::specta]
pub async fn devices_list(state: State<'_, AppState>) -> CommandResult<Vec<Device>> {
    state.devices_list().await
}

/// Starts an enrolment: QR code (PNG data URI) and the secret in groups of
/// four. An account that has an app may have to sign in again first (step-up).
#[tauri::command]
#[specta::specta]
pub async fn device_enrol_start(
    state: State<'_, AppState>,
    name: String,
    on_progress: Channel<LoginProgress>,
) -> CommandResult<EnrolmentView> {
    state.device_enrol_start(name, on_progress).await
}

/// Confirms an enrolment with the app's current code; recovery codes come
/// back on the first device (and are kept for `recovery_codes_save`).
#[tauri::command]
#[specta::specta]
pub async fn device_enrol_confirm(
    state: State<'_, AppState>,
    enrollment_id: String,
    code: String,
) -> CommandResult<EnrollmentConfirmed> {
    state.device_enrol_confirm(enrollment_id, code).await
}

#[tauri::command]
#[specta::specta]
pub async fn device_rename(
    state: State<'_, AppState>,
    id: String,
    name: String,
) -> CommandResult<Device> {
    state.device_rename(id, name).await
}

/// Deletes a device; the client steps up (browser sign-in) when the provider asks.
#[tauri::command]
#[specta::specta]
pub async fn device_delete(
    state: State<'_, AppState>,
    id: String,
    on_progress: Channel<LoginProgress>,
) -> CommandResult<()> {
    state.device_delete(id, on_progress).await
}

/// A fresh set of recovery codes (the old set is void); may step up.
#[tauri::command]
#[specta::specta]
pub async fn recovery_codes_regenerate(
    state: State<'_, AppState>,
    on_progress: Channel<LoginProgress>,
) -> CommandResult<RecoveryCodes> {
    state.recovery_codes_regenerate(on_progress).await
}

/// Writes the recovery codes last shown to a private file in the user's
/// download folder and answers its path; the web view never sends them back.
#[tauri::command]
#[specta::specta]
pub async fn recovery_codes_save(state: State<'_, AppState>) -> CommandResult<String> {
    state.recovery_codes_save().await
}
