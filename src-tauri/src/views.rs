//! Shapes that exist only between the shell and its web view. Account API
//! data crosses unchanged as `tessera_api` types, errors and sign-in progress
//! as tessera-client's `ErrorPayload` and `LoginProgress`; these are the few
//! presentation types the shell adds (a QR code as an image, a secret in
//! groups, the settings screen).

use serde::{Deserialize, Serialize};
use tessera_client::{ErrorPayload, Lang};

#[derive(Debug, Clone, Serialize, PartialEq, Eq, specta::Type)]
pub struct AppVersion {
    pub version: String,
}

/// A pending enrolment as the add-device screen shows it: the QR code as a
/// PNG data URI (rendered in Rust) and the secret in groups of four. This
/// secret is the only one the web view ever sees, because the user must be
/// able to type it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct EnrolmentView {
    pub enrollment_id: String,
    pub name: String,
    pub qr_png_data_uri: String,
    pub secret_groups: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[specta(type = String)]
    pub expires_at: time::OffsetDateTime,
}

/// The settings screen. A `*_managed` flag says the organisation's
/// system-wide file sets the value and the user cannot override it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, specta::Type)]
pub struct SettingsView {
    /// `None` until a provider is configured.
    pub issuer: Option<String>,
    pub issuer_managed: bool,
    pub client_id: String,
    pub client_id_managed: bool,
    pub acr_values: Vec<String>,
    pub acr_values_managed: bool,
    /// `None`: follow the system language.
    pub language: Option<Lang>,
    /// Why the configuration could not be loaded, if it could not.
    pub problem: Option<ErrorPayload>,
}

/// What the settings screen may change. `issuer: None` leaves it as it is;
/// `language: None` follows the system again.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, specta::Type)]
pub struct SettingsUpdate {
    pub issuer: Option<String>,
    pub language: Option<Lang>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_update_reads_null_as_keep_and_system() {
        let u: SettingsUpdate =
            serde_json::from_value(serde_json::json!({"issuer": null, "language": "fr"})).unwrap();
        assert_eq!(
            u,
            SettingsUpdate {
                issuer: None,
                language: Some(Lang::Fr)
            }
        );
        let bad = serde_json::json!({"issuer": null, "language": "de"});
        assert!(serde_json::from_value::<SettingsUpdate>(bad).is_err());
    }
}
