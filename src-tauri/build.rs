/// Every command of `src/bindings.rs`, declared in the app manifest so that
/// Tauri generates an `allow-<command>` permission for each; the capability
/// (capabilities/default.json) grants them to the main window and nothing else.
const COMMANDS: &[&str] = &[
    "version",
    "settings_get",
    "settings_set",
    "sign_in",
    "cancel_sign_in",
    "sign_out",
    "me",
    "devices_list",
    "device_enrol_start",
    "device_enrol_confirm",
    "device_rename",
    "device_delete",
    "recovery_codes_regenerate",
    "recovery_codes_save",
    "secret_copy",
    "secret_forget",
    "browsers_list",
    "browser_revoke",
    "browsers_revoke_all",
    "activity_page",
    "helpdesk_search",
    "helpdesk_devices",
    "helpdesk_device_remove",
    "helpdesk_devices_reset",
    "helpdesk_browsers",
    "helpdesk_browser_revoke",
    "helpdesk_browsers_revoke_all",
    "helpdesk_activity",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("failed to run tauri-build");
}
