//! Security activity: the audit trail a user (or the help desk) can read.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Default and largest page sizes of the activity routes.
pub const ACTIVITY_PAGE_DEFAULT: u32 = 50;
pub const ACTIVITY_PAGE_MAX: u32 = 200;

/// What happened. The wire form is snake_case; a client meeting an action
/// newer than itself reads it as [`AuditAction::Other`] instead of failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A sign-in completed (password, and the second factor when required).
    SignIn,
    /// A wrong password.
    PasswordFailed,
    /// A wrong TOTP or recovery code.
    SecondFactorFailed,
    /// Too many failures: the account is locked for a while.
    AccountLocked,
    /// A recovery code was used to sign in.
    RecoveryCodeUsed,
    SignOut,
    /// An enrolment was started (nothing stored as a device yet).
    EnrollmentStarted,
    DeviceEnrolled,
    DeviceRenamed,
    DeviceRemoved,
    /// Every device of the user removed by the help desk.
    DevicesReset,
    RecoveryCodesGenerated,
    TrustedBrowserAdded,
    TrustedBrowserRevoked,
    /// Every trusted browser of the user revoked at once.
    TrustedBrowsersRevoked,
    /// An action this client version does not know.
    #[serde(other)]
    Other,
}

impl AuditAction {
    pub const ALL: [AuditAction; 16] = [
        AuditAction::SignIn,
        AuditAction::PasswordFailed,
        AuditAction::SecondFactorFailed,
        AuditAction::AccountLocked,
        AuditAction::RecoveryCodeUsed,
        AuditAction::SignOut,
        AuditAction::EnrollmentStarted,
        AuditAction::DeviceEnrolled,
        AuditAction::DeviceRenamed,
        AuditAction::DeviceRemoved,
        AuditAction::DevicesReset,
        AuditAction::RecoveryCodesGenerated,
        AuditAction::TrustedBrowserAdded,
        AuditAction::TrustedBrowserRevoked,
        AuditAction::TrustedBrowsersRevoked,
        AuditAction::Other,
    ];

    /// The action as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignIn => "sign_in",
            AuditAction::PasswordFailed => "password_failed",
            AuditAction::SecondFactorFailed => "second_factor_failed",
            AuditAction::AccountLocked => "account_locked",
            AuditAction::RecoveryCodeUsed => "recovery_code_used",
            AuditAction::SignOut => "sign_out",
            AuditAction::EnrollmentStarted => "enrollment_started",
            AuditAction::DeviceEnrolled => "device_enrolled",
            AuditAction::DeviceRenamed => "device_renamed",
            AuditAction::DeviceRemoved => "device_removed",
            AuditAction::DevicesReset => "devices_reset",
            AuditAction::RecoveryCodesGenerated => "recovery_codes_generated",
            AuditAction::TrustedBrowserAdded => "trusted_browser_added",
            AuditAction::TrustedBrowserRevoked => "trusted_browser_revoked",
            AuditAction::TrustedBrowsersRevoked => "trusted_browsers_revoked",
            AuditAction::Other => "other",
        }
    }
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AuditEvent {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub time: OffsetDateTime,
    /// Who acted: the user themself, or a help-desk uid.
    pub actor: String,
    /// Whose account it concerns.
    pub subject: String,
    pub action: AuditAction,
    /// What the action was about (a device or trusted-browser id), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The help desk's stated reason; present on every help-desk change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// Query of `GET /api/v1/me/activity` and `GET /api/v1/users/{uid}/activity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ActivityQuery {
    /// The `next_cursor` of the previous page; absent for the newest page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size, at most [`ACTIVITY_PAGE_MAX`]; default [`ACTIVITY_PAGE_DEFAULT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A page of events, newest first. `next_cursor` is absent on the last page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ActivityPage {
    pub events: Vec<AuditEvent>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}
