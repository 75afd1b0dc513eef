//! The command list, shared by Tauri's invoke handler and the generator of
//! the typed front-end bindings (`ui/src/bindings.ts`).
//!
//! Regenerate with `cargo run -p tessera-desktop --example export-bindings`; the
//! test below fails when the committed file is stale.

use specta_typescript::Typescript;
use tauri_specta::{Builder, ErrorHandlingMode, collect_commands};

use crate::commands::{app, browsers, clipboard, devices, helpdesk, session};

/// Every command the web view may call, in one place.
pub fn specta_builder<R: tauri::Runtime>() -> Builder<R> {
    Builder::<R>::new()
        // Commands reject with `ErrorPayload {code, message}`; the UI's ipc.ts turns that into
        // an `AppError` carrying the code.
        .error_handling(ErrorHandlingMode::Throw)
        // One TypeScript type per Rust type: the web view only reads what
        // Rust serialises, and sends only plain arguments.
        .disable_serde_phases()
        .commands(collect_commands![
            app::version,
            app::settings_get,
            app::settings_set,
            session::sign_in,
            session::cancel_sign_in,
            session::sign_out,
            session::me,
            devices::devices_list,
            devices::device_enrol_start,
            devices::device_enrol_confirm,
            devices::device_rename,
            devices::device_delete,
            devices::recovery_codes_regenerate,
            devices::recovery_codes_save,
            clipboard::secret_copy,
            clipboard::secret_forget,
            browsers::browsers_list,
            browsers::browser_revoke,
            browsers::browsers_revoke_all,
            browsers::activity_page,
            helpdesk::helpdesk_search,
            helpdesk::helpdesk_devices,
            helpdesk::helpdesk_device_remove,
            helpdesk::helpdesk_devices_reset,
            helpdesk::helpdesk_browsers,
            helpdesk::helpdesk_browser_revoke,
            helpdesk::helpdesk_browsers_revoke_all,
            helpdesk::helpdesk_activity,
        ])
}

/// Where the bindings live, from this crate's directory.
pub const BINDINGS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/bindings.ts");

/// Writes the TypeScript bindings to `path`.
pub fn export_to(path: &std::path::Path) -> Result<(), String> {
    specta_builder::<tauri::Wry>()
        .export(Typescript::default().header("/* eslint-disable */"), path)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generates the bindings afresh and compares them with the committed
    /// file: a command or type changed without regenerating fails here.
    #[test]
    fn committed_bindings_are_up_to_date() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("bindings.ts");
        export_to(&fresh).unwrap();
        let fresh = std::fs::read_to_string(fresh).unwrap();
        let committed = std::fs::read_to_string(BINDINGS_PATH).unwrap_or_default();
        assert!(
            fresh == committed,
            "ui/src/bindings.ts is stale: run `cargo run -p tessera-desktop --example export-bindings`"
        );
    }

    #[test]
    fn every_command_is_declared_in_the_manifest_and_granted() {
        let build_rs = include_str!("../build.rs");
        let capability = include_str!("../capabilities/default.json");
        let committed = std::fs::read_to_string(BINDINGS_PATH).unwrap();
        // Each command reads `__TAURI_INVOKE<Answer>("name"…`.
        let invoked: Vec<&str> = committed
            .split("__TAURI_INVOKE<")
            .skip(1)
            .filter_map(|s| {
                s.split_once(">(\"")
                    .map(|(_, rest)| rest.split('"').next().unwrap())
            })
            .collect();
        assert!(
            invoked.len() > 20,
            "bindings list the commands: {invoked:?}"
        );
        for cmd in invoked {
            assert!(
                build_rs.contains(&format!("\"{cmd}\"")),
                "{cmd} missing from build.rs"
            );
            let perm = format!("\"allow-{}\"", cmd.replace('_', "-"));
            assert!(
                capability.contains(&perm),
                "{perm} missing from capabilities/default.json"
            );
        }
    }

    /// The web view names every audit action and explains every error code
    /// the client core can produce, in both languages.
    #[test]
    fn the_ui_catalogue_covers_every_audit_action_and_error_code() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/i18n/");
        for file in ["en.ts", "fr.ts"] {
            let catalogue = std::fs::read_to_string(format!("{dir}{file}")).unwrap();
            for action in tessera_api::AuditAction::ALL {
                let key = format!("\"event.{}\"", action.as_str());
                assert!(catalogue.contains(&key), "{file} lacks {key}");
            }
            let codes = [
                "config",
                "discovery",
                "no_acceptable_acr",
                "acr_refused",
                "access_denied",
                "provider_error",
                "state_mismatch",
                "issuer_mismatch",
                "invalid_callback",
                "browser_unavailable",
                "timeout",
                "cancelled",
                "token_exchange",
                "invalid_id_token",
                "not_signed_in",
                "session_expired",
                "keyring",
                "network",
                "server_error",
                "bad_request",
                "internal",
                "io",
                "not_found",
                "insecure_endpoint",
                "wrong_user",
                "bad_enrollment",
                // The shell's own (recovery_file::SaveError, clipboard::ClipboardError).
                "unsafe_file",
                "clipboard",
                "clipboard_not_cleared",
            ];
            use tessera_api::ErrorCode::*;
            let api_codes = [
                BadRequest,
                Unauthorized,
                Forbidden,
                NotFound,
                Conflict,
                StepUpRequired,
                LastFactor,
                TooManyDevices,
                InvalidCode,
                EnrollmentExpired,
                RateLimited,
                Unavailable,
                Internal,
            ];
            // Exhaustive on purpose: a new API code fails to compile here
            // until the list above (and the catalogue) has it.
            for c in api_codes {
                match c {
                    BadRequest | Unauthorized | Forbidden | NotFound | Conflict
                    | StepUpRequired | LastFactor | TooManyDevices | InvalidCode
                    | EnrollmentExpired | RateLimited | Unavailable | Internal => {}
                }
            }
            for code in codes.into_iter().chain(api_codes.map(|c| c.as_str())) {
                let key = format!("\"error.{code}\"");
                assert!(catalogue.contains(&key), "{file} lacks {key}");
            }
        }
    }
}
