//! Help-desk routes (`/api/v1/users/...`, role `helpdesk`, step-up).

use serde::{Deserialize, Serialize};

/// Longest accepted help-desk reason, in characters.
pub const REASON_MAX_CHARS: usize = 500;
/// Largest number of users a search returns.
pub const USER_SEARCH_MAX: u32 = 50;

/// Query of `GET /api/v1/users?q=`: prefix search on uid, email and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UserSearchQuery {
    pub q: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One user found by a help-desk search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UserSummary {
    pub uid: String,
    pub name: String,
    pub email: Option<String>,
    pub roles: Vec<String>,
    pub mfa_required: bool,
    pub device_count: u32,
    pub trusted_browser_count: u32,
}

/// Answer of a user search. `truncated` says more users matched than shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UserSearchResults {
    pub users: Vec<UserSummary>,
    #[serde(default)]
    pub truncated: bool,
}

/// JSON body of every help-desk change (the `DELETE` routes under
/// `/api/v1/users/{uid}/...`): the reason is required and audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct HelpdeskChange {
    pub reason: String,
}

/// Why a help-desk reason was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonError {
    Empty,
    TooLong,
}

impl std::fmt::Display for ReasonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReasonError::Empty => f.write_str("a reason is required for every help-desk change"),
            ReasonError::TooLong => {
                write!(f, "the reason is longer than {REASON_MAX_CHARS} characters")
            }
        }
    }
}

impl std::error::Error for ReasonError {}

impl HelpdeskChange {
    /// Builds a change whose reason follows the shared rule: trimmed,
    /// non-empty, at most [`REASON_MAX_CHARS`] characters. Control characters
    /// other than line breaks are replaced by spaces so the audit trail stays
    /// readable.
    pub fn new(reason: &str) -> Result<Self, ReasonError> {
        // Replaced first, then trimmed: a control character at either end
        // must not leave a space there (found by fuzzing: "\u{7f}x" became
        // " x", which validated again as "x").
        let reason: String = reason
            .chars()
            .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
            .collect();
        let reason = reason.trim().to_owned();
        if reason.is_empty() {
            return Err(ReasonError::Empty);
        }
        if reason.chars().count() > REASON_MAX_CHARS {
            return Err(ReasonError::TooLong);
        }
        Ok(HelpdeskChange { reason })
    }

    /// Re-checks a received change (the provider calls this on every body).
    pub fn validated(self) -> Result<Self, ReasonError> {
        HelpdeskChange::new(&self.reason)
    }
}
