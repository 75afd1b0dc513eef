//! `GET /api/v1/me`: who the bearer of the access token is.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The role that grants the help-desk routes (`/api/v1/users/...`).
pub const ROLE_HELPDESK: &str = "helpdesk";

/// The signed-in user, as the account API sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Me {
    /// Stable user identifier (the ID token's `sub`).
    pub uid: String,
    /// Display name.
    pub name: String,
    pub email: Option<String>,
    /// Roles, e.g. [`ROLE_HELPDESK`]. Unknown roles are kept as they are.
    pub roles: Vec<String>,
    /// The `acr` of the sign-in behind the access token.
    pub acr: String,
    /// The `amr` of that sign-in (RFC 8176: `pwd`, `otp`, `mfa`).
    #[serde(default)]
    pub amr: Vec<String>,
    /// When that sign-in happened (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub auth_time: OffsetDateTime,
    /// Whether the MFA policy requires a second factor for this user.
    pub mfa_required: bool,
    /// Number of enrolled authenticator apps.
    pub device_count: u32,
    /// Unused recovery codes left (0 when none were ever generated).
    pub recovery_codes_left: u32,
    /// Number of browsers currently trusted.
    pub trusted_browser_count: u32,
}

impl Me {
    pub fn is_helpdesk(&self) -> bool {
        self.roles.iter().any(|r| r == ROLE_HELPDESK)
    }
}
