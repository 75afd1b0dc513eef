//! Authenticator apps (TOTP devices) and their enrolment.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::SecretText;

/// Longest accepted device name, in characters.
pub const DEVICE_NAME_MAX_CHARS: usize = 64;

/// An enrolled authenticator app. Listed by `GET /api/v1/me/devices` and
/// `GET /api/v1/users/{uid}/devices`. The secret never leaves the provider
/// after enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Device {
    pub id: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub registered_at: OffsetDateTime,
    /// Last time a code from this device was accepted; `null` if never.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub last_used_at: Option<OffsetDateTime>,
}

/// `POST /api/v1/me/devices`: start enrolling an authenticator app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct EnrollmentStart {
    /// The name the user gives the device (see [`normalize_device_name`]).
    pub name: String,
}

/// Answer to [`EnrollmentStart`]: a pending enrolment. Nothing is stored as a
/// device until it is confirmed with a code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct EnrollmentStarted {
    /// Id of the pending enrolment, for the confirm route.
    pub enrollment_id: String,
    /// The name the device will get.
    pub name: String,
    /// The TOTP secret, base32 without padding (shown once, for manual entry).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub secret: SecretText,
    /// `otpauth://totp/<issuer>:<label>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub otpauth_uri: SecretText,
    /// After this instant the pending enrolment is gone (`enrollment_expired`).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub expires_at: OffsetDateTime,
}

/// `POST /api/v1/me/devices/enrollments/{id}/confirm`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct EnrollmentConfirm {
    /// The current 6-digit code shown by the new authenticator app.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub code: SecretText,
}

/// Answer to [`EnrollmentConfirm`]: the stored device, and on the user's
/// first enrolment the recovery codes (shown once, never again).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct EnrollmentConfirmed {
    pub device: Device,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    #[cfg_attr(feature = "specta", specta(type = Option<Vec<String>>))]
    pub recovery_codes: Option<Vec<SecretText>>,
}

/// `PATCH /api/v1/me/devices/{id}`: rename. Answered with the [`Device`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DeviceRename {
    pub name: String,
}

/// Why a device name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceNameError {
    Empty,
    TooLong,
    ControlCharacter,
}

impl std::fmt::Display for DeviceNameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceNameError::Empty => f.write_str("the device name is empty"),
            DeviceNameError::TooLong => write!(
                f,
                "the device name is longer than {DEVICE_NAME_MAX_CHARS} characters"
            ),
            DeviceNameError::ControlCharacter => {
                f.write_str("the device name contains a control character")
            }
        }
    }
}

impl std::error::Error for DeviceNameError {}

/// The one rule for device names, shared by the provider (which enforces it)
/// and clients (which check early): trimmed, 1 to
/// [`DEVICE_NAME_MAX_CHARS`] characters, no control characters.
pub fn normalize_device_name(raw: &str) -> Result<String, DeviceNameError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(DeviceNameError::Empty);
    }
    if name.chars().count() > DEVICE_NAME_MAX_CHARS {
        return Err(DeviceNameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(DeviceNameError::ControlCharacter);
    }
    Ok(name.to_owned())
}
