//! The userinfo endpoint (OIDC Core §5.3), bearer access token only.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::OAuthError;
use crate::state::AppState;
use crate::tokens;
use crate::web::{self, BearerError};

/// The token from `Authorization: Bearer …` (RFC 6750 §2.1).
pub fn bearer(headers: &HeaderMap) -> Result<&str, OAuthError> {
    web::bearer_token(headers).map_err(|e| match e {
        BearerError::Missing => OAuthError {
            // RFC 6750 §3.1: no error code when no credentials were sent.
            error: "invalid_request",
            ..OAuthError::invalid_token("a bearer access token is required")
        },
        BearerError::Malformed => OAuthError::invalid_token("malformed authorization header"),
    })
}

pub async fn userinfo(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let token = bearer(&headers)?;
        let (claims, user) = tokens::authenticate_bearer(&app, token).await?;
        let user = match user {
            Some(u) if !u.disabled => u,
            _ => {
                return Err(OAuthError::invalid_token(
                    "the user no longer exists or is disabled",
                ));
            }
        };
        let mut body = json!({ "sub": user.uid });
        tokens::add_profile_claims(&mut body, &user, &claims.scope);
        Ok::<_, OAuthError>(body)
    }
    .await;
    match result {
        Ok(body) => {
            let mut resp = Json(body).into_response();
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            resp
        }
        Err(e) => e.into_response(),
    }
}
