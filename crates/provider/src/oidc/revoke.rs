//! Token revocation (RFC 7009). A refresh token revokes its whole family; an
//! access token is refused until it expires. Unknown tokens answer 200, as
//! the RFC requires; another client's token is left alone.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use super::client_auth::authenticate;
use crate::crypto::token_hash;
use crate::error::OAuthError;
use crate::revocation;
use crate::state::{AppState, Provider};
use crate::tokens::{ACCESS_TOKEN_TYP, AccessClaims};
use crate::web::{OAuthForm, Params};

pub async fn revoke(
    State(app): State<AppState>,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm,
) -> Response {
    match handle(&app, &headers, &form).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(app: &Provider, headers: &HeaderMap, form: &Params) -> Result<(), OAuthError> {
    let client = authenticate(app, headers, form).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    // The hint only orders the attempts; both kinds are tried.
    if let Some(record) = app.store.get_refresh_token(&token_hash(token)).await? {
        if record.client_id == client.client_id {
            app.store.revoke_refresh_family(&record.family_id).await?;
        }
        return Ok(());
    }
    if let Ok(value) = app.verify_jwt(token, Some(ACCESS_TOKEN_TYP)).await
        && let Ok(claims) = serde_json::from_value::<AccessClaims>(value)
        && claims.client_id == client.client_id
        && let Ok(exp) = OffsetDateTime::from_unix_timestamp(claims.exp)
        && exp > OffsetDateTime::now_utc()
    {
        revocation::revoke_access_token(app, &claims.jti, exp).await?;
    }
    Ok(())
}
