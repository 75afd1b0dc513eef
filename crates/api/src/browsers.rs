//! Trusted browsers and recovery codes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::SecretText;

/// A browser the user chose to trust after a successful second factor.
/// Listed by `GET /api/v1/me/trusted-browsers` (and the help-desk twin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TrustedBrowser {
    pub id: String,
    /// Readable name derived from the user agent, e.g. "Firefox on Linux".
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub expires_at: OffsetDateTime,
}

/// Answer of the routes that remove several records at once
/// (`DELETE /api/v1/me/trusted-browsers`, the help-desk resets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Removed {
    pub removed: u32,
}

/// `POST /api/v1/me/recovery-codes`: a fresh set of single-use codes. The
/// previous set is void. Shown once; the provider keeps only hashes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RecoveryCodes {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    #[cfg_attr(feature = "specta", specta(type = Vec<String>))]
    pub codes: Vec<SecretText>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub generated_at: OffsetDateTime,
}

/// How many recovery codes a set holds.
pub const RECOVERY_CODE_COUNT: usize = 10;
