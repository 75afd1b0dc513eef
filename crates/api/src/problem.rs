//! Problem details (RFC 9457) with Tessera's stable error codes.

use serde::{Deserialize, Serialize};

/// Media type of every error body of the account API.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Stable machine codes of account API errors.
///
/// Clients branch on these, never on the human `detail`; renaming a variant's
/// wire form is a breaking change of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
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
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::StepUpRequired => "step_up_required",
            ErrorCode::LastFactor => "last_factor",
            ErrorCode::TooManyDevices => "too_many_devices",
            ErrorCode::InvalidCode => "invalid_code",
            ErrorCode::EnrollmentExpired => "enrollment_expired",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status the provider answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidCode => 400,
            ErrorCode::Unauthorized | ErrorCode::StepUpRequired => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict | ErrorCode::LastFactor | ErrorCode::TooManyDevices => 409,
            ErrorCode::EnrollmentExpired => 410,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

/// An RFC 9457 problem details object, extended with `code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Problem {
    /// A URI reference naming the problem type; `about:blank` when none.
    #[serde(rename = "type", default = "about_blank")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub code: ErrorCode,
    pub detail: String,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

impl Problem {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Problem {
            type_uri: about_blank(),
            title: code.as_str().replace('_', " "),
            status: code.http_status(),
            code,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_serialises_with_rfc9457_member_names_and_stable_code() {
        let p = Problem::new(
            ErrorCode::LastFactor,
            "You cannot remove your only authenticator.",
        );
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["type"], "about:blank");
        assert_eq!(v["status"], 409);
        assert_eq!(v["code"], "last_factor");
        assert_eq!(v["title"], "last factor");
    }

    #[test]
    fn wire_code_matches_as_str_for_every_variant() {
        use ErrorCode::*;
        for c in [
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
        ] {
            let wire = serde_json::to_value(c).unwrap();
            assert_eq!(wire, c.as_str(), "{c:?}");
            let back: ErrorCode = serde_json::from_value(wire).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn problem_without_type_defaults_to_about_blank() {
        let p: Problem = serde_json::from_str(
            r#"{"title":"not found","status":404,"code":"not_found","detail":"No such device."}"#,
        )
        .unwrap();
        assert_eq!(p.type_uri, "about:blank");
        assert_eq!(p.code, ErrorCode::NotFound);
    }
}
