//! Error responses: OAuth errors (RFC 6749 §5.2, RFC 6750 §3) on protocol
//! endpoints, RFC 9457 problem details elsewhere.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_api::{ErrorCode, Problem, problem::PROBLEM_JSON};

use crate::store::StoreError;

/// An OAuth error answered as JSON (token, revocation, userinfo endpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    /// The RFC 6749 / 6750 code (`invalid_grant`, `invalid_token`, ...).
    pub error: &'static str,
    pub description: String,
    /// For bearer-token errors: answer with `WWW-Authenticate`.
    pub bearer: bool,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            bearer: false,
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d)
    }
    /// A body that could not be read (too large, cut off): answered as an
    /// OAuth error with the rejection's status (413 for too large).
    pub fn unreadable_body(rejection: &axum::extract::rejection::BytesRejection) -> Self {
        let status = rejection.status();
        let description = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "the request body is too large"
        } else {
            "the request body could not be read"
        };
        Self::new(status, "invalid_request", description)
    }
    pub fn invalid_token(d: impl Into<String>) -> Self {
        OAuthError {
            bearer: true,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_token", d)
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => OAuthError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the provider's store is unavailable; try again later",
            ),
            other => {
                tracing::error!(code = other.code(), error = %other, "store error");
                OAuthError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal error",
                )
            }
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(json!({ "error": self.error, "error_description": self.description })),
        )
            .into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.bearer || self.status == StatusCode::UNAUTHORIZED {
            let scheme = if self.error == "invalid_client" {
                "Basic"
            } else {
                "Bearer"
            };
            let value = format!(
                r#"{scheme} error="{}", error_description="{}""#,
                self.error,
                self.description.replace(['"', '\\'], "'")
            );
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

/// A problem details response.
pub fn problem(code: ErrorCode, detail: impl Into<String>) -> Response {
    let p = Problem::new(code, detail);
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, Json(p)).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_errors_carry_code_description_and_challenge() {
        let resp = OAuthError::invalid_token("the token has expired").into_response();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let challenge = resp.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert_eq!(
            challenge,
            r#"Bearer error="invalid_token", error_description="the token has expired""#
        );
        let resp: OAuthError = StoreError::Unavailable("down".into()).into();
        assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.error, "temporarily_unavailable");
    }

    #[test]
    fn problems_use_the_problem_media_type() {
        let resp = problem(ErrorCode::NotFound, "No such page.");
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
