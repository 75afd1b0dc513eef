//! The account API's error type: every failure is an RFC 9457 problem
//! (`application/problem+json`) with a stable `code` from
//! [`tessera_api::ErrorCode`] and a human `detail`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_api::{ErrorCode, Problem};

use crate::error::OAuthError;
use crate::store::StoreError;

/// A refused or failed account API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    /// `WWW-Authenticate` challenge for 401 answers (RFC 6750 / RFC 9470).
    pub challenge: Option<String>,
    /// Overrides the status derived from `code` (only 405 uses it).
    pub status: Option<StatusCode>,
    /// `Retry-After` seconds for `rate_limited` answers.
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: detail.into(),
            challenge: None,
            status: None,
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("No such {what}."))
    }

    /// 409 `too_many_devices`: the account has `max` authenticator apps.
    pub fn too_many_devices(max: u32) -> Self {
        Self::new(
            ErrorCode::TooManyDevices,
            format!(
                "You already have the most authenticator apps allowed here ({max}): \
                 delete one you no longer use before adding another."
            ),
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }

    /// 401 `unauthorized` with a bearer challenge. `error` is the RFC 6750
    /// code (`invalid_token`), absent when no credentials were sent (§3.1).
    pub fn unauthorized(error: Option<&str>, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let challenge = match error {
            Some(e) => format!(
                r#"Bearer realm="tessera", error="{e}", error_description="{}""#,
                quote_safe(&detail)
            ),
            None => r#"Bearer realm="tessera""#.to_owned(),
        };
        ApiError {
            challenge: Some(challenge),
            ..Self::new(ErrorCode::Unauthorized, detail)
        }
    }

    /// 401 `step_up_required` (RFC 9470): the client signs in again with
    /// `max_age` (and `acr_values` when a stronger factor is needed) and
    /// retries.
    pub fn step_up(detail: impl Into<String>, max_age_secs: u64, acr_values: Option<&str>) -> Self {
        let detail = detail.into();
        let mut challenge = format!(
            r#"Bearer realm="tessera", error="insufficient_user_authentication", error_description="{}", max_age={max_age_secs}"#,
            quote_safe(&detail)
        );
        if let Some(acr) = acr_values {
            challenge.push_str(&format!(r#", acr_values="{}""#, quote_safe(acr)));
        }
        ApiError {
            challenge: Some(challenge),
            ..Self::new(ErrorCode::StepUpRequired, detail)
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
            .or_else(|| StatusCode::from_u16(self.code.http_status()).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// Header parameter values are quoted strings: no `"` or `\` inside.
fn quote_safe(s: &str) -> String {
    s.replace(['"', '\\'], "'")
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Unavailable(_) => {
                tracing::warn!(code = e.code(), error = %e, "account API: store unavailable");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "The account service cannot reach its storage right now; try again in a moment.",
                )
            }
            StoreError::NotFound { what } => ApiError::not_found(what),
            StoreError::TooManyDevices { max } => ApiError::too_many_devices(*max),
            _ => {
                tracing::error!(code = e.code(), error = %e, "account API: store error");
                ApiError::new(ErrorCode::Internal, "An internal error occurred.")
            }
        }
    }
}

/// Access-token verification failures (from the OIDC side's checks).
impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        if e.status == StatusCode::SERVICE_UNAVAILABLE {
            return ApiError::new(
                ErrorCode::Unavailable,
                "The account service cannot reach its storage right now; try again in a moment.",
            );
        }
        if e.status.is_server_error() {
            return ApiError::new(ErrorCode::Internal, "An internal error occurred.");
        }
        ApiError::unauthorized(Some("invalid_token"), sentence(&e.description))
    }
}

/// `s` as a sentence: capital first letter, final full stop (error
/// messages of other layers are lower-case fragments).
pub fn sentence(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(chars.as_str());
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut problem = Problem::new(self.code, self.detail);
        if status.as_u16() != problem.status {
            // An overridden status (405) names itself in the title.
            problem.title = status
                .canonical_reason()
                .unwrap_or("error")
                .to_ascii_lowercase();
            problem.status = status.as_u16();
        }
        let mut resp = (status, axum::Json(problem)).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(tessera_api::PROBLEM_JSON),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = self.challenge
            && let Ok(v) = HeaderValue::from_str(&challenge)
        {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_up_challenge_follows_rfc9470() {
        let e = ApiError::step_up("Sign in again.", 600, None);
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(e.code, ErrorCode::StepUpRequired);
        assert_eq!(
            e.challenge.as_deref(),
            Some(
                r#"Bearer realm="tessera", error="insufficient_user_authentication", error_description="Sign in again.", max_age=600"#
            )
        );
        let e = ApiError::step_up("x", 60, Some("eidas1-mfa"));
        assert!(
            e.challenge
                .unwrap()
                .ends_with(r#"max_age=60, acr_values="eidas1-mfa""#)
        );
    }

    #[test]
    fn store_errors_map_to_stable_codes() {
        assert_eq!(
            ApiError::from(StoreError::Unavailable("down".into())).code,
            ErrorCode::Unavailable
        );
        assert_eq!(
            ApiError::from(StoreError::Unavailable("down".into())).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::from(StoreError::NotFound { what: "device" }).detail,
            "No such device."
        );
        assert_eq!(
            ApiError::from(StoreError::Corrupt("x".into())).code,
            ErrorCode::Internal
        );
    }

    #[test]
    fn token_errors_become_unauthorized_with_a_bearer_challenge() {
        let e = ApiError::from(OAuthError::invalid_token("the token has expired"));
        assert_eq!(e.code, ErrorCode::Unauthorized);
        assert_eq!(e.detail, "The token has expired.");
        assert!(e.challenge.unwrap().contains(r#"error="invalid_token""#));
        let resp = ApiError::not_found("device").into_response();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            tessera_api::PROBLEM_JSON
        );
    }
}
